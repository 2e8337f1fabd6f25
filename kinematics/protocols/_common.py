"""Helpers the exercise protocols share (private; the protocols are the public face).

Three kinds of helper live here:

* **derived signals** that the pipeline does not publish but several protocols
  need (hip height above the ankles, the supine thigh-trunk angle, the knee's
  frontal-plane projection angle, ankle position relative to the pelvis), each
  masked, gap-filled and low-passed exactly as the pipeline treats landmarks; the
  angles among them pass the pipeline's plausibility gate (:func:`derived_angle`);
* **uncertainty**: 95 % intervals for medians and differences of medians of
  low-passed samples, widened by the measuring method's own error;
* **result plumbing**: the unscored (coaching-only) result, thresholds with a
  clinic's override of their value, windows around repetitions, the warning that
  says how many samples of the protocol's own angles the gate withheld.

Instrument errors (standard deviations in degrees, used inside every 95 %
interval; each is the published or measured error of *this kind* of angle
from a camera, not of this software on this patient):

=========================  =====  ===============================================
``OBLIQUITY_SD_DEG``       1.17   BlazePose vs optical capture, KERAAL CTK, offset removed
                                  (docs/validation.md)
``TRUNK_LATERAL_SD_DEG``   0.77   as above, trunk lateral lean (docs/validation.md)
``SAGITTAL_HIP_SD_DEG``    5.0    single side camera, sagittal hip MAE 4.0 deg (Stenum et al.
                                  2021, PLoS Comput Biol 17(4):e1008935); SD = MAE x sqrt(pi/2)
                                  for normally distributed errors
``FRONTAL_HIP_SD_DEG``     6.0    OpenCap frontal-plane hip RMSE < 6 deg (clinical notes)
``FPPA_SD_DEG``            4.0    2-D frontal-plane projection angle, SEM 2-4 deg, upper bound
                                  (Gwynne & Curran, Int J Sports Phys Ther 2014;9(7):898-906)
=========================  =====  ===============================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import numpy as np

from kinematics.filtering import GapFiller, LowPass, contiguous_runs
from kinematics.pipeline import KinematicsResult, QualityIssue
from kinematics.plausibility import PROTOCOL_ANGLES, GateCount, Plausible, gate, sign_breaks
from kinematics.protocols.base import Coaching, Finding, ProtocolEvent, ProtocolMetric, ProtocolResult, Threshold, judge
from kinematics.series import SIDES, LandmarkSeries, Series

OBLIQUITY_SD_DEG = 1.17
TRUNK_LATERAL_SD_DEG = 0.77
SAGITTAL_HIP_SD_DEG = 5.0
FRONTAL_HIP_SD_DEG = 6.0
FPPA_SD_DEG = 4.0

Z95 = 1.96


# -- result plumbing -------------------------------------------------------------


def parameters(protocol: Any) -> dict[str, object]:
    """The protocol's configuration as plain data (provenance for the assessment)."""
    return {k: v for k, v in asdict(protocol).items() if k != "name"}


def unscored(
    name: str,
    params: dict[str, object],
    coaching: list[Coaching],
    events: list[ProtocolEvent] | None = None,
    rep_count: int | None = None,
) -> ProtocolResult:
    """A result that answers with coaching only: no clinical finding."""
    reason = coaching[0].message if coaching else None
    metric = (
        ProtocolMetric("rep_count", rep_count, "1")
        if rep_count is not None
        else ProtocolMetric("rep_count", None, "1", measurable=False, reason=reason)
    )
    return ProtocolResult(name, list(events or []), [metric], [], coaching, params)


def with_value(threshold: Threshold, value: float) -> Threshold:
    """``threshold`` with a clinic's value; the source stays attached."""
    return Threshold(threshold.name, float(value), threshold.unit, threshold.source, threshold.note)


def withheld_issues(counts: Mapping[str, GateCount]) -> list[QualityIssue]:
    """The ``implausible_protocol_angle`` warning: samples of the protocol's own angles the gate withheld.

    ``counts`` maps a plain name of each angle (``"supine hip angle"``) to what
    :func:`derived_angle` withheld from it; no warning when nothing was withheld. The pipeline's
    series say theirs in its ``implausible_angle`` warning; these angles are not pipeline series.
    """
    hit = {name: c for name, c in counts.items() if c.total}
    if not hit:
        return []
    parts = []
    for name, c in hit.items():
        parts.append(f"{c.total} sample(s) of the {name} withheld as implausible ({c.reasons()})")
    return [
        QualityIssue(
            "implausible_protocol_angle",
            "warning",
            f"{'; '.join(parts)}: angles no body can produce (a pose failure: a limb lost or swapped, another "
            "person); the exercise's metrics were measured without them, the gap bridged when short",
        )
    ]


def r2(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 2)


def ci_list(ci: tuple[float, float] | None) -> list[float] | None:
    return None if ci is None else [round(float(ci[0]), 2), round(float(ci[1]), 2)]


# -- derived signals ---------------------------------------------------------------


def masked_points(lm: LandmarkSeries, result: KinematicsResult) -> dict[str, np.ndarray]:
    """``name -> (n, 3)`` isotropic coordinates (px or m, y down), NaN where doubtful.

    The pipeline's rule: below ``min_visibility``, outside the picture, or in a frame whose pose the
    pipeline found failed (``KinematicsResult.pose_failed``) is not measured.
    """
    min_vis = float(result.parameters.get("min_visibility", 0.5))  # type: ignore[arg-type]
    xyz = lm.metric_xyz()
    bad = lm.visibility < min_vis
    failed = getattr(result, "pose_failed", None)  # a stand-in result (tests) may not carry it
    if failed is not None and failed.shape == (len(lm),):
        bad = bad | failed[:, None]
    if lm.space == "image_norm":
        x, y = lm.xyz[..., 0], lm.xyz[..., 1]
        bad = bad | (x < 0) | (x > 1) | (y < 0) | (y > 1)
    xyz = np.where(bad[..., None], np.nan, xyz)
    return {name: xyz[:, i, :] for i, name in enumerate(lm.schema.names)}


def smooth(result: KinematicsResult, values: np.ndarray) -> np.ndarray:
    """Bridge short gaps and low-pass with the pipeline's own settings."""
    t = result.t_s
    if len(t) < 2:
        return np.asarray(values, dtype=float)
    gap = float_parameter(result, "max_gap_s", 0.25)
    cutoff = cutoff_of(result)
    filled, _ = GapFiller(max_gap_s=gap).fill(t, values)
    return LowPass(cutoff_hz=cutoff).apply(t, filled)


def derived(result: KinematicsResult, values: np.ndarray, unit: str, confidence: np.ndarray | None = None) -> Series:
    """A smoothed :class:`Series` of a per-frame quantity computed from landmarks."""
    out = smooth(result, values)
    conf = np.where(np.isnan(out).reshape(len(out), -1).any(axis=1), 0.0, 1.0 if confidence is None else confidence)
    return Series(result.t_s, out, unit, conf)  # type: ignore[arg-type]


def _mid(p: dict[str, np.ndarray], a: str, b: str) -> np.ndarray:
    return 0.5 * (p[a] + p[b])


def leg_length(p: dict[str, np.ndarray], space: str) -> float:
    """Hip-to-ankle distance near full extension: the 90th percentile over the recording.

    Image input uses the two image axes only (depth is the least steady coordinate).
    """
    k = 3 if space == "world_m" else 2
    lengths = np.concatenate([np.linalg.norm((p[f"{s}_ankle"] - p[f"{s}_hip"])[:, :k], axis=1) for s in SIDES])
    lengths = lengths[np.isfinite(lengths)]
    return float(np.percentile(lengths, 90)) if lengths.size else float("nan")


def hip_height(lm: LandmarkSeries, result: KinematicsResult) -> Series:
    """Height of the hip midpoint above the ankle midpoint, in leg lengths (unit ``"1"``).

    Relative to the feet rather than to the camera, so that it also works on
    world landmarks (whose origin *is* the hip midpoint) and does not move
    when a hand-held phone does. y is down in both spaces, so the camera must
    be level (as for every angle here).
    """
    p = masked_points(lm, result)
    leg = leg_length(p, lm.space)
    height = (_mid(p, "left_ankle", "right_ankle")[:, 1] - _mid(p, "left_hip", "right_hip")[:, 1]) / leg
    return derived(result, height, "1")


def derived_angle(
    result: KinematicsResult, values: np.ndarray, band: Plausible, breaks: np.ndarray | None = None
) -> tuple[Series, GateCount]:
    """An angle computed per frame from :func:`masked_points`, gated, then smoothed as :func:`derived`.

    Returns the smoothed angle and what the gate withheld from it (for :func:`withheld_issues`).

    The plausibility gate (:func:`kinematics.plausibility.gate`, the pipeline's own) runs on the
    frame-by-frame angle, before the low-pass: filtered first, a pose failure or a +-180 deg wrap
    spreads into the samples around it (a 0.2 s knee-on-shoulder glitch in a synthetic bridge left
    -49 and -135 deg on its edges that the jump test no longer saw, and the filter took the wrap to
    -192 deg), and a gap the gate leaves is bridged like any other gap (``max_gap_s``).
    """
    values = np.asarray(values, dtype=float)
    raw = Series(result.t_s, values, "deg", np.where(np.isfinite(values), 1.0, 0.0))
    kept, count = gate(raw, band, breaks=breaks)
    return derived(result, kept.values, "deg"), count


def supine_hip_angle(lm: LandmarkSeries, result: KinematicsResult, *, side: str = "mid") -> tuple[Series, GateCount]:
    """Thigh-to-trunk angle for a subject lying on the back, signed by the floor.

    Returns
    -------
    Series, GateCount
        deg, 0 when the thigh continues the trunk line (shoulder -> hip), > 0
        when the knee is on the ceiling side of that line (flexion), < 0 on
        the floor side (extension past neutral, a bridge's top); and the
        samples the plausibility gate withheld (:func:`derived_angle`).

    Notes
    -----
    :func:`kinematics.angles.facing_direction` looks at the toes and the nose,
    which, lying on the back, point at the ceiling, not along image x: its
    sign is noise, and with it the sign of the pipeline's hip flexion. Here
    "anterior" is instead the normal to the trunk line that points *up in the
    picture* (away from the floor): lying or bridging, the front of the body
    faces up, whichever way the subject lies along the image. ``side="mid"``
    uses the hip and knee midpoints, which a side view sees even when the far
    leg hides behind the near one.
    """
    p = masked_points(lm, result)
    shoulder = _mid(p, "left_shoulder", "right_shoulder")[:, :2]
    hip_mid = _mid(p, "left_hip", "right_hip")[:, :2]
    if side == "mid":
        hip, knee = hip_mid, _mid(p, "left_knee", "right_knee")[:, :2]
    else:
        hip, knee = p[f"{side}_hip"][:, :2], p[f"{side}_knee"][:, :2]
    down = hip_mid - shoulder  # along the trunk, toward the feet
    thigh = knee - hip
    normal = np.stack([-down[:, 1], down[:, 0]], axis=1)
    with np.errstate(invalid="ignore"):
        flip = np.where(np.isfinite(normal[:, 1]), np.where(normal[:, 1] > 0, -1.0, 1.0), np.nan)
    normal = normal * flip[:, None]  # toward the ceiling (y is down)
    with np.errstate(invalid="ignore"):
        angle = np.degrees(
            np.arctan2(
                np.einsum("ij,ij->i", thigh, normal) / np.linalg.norm(normal, axis=1),
                np.einsum("ij,ij->i", thigh, down) / np.linalg.norm(down, axis=1),
            )
        )
    # the sign's reference turns over where the trunk passes vertical: a jump there is not the hip's
    return derived_angle(result, angle, PROTOCOL_ANGLES["supine_hip_flexion_deg"], breaks=sign_breaks(flip))


def lying(lm: LandmarkSeries, result: KinematicsResult) -> bool:
    """True when the recording's posture is lying (:func:`kinematics.protocols.posture.classify_posture`)."""
    from kinematics.protocols.posture import classify_posture  # posture builds on this module's helpers

    return classify_posture(lm, result).posture == "lying"


def fppa(lm: LandmarkSeries, result: KinematicsResult, *, side: str) -> tuple[Series, GateCount]:
    """Knee frontal-plane projection angle (FPPA) in the camera plane.

    Returns
    -------
    Series, GateCount
        deg, the angle between the thigh (hip -> knee) and the shank (knee ->
        ankle) as the camera sees them; > 0 when the knee lies medial of the
        hip-ankle line (valgus, "knee in"), < 0 lateral (varus); and the
        samples the plausibility gate withheld (:func:`derived_angle`).

    Notes
    -----
    As in the 2-D clinical measure (Willson & Davis 2008; Munro, Herrington &
    Carolan, J Sport Rehabil 2012;21(1):7-11). "Medial" is toward the other hip,
    taken from the hip landmarks, so the sign holds whether the subject faces
    the camera or turns their back to it.
    """
    p = masked_points(lm, result)
    hip, knee, ankle = (p[f"{side}_{j}"][:, :2] for j in ("hip", "knee", "ankle"))
    other = "right" if side == "left" else "left"
    medial = p[f"{other}_hip"][:, :2] - hip
    thigh, shank = knee - hip, ankle - knee
    cross = thigh[:, 0] * shank[:, 1] - thigh[:, 1] * shank[:, 0]
    magnitude = np.degrees(np.arctan2(np.abs(cross), np.einsum("ij,ij->i", thigh, shank)))
    line = ankle - hip
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.einsum("ij,ij->i", knee - hip, line) / np.einsum("ij,ij->i", line, line)
    offset = knee - (hip + u[:, None] * line)  # knee's offset from the hip-ankle line
    sign = np.sign(np.einsum("ij,ij->i", offset, medial))
    return derived_angle(result, magnitude * sign, PROTOCOL_ANGLES["knee_fppa_deg"])


def ahead_of_pelvis(
    lm: LandmarkSeries, result: KinematicsResult, *, side: str, axis: int, forward: np.ndarray | float
) -> Series:
    """How far an ankle is ahead of the hip midpoint along one camera axis, in leg lengths.

    ``axis`` 0 (image x, a side view) or 2 (depth, a frontal view); ``forward``
    is +1/-1 (per sample or overall): the sign that makes the walking direction positive.
    """
    p = masked_points(lm, result)
    leg = leg_length(p, lm.space)
    ahead = (p[f"{side}_ankle"][:, axis] - _mid(p, "left_hip", "right_hip")[:, axis]) * forward / leg
    return derived(result, ahead, "1")


# -- windows and uncertainty --------------------------------------------------------


def window(series: Series, start: float, end: float) -> np.ndarray:
    """Measured values with ``start <= t <= end``."""
    keep = (series.t_s >= start) & (series.t_s <= end) & series.valid
    return series.values[keep]


def near_peak(
    series: Series, rep: ProtocolEvent, *, tolerance: float, tolerance_fraction: float, direction: int = 1
) -> np.ndarray:
    """``(n,)`` bool: samples of ``rep`` within tolerance of its peak (the top of the movement)."""
    t, v = series.t_s, series.values * direction
    inside = (t >= rep.start_s) & (t <= (rep.end_s if rep.end_s is not None else t[-1])) & series.valid
    if not inside.any():
        return inside
    peak, low = float(np.nanmax(v[inside])), float(np.nanmin(v[inside]))
    tol = max(tolerance, tolerance_fraction * (peak - low))
    return inside & (v >= peak - tol)


def rest_before(series: Series, reps: list[ProtocolEvent], i: int) -> np.ndarray:
    """``(n,)`` bool: measured samples between the previous repetition (any side) and repetition ``i``."""
    t = series.t_s
    start = reps[i].start_s
    previous = [r.end_s for r in reps if r.end_s is not None and r.end_s <= start]
    lo = max(previous) if previous else float(t[0])
    mask = (t >= lo) & (t < start) & series.valid
    if mask.sum() >= 3:
        return mask
    outside = np.ones(len(t), dtype=bool)  # too short a rest: every sample outside all repetitions
    for r in reps:
        outside &= ~((t >= r.start_s) & (t <= (r.end_s if r.end_s is not None else t[-1])))
    return outside & series.valid


def se_median(x: np.ndarray, duration_s: float, cutoff_hz: float) -> float:
    """Standard error of the median of low-passed samples (their effective number is limited by the cutoff)."""
    x = x[np.isfinite(x)]
    if x.size < 2:
        return 0.0
    n_eff = max(2.0, min(x.size, 2.0 * cutoff_hz * max(duration_s, 0.0)))
    return 1.2533 * float(np.std(x, ddof=1)) / np.sqrt(n_eff)


def ci_around(value: float, *parts: float, instrument_sd: float) -> tuple[float, float]:
    """95 % interval of ``value`` from independent standard errors and the instrument's SD."""
    half = Z95 * float(np.sqrt(sum(p * p for p in parts) + instrument_sd**2))
    return (round(value - half, 2), round(value + half, 2))


def ci_of_reps(values: np.ndarray, *, instrument_sd: float) -> tuple[float, float]:
    """95 % interval of the median of per-repetition values: their spread plus the instrument's error."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    med = float(np.median(values))
    se = 1.2533 * float(np.std(values, ddof=1)) / np.sqrt(values.size) if values.size >= 2 else 0.0
    return ci_around(med, se, instrument_sd=instrument_sd)


def float_parameter(result: KinematicsResult, name: str, default: float) -> float:
    """A numeric parameter the kinematics pipeline ran with (``result.parameters``)."""
    value = result.parameters.get(name, default)
    if not isinstance(value, int | float):
        raise TypeError(f"pipeline parameter {name} must be a number, got {value!r}")
    return float(value)


def cutoff_of(result: KinematicsResult) -> float:
    return float_parameter(result, "cutoff_hz", 6.0)


def duration(t: np.ndarray, mask: np.ndarray) -> float:
    """Time spanned by the True samples of ``mask`` (summed over its runs)."""
    return float(sum(t[b - 1] - t[a] for a, b in contiguous_runs(mask)))


def median_diff(
    a_series: Series, a_mask: np.ndarray, b_series: Series, b_mask: np.ndarray, cutoff_hz: float, instrument_sd: float
) -> tuple[float, tuple[float, float]] | None:
    """``median(a[a_mask]) - median(b[b_mask])`` and its 95 % interval, or None without 3 samples each."""
    a = a_series.values[a_mask & a_series.valid]
    b = b_series.values[b_mask & b_series.valid]
    if a.size < 3 or b.size < 3:
        return None
    diff = float(np.median(a) - np.median(b))
    t = a_series.t_s
    ci = ci_around(
        diff,
        se_median(a, duration(t, a_mask), cutoff_hz),
        se_median(b, duration(t, b_mask), cutoff_hz),
        instrument_sd=instrument_sd,
    )
    return diff, ci


def asymmetry_finding(
    code: str,
    quantity: str,
    unit: str,
    left: tuple[float, tuple[float, float]],
    right: tuple[float, tuple[float, float]],
    threshold: Threshold,
    why: str,
) -> Finding:
    """Left against right: ``attention`` once the 95 % interval of the difference clears ``threshold``.

    ``left`` and ``right`` are ``(value, ci95)``; each interval already holds the
    instrument's error, so their half-widths combine in quadrature.
    """
    (lv, lci), (rv, rci) = left, right
    diff = lv - rv
    half = float(np.hypot((lci[1] - lci[0]) / 2, (rci[1] - rci[0]) / 2))
    size_ci = (max(0.0, abs(diff) - half), abs(diff) + half)
    evidence = {
        f"left_minus_right_{unit.replace('/', '_per_')}": r2(diff),
        "ci95": [round(diff - half, 2), round(diff + half, 2)],
        "left": r2(lv),
        "right": r2(rv),
    }
    verdict = judge(abs(diff), size_ci, threshold.value)
    higher, lower = ("left", "right") if diff > 0 else ("right", "left")
    # The interval printed is the evidence's own (of left minus right), so the words and the numbers agree.
    d = 2 if unit == "s" else 1  # step times differ by hundredths of a second
    span = f"left minus right {diff:+.{d}f} {unit}, 95 % interval {diff - half:.{d}f} to {diff + half:.{d}f} {unit}"
    if verdict == "above":
        return Finding(
            f"{code}_asymmetry",
            "attention",
            f"The {quantity} was {abs(diff):.{d}f} {unit} larger on the {higher} side than on the {lower} "
            f"({span}), more than {threshold.value:g} {unit}. {why} A clinician should judge it.",
            evidence,
            threshold,
            threshold.source,
        )
    if verdict == "below":
        return Finding(
            f"{code}_symmetric",
            "normal",
            f"The {quantity} was within {threshold.value:g} {unit} on both sides "
            f"(difference {abs(diff):.{d}f} {unit}, {span}).",
            evidence,
            threshold,
            threshold.source,
        )
    return Finding(
        f"{code}_asymmetry_inconclusive",
        "inconclusive",
        f"The {quantity} differed by {abs(diff):.{d}f} {unit} between the sides ({span}), an interval that "
        + ("includes no difference" if threshold.value == 0 else f"reaches a difference of {threshold.value:g} {unit}")
        + ": this recording cannot tell the sides apart.",
        evidence,
        threshold,
        threshold.source,
    )


def abs_ci(ci: tuple[float, float]) -> tuple[float, float]:
    """Interval of ``|x|`` from the interval of ``x``."""
    lo, hi = ci
    if lo <= 0 <= hi:
        return (0.0, round(max(-lo, hi), 2))
    return (round(min(abs(lo), abs(hi)), 2), round(max(abs(lo), abs(hi)), 2))


def derivative(series: Series, half_window_s: float) -> np.ndarray:
    """``(n,)`` central difference ``(x(t + h) - x(t - h)) / 2h`` on the series' own timestamps.

    ``NaN`` unless every sample within ``+-h`` is measured and both ends lie inside the recording.
    """
    t, v = series.t_s, series.values
    ok = series.valid
    out = np.full(len(t), np.nan)
    if ok.sum() < 2:
        return out
    ahead = np.interp(t + half_window_s, t[ok], v[ok])
    behind = np.interp(t - half_window_s, t[ok], v[ok])
    bad = np.concatenate([[0], np.cumsum(~ok)])
    lo = np.searchsorted(t, t - half_window_s, side="left")
    hi = np.searchsorted(t, t + half_window_s, side="right")
    good = (bad[hi] - bad[lo] == 0) & (t - half_window_s >= t[0]) & (t + half_window_s <= t[-1])
    out[good] = (ahead[good] - behind[good]) / (2 * half_window_s)
    return out


def mean_of_sides(left: Series, right: Series) -> Series:
    """The two sides' average where both are measured, the one measured side elsewhere (no warnings on gaps)."""
    a, b = left.values, right.values
    fa, fb = np.isfinite(a), np.isfinite(b)
    values = np.where(fa & fb, 0.5 * (a + b), np.where(fa, a, b))
    return Series(left.t_s, values, left.unit, np.maximum(left.confidence, right.confidence))

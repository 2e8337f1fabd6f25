"""Walking, filmed side-on or from the front (toward or away from the camera).

Initial contacts (heel strikes) are found with the coordinate-based method of
Zeni et al. (2008): a foot strikes the ground when it is furthest ahead of
the pelvis. Here the ankle stands in for the heel marker and the hip midpoint
for the sacrum, and "ahead" is measured along the walking direction in
leg lengths:

* side-on, along image x, signed by the direction the subject faces (toes
  ahead of heels, nose ahead of ears: :func:`kinematics.angles.facing_direction`);
* from the front, along the camera's depth axis (toward the camera when the
  subject faces it). BlazePose's depth is its least steady coordinate, so
  these contacts carry half the confidence of a side-on one.

A contact's confidence is the least visibility of the ankle and hips within
``CONTACT_WINDOW_S`` of it (0 where one was not measured), times the peak's
prominence over the ankle's fore-aft range (capped at 1), times 0.5 from the front.

From the contacts: steps (``rep_count``; per foot with ``side``), cadence (steps per minute), step
times per side. Per stride (a contact to the next one of the same foot), time
normalised and averaged over strides (an ensemble mean, which keeps the
jitter of single frames out of ranges and peaks):

* side-on: hip flexion-extension range per side, and their difference;
* from the front: pelvic obliquity range, and the drop of the free side during
  each leg's stance (from that foot's contact to the other foot's), against the
  pelvis's level at the two double-support instants (the contacts), and its
  left-right difference.

Sources
-------
* Zeni, Richards & Higginson, Gait Posture 2008;27(4):710-4: gait events from
  marker coordinates relative to the sacrum.
* Bramah et al., Am J Sports Med 2018: each degree more contralateral pelvic
  drop in running raised the odds of injury ~80 %; no cut-off, so drops are
  reported, and only a left-right difference above the 4 deg minimal
  detectable change of pelvic obliquity (J Sport Rehabil 2007;16(4):326) is
  flagged.
* 2-D sagittal hip angle in gait, single side camera: MAE 4.0 deg (Stenum et
  al., PLoS Comput Biol 2021;17(4):e1008935), the instrument error of the hip
  ranges.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np
from scipy import ndimage, signal

from kinematics import angles
from kinematics.pipeline import KinematicsResult
from kinematics.protocols import _common as C
from kinematics.protocols import presence
from kinematics.protocols.base import Coaching, Finding, ProtocolEvent, ProtocolMetric, ProtocolResult, Threshold
from kinematics.protocols.capture import VIEWS, check_capture
from kinematics.protocols.evidence import MIN_STEP_TIMES, with_evidence
from kinematics.protocols.passes import MIN_ALTERNATIONS, Pass, find_walking
from kinematics.series import SIDES, LandmarkSeries, Series, Side, other_side

__all__ = [
    "DROP_ASYMMETRY_THRESHOLD",
    "HIP_RANGE_ASYMMETRY_THRESHOLD",
    "STEP_TIME_ASYMMETRY_THRESHOLD",
    "Gait",
    "step_time_asymmetry",
]

DROP_ASYMMETRY_THRESHOLD = Threshold(
    "pelvic_drop_asymmetry_deg",
    4.0,
    "deg",
    "minimal detectable change of the pelvis-on-femur angle in single-leg stance (J Sport Rehabil 2007;16(4):326)",
    "applied to the left-right difference of the free side's drop in stance; no validated cut-off for walking exists "
    "(Bramah et al., AJSM 2018: each degree of contralateral drop in running raised injury odds ~80 %)",
)
HIP_RANGE_ASYMMETRY_THRESHOLD = Threshold(
    "hip_range_asymmetry_deg",
    0.0,
    "deg",
    "a left-right difference is reported once its 95 % interval excludes this value; the interval includes the 2-D "
    "sagittal hip error in gait, MAE 4.0 deg (Stenum et al., PLoS Comput Biol 2021;17(4):e1008935)",
    "side-on, the far leg is partly hidden: BlazePose estimates it",
)
STEP_TIME_ASYMMETRY_THRESHOLD = Threshold(
    "step_time_asymmetry_s",
    0.0,
    "s",
    "a left-right difference is reported once its 95 % interval (step-to-step spread and one frame interval of "
    "timing error) excludes this value",
    "a limp often shortens the painful leg's stance; clinics may set a clinically relevant difference",
)

_N = 101  # samples per time-normalised stride (0-100 %)
# A contact's confidence looks at the ankle and hips this long either side of it: about a sixth of a
# step at a cadence of 100 steps/min, the stretch over which the ankle's forward peak is found.
CONTACT_WINDOW_S = 0.1
MIN_STRIDE_COVERAGE = 0.8
# A walking rhythm: consecutive contacts at least a step apart, the same foot at least a stride apart.
# Walking cadence stays below ~150 steps/min (step >= 0.4 s; Tudor-Locke et al., Int J Behav Nutr Phys
# Act 2011;8:79: 100-130 typical); even running at 200 steps/min takes 0.3 s a step. Shorter
# intervals are a jump, a stumble, or contacts of two people (the two-person clip: a left 0.07 s
# after a right, two lefts 0.35 s apart), not steps.
MIN_STEP_S = 0.25
MIN_STRIDE_S = 0.6

_HOW = (
    "Walk at your usual pace for at least four steps with the whole body, feet included, in the picture: "
    "side-on across the picture (entering and leaving it is fine), or straight toward or away from the camera."
)


@dataclass(frozen=True, kw_only=True)
class Gait:
    """Walking; clinic-configurable, every threshold names its source.

    Parameters
    ----------
    drop_asymmetry_threshold_deg
        Left-right difference of the free side's pelvic drop in stance above
        which a finding is raised (``DROP_ASYMMETRY_THRESHOLD``).
    hip_range_asymmetry_threshold_deg
        Left-right difference of the hip flexion-extension range
        (``HIP_RANGE_ASYMMETRY_THRESHOLD``).
    step_time_asymmetry_threshold_s
        Left-right difference of step time (``STEP_TIME_ASYMMETRY_THRESHOLD``).
    min_prominence
        A contact is a forward excursion of the ankle of at least this
        fraction of its fore-aft range over the recording (the 5th to 95th
        percentile), so that jitter and shuffles are not counted as steps.
    min_excursion
        ...and that range must reach this many leg lengths (0.2, ~18 cm):
        walking moves each ankle about a step length (~0.7 leg lengths) back
        and forth past the pelvis, while BlazePose's depth jitter is ~0.015
        leg lengths (13 mm), so standing still or shuffling is not walking.
    min_steps
        Fewer contacts than this (two strides of one foot need three) give
        coaching instead of findings.
    min_pass_coverage
        A pass is analysed when shoulders, hips and the near leg are measured in
        at least this share of its samples (the far leg only where it is seen);
        without any such pass the answer is coaching (``no_full_pass``).
    """

    drop_asymmetry_threshold_deg: float = DROP_ASYMMETRY_THRESHOLD.value
    hip_range_asymmetry_threshold_deg: float = HIP_RANGE_ASYMMETRY_THRESHOLD.value
    step_time_asymmetry_threshold_s: float = STEP_TIME_ASYMMETRY_THRESHOLD.value
    min_prominence: float = 0.3
    min_excursion: float = 0.2
    min_steps: int = 3
    min_pass_coverage: float = 0.8
    name: str = "gait"

    @with_evidence
    def assess(self, result: KinematicsResult, landmarks: LandmarkSeries) -> ProtocolResult:
        params = C.parameters(self)
        frontal = result.view.view == "frontal"
        # the body is judged per pass below: a walk enters and leaves the picture, and side-on the far leg hides
        coaching = check_capture(result, landmarks, views=VIEWS["gait"], pelvis_measure=True, body_in_frame=False)
        if coaching:
            return C.unscored(self.name, params, coaching)
        detection = presence.gate("walking", landmarks, result)
        if not detection.detected:
            return presence.not_detected(self.name, params, detection, _HOW)
        walks = [q for q in find_walking(landmarks, result).passes if q.alternations >= MIN_ALTERNATIONS]
        full = [q for q in walks if _in_view(landmarks, result, q) >= self.min_pass_coverage]
        if not full:
            share = max(_in_view(landmarks, result, q) for q in walks)
            return C.unscored(
                self.name,
                params,
                [
                    Coaching(
                        "no_full_pass",
                        f"The walk was seen, but no pass was fully in the picture (shoulders, hips and the near leg "
                        f"seen in at most {share:.0%} of a pass, need {self.min_pass_coverage:.0%}). Walk across the "
                        "picture side-on with the camera further away (4-6 m), or toward it starting further back.",
                    )
                ],
            )
        contacts = _in_passes(self.contacts(result, landmarks), full)
        if len(contacts) < self.min_steps:
            few = presence.missing(detection, f"steps (at least {self.min_steps} foot contacts in the passes)")
            return presence.not_detected(self.name, params, few, _HOW, events=contacts)
        off_rhythm = _off_rhythm(contacts)
        if off_rhythm:
            no_walk = presence.missing(
                detection,
                f"a walking rhythm ({off_rhythm} of {len(contacts)} foot contacts came sooner than a step, "
                f"{MIN_STEP_S:g} s, after the last contact, or than a stride, {MIN_STRIDE_S:g} s, after the same "
                "foot's last one)",
            )
            return presence.not_detected(self.name, params, no_walk, _HOW, events=contacts)
        pass_events = [
            ProtocolEvent("pass", q.start_s, q.end_s, None, None, 1.0, i, q.direction) for i, q in enumerate(full)
        ]
        groups = [[c for c in contacts if c.pass_index == i] for i in range(len(full))]
        gaps = [float(g[-1].start_s - g[0].start_s) for g in groups if len(g) >= 2]
        cadence = 60.0 * sum(len(g) - 1 for g in groups if len(g) >= 2) / sum(gaps) if sum(gaps) > 0 else float("nan")
        metrics = [ProtocolMetric("rep_count", len(contacts), "1")]
        metrics += [ProtocolMetric("rep_count", sum(c.side == side for c in contacts), "1", side) for side in SIDES]
        metrics.append(ProtocolMetric("cadence_steps_per_min", C.r2(cadence), "1/min"))
        metrics.append(ProtocolMetric("pass_count", len(full), "1"))
        steps = np.concatenate([np.diff([c.start_s for c in g]) for g in groups if len(g) >= 2])
        ways = ", ".join(q.direction.replace("_", " ") for q in full)
        findings: list[Finding] = [
            Finding(
                "cadence",
                "info",
                f"{len(contacts)} steps at {cadence:.0f} steps per minute in {len(full)} pass(es) ({ways}); "
                "turns and the stretches entering or leaving the picture are left out"
                + (
                    " (step timing from the camera's depth estimate, which is less steady than a side view)."
                    if frontal
                    else "."
                ),
                {
                    "steps": len(contacts),
                    "step_time_s": C.r2(float(np.median(steps))) if steps.size else None,
                    "frontal": frontal,
                    "passes": len(full),
                },
            )
        ]
        m, f = step_time_asymmetry(
            contacts,
            instrument_sd_s=float(np.median(np.diff(result.t_s))),
            threshold_s=self.step_time_asymmetry_threshold_s,
        )
        metrics += m
        findings += f
        metrics += self._per_pass(result, full, groups, frontal)
        if frontal:
            m, f = self._frontal(result, contacts)
        else:
            m, f = self._sagittal(result, contacts)
        return ProtocolResult(
            self.name,
            sorted(pass_events + contacts, key=lambda e: e.start_s),
            metrics + m,
            findings + f,
            [],
            params,
            detection,
        )

    def _per_pass(
        self, result: KinematicsResult, passes: list[Pass], groups: list[list[ProtocolEvent]], frontal: bool
    ) -> list[ProtocolMetric]:
        """Steps, cadence, step time and (side-on) hip flexion-extension range with its coverage, per pass."""
        out: list[ProtocolMetric] = []
        for i, (q, group) in enumerate(zip(passes, groups, strict=True)):
            out.append(ProtocolMetric("step_count", len(group), "1", None, pass_index=i))
            times = [c.start_s for c in group]
            if len(times) >= 2:
                rate = 60.0 * (len(times) - 1) / (times[-1] - times[0])
                out.append(ProtocolMetric("cadence_steps_per_min", C.r2(rate), "1/min", pass_index=i))
            steps, _ = step_time_asymmetry(
                group,
                instrument_sd_s=float(np.median(np.diff(result.t_s))),
                threshold_s=self.step_time_asymmetry_threshold_s,
            )
            out += [replace(m, pass_index=i) for m in steps]
            if frontal:
                continue
            inside = (result.t_s >= q.start_s) & (result.t_s <= q.end_s)
            for side in SIDES:
                series = result.series[f"hip_flexion_{side}_deg"]
                coverage = 100.0 * float(np.mean(series.valid[inside])) if inside.any() else 0.0
                out.append(ProtocolMetric("hip_flexion_coverage_pct", round(coverage, 1), "%", side, pass_index=i))
                strides = _strides(series, [c.start_s for c in group if c.side == side])
                if len(strides) < 1:
                    why = f"no complete stride of the {side} foot seen in this pass"
                    out.append(
                        ProtocolMetric(
                            "hip_flexion_range_deg", None, "deg", side, None, False, why, pass_index=i, n_events=0
                        )
                    )
                    continue
                value, ci = _range_of(strides)
                out.append(
                    ProtocolMetric(
                        "hip_flexion_range_deg", C.r2(value), "deg", side, ci, pass_index=i, n_events=len(strides)
                    )
                )
        return out

    # -- events --------------------------------------------------------------------

    def contacts(self, result: KinematicsResult, lm: LandmarkSeries) -> list[ProtocolEvent]:
        """Initial contacts of both feet, sorted by time (Zeni et al. 2008)."""
        frontal = result.view.view == "frontal"
        if frontal:
            yaw = result.view.yaw_deg if result.view.yaw_deg is not None else 0.0
            forward: np.ndarray | float = (
                -1.0 if abs(yaw) <= 90 else 1.0
            )  # facing the camera: forward is toward it (-z)
            axis, confidence = 2, 0.5
        else:
            forward = _facing(lm, result.t_s)
            axis, confidence = 0, 1.0
        events: list[ProtocolEvent] = []
        points = C.masked_points(lm, result)
        for side in SIDES:
            ahead = C.ahead_of_pelvis(lm, result, side=side, axis=axis, forward=forward)
            v = ahead.values
            ok = np.isfinite(v)
            if ok.sum() < 5:
                continue
            lo, hi = np.percentile(v[ok], [5, 95])
            if hi - lo < self.min_excursion:
                continue
            peaks, props = signal.find_peaks(
                np.where(ok, v, np.nanmin(v[ok])), prominence=self.min_prominence * (hi - lo)
            )
            t = result.t_s
            seen = _seen(lm, points, (f"{side}_ankle", "left_hip", "right_hip"))
            for k, prominence in zip(peaks, props["prominences"], strict=True):
                if 0 < k < len(v) - 1 and ok[k - 1] and ok[k + 1]:
                    # a parabola through the peak and its neighbours: sub-frame timing, since a
                    # pelvic drop is read against the obliquity at the contact, which changes fast then
                    den = v[k - 1] - 2 * v[k] + v[k + 1]
                    shift = float(np.clip(0.5 * (v[k - 1] - v[k + 1]) / den, -0.5, 0.5)) if den < 0 else 0.0
                    when = t[k] + shift * ((t[k + 1] - t[k]) if shift > 0 else (t[k] - t[k - 1]))
                    # how sure: the ankle and hips seen around the contact, and how clearly the ankle's
                    # forward excursion peaks there (its prominence against the foot's fore-aft range)
                    near = np.abs(t - when) <= CONTACT_WINDOW_S
                    clarity = min(1.0, float(prominence) / (hi - lo))
                    sure = confidence * float(np.mean(seen[near])) * clarity
                    events.append(
                        ProtocolEvent("initial_contact", float(when), None, None, side, round(float(sure), 3))
                    )
        return sorted(events, key=lambda e: e.start_s)

    # -- side view -------------------------------------------------------------------

    def _sagittal(
        self, result: KinematicsResult, contacts: list[ProtocolEvent]
    ) -> tuple[list[ProtocolMetric], list[Finding]]:
        metrics: list[ProtocolMetric] = []
        findings: list[Finding] = []
        ranges = {}
        for side in SIDES:
            series = result.series[f"hip_flexion_{side}_deg"]
            strides = _strides_in_passes(series, contacts, side)
            if len(strides) < 1:
                metrics.append(
                    ProtocolMetric(
                        "hip_flexion_range_per_stride_deg",
                        None,
                        "deg",
                        side,
                        None,
                        False,
                        f"no complete stride of the {side} foot",
                    )
                )
                continue
            value, ci = _range_of(strides)
            ranges[side] = (value, ci)
            metrics += [
                ProtocolMetric("hip_flexion_range_per_stride_deg", C.r2(value), "deg", side, ci, n_events=len(strides)),
                ProtocolMetric("stride_count", len(strides), "1", side, n_events=len(strides)),
            ]
        if len(ranges) == 2:
            th = C.with_value(HIP_RANGE_ASYMMETRY_THRESHOLD, self.hip_range_asymmetry_threshold_deg)
            findings.append(
                C.asymmetry_finding(
                    "hip_range",
                    "hip flexion-extension range per stride",
                    "deg",
                    ranges["left"],
                    ranges["right"],
                    th,
                    "Pain or stiffness can shorten one leg's swing.",
                )
            )
        metrics.append(
            ProtocolMetric(
                "pelvic_obliquity_range_per_stride_deg",
                None,
                "deg",
                None,
                None,
                False,
                "pelvic obliquity is not measurable side-on: film walking toward the camera",
            )
        )
        return metrics, findings

    # -- front view ------------------------------------------------------------------

    def _frontal(
        self, result: KinematicsResult, contacts: list[ProtocolEvent]
    ) -> tuple[list[ProtocolMetric], list[Finding]]:
        obliquity = result.series["pelvic_obliquity_deg"]
        metrics: list[ProtocolMetric] = [
            ProtocolMetric(
                "hip_flexion_range_per_stride_deg",
                None,
                "deg",
                None,
                None,
                False,
                "hip flexion is not measurable from the front: film side-on",
            ),
        ]
        findings: list[Finding] = []
        right = [c.start_s for c in contacts if c.side == "right"]
        strides = _strides_in_passes(obliquity, contacts, "left")
        if len(strides) < 1 or not right:
            metrics.append(
                ProtocolMetric(
                    "pelvic_obliquity_range_per_stride_deg",
                    None,
                    "deg",
                    None,
                    None,
                    False,
                    "no complete stride with both feet's contacts",
                )
            )
            return metrics, findings
        mean = strides.mean(axis=0)
        each = np.nanmax(strides, axis=1) - np.nanmin(strides, axis=1)
        spread = 1.2533 * float(np.std(each, ddof=1)) / np.sqrt(len(each)) if len(each) > 1 else 0.0
        value = float(np.nanmax(mean) - np.nanmin(mean))
        ci = C.ci_around(value, spread, instrument_sd=C.OBLIQUITY_SD_DEG)
        metrics += [
            ProtocolMetric(
                "pelvic_obliquity_range_per_stride_deg", C.r2(value), "deg", None, ci, n_events=len(strides)
            ),
            ProtocolMetric("stride_count", len(strides), "1", n_events=len(strides)),
        ]
        # the right foot's contact, as a fraction of the left stride
        phases = [
            ((r.start_s - a.start_s) / (b.start_s - a.start_s))
            for a, b in _same_pass_pairs(contacts, "left")
            for r in contacts
            if r.side == "right" and a.start_s < r.start_s < b.start_s
        ]
        if not phases:
            return metrics, findings
        k = round(float(np.median(phases)) * (_N - 1))
        # The level is the pelvis at the double-support instants (both feet's contacts). Averaging the
        # two keeps a contact found a little late (the filtered ankle's peak is blunt) from biasing it:
        # the pelvis moves in opposite senses just after each contact.
        level = 0.5 * (0.5 * (mean[0] + mean[-1]) + mean[k])
        drops: dict[Side, float] = {
            # standing on the left (from its contact to the right's), the right side is free: a drop lowers it,
            # which raises the obliquity (> 0 when the LEFT hip is higher)
            "right": float(np.nanmax(mean[: k + 1]) - level),
            "left": float(level - np.nanmin(mean[k:])),
        }
        per_side = {}
        for free, drop in drops.items():
            stance = other_side(free)
            d_ci = C.ci_around(drop, spread / np.sqrt(2), instrument_sd=C.OBLIQUITY_SD_DEG)
            per_side[free] = (drop, d_ci)
            metrics.append(ProtocolMetric("pelvic_drop_deg", C.r2(drop), "deg", free, d_ci, n_events=len(strides)))
            findings.append(
                Finding(
                    f"pelvic_drop_{stance}_stance",
                    "info",
                    f"Standing on the {stance} leg while walking, the {free} side of the pelvis dropped by {drop:.1f} deg "
                    f"(95 % range {d_ci[0]:.1f} to {d_ci[1]:.1f}; stride average). Some drop is normal in walking; for "
                    "information.",
                    {"pelvic_drop_deg": C.r2(drop), "ci95": C.ci_list(d_ci), "free_side": free},
                )
            )
        th = C.with_value(DROP_ASYMMETRY_THRESHOLD, self.drop_asymmetry_threshold_deg)
        findings.append(
            C.asymmetry_finding(
                "pelvic_drop",
                "pelvic drop of the free side (the side whose foot is off the ground)",
                "deg",
                per_side["left"],
                per_side["right"],
                th,
                "A larger drop when standing on one leg can point to weaker hip abductors of that standing leg.",
            )
        )
        return metrics, findings


def _off_rhythm(contacts: list[ProtocolEvent]) -> int:
    """Contacts that no walk makes: within a step of the one before (`MIN_STEP_S`), or within a
    stride of the same foot's previous one (`MIN_STRIDE_S`), in the same pass."""
    n = 0
    for i in {c.pass_index for c in contacts}:
        seq = sorted((c for c in contacts if c.pass_index == i), key=lambda c: c.start_s)
        last: dict[object, float] = {}
        for k, c in enumerate(seq):
            too_soon = k > 0 and c.start_s - seq[k - 1].start_s < MIN_STEP_S
            n += too_soon or (c.side in last and c.start_s - last[c.side] < MIN_STRIDE_S)
            last[c.side] = c.start_s
    return n


def step_time_asymmetry(
    contacts: list[ProtocolEvent], *, instrument_sd_s: float, threshold_s: float
) -> tuple[list[ProtocolMetric], list[Finding]]:
    """Step time per side (a step ends on that foot's contact) and their left-right difference.

    Used by the video protocol and by the IMU-only one (``kinematics.fusion.protocols``):
    one measurement, one code path. ``instrument_sd_s`` is the timing error of one
    contact (a frame interval for video). A side with fewer than
    :data:`~kinematics.protocols.evidence.MIN_STEP_TIMES` steps is not measurable, and then
    there is no left-right finding.
    """
    step_times = {
        side: [
            b.start_s - a.start_s
            for a, b in pairwise(contacts)
            if b.side == side and a.side != side and a.pass_index == b.pass_index  # never across a turn
        ]
        for side in SIDES
    }
    metrics, findings, per_side = [], [], {}
    for side, values in step_times.items():
        if 0 < len(values) < MIN_STEP_TIMES:  # the interval would be almost all spread from too few steps
            why = f"rests on {len(values)} step(s); need at least {MIN_STEP_TIMES}"
            metrics.append(
                ProtocolMetric(
                    "step_time_s", None, "s", side, None, False, why, n_events=len(values), event_kind="step"
                )
            )
        elif values:
            v = float(np.median(values))
            ci = C.ci_around(
                v,
                (1.2533 * float(np.std(values, ddof=1)) / np.sqrt(len(values))) if len(values) > 1 else 0.0,
                instrument_sd=instrument_sd_s,
            )
            per_side[side] = (v, ci)
            metrics.append(
                ProtocolMetric("step_time_s", C.r2(v), "s", side, ci, n_events=len(values), event_kind="step")
            )
    if len(per_side) == 2:
        th = C.with_value(STEP_TIME_ASYMMETRY_THRESHOLD, threshold_s)
        findings.append(
            C.asymmetry_finding(
                "step_time",
                "step time (ending on that foot's contact)",
                "s",
                per_side["left"],
                per_side["right"],
                th,
                "A shorter step onto one leg can mean less time spent standing on the other.",
            )
        )
    return metrics, findings


def _same_pass_pairs(contacts: list[ProtocolEvent], side: str) -> list[tuple[ProtocolEvent, ProtocolEvent]]:
    """Consecutive contacts of one foot within one pass (a stride never spans a turn)."""
    mine = [c for c in contacts if c.side == side]
    return [(a, b) for a, b in pairwise(mine) if a.pass_index == b.pass_index]


def _strides_in_passes(series: Series, contacts: list[ProtocolEvent], side: str) -> np.ndarray:
    """``(strides, 101)`` of one foot, every stride inside one pass."""
    parts = [_strides(series, [a.start_s, b.start_s]) for a, b in _same_pass_pairs(contacts, side)]
    return np.concatenate(parts) if parts else np.empty((0, _N))


def _range_of(strides: np.ndarray) -> tuple[float, tuple[float, float]]:
    """Range of the stride-averaged angle, and its 95 % interval (stride-to-stride spread, instrument error)."""
    mean = strides.mean(axis=0)
    value = float(np.nanmax(mean) - np.nanmin(mean))
    each = np.nanmax(strides, axis=1) - np.nanmin(strides, axis=1)
    se = 1.2533 * float(np.std(each, ddof=1)) / np.sqrt(len(each)) if len(each) > 1 else 0.0
    return value, C.ci_around(value, se, instrument_sd=C.SAGITTAL_HIP_SD_DEG)


def _in_view(lm: LandmarkSeries, result: KinematicsResult, q: Pass) -> float:
    """Share of a pass's samples with shoulders, hips and the near leg (the better seen knee and ankle) measured."""
    inside = (result.t_s >= q.start_s) & (result.t_s <= q.end_s)
    if not inside.any():
        return 0.0
    p = C.masked_points(lm, result)
    seen = {n: np.isfinite(p[n][inside]).all(axis=1) for n in p}
    trunk = seen["left_shoulder"] & seen["right_shoulder"] & seen["left_hip"] & seen["right_hip"]
    near = max((seen[f"{s}_knee"] & seen[f"{s}_ankle"] for s in SIDES), key=lambda v: float(v.mean()))
    return float(np.mean(trunk & near))


def _in_passes(contacts: list[ProtocolEvent], passes: list[Pass]) -> list[ProtocolEvent]:
    """The contacts inside a pass, each tagged with its pass's index; those in turns and outside are dropped."""
    out = []
    for c in contacts:
        for i, q in enumerate(passes):
            if q.start_s <= c.start_s <= q.end_s:
                out.append(replace(c, pass_index=i))
                break
    return out


def _seen(lm: LandmarkSeries, points: dict[str, np.ndarray], names: tuple[str, ...]) -> np.ndarray:
    """``(n,)`` the least visibility of ``names`` per frame, 0 where any is not measured (the pipeline's rule)."""
    out = np.ones(len(lm))
    for name in names:
        out = np.minimum(out, np.where(np.isfinite(points[name]).all(axis=1), lm.vis(name), 0.0))
    return out


def _facing(lm: LandmarkSeries, t_s: np.ndarray, window_s: float = 1.0) -> np.ndarray:
    """``(n,)`` +1/-1 walking direction along image x: a 1 s majority vote of the facing direction."""
    sign = angles.facing_direction(lm)
    dt = float(np.median(np.diff(t_s))) if len(t_s) > 1 else 1.0
    width = max(1, round(window_s / dt) | 1)
    vote = ndimage.uniform_filter1d(np.nan_to_num(sign), size=width, mode="nearest")
    overall = np.sign(np.nansum(sign)) or 1.0
    return np.where(vote == 0, overall, np.sign(vote))


def _strides(series: Series, contacts: list[float]) -> np.ndarray:
    """``(strides, 101)``: the series between consecutive contacts of one foot, time-normalised.

    A stride counts only when ``MIN_STRIDE_COVERAGE`` of its samples are measured: side-on, the
    far leg is hidden for part of each stride, and interpolating across that would invent its angle.
    """
    out = []
    for a, b in pairwise(contacts):
        span = (series.t_s >= a) & (series.t_s <= b)
        keep = span & series.valid
        if keep.sum() < 5 or keep.sum() < MIN_STRIDE_COVERAGE * span.sum():
            continue
        grid = np.linspace(a, b, _N)
        out.append(np.interp(grid, series.t_s[keep], series.values[keep]))
    return np.array(out).reshape(-1, _N)

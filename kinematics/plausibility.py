"""Physiological plausibility gate for angle series: what no joint can do becomes "not measured".

A pose model that loses a person (a second person crosses, a limb is hidden, left and
right trade places) can place a knee above the hip or behind the back. The angle formulas
then return numbers that no body makes: on the lab clip with two people
(``tests/fixtures/video/pose2sim_multi_cam03.mp4``, the man followed from behind-left)
the pipeline's un-gated series reached pelvic obliquity -87 deg and right hip abduction
-138 deg (-162 before filtering), and an earlier build reported a right hip flexion range
of 280.7 deg (samples from -178 to 103 deg: an angle wrapped at +-180).

Two tests, applied to every angle series by :class:`kinematics.pipeline.KinematicsPipeline`
(so the offline analysis, the live sliding window and the reports all read the gated
series, and every summary and range is computed on it) and to the angles a protocol computes
from landmarks itself (:data:`PROTOCOL_ANGLES`: the supine thigh-trunk angle of the bridge
and the lying straight-leg raise, the squat's knee projection angle):

* **range**: a sample outside the angle's plausible band (:data:`PLAUSIBLE`), which is a
  published range of motion widened by a stated margin for the camera's error;
* **jump**: a change between two measured samples faster than ``max_rate_deg_s``. The
  series is cut at each such jump; a piece no longer than ``max_glitch_s`` (0.5 s) and no
  longer than the pieces on either side of it is withheld, shortest first, until none is
  left: a spike or a brief swap goes, the run it interrupted stays. A lone jump between two
  long runs (a level shift) is left alone: which side is right cannot be told from the
  angle, and a failure that lasts is the range test's to catch. A pose failure that starts
  with a jump and fades back through the low-pass filter is withheld only between jumps.

Gated samples become NaN with confidence 0 (never clipped or interpolated) and are counted,
so that the pipeline can say how many it withheld (the ``implausible_angle`` warning).

Sources of the bands (``/work/shared/notes/clinical.md`` gathers them):

* hip range of motion, passive, goniometer (Wilson, Am Fam Physician 2014): flexion
  110-120 deg, extension 10-15 deg, abduction 30-50 deg, adduction 20-30 deg;
* camera error against marker-based capture: flexion over-estimated by 5-15 deg (OpenCap,
  several studies); MediaPipe knee flexion -13.9 +- 15.1 deg (vs IMU, squats). The margin
  of 30 deg covers that mean error plus one SD;
* the fastest thigh motion: top-speed sprinting, peak thigh angular acceleration 10.3
  kdeg/s^2 (Alt et al., Hum Mov Sci 2024;98:103280); even held for a whole 0.15 s half
  swing that is ~1,550 deg/s, so 2,000 deg/s is beyond any hip or trunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinematics.series import Series

__all__ = ["PLAUSIBLE", "PROTOCOL_ANGLES", "GateCount", "Plausible", "gate", "sign_breaks"]

_CAMERA_MARGIN_DEG = 30.0  # camera error: mean 15 deg + 1 SD 15 deg (clinical.md)
_MAX_RATE_DEG_S = 2000.0  # beyond the fastest thigh motion (sprinting, see the module notes)


@dataclass(frozen=True)
class Plausible:
    """The values an angle series can take in a living body, and how fast it can change.

    ``min_deg`` / ``max_deg`` of None: no range test (the angle is against the camera's
    vertical and any body orientation is possible, lying included). ``max_glitch_s``: the
    longest piece the jump test withholds (see the module notes).
    """

    min_deg: float | None
    max_deg: float | None
    max_rate_deg_s: float
    source: str
    max_glitch_s: float = 0.5


_HIP_FLEXION = Plausible(
    -15.0 - 40.0,
    120.0 + 40.0,
    _MAX_RATE_DEG_S,
    "hip flexion 110-120 deg, extension 10-15 deg (Wilson, Am Fam Physician 2014), widened by 40 deg: "
    "the camera's error (30 deg) and 10 deg for the lumbar motion a thigh-to-trunk angle includes "
    "(a judgement, not a published figure)",
)
_HIP_ABDUCTION = Plausible(
    -30.0 - _CAMERA_MARGIN_DEG,
    50.0 + _CAMERA_MARGIN_DEG,
    _MAX_RATE_DEG_S,
    "hip abduction 30-50 deg, adduction 20-30 deg (Wilson, Am Fam Physician 2014), widened by the "
    "camera's error (30 deg)",
)
_OBLIQUITY = Plausible(
    -50.0 - _CAMERA_MARGIN_DEG,
    50.0 + _CAMERA_MARGIN_DEG,
    _MAX_RATE_DEG_S,
    "the pelvis tilts sideways on the stance hip, so by at most that hip's abduction (50 deg) or "
    "adduction (30 deg) (Wilson, Am Fam Physician 2014); +-50 deg widened by the camera's error (30 deg)",
)
_TRUNK = Plausible(
    None,
    None,
    _MAX_RATE_DEG_S,
    "against the camera's vertical: any body orientation is possible (lying reads +-90 deg), so only "
    "the jump test applies; a lean that wraps at +-180 deg jumps ~360 deg and is caught by it",
)

PLAUSIBLE: dict[str, Plausible] = {
    "pelvic_obliquity_deg": _OBLIQUITY,
    "hip_abduction_left_deg": _HIP_ABDUCTION,
    "hip_abduction_right_deg": _HIP_ABDUCTION,
    "trunk_lean_lateral_deg": _TRUNK,
    "hip_flexion_left_deg": _HIP_FLEXION,
    "hip_flexion_right_deg": _HIP_FLEXION,
    "trunk_lean_forward_deg": _TRUNK,
}
"""The band of every angle series of :data:`kinematics.pipeline.ANGLE_SERIES`, by name."""

_KNEE_FPPA = Plausible(
    None,
    None,
    _MAX_RATE_DEG_S,
    "the knee's frontal-plane projection angle depends on the camera and on how deep the knee bends (a "
    "bent knee's thigh is foreshortened in a frontal view), so no published band covers every squat: only "
    "the jump test applies; a sign flip at a large angle (the knee seen past the hip or the ankle) jumps "
    "by twice the angle and is caught by it",
)

PROTOCOL_ANGLES: dict[str, Plausible] = {
    "supine_hip_flexion_deg": _HIP_FLEXION,
    "knee_fppa_deg": _KNEE_FPPA,
}
"""The band of every angle a protocol computes from landmarks itself (``kinematics.protocols._common``).

The supine thigh-trunk angle is the pipeline's hip flexion signed by the floor instead of the
facing direction (which is noise lying down): the same joint, the same band."""


@dataclass(frozen=True)
class GateCount:
    """How many measured samples a gate withheld, and why."""

    out_of_range: int = 0
    jumps: int = 0

    @property
    def total(self) -> int:
        return self.out_of_range + self.jumps

    def reasons(self) -> str:
        """Why, in words: ``"3 outside its plausible range and 2 after an impossible jump"``."""
        why = [f"{self.out_of_range} outside its plausible range"] if self.out_of_range else []
        why += [f"{self.jumps} after an impossible jump"] if self.jumps else []
        return " and ".join(why)


def _jump_outliers(
    t_s: np.ndarray, values: np.ndarray, keep: np.ndarray, plausible: Plausible, breaks: np.ndarray
) -> np.ndarray:
    """``keep`` without the short pieces that impossible jumps set apart, shortest first."""
    keep = keep.copy()
    crossed = np.cumsum(breaks)  # a jump over a change of sign convention is not tested
    period = float(np.median(np.diff(t_s))) if t_s.size > 1 else 0.0
    while True:
        idx = np.flatnonzero(keep)
        if idx.size < 2:
            return keep
        rate = np.abs(np.diff(values[idx])) / np.diff(t_s[idx])
        jump = (rate > plausible.max_rate_deg_s) & (np.diff(crossed[idx]) == 0)
        if not jump.any():
            return keep
        piece = np.concatenate([[0], np.cumsum(jump)])  # piece number of each kept sample
        first = np.flatnonzero(np.diff(piece, prepend=-1))
        last = np.append(first[1:] - 1, idx.size - 1)
        duration = t_s[idx[last]] - t_s[idx[first]] + period  # a lone sample lasts one period
        # a glitch: short, and no longer than the pieces it jumped from and back to
        before = np.concatenate([[np.inf], duration[:-1]])
        after = np.concatenate([duration[1:], [np.inf]])
        glitch = (duration <= plausible.max_glitch_s) & (duration <= before) & (duration <= after)
        if not glitch.any():
            return keep
        shortest = int(np.argmin(np.where(glitch, duration, np.inf)))
        keep[idx[piece == shortest]] = False


def sign_breaks(sign: np.ndarray) -> np.ndarray:
    """``(n,)`` True where a +-1 sign (NaN unknown) differs from the last known sign before it."""
    sign = np.asarray(sign, dtype=float)
    known = np.flatnonzero(np.isfinite(sign))
    out = np.zeros(sign.shape[0], dtype=bool)
    if known.size > 1:
        out[known[1:]] = sign[known[1:]] != sign[known[:-1]]
    return out


def gate(series: Series, plausible: Plausible, *, breaks: np.ndarray | None = None) -> tuple[Series, GateCount]:
    """``series`` with the samples no body can produce set to NaN / confidence 0.

    Parameters
    ----------
    series
        A scalar angle series, deg; only its measured samples (``valid``) are tested.
    plausible
        The angle's band and fastest change (:data:`PLAUSIBLE`).
    breaks
        ``(n,)`` bool, True at a sample where the angle's sign convention changed from the
        sample before (the subject's facing direction flipped, :func:`sign_breaks`): a jump
        across it is the convention's, not the joint's, and is not tested.

    Returns
    -------
    Series, GateCount
        The gated series and how many measured samples each test withheld (a sample
        outside the band is counted there, not as a jump).
    """
    if series.values.ndim != 1:
        raise ValueError(f"gate takes a scalar series, got values of shape {series.values.shape}")
    if series.unit != "deg":
        raise ValueError(f"gate takes an angle in deg, got {series.unit!r}")
    valid = series.valid
    v = series.values
    in_range = valid.copy()
    with np.errstate(invalid="ignore"):
        if plausible.min_deg is not None:
            in_range &= v >= plausible.min_deg
        if plausible.max_deg is not None:
            in_range &= v <= plausible.max_deg
    n = len(series)
    breaks = np.zeros(n, dtype=bool) if breaks is None else np.asarray(breaks, dtype=bool)
    if breaks.shape != (n,):
        raise ValueError(f"breaks must be ({n},), got {breaks.shape}")
    keep = _jump_outliers(series.t_s, v, in_range, plausible, breaks)
    count = GateCount(out_of_range=int(valid.sum() - in_range.sum()), jumps=int(in_range.sum() - keep.sum()))
    if count.total == 0:
        return series, count
    return series.masked(keep), count

"""From a landmark sequence to pelvis, hip and trunk series a clinician can trust.

Steps, in order: mask landmarks the model itself doubts (low visibility or
outside the image), bridge short gaps, low-pass filter with zero lag, find the
camera view, compute every angle, withhold the ones the view cannot measure,
and summarise. Each withheld series carries the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
from scipy import ndimage

from kinematics import angles
from kinematics.errors import NoPersonError
from kinematics.facing import YawEstimator, YawTrack
from kinematics.filtering import GapFiller, LowPass, contiguous_runs
from kinematics.plausibility import PLAUSIBLE, GateCount, gate, sign_breaks
from kinematics.schemas import unsupported_series
from kinematics.series import LandmarkSeries, Series
from kinematics.summary import Metric, summarise
from kinematics.view import PLANE_OF_VIEW, ViewClassifier, ViewEstimate
from kinematics.withheld import Withheld, first_cause, view_code

__all__ = ["ANGLE_SERIES", "KinematicsPipeline", "KinematicsResult", "QualityIssue", "SeriesSpec"]

Severity = Literal["info", "warning", "error"]


@dataclass(frozen=True)
class QualityIssue:
    """Something about the recording that limits what can be measured."""

    code: str
    severity: Severity
    message: str


@dataclass(frozen=True)
class SeriesSpec:
    """An angle series: its name, the plane it lives in and how to compute it."""

    name: str
    plane: Literal["frontal", "sagittal"]
    convention: str
    landmarks: tuple[str, ...]
    compute: Callable[[LandmarkSeries, np.ndarray | None], Series] = field(repr=False)
    side: Literal["left", "right"] | None = None


_TRUNK = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")

ANGLE_SERIES: tuple[SeriesSpec, ...] = (
    SeriesSpec(
        "pelvic_obliquity_deg",
        "frontal",
        "> 0 when the subject's LEFT hip is higher than the right",
        ("left_hip", "right_hip"),
        lambda lm, f: angles.pelvic_obliquity(lm),
    ),
    SeriesSpec(
        "hip_abduction_left_deg",
        "frontal",
        "0 thigh perpendicular to the hip line, > 0 knee away from the midline",
        ("left_hip", "right_hip", "left_knee"),
        lambda lm, f: angles.hip_abduction(lm, side="left"),
        "left",
    ),
    SeriesSpec(
        "hip_abduction_right_deg",
        "frontal",
        "0 thigh perpendicular to the hip line, > 0 knee away from the midline",
        ("left_hip", "right_hip", "right_knee"),
        lambda lm, f: angles.hip_abduction(lm, side="right"),
        "right",
    ),
    SeriesSpec(
        "trunk_lean_lateral_deg",
        "frontal",
        "0 upright, > 0 shoulders toward the subject's left (camera vertical)",
        _TRUNK,
        lambda lm, f: angles.trunk_lean(lm, plane="frontal"),
    ),
    SeriesSpec(
        "hip_flexion_left_deg",
        "sagittal",
        "0 thigh along the trunk line, > 0 knee forward of it (flexion)",
        _TRUNK + ("left_knee",),
        lambda lm, f: angles.hip_flexion(lm, side="left", facing=f),
        "left",
    ),
    SeriesSpec(
        "hip_flexion_right_deg",
        "sagittal",
        "0 thigh along the trunk line, > 0 knee forward of it (flexion)",
        _TRUNK + ("right_knee",),
        lambda lm, f: angles.hip_flexion(lm, side="right", facing=f),
        "right",
    ),
    SeriesSpec(
        "trunk_lean_forward_deg",
        "sagittal",
        "0 upright, > 0 shoulders forward (camera vertical)",
        _TRUNK,
        lambda lm, f: angles.trunk_lean(lm, plane="sagittal", facing=f),
    ),
)


@dataclass(frozen=True, eq=False)
class KinematicsResult:
    """What :meth:`KinematicsPipeline.run` found; every array has time on axis 0."""

    t_s: np.ndarray
    series: dict[str, Series]  # every angle series; NaN where not measured
    unavailable: dict[str, str]  # series name -> why none of it could be measured
    trajectories: dict[str, Series]  # hip_centre_left / _right / _mid
    yaw: Series  # fused body yaw (kinematics.facing), deg; confidence falls with its uncertainty
    view: ViewEstimate
    issues: list[QualityIssue]
    metrics: list[Metric]
    frames_with_pose: int
    filtered: bool
    parameters: dict[str, object]
    # (n,) True where the pipeline treats the pose as failed and measures nothing (a person appearing,
    # ``settle_frames``; hips collapsed, ``min_hip_width_ratio``): protocols reading landmarks skip them too
    pose_failed: np.ndarray | None = None
    # why each withheld sample of each angle series is not measured (kinematics.withheld): the codes and
    # reasons the live feedback shows beside its numbers, from this same run
    withheld: Withheld | None = None


def _smooth_sign(sign: np.ndarray, t_s: np.ndarray, window_s: float = 0.5) -> np.ndarray:
    """Majority vote of a +-1 signal over a sliding window (ignores NaN)."""
    if sign.shape[0] < 3:
        filled = np.nan_to_num(sign)
    else:
        dt = float(np.median(np.diff(t_s)))
        width = max(1, int(round(window_s / dt)) | 1)
        filled = ndimage.uniform_filter1d(np.nan_to_num(sign), size=width, mode="nearest")
    out = np.sign(filled)
    if not np.any(out):
        return np.full_like(sign, np.nan)
    # where the vote ties, fall back to the recording's overall direction
    return np.where(out == 0, np.sign(np.nansum(sign)) or np.nan, out)


@dataclass(frozen=True, kw_only=True)
class KinematicsPipeline:
    """Pelvis, hip and trunk kinematics from a landmark sequence.

    Parameters
    ----------
    min_visibility
        Landmarks the model rates below this visibility are treated as
        unmeasured; MediaPipe's own drawing utilities use 0.5.
    max_gap_s
        Longest gap bridged by interpolation (see :class:`GapFiller`).
    cutoff_hz
        Low-pass cutoff of the zero-lag filter (see :class:`LowPass`).
    min_coverage
        Fraction of samples a series must have measured for its summary
        metrics to be reported.
    frontal_max_deg, sagittal_min_deg
        View bands (see :class:`ViewClassifier`).
    min_view_prob
        Below this probability that a frontal or side view really is one
        (:attr:`ViewEstimate.view_prob`), a ``view_uncertain`` warning says so.
    yaw_estimator
        How body yaw is fused from the landmarks (:class:`YawEstimator`).
    settle_frames
        Frames not used at the start of every stretch of poses that follows frames without one
        at the start of the recording or a gap longer than ``max_gap_s`` (a person entering the
        picture or coming out from behind something; a shorter gap is bridged). The pose model's
        first estimate of a person it finds again comes from its detector's box, and only the
        next ones from its own landmarks: on ``sports2d_walker.mp4`` the first two frames of the
        woman stepping out from behind a tree put her right hip on her hand (left hip flexion
        -41 deg, trunk 37 deg backward, where the walk itself never passes -30 and -12), and on
        ``sports2d_two_people.mp4`` the first three after each reappearance were as wrong. A
        count of frames, not seconds: the estimate settles per model run (two frames at 30 and
        at 60 fps: the 60 fps ``pose2sim_multi_cam02.mp4`` opens with two such frames). A series
        that opens with a pose is not treated so (a live window starts inside a track). The view
        (body yaw) still reads these frames: its temporal model weighs each frame against its
        neighbours, and without them ``sports2d_two_people.mp4``, whose followed person is
        frontal in a third of the frames and side-on in half, turned from sagittal (median 66 deg)
        to oblique (49 deg, a median between two modes): that recording's view is fragile, and
        withholding five of its frames is not what should decide it.
    min_hip_width_ratio
        A frame's pose is treated as missing when the image hip line is shorter than this share of its median over
        the surrounding 0.5 s, in a body turned toward the camera (that median at least a
        quarter of the trunk length; the hips are 0.37-0.40 of it, docs/validation.md, so
        turned less than about 50 deg). A rigid pelvis narrows to half its width only by
        turning 60 deg, past the side-on limit, from how it stood around that frame: the two
        hips placed on top of each other are a pose failure, and no angle is measured in that
        frame (the hips are not bridged across it either: the model swaps their labels around
        such frames, and a line drawn between two differently labelled frames collapses
        again); nor in the frames between two such frames 0.1 s apart. On the fixtures: the landing of
        ``sports2d_jumping_jacks.mp4`` (frames 68, 70, 72: hips collapsed, shoulders swapped;
        pelvic obliquity read -29 deg among values within +-3), the frames of
        ``pose2sim_cam02.mp4`` in which the model swaps left and right, the first frame of
        ``pose2sim_multi_cam02.mp4``; none in the walk or the KERAAL recordings.
    """

    min_visibility: float = 0.5
    max_gap_s: float = 0.25
    cutoff_hz: float = 6.0
    min_coverage: float = 0.5
    frontal_max_deg: float = 30.0
    sagittal_min_deg: float = 60.0
    min_view_prob: float = 0.8
    yaw_estimator: YawEstimator = field(default_factory=YawEstimator)
    settle_frames: int = 2
    min_hip_width_ratio: float = 0.5

    def run(self, lm: LandmarkSeries) -> KinematicsResult:
        if not 0 <= self.min_visibility <= 1:
            raise ValueError(f"min_visibility must be in [0, 1], got {self.min_visibility}")
        n = len(lm)
        has_pose = ~np.isnan(lm.xyz).all(axis=(1, 2)) & (lm.visibility.max(axis=1) > 0)
        frames_with_pose = int(has_pose.sum())
        if frames_with_pose == 0:
            raise NoPersonError(
                f"no person was found in any of the {n} frame(s); the whole body should be "
                "in view, lit, and not much smaller than a third of the picture height"
            )
        issues: list[QualityIssue] = []
        settling = _settling(has_pose, lm.t_s, self.settle_frames, self.max_gap_s)
        masked = self._mask(lm, settling)
        masked, collapsed = _without_collapsed_hips(masked, self.min_hip_width_ratio)
        if collapsed.any():
            issues.append(
                QualityIssue(
                    "hips_collapsed",
                    "info",
                    f"in {int(collapsed.sum())} frame(s) the pose model put the two hips nearly on top of each other "
                    f"(the hip line under {self.min_hip_width_ratio:.0%} of its width in the half second around it, in "
                    "a body turned toward the camera): a pose failure; no angle was measured in those frames",
                )
            )
        if settling.any():
            issues.append(
                QualityIssue(
                    "pose_settling",
                    "info",
                    f"the first {self.settle_frames} frame(s) each time the person appeared (after the recording "
                    f"began, or after more than {self.max_gap_s:g} s without a pose) were not measured "
                    f"({_frames(int(settling.sum()))}): the pose model's first estimate of a person it finds is its "
                    "roughest",
                )
            )
        smoothed, bridged, filtered = self._smooth(masked)
        # The view reads the settling and collapsed frames: the yaw's temporal model already weighs each frame
        # against its neighbours, and it keeps the input it was validated on (see settle_frames).
        for_view = self._smooth(self._mask(lm))[0] if settling.any() or collapsed.any() else smoothed
        if n > 1 and not filtered:
            issues.append(
                QualityIssue(
                    "no_filtering",
                    "info",
                    f"sampling too slow for a {self.cutoff_hz:g} Hz low-pass filter; angles are unfiltered",
                )
            )
        track: YawTrack = self.yaw_estimator.estimate(for_view)
        yaw = track.series
        view = ViewClassifier(frontal_max_deg=self.frontal_max_deg, sagittal_min_deg=self.sagittal_min_deg).classify(
            yaw, yaw_sd_deg=track.yaw_sd_deg, front_prob=track.front_prob, off_frontal_sd_deg=track.off_frontal_sd_deg
        )
        issues += _label_swap_issues(track)
        facing = None
        if lm.space == "image_norm":
            facing = _smooth_sign(angles.facing_direction(smoothed), lm.t_s)

        series: dict[str, Series] = {}
        unavailable: dict[str, str] = {}
        plane = PLANE_OF_VIEW[view.view]
        # Per frame, drop only samples seen from the *other* view. A frame that
        # reads as oblique inside a frontal or sagittal recording is kept at half
        # confidence: BlazePose's depth exaggerates trunk rotation (3-14x on the
        # KERAAL recordings, docs/validation.md), so per-frame yaw near the band
        # edges is mostly depth noise, while the recording's median view is robust.
        per = view.per_sample
        soft = per == "oblique"
        keep = (per == view.view) | soft
        unsupported = unsupported_series(lm.schema)  # empty for a full BlazePose skeleton
        gated: dict[str, GateCount] = {}
        codes: dict[str, np.ndarray] = {}
        other_view = (per != view.view) & ~soft & (per != "unknown")
        # sagittal angles are signed by the facing direction: a jump where it flips is not the joint's
        facing_breaks = sign_breaks(angles.facing_direction(smoothed) if facing is None else facing)
        for spec in ANGLE_SERIES:
            s = spec.compute(smoothed, facing)
            computed = s.valid
            weight = np.where(bridged, 0.5, 1.0) * np.where(soft, 0.5, 1.0)
            s = Series(s.t_s, s.values, s.unit, weight * s.confidence)
            kept = keep & ~collapsed  # hips interpolated across a collapse inherit it (labels swap around it)
            whole: list[tuple[str, np.ndarray]] = []
            if spec.name in unsupported:
                kept = np.zeros(n, dtype=bool)
                unavailable[spec.name] = unsupported[spec.name]
                whole = [("landmarks_not_in_schema", ~kept)]
            elif spec.plane != plane:
                kept = np.zeros(n, dtype=bool)
                unavailable[spec.name] = self._view_reason(spec, view)
                whole = [(view_code(view.view), ~kept)]
            s = s.masked(kept & s.valid)
            before_gate = s.valid
            measured = bool(before_gate.any())
            s, gated[spec.name] = gate(
                s, PLAUSIBLE[spec.name], breaks=facing_breaks if spec.plane == "sagittal" else None
            )
            # the first cause of each withheld sample; a sample measured until the gate is the gate's
            codes[spec.name] = first_cause(
                ~s.valid,
                [
                    ("implausible_angle", before_gate),
                    ("frames_without_pose", ~has_pose),
                    ("pose_settling", settling),
                    ("hips_collapsed", collapsed),
                    *whole,
                    ("view_changes", other_view),
                    ("not_visible", ~computed),
                ],
            )
            if spec.name not in unavailable and not measured:
                unavailable[spec.name] = self._visibility_reason(spec, masked)
            elif spec.name not in unavailable and not s.valid.any():
                unavailable[spec.name] = (
                    "every measured sample was physiologically implausible (a pose failure): "
                    + PLAUSIBLE[spec.name].source
                )
            series[spec.name] = s
        issues += _implausible_issues(gated)

        trajectories = {
            f"hip_centre_{side}": angles.hip_centre(smoothed, side=side) for side in ("left", "right", "mid")
        }
        issues += self._issues(lm, masked, view, has_pose)
        metrics = [
            m
            for spec in ANGLE_SERIES
            for m in summarise(
                spec.name,
                None if spec.name in unavailable else series[spec.name],
                side=spec.side,
                reason=unavailable.get(spec.name),
                min_coverage=self.min_coverage,
            )
        ]
        return KinematicsResult(
            t_s=lm.t_s,
            series=series,
            unavailable=unavailable,
            trajectories=trajectories,
            yaw=yaw,
            view=view,
            issues=issues,
            metrics=metrics,
            frames_with_pose=frames_with_pose,
            filtered=filtered,
            parameters=asdict(self),
            pose_failed=settling | collapsed,
            withheld=Withheld.of(codes, issues, unavailable),
        )

    # -- steps -----------------------------------------------------------------

    def _mask(self, lm: LandmarkSeries, settling: np.ndarray | None = None) -> LandmarkSeries:
        """NaN every landmark that is doubtful or outside the picture, and every frame still settling."""
        bad = lm.visibility < self.min_visibility
        if settling is not None:
            bad |= settling[:, None]
        if lm.space == "image_norm":
            x, y = lm.xyz[..., 0], lm.xyz[..., 1]
            bad |= (x < 0) | (x > 1) | (y < 0) | (y > 1)  # MediaPipe extrapolates out of frame
        xyz = np.where(bad[..., None], np.nan, lm.xyz)
        return lm.replace(xyz=xyz, visibility=np.where(bad, 0.0, lm.visibility))

    def _smooth(self, lm: LandmarkSeries) -> tuple[LandmarkSeries, np.ndarray, bool]:
        n, k = lm.visibility.shape
        if n < 2:
            return lm, np.zeros(n, dtype=bool), False
        lowpass = LowPass(cutoff_hz=self.cutoff_hz)
        filler = GapFiller(max_gap_s=self.max_gap_s)
        xyz = np.empty_like(lm.xyz)
        vis = np.array(lm.visibility)
        bridged_any = np.zeros(n, dtype=bool)
        for j in range(k):  # per landmark: each has its own gaps
            filled, bridged = filler.fill(lm.t_s, lm.xyz[:, j, :])
            xyz[:, j, :] = lowpass.apply(lm.t_s, filled)
            vis[bridged, j] = (
                np.interp(lm.t_s[bridged], lm.t_s[~bridged], lm.visibility[~bridged, j]) if (~bridged).any() else 0
            )
            bridged_any |= bridged
        return lm.replace(xyz=xyz, visibility=vis), bridged_any, lowpass.sampling_ok(lm.t_s)

    @staticmethod
    def _view_reason(spec: SeriesSpec, view: ViewEstimate) -> str:
        if view.view == "unknown":
            return "camera view could not be determined (shoulders and hips not all visible)"
        if view.view == "oblique":
            return (
                f"oblique view ({_turned(view)}): "
                f"{spec.plane}-plane angles are not reliable; film {'facing the camera' if spec.plane == 'frontal' else 'side-on'}"
            )
        return f"{spec.plane}-plane angle not measurable from a {view.view} view"

    @staticmethod
    def _visibility_reason(spec: SeriesSpec, masked: LandmarkSeries) -> str:
        hidden = [name for name in spec.landmarks if not (masked.vis(name) > 0).any()]
        if hidden:
            return f"not visible in any frame: {', '.join(h.replace('_', ' ') for h in hidden)}"
        return "the landmarks it needs were never visible in the same frame"

    def _issues(
        self, lm: LandmarkSeries, masked: LandmarkSeries, view: ViewEstimate, has_pose: np.ndarray
    ) -> list[QualityIssue]:
        issues: list[QualityIssue] = []
        n = len(lm)
        missing = n - int(has_pose.sum())
        if missing:
            issues.append(
                QualityIssue(
                    "frames_without_pose",
                    "warning" if missing / n > 0.05 else "info",
                    f"no pose in {missing} of {n} frames ({missing / n:.0%})",
                )
            )
        hips = (masked.vis("left_hip") > 0) & (masked.vis("right_hip") > 0)
        if hips.mean() < self.min_coverage:
            issues.append(
                QualityIssue(
                    "hips_not_visible",
                    "error",
                    f"hips visible in only {hips.mean():.0%} of frames: pelvis and hip angles cannot be "
                    "measured; film the whole body, head to feet",
                )
            )
        for side in ("left", "right"):
            knee = masked.vis(f"{side}_knee") > 0
            if hips.mean() >= self.min_coverage and knee.mean() < self.min_coverage:
                issues.append(
                    QualityIssue(
                        f"{side}_knee_not_visible",
                        "warning",
                        f"{side} knee visible in only {knee.mean():.0%} of frames: {side} hip angles are limited",
                    )
                )
        if view.view == "oblique":
            front = f"facing the camera (within {self.frontal_max_deg:g} deg)"
            side = f"side-on (beyond {self.sagittal_min_deg:g} deg)"
            # the nearer view first, as the protocols' wrong-view advice asks for it (capture._nearest_first)
            nearer_side = view.off_frontal_deg is not None and view.off_frontal_deg > 45.0
            issues.append(
                QualityIssue(
                    "oblique_view",
                    "error",
                    f"{_turned(view)}: film {side + ' or ' + front if nearer_side else front + ' or ' + side}",
                )
            )
        elif view.view == "unknown":
            issues.append(
                QualityIssue(
                    "view_unknown",
                    "error",
                    "camera view could not be determined: shoulders and hips must be visible",
                )
            )
        elif view.view_prob is not None and view.view_prob < self.min_view_prob and view.off_frontal_deg is not None:
            edge = self.frontal_max_deg if view.view == "frontal" else self.sagittal_min_deg
            issues.append(
                QualityIssue(
                    "view_uncertain",
                    "warning",
                    f"{_turned(view)}, within the yaw's uncertainty of "
                    f"the {edge:g} deg limit of a {view.view} view ({view.view_prob:.0%} probability that it is "
                    f"one): {PLANE_OF_VIEW[view.view]}-plane angles may be distorted; film "
                    f"{'more squarely facing the camera' if view.view == 'frontal' else 'more squarely side-on'}",
                )
            )
        if view.view in ("frontal", "sagittal") and view.share.get(view.view, 0.0) < 0.8:
            issues.append(
                QualityIssue(
                    "view_changes",
                    "warning",
                    f"the view is {view.view} in only {view.share[view.view]:.0%} of measured frames; "
                    "frames from other views are left out",
                )
            )
        return issues


def _frames(n: int) -> str:
    return f"{n} frame" if n == 1 else f"{n} frames"


def _turned(view: ViewEstimate) -> str:
    """How far the body is turned from square to the camera, saying when its back is to the camera (a body
    42 deg from square with its back to the camera is not "42 deg from facing the camera")."""
    if view.facing == "back":
        return f"back to the camera, body turned {view.off_frontal_deg:.0f} deg from square"
    return f"body turned {view.off_frontal_deg:.0f} deg from facing the camera"


def _local_median(x: np.ndarray, t_s: np.ndarray, half_s: float) -> np.ndarray:
    """``(n,)`` median of the finite samples of ``x`` within ``half_s`` of each sample; NaN where none."""
    out = np.full(x.shape[0], np.nan)
    lo = np.searchsorted(t_s, t_s - half_s, side="left")
    hi = np.searchsorted(t_s, t_s + half_s, side="right")
    finite = np.isfinite(x)
    for i in range(x.shape[0]):
        window = x[lo[i] : hi[i]][finite[lo[i] : hi[i]]]
        if window.size:
            out[i] = np.median(window)
    return out


def _without_collapsed_hips(lm: LandmarkSeries, min_ratio: float) -> tuple[LandmarkSeries, np.ndarray]:
    """``lm`` without the frames whose hip line collapsed (see ``min_hip_width_ratio``), and ``(n,)`` True
    at those frames."""
    none = np.zeros(len(lm), dtype=bool)
    if min_ratio <= 0 or len(lm) < 3:
        return lm, none
    needed = ("left_hip", "right_hip", "left_shoulder", "right_shoulder")
    if not all(lm.schema.has(n) for n in needed):
        return lm, none
    li, ri, ls, rs = (lm.schema.index(n) for n in needed)
    xyz = lm.metric_xyz()
    width = np.linalg.norm(xyz[:, li, :2] - xyz[:, ri, :2], axis=1)
    trunk = np.linalg.norm(0.5 * (xyz[:, ls, :2] + xyz[:, rs, :2] - xyz[:, li, :2] - xyz[:, ri, :2]), axis=1)
    around = _local_median(width, lm.t_s, 0.25)
    with np.errstate(invalid="ignore"):
        turned_toward = around >= 0.25 * _local_median(trunk, lm.t_s, 0.25)
        collapsed = turned_toward & (width < min_ratio * around)
    if not collapsed.any():
        return lm, collapsed
    idx = np.flatnonzero(collapsed)  # frames between two collapses 0.1 s apart belong to the same failure
    for a, b in zip(idx[:-1], idx[1:], strict=True):
        if lm.t_s[b] - lm.t_s[a] <= 0.1:
            collapsed[a:b] = True
    # the whole pose of such a frame goes: the model that misplaced the hips often misplaced the rest with them
    # (KERAAL's OpenPose CTK frame 24 has hips and shoulders 200 px away); cutting the hips alone left the
    # shoulders to be smoothed against bridged hips
    cut = np.broadcast_to(collapsed[:, None], lm.visibility.shape)
    out = lm.replace(xyz=np.where(cut[..., None], np.nan, lm.xyz), visibility=np.where(cut, 0.0, lm.visibility))
    return out, collapsed


def _settling(has_pose: np.ndarray, t_s: np.ndarray, frames: int, max_gap_s: float) -> np.ndarray:
    """``(n,)`` True for the first ``frames`` frames of every run of poses that starts a new stretch: after
    frames without a pose at the start of the series, or after a gap too long to bridge (``max_gap_s``)."""
    out = np.zeros(has_pose.shape[0], dtype=bool)
    if frames <= 0:
        return out
    last_pose = None
    for start, stop in contiguous_runs(has_pose):
        if start > 0 and (last_pose is None or t_s[start] - t_s[last_pose] > max_gap_s):
            out[start : min(start + frames, stop)] = True
        last_pose = stop - 1
    return out


def _implausible_issues(gated: dict[str, GateCount]) -> list[QualityIssue]:
    """One warning for the samples the plausibility gate withheld (:mod:`kinematics.plausibility`)."""
    hit = {name: c for name, c in gated.items() if c.total}
    if not hit:
        return []
    parts = []
    for name, c in hit.items():
        parts.append(f"{name.removesuffix('_deg').replace('_', ' ')}: {c.reasons()}")
    total = sum(c.total for c in hit.values())
    return [
        QualityIssue(
            "implausible_angle",
            "warning",
            f"{total} angle sample(s) no body can produce were withheld as not measured (a pose failure: "
            f"a limb lost or swapped, another person): {'; '.join(parts)}",
        )
    ]


def _label_swap_issues(track: YawTrack) -> list[QualityIssue]:
    """Warn when the left/right labels contradict the face and feet (a mirrored picture or file).

    On the KERAAL recordings read mirrored (labels swapped or x flipped alone) every
    frame reads as swapped (posterior > 0.5 in 100 % of frames), and read correctly none
    does; on the pose2sim cameras BlazePose's own swaps stay below 30 % of frames.
    """
    swap = track.label_swap_prob[np.isfinite(track.label_swap_prob)]
    if swap.size == 0:
        return []
    share = float(np.mean(swap > 0.5))
    if share >= 0.5:
        return [
            QualityIssue(
                "labels_mirrored",
                "warning",
                f"in {share:.0%} of frames the landmarks' left and right contradict the face and feet: the "
                "picture or the landmark file looks mirrored (a selfie camera?); every left/right result "
                "may name the wrong side",
            )
        ]
    if share >= 0.1:
        return [
            QualityIssue(
                "labels_swapped_in_part",
                "info",
                f"the pose model swapped left and right in {share:.0%} of frames; the view estimate allows for it",
            )
        ]
    return []

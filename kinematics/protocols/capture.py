"""Is this recording fit for the protocol? If not, say how to film it instead.

Each check returns :class:`~kinematics.protocols.base.Coaching` advice in
words a patient holding a phone can follow.
"""

from __future__ import annotations

import numpy as np

from kinematics.pipeline import KinematicsResult
from kinematics.protocols.base import Coaching
from kinematics.series import LandmarkSeries

__all__ = ["MIN_FPS", "MIN_PELVIS_PX", "VIEWS", "check_capture", "measured_from"]

# Below ~15 frames/s the 6 Hz zero-lag filter cannot be designed (Nyquist) and
# a 1 s hold spans too few frames to time within 0.5 s.
MIN_FPS = 15.0
# With hip landmarks 60 px apart, one pixel of error at one hip tilts the hip
# line by atan(1/60) = 0.95 deg, about the size of the smallest change that
# matters (the 4 deg minimal detectable change of pelvic drop spans ~4 px).
MIN_PELVIS_PX = 60.0

# The views each protocol can measure, the one list its capture check and the clinician's reports read
# (how to film each: docs/protocols/<name>.md).
VIEWS: dict[str, tuple[str, ...]] = {
    "bridge": ("sagittal",),
    "gait": ("sagittal", "frontal"),
    "single_leg_stance": ("frontal",),
    "sit_to_stand": ("sagittal", "frontal"),
    "squat": ("sagittal", "frontal"),
    "standing_hip_abduction": ("frontal",),
    "standing_hip_flexion": ("sagittal",),
}

_VIEW_WORDS = {"frontal": "facing the camera", "sagittal": "side-on"}


def measured_from(views: tuple[str, ...]) -> str:
    """``"side-on or facing the camera"``: the views a protocol measures, in words."""
    return " or ".join(_VIEW_WORDS[v] for v in views)


_VIEW_ADVICE = {
    "frontal": "turn the phone (or yourself) so the camera faces you squarely, chest and hips square to it",
    "sagittal": "turn side-on to the camera, so it sees your hip and knee from the side",
}

_BODY = (
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_shoulder",
    "right_shoulder",
)


def _measured_share(lm: LandmarkSeries, names: tuple[str, ...]) -> float:
    seen = np.ones(len(lm), dtype=bool)
    for n in names:
        v = lm.vis(n) >= 0.5
        if lm.space == "image_norm":
            p = lm.point(n)
            v &= (p[:, 0] >= 0) & (p[:, 0] <= 1) & (p[:, 1] >= 0) & (p[:, 1] <= 1)
        seen &= v
    return float(seen.mean()) if len(lm) else 0.0


def _seen(result: KinematicsResult) -> str:
    """The view the recording shows, in the patient's words (an oblique one with how far it is turned)."""
    view = result.view
    if view.view == "unknown":
        return "without shoulders and hips in view"
    if view.view == "frontal":
        return "with your back to the camera" if view.facing == "back" else "facing the camera"
    if view.view == "sagittal":
        return "side-on"
    if view.off_frontal_deg is None:
        return "at an angle"
    if view.facing == "back":
        return f"at an angle (back to the camera, turned {view.off_frontal_deg:.0f} deg from square)"
    return f"at an angle (turned {view.off_frontal_deg:.0f} deg from facing the camera squarely)"


def _nearest_first(views: tuple[str, ...], off_frontal_deg: float | None) -> tuple[str, ...]:
    """The accepted views, the one nearest the recording's first: a body 32 deg from facing the camera is
    nearer a frontal view (30 deg) than a side-on one (60 deg), so it is asked to face the camera first."""
    if off_frontal_deg is None or len(views) < 2:
        return views
    return tuple(sorted(views, key=lambda v: off_frontal_deg if v == "frontal" else 90.0 - off_frontal_deg))


def check_capture(
    result: KinematicsResult,
    lm: LandmarkSeries,
    *,
    views: tuple[str, ...],
    pelvis_measure: bool = False,
    min_duration_s: float = 1.0,
    min_coverage: float = 0.6,
    body_in_frame: bool = True,
) -> list[Coaching]:
    """Everything the protocol needs from the recording, as advice when missing.

    ``body_in_frame=False`` skips the whole-recording check that head to feet stay in view
    (gait judges it per pass instead: a walk enters and leaves the picture).
    """
    advice: list[Coaching] = []
    if result.view.view not in views:
        wanted = measured_from(views)
        turn = ", or ".join(_VIEW_ADVICE[v] for v in _nearest_first(views, result.view.off_frontal_deg))
        if result.view.view == "unknown":  # no view to turn from: first get the trunk into the picture
            turn = f"keep your shoulders and hips in the picture (step back or move the phone), and {turn}"
        advice.append(
            Coaching(
                "wrong_view", f"This exercise is measured {wanted}, but the video shows you {_seen(result)}: {turn}."
            )
        )
    if any(q.code == "labels_mirrored" for q in result.issues):
        # Every finding of an exercise protocol names a side; with the sides swapped it names the wrong one.
        advice.append(
            Coaching(
                "labels_mirrored",
                "The video (or the app's landmarks) looks mirrored, so left and right would be swapped in every "
                "result: record with the camera's mirroring (selfie mirror) turned off, or use the rear camera.",
            )
        )
    share = _measured_share(lm, _BODY)
    if body_in_frame and share < min_coverage:
        missing = [n.replace("_", " ") for n in _BODY if _measured_share(lm, (n,)) < min_coverage]
        where = ", ".join(missing) if missing else "parts of the body"
        advice.append(
            Coaching(
                "body_out_of_frame",
                f"Keep your whole body, head to feet, in the picture for the whole exercise ({where} "
                f"out of view or hidden in {1 - share:.0%} of the video). Step back or place the phone further away.",
            )
        )
    if len(lm) >= 2:
        duration = float(lm.t_s[-1] - lm.t_s[0])
        fps = (len(lm) - 1) / duration if duration > 0 else 0.0
        if fps < MIN_FPS:
            advice.append(
                Coaching("frame_rate_low", f"The video has {fps:.0f} frames per second; record at 30 or more.")
            )
        if duration < min_duration_s:
            advice.append(
                Coaching(
                    "too_short",
                    f"The recording lasts {duration:.1f} s; record the whole exercise "
                    f"(at least {min_duration_s:.0f} s).",
                )
            )
    if pelvis_measure and lm.space == "image_norm" and result.view.view == "frontal":
        xyz = lm.metric_xyz()
        width = np.abs(xyz[:, lm.schema.index("left_hip"), 0] - xyz[:, lm.schema.index("right_hip"), 0])
        median = float(np.nanmedian(width)) if np.isfinite(width).any() else 0.0
        if median < MIN_PELVIS_PX:
            advice.append(
                Coaching(
                    "pelvis_too_small",
                    f"You are too small in the picture to measure the pelvis ({median:.0f} pixels between the hips, "
                    f"need {MIN_PELVIS_PX:.0f}): move the phone closer, keeping head to feet in view, "
                    "or record in a higher resolution.",
                )
            )
    return advice

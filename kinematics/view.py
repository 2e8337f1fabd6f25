"""Which camera view a recording was filmed from, and what that view can measure.

A single camera sees one anatomical plane well: a frontal view shows pelvic
obliquity, hip abduction and lateral trunk lean; a side (sagittal) view shows
hip flexion and forward trunk lean. Between the two (oblique) neither plane
projects faithfully onto the image, so planar angles would be distorted by
``cos(yaw)`` and are not reported. A 2018 systematic review (JOSPT) did not
support 2D frontal-plane video "when accurate measures are required" unless
view and plane are controlled; this module is that control.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from kinematics.series import Series

__all__ = ["PLANE_OF_VIEW", "Facing", "View", "ViewClassifier", "ViewEstimate", "circular_mean_deg", "fold_yaw"]

View = Literal["frontal", "sagittal", "oblique", "unknown"]
Facing = Literal["front", "back", "unknown"]  # which of the subject's sides faces the camera

# Which anatomical plane each view can measure.
PLANE_OF_VIEW: dict[str, str | None] = {
    "frontal": "frontal",
    "sagittal": "sagittal",
    "oblique": None,
    "unknown": None,
}


def fold_yaw(yaw_deg: np.ndarray) -> np.ndarray:
    """Map yaw in (-180, 180] to the angle away from a frontal view, [0, 90].

    Facing the camera (0) and back to it (180) are both frontal views (0);
    either side toward the camera is 90.

    Examples
    --------
    >>> fold_yaw(np.array([0.0, 170.0, -100.0, 45.0])).tolist()
    [0.0, 10.0, 80.0, 45.0]
    """
    a = np.abs(np.asarray(yaw_deg, dtype=float))
    return np.where(a > 90.0, 180.0 - a, a)


def circular_mean_deg(angle_deg: np.ndarray, weight: np.ndarray | None = None) -> float | None:
    """Mean direction of angles in deg, (-180, 180]; None when nothing is finite.

    Examples
    --------
    >>> round(circular_mean_deg(np.array([170.0, -170.0])), 6)
    180.0
    """
    a = np.radians(np.asarray(angle_deg, dtype=float))
    w = np.ones_like(a) if weight is None else np.asarray(weight, dtype=float)
    ok = np.isfinite(a) & np.isfinite(w) & (w > 0)
    if not ok.any():
        return None
    mean = float(np.degrees(np.arctan2(np.sum(w[ok] * np.sin(a[ok])), np.sum(w[ok] * np.cos(a[ok])))))
    return 180.0 if mean <= -180.0 + 1e-9 else mean


@dataclass(frozen=True)
class ViewEstimate:
    """The view of a whole recording and of each of its samples.

    The first six fields are the original interface; the rest were added with
    the fused yaw estimate (:mod:`kinematics.facing`) and default to "not
    known" so older constructors keep working.
    """

    view: View
    yaw_deg: float | None  # circular mean body yaw of measured samples, deg
    off_frontal_deg: float | None  # median folded yaw, 0 frontal .. 90 side-on
    confidence: float
    per_sample: np.ndarray  # (n,) of View strings
    share: dict[str, float]  # fraction of measured samples in each view
    yaw_sd_deg: float | None = None  # median per-sample yaw uncertainty, deg
    facing: Facing = "unknown"  # recording: the subject's front or back toward the camera
    per_sample_yaw_deg: np.ndarray | None = None  # (n,) deg, NaN where unmeasured
    per_sample_yaw_sd_deg: np.ndarray | None = None  # (n,) deg, NaN where unmeasured
    per_sample_facing: np.ndarray | None = None  # (n,) of Facing strings


@dataclass(frozen=True, kw_only=True)
class ViewClassifier:
    """Classify views by how far the body is turned from facing the camera.

    Parameters
    ----------
    frontal_max_deg
        A sample is frontal when its folded yaw is at most this.
    sagittal_min_deg
        A sample is sagittal when its folded yaw is at least this.
    max_yaw_sd_deg
        A sample whose yaw is less certain than this is ``"unknown"``.
    min_facing_prob
        Posterior probability needed to call a sample's facing front or back.

    Notes
    -----
    The 30 deg / 60 deg bands keep the planar projection error of an angle
    in the viewed plane below ``1 - cos(30 deg)`` = 13 % of its size; a
    clinician filming "roughly frontal" lands well inside them.
    """

    frontal_max_deg: float = 30.0
    sagittal_min_deg: float = 60.0
    max_yaw_sd_deg: float = 25.0
    min_facing_prob: float = 0.8

    def classify(
        self,
        yaw: Series,
        *,
        yaw_sd_deg: np.ndarray | None = None,
        front_prob: np.ndarray | None = None,
        off_frontal_sd_deg: np.ndarray | None = None,
    ) -> ViewEstimate:
        """Views of ``yaw`` (deg), optionally with each sample's uncertainty.

        Parameters
        ----------
        yaw
            Body yaw per sample, deg (:mod:`kinematics.facing` conventions).
        yaw_sd_deg
            ``(n,)`` uncertainty of each sample, deg: a sample less certain than
            ``max_yaw_sd_deg`` is ``"unknown"`` rather than a confident guess.
        front_prob
            ``(n,)`` probability that the subject's front faces the camera; a
            sample is ``"front"`` or ``"back"`` when it is beyond
            ``min_facing_prob`` either way, else ``"unknown"``.
        off_frontal_sd_deg
            ``(n,)`` uncertainty of the folded yaw, deg; when given, it decides
            ``"unknown"`` instead of ``yaw_sd_deg``: the view does not depend on
            whether the front or the back faces the camera, so that ambiguity
            (a single frame has little else) must not hide a clear view.
        """
        if not 0 <= self.frontal_max_deg < self.sagittal_min_deg <= 90:
            raise ValueError(
                "need 0 <= frontal_max_deg < sagittal_min_deg <= 90, got "
                f"{self.frontal_max_deg}, {self.sagittal_min_deg}"
            )
        folded = fold_yaw(yaw.values)
        valid = yaw.valid & ~np.isnan(folded)
        view_sd = off_frontal_sd_deg if off_frontal_sd_deg is not None else yaw_sd_deg
        if view_sd is not None:
            valid &= np.asarray(view_sd) <= self.max_yaw_sd_deg
        facing = np.full(len(yaw), "unknown", dtype=object)
        if front_prob is not None:
            fp = np.asarray(front_prob, dtype=float)
            facing[valid & (fp >= self.min_facing_prob)] = "front"
            facing[valid & (fp <= 1.0 - self.min_facing_prob)] = "back"
        extra = {
            "yaw_sd_deg": None
            if yaw_sd_deg is None or not valid.any()
            else float(np.median(np.asarray(yaw_sd_deg)[valid])),
            "facing": _majority(facing[valid]),
            "per_sample_yaw_deg": np.asarray(yaw.values, dtype=float),
            "per_sample_yaw_sd_deg": None if yaw_sd_deg is None else np.asarray(yaw_sd_deg, dtype=float),
            "per_sample_facing": facing,
        }
        per = np.full(len(yaw), "unknown", dtype=object)
        per[valid & (folded <= self.frontal_max_deg)] = "frontal"
        per[valid & (folded >= self.sagittal_min_deg)] = "sagittal"
        per[valid & (folded > self.frontal_max_deg) & (folded < self.sagittal_min_deg)] = "oblique"
        if not valid.any():
            return ViewEstimate("unknown", None, None, 0.0, per, {}, **extra)  # type: ignore[arg-type]
        share = {v: float(np.mean(per[valid] == v)) for v in ("frontal", "sagittal", "oblique")}
        off = float(np.median(folded[valid]))
        if off <= self.frontal_max_deg:
            view: View = "frontal"
        elif off >= self.sagittal_min_deg:
            view = "sagittal"
        else:
            view = "oblique"
        confidence = float(np.mean(yaw.confidence[valid]) * share.get(view, 0.0))
        mean = circular_mean_deg(yaw.values[valid])
        return ViewEstimate(view, mean, off, confidence, per, share, **extra)  # type: ignore[arg-type]


def _majority(facing: np.ndarray, min_share: float = 0.8) -> Facing:
    """``"front"`` or ``"back"`` when at least ``min_share`` of the samples say so."""
    if facing.size == 0:
        return "unknown"
    for side in ("front", "back"):
        if float(np.mean(facing == side)) >= min_share:
            return side
    return "unknown"

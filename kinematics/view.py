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

__all__ = ["PLANE_OF_VIEW", "View", "ViewClassifier", "ViewEstimate", "fold_yaw"]

View = Literal["frontal", "sagittal", "oblique", "unknown"]

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


@dataclass(frozen=True)
class ViewEstimate:
    """The view of a whole recording and of each of its samples."""

    view: View
    yaw_deg: float | None  # median body yaw of measured samples
    off_frontal_deg: float | None  # median folded yaw, 0 frontal .. 90 side-on
    confidence: float
    per_sample: np.ndarray  # (n,) of View strings
    share: dict[str, float]  # fraction of measured samples in each view


@dataclass(frozen=True, kw_only=True)
class ViewClassifier:
    """Classify views by how far the body is turned from facing the camera.

    Parameters
    ----------
    frontal_max_deg
        A sample is frontal when its folded yaw is at most this.
    sagittal_min_deg
        A sample is sagittal when its folded yaw is at least this.

    Notes
    -----
    The 30 deg / 60 deg bands keep the planar projection error of an angle
    in the viewed plane below ``1 - cos(30 deg)`` = 13 % of its size; a
    clinician filming "roughly frontal" lands well inside them.
    """

    frontal_max_deg: float = 30.0
    sagittal_min_deg: float = 60.0

    def classify(self, yaw: Series) -> ViewEstimate:
        if not 0 <= self.frontal_max_deg < self.sagittal_min_deg <= 90:
            raise ValueError(
                "need 0 <= frontal_max_deg < sagittal_min_deg <= 90, got "
                f"{self.frontal_max_deg}, {self.sagittal_min_deg}"
            )
        folded = fold_yaw(yaw.values)
        valid = yaw.valid & ~np.isnan(folded)
        per = np.full(len(yaw), "unknown", dtype=object)
        per[valid & (folded <= self.frontal_max_deg)] = "frontal"
        per[valid & (folded >= self.sagittal_min_deg)] = "sagittal"
        per[valid & (folded > self.frontal_max_deg) & (folded < self.sagittal_min_deg)] = "oblique"
        if not valid.any():
            return ViewEstimate("unknown", None, None, 0.0, per, {})
        share = {v: float(np.mean(per[valid] == v)) for v in ("frontal", "sagittal", "oblique")}
        off = float(np.median(folded[valid]))
        if off <= self.frontal_max_deg:
            view: View = "frontal"
        elif off >= self.sagittal_min_deg:
            view = "sagittal"
        else:
            view = "oblique"
        confidence = float(np.mean(yaw.confidence[valid]) * share.get(view, 0.0))
        return ViewEstimate(view, float(np.median(yaw.values[valid])), off, confidence, per, share)

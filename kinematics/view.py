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
from scipy.special import ndtr

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
    # circular mean body yaw of the measured samples in the recording's view, deg; None when that
    # mean leaves the view's band (the samples point several ways, e.g. walking to and fro)
    yaw_deg: float | None
    off_frontal_deg: float | None  # median folded yaw, 0 frontal .. 90 side-on
    confidence: float
    per_sample: np.ndarray  # (n,) of View strings
    share: dict[str, float]  # fraction of measured samples in each view
    yaw_sd_deg: float | None = None  # median per-sample yaw uncertainty, deg
    facing: Facing = "unknown"  # recording: the subject's front or back toward the camera
    per_sample_yaw_deg: np.ndarray | None = None  # (n,) deg, NaN where unmeasured
    per_sample_yaw_sd_deg: np.ndarray | None = None  # (n,) deg, NaN where unmeasured
    per_sample_facing: np.ndarray | None = None  # (n,) of Facing strings
    # (n,) probability that the sample's view is right given its yaw uncertainty; NaN where unknown
    per_sample_view_prob: np.ndarray | None = None
    # probability that the recording's view is right: its median off-frontal angle against the
    # band edges with the median per-sample uncertainty (the cue models' error is shared by
    # every frame of a recording, so it does not average out); None without uncertainties
    view_prob: float | None = None


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
        if view_sd is not None:
            sd = np.asarray(view_sd, dtype=float)
            prob = np.where(valid, self._band_prob(folded, sd, per), np.nan)
            extra["per_sample_view_prob"] = prob
        if not valid.any():
            return ViewEstimate("unknown", None, None, 0.0, per, {}, **extra)  # type: ignore[arg-type]
        share = {v: float(np.mean(per[valid] == v)) for v in ("frontal", "sagittal", "oblique")}
        off = float(np.median(folded[valid]))
        view = self._band(off)
        if view_sd is not None:
            sd_rec = float(np.median(np.asarray(view_sd, dtype=float)[valid]))
            extra["view_prob"] = float(self._band_prob(np.array([off]), np.array([sd_rec]), np.array([view]))[0])
        confidence = float(np.mean(yaw.confidence[valid]) * share.get(view, 0.0))
        # The recording's yaw says the same as its view: the mean over the samples in that view
        # (a mean over all samples of a subject who turns, e.g. +-90 deg and 0, can land in any band).
        in_view = np.radians(yaw.values[valid & (per == view)])
        mean = circular_mean_deg(np.degrees(in_view))
        resultant = float(np.hypot(np.mean(np.cos(in_view)), np.mean(np.sin(in_view)))) if in_view.size else 0.0
        if mean is not None and (resultant < 0.5 or self._band(float(fold_yaw(np.array(mean)))) != view):
            mean = None  # no shared direction (circular SD beyond ~70 deg), or one outside the view
        return ViewEstimate(view, mean, off, confidence, per, share, **extra)  # type: ignore[arg-type]

    def _band_prob(self, folded: np.ndarray, sd: np.ndarray, band: np.ndarray) -> np.ndarray:
        """Probability of each sample's ``band`` for a Gaussian folded yaw (``folded``, ``sd``) in deg."""
        with np.errstate(invalid="ignore", divide="ignore"):
            below = ndtr((self.frontal_max_deg - folded) / sd)
            above = 1.0 - ndtr((self.sagittal_min_deg - folded) / sd)
        return np.select(
            [band == "frontal", band == "sagittal", band == "oblique"], [below, above, 1.0 - below - above], np.nan
        )

    def _band(self, folded_deg: float) -> View:
        if folded_deg <= self.frontal_max_deg:
            return "frontal"
        return "sagittal" if folded_deg >= self.sagittal_min_deg else "oblique"


def _majority(facing: np.ndarray, min_share: float = 0.8) -> Facing:
    """``"front"`` or ``"back"`` when at least ``min_share`` of the samples say so."""
    if facing.size == 0:
        return "unknown"
    for side in ("front", "back"):
        if float(np.mean(facing == side)) >= min_share:
            return side
    return "unknown"

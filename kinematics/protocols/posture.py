"""Lying, sitting or standing, from the orientation of body segments in the picture.

A protocol measures the right angle only when it knows the posture: a
straight-leg raise lying down is signed by the floor, a bridge is done lying,
a sit-to-stand starts seated. Posture is read from the image plane (x right,
y down; world landmarks are read in their own x-y plane, also y down), never
from depth alone, which is BlazePose's least steady coordinate.

Rules, per sample (segment angles are measured from the upward vertical of
the picture, 0 upright, 90 horizontal; the camera must be roughly level):

=============  ==================================================================
``lying``      the whole body (ankle midpoint to shoulder midpoint) is at least
               ``LYING_BODY_DEG`` = 60 deg from vertical **and** the trunk (hip
               midpoint to shoulder midpoint) at least ``LYING_TRUNK_DEG`` = 50
               deg. Both: a standing person leaning or reaching tilts the trunk,
               not the whole body, and a camera rolled by up to ~30 deg (a
               phone held crooked, a camera looking down from a corner) still
               reads upright.
``sitting``    the trunk within ``UPRIGHT_TRUNK_DEG`` = 45 deg of vertical and
               even the lower knee no more than ``SEATED_KNEE_DROP`` = 0.45
               trunk lengths below the hips: the thighs are near horizontal
               (side-on) or point at the camera (from the front). Thighs are
               ~0.8 trunk lengths long, so side-on this is a thigh more than
               ~55 deg from vertical. A deep squat's bottom reads as sitting too.
``standing``   trunk within 45 deg of vertical and the lower knee more than
               0.45 trunk lengths below the hips.
``other``      anything else (bent far forward, upside down, on all fours).
``unknown``    shoulders, hips or knees not seen.
=============  ==================================================================

The trunk length is the recording's 90th percentile of the shoulder-hip
distance in the picture: an upright trunk is not foreshortened from the front
or the side, while thighs are (from the front, seated).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

import numpy as np

from kinematics.pipeline import KinematicsResult
from kinematics.protocols import _common as C
from kinematics.series import LandmarkSeries

__all__ = [
    "LYING_BODY_DEG",
    "LYING_TRUNK_DEG",
    "SEATED_KNEE_DROP",
    "UPRIGHT_TRUNK_DEG",
    "Posture",
    "PostureEstimate",
    "classify_posture",
]

Posture = Literal["standing", "sitting", "lying", "other", "unknown"]

LYING_BODY_DEG = 60.0
LYING_TRUNK_DEG = 50.0
UPRIGHT_TRUNK_DEG = 45.0
SEATED_KNEE_DROP = 0.35


@dataclass(frozen=True, eq=False)
class PostureEstimate:
    """The posture of each sample and of the whole recording.

    Attributes
    ----------
    posture
        The most frequent posture among samples with one (``"unknown"`` when none has).
    per_sample
        ``(n,)`` of :data:`Posture` strings.
    share
        Fraction of the classified samples in each posture.
    trunk_from_vertical_deg, body_from_vertical_deg
        ``(n,)`` deg, 0 upright, 90 horizontal; NaN where not seen.
    knee_drop
        ``(n,)`` how far the lower knee is below the hip midpoint, in trunk lengths.
    """

    posture: Posture
    per_sample: np.ndarray
    share: dict[str, float]
    trunk_from_vertical_deg: np.ndarray
    body_from_vertical_deg: np.ndarray
    knee_drop: np.ndarray

    def seconds(self, posture: Posture, t_s: np.ndarray) -> float:
        """Time spent in ``posture`` (summed over its runs)."""
        return C.duration(t_s, self.per_sample == posture)


def _from_vertical_deg(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """Angle of the segment ``bottom -> top`` from the upward vertical (y down), 0..180 deg."""
    d = top - bottom
    with np.errstate(invalid="ignore"):
        return np.degrees(np.arctan2(np.abs(d[:, 0]), -d[:, 1]))


def classify_posture(lm: LandmarkSeries, result: KinematicsResult) -> PostureEstimate:
    """Posture per sample and overall, from segment orientations in the picture (see the module's rules).

    Parameters
    ----------
    lm
        Image (``image_norm``) or world (``world_m``) landmarks.
    result
        The pipeline's result on ``lm`` (its masking and filter settings are reused).
    """
    p = C.masked_points(lm, result)

    def mid(a: str, b: str) -> np.ndarray:
        return np.asarray(C.smooth(result, 0.5 * (p[a][:, :2] + p[b][:, :2])))

    shoulder, hip = mid("left_shoulder", "right_shoulder"), mid("left_hip", "right_hip")
    ankle = mid("left_ankle", "right_ankle")
    knees_y = np.stack([C.smooth(result, p[f"{s}_knee"][:, 1]) for s in ("left", "right")], axis=1)
    trunk_len = np.linalg.norm(shoulder - hip, axis=1)
    ok_len = trunk_len[np.isfinite(trunk_len)]
    ref = float(np.percentile(ok_len, 90)) if ok_len.size else float("nan")
    trunk_deg = _from_vertical_deg(shoulder, hip)
    body_deg = _from_vertical_deg(shoulder, ankle)
    with np.errstate(invalid="ignore", all="ignore"):
        lower_knee = np.where(
            np.isnan(knees_y).all(axis=1), np.nan, np.nanmax(np.nan_to_num(knees_y, nan=-np.inf), axis=1)
        )
        knee_drop = (lower_knee - hip[:, 1]) / ref
    n = len(lm)
    per = np.full(n, "unknown", dtype=object)
    # the whole body's axis where the ankles are seen (a leaning trunk or a rolled camera tilts the trunk more)
    upright = np.where(np.isfinite(body_deg), body_deg, trunk_deg) <= UPRIGHT_TRUNK_DEG
    known_knee = np.isfinite(knee_drop)
    per[np.isfinite(trunk_deg)] = "other"
    per[upright & known_knee & (knee_drop > SEATED_KNEE_DROP)] = "standing"
    per[upright & known_knee & (knee_drop <= SEATED_KNEE_DROP)] = "sitting"
    # without the ankles (feet out of the picture) the trunk alone decides, at the whole-body limit
    body_or_trunk = np.where(np.isfinite(body_deg), body_deg, trunk_deg)
    lying = (np.abs(trunk_deg - 90) <= 90 - LYING_TRUNK_DEG) & (np.abs(body_or_trunk - 90) <= 90 - LYING_BODY_DEG)
    per[lying] = "lying"
    known = per != "unknown"
    share = (
        {k: float(np.mean(per[known] == k)) for k in ("standing", "sitting", "lying", "other")} if known.any() else {}
    )
    best = max(share, key=lambda k: share[k]) if share else "unknown"
    posture = cast(Posture, best)
    return PostureEstimate(posture, per, share, trunk_deg, body_deg, knee_drop)

"""Pelvis, hip and trunk angles from landmark sequences.

Every function takes a :class:`~kinematics.series.LandmarkSeries` and returns a
:class:`~kinematics.series.Series` in degrees whose confidence is the lowest
visibility among the landmarks it used. Nothing here decides whether the
camera view allows an angle; :mod:`kinematics.view` does that.

Conventions (the subject's left and right, as the pose model labels them):

=========================  ==================================================
``pelvic_obliquity``       > 0 when the LEFT hip is higher than the right
``hip_flexion``            0 thigh along the trunk line, > 0 knee forward
``hip_abduction``          0 thigh perpendicular to the hip line, > 0 knee
                           away from the midline
``trunk_lean`` frontal     0 upright, > 0 shoulders toward the subject's left
``trunk_lean`` sagittal    0 upright, > 0 shoulders forward
=========================  ==================================================

All angles are measured in the camera plane (x right, y down): on pixel
coordinates for ``image_norm`` input (x scaled by width, y by height, which
removes the aspect-ratio distortion of normalised coordinates) and on the x, y
metres of ``world_m`` input. Depth is not used for any angle: BlazePose's
depth estimate is the least steady coordinate (about twice the jitter of x
and y) and on the KERAAL recordings it followed the chest rather than the
pelvis (docs/validation.md). Which anatomical plane the camera plane shows is
decided by :mod:`kinematics.view`, which is where depth is used, coarsely.
Pelvic obliquity and trunk lean are measured against the camera's vertical,
which assumes a level camera.

Hip angles are thigh-to-trunk angles: landmarks carry no pelvic orientation
of their own beyond the hip line, so flexion includes lumbar-pelvic motion
(as in goniometry with the trunk as the fixed arm).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from kinematics.series import LandmarkSeries, Series, Side

__all__ = [
    "body_yaw",
    "facing_direction",
    "hip_abduction",
    "hip_centre",
    "hip_flexion",
    "pelvic_obliquity",
    "trunk_lean",
]

Plane = Literal["frontal", "sagittal"]


def _side(side: Side) -> str:
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    return side


def _confidence(lm: LandmarkSeries, *names: str) -> np.ndarray:
    return np.min(np.stack([lm.vis(n) for n in names]), axis=0)


def _points(lm: LandmarkSeries) -> dict[str, np.ndarray]:
    xyz = lm.metric_xyz()
    return {name: xyz[:, i, :] for i, name in enumerate(lm.schema.names)}


def _unit(v: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("...i,...i->...", a, b)


def _deg(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.degrees(np.arctan2(y, x))


def facing_direction(lm: LandmarkSeries) -> np.ndarray:
    """Which way the subject faces along the image x axis.

    Returns
    -------
    numpy.ndarray
        ``(n,)``: +1 facing image right (+x), -1 facing image left, NaN when
        neither the toes nor the nose tell. Uses toes ahead of heels and the
        nose ahead of the ears, which do not depend on left/right labels. A
        depth camera's skeleton with neither (Kinect v2) is read from its 3D
        hip and shoulder lines instead (:func:`_facing_3d`).
    """
    p = _points(lm)
    if lm.space == "world_m" and not any(lm.schema.has(n) for n in _FACING_CUES):
        return _facing_3d(p)
    feet = (p["left_foot_index"][:, 0] - p["left_heel"][:, 0]) + (p["right_foot_index"][:, 0] - p["right_heel"][:, 0])
    head = 2 * p["nose"][:, 0] - p["left_ear"][:, 0] - p["right_ear"][:, 0]
    scale = np.linalg.norm(p["left_hip"] - p["left_shoulder"], axis=1)
    vote = np.nan_to_num(feet / scale) + np.nan_to_num(head / scale)
    return np.where(np.abs(vote) > 1e-6, np.sign(vote), np.nan)


_FACING_CUES = ("nose", "left_ear", "right_ear", "left_heel", "right_heel", "left_foot_index", "right_foot_index")


def _facing_3d(p: dict[str, np.ndarray], min_turn: float = 0.5) -> np.ndarray:
    """Facing along image x from a depth camera's 3D hip and shoulder lines (no face or feet needed).

    The anterior direction is ``left x up``; with ``up = -y`` its x component is the depth
    difference ``dz`` of the (left minus right) lines: +1 facing image right when the
    subject's left side is the farther one. NaN unless the lines are turned at least
    ``asin(min_turn)`` (30 deg) from facing the camera, where x tells nothing.
    Only for skeletons without nose, ears and feet (:mod:`kinematics.schemas`: Kinect v2);
    a BlazePose world estimate's depth is too unsteady for it (see :func:`body_yaw`).
    """
    v = (p["left_hip"] - p["right_hip"]) + (p["left_shoulder"] - p["right_shoulder"])
    with np.errstate(invalid="ignore", divide="ignore"):
        turn = v[:, 2] / np.linalg.norm(v, axis=1)
    return np.where(np.abs(turn) >= min_turn, np.sign(turn), np.nan)


def pelvic_obliquity(lm: LandmarkSeries) -> Series:
    """Frontal-plane tilt of the hip line against the horizontal.

    Returns
    -------
    Series
        deg, > 0 when the subject's LEFT hip is higher than the right.

    Notes
    -----
    ``atan2(y_R - y_L, |x_L - x_R|)`` in the camera plane (y down), so it is
    the same whether the subject faces the camera or turns their back to it.
    """
    p = _points(lm)
    d = p["left_hip"] - p["right_hip"]
    angle = _deg(-d[:, 1], np.abs(d[:, 0]))
    return Series(lm.t_s, angle, "deg", _confidence(lm, "left_hip", "right_hip"))


def hip_flexion(lm: LandmarkSeries, *, side: Side, facing: np.ndarray | None = None) -> Series:
    """Sagittal-plane angle between the thigh and the trunk line.

    Parameters
    ----------
    lm
        Image (side view) or world landmarks.
    side
        ``"left"`` or ``"right"``.
    facing
        ``(n,)`` +1/-1, image input only: the direction the subject faces
        along image x; :func:`facing_direction` per sample when omitted.

    Returns
    -------
    Series
        deg, 0 when the thigh continues the trunk line downward, > 0 when the
        knee is forward of it (flexion), < 0 behind it (extension).

    Notes
    -----
    The signed angle, in the camera plane, from the downward trunk line to
    the thigh, made positive toward the direction the subject faces
    (:func:`facing_direction`).
    """
    s = _side(side)
    p = _points(lm)
    hip, knee = p[f"{s}_hip"], p[f"{s}_knee"]
    thigh = knee - hip
    hip_mid = 0.5 * (p["left_hip"] + p["right_hip"])
    sh_mid = 0.5 * (p["left_shoulder"] + p["right_shoulder"])
    down = (hip_mid - sh_mid)[:, :2]
    t = thigh[:, :2]
    cross = down[:, 0] * t[:, 1] - down[:, 1] * t[:, 0]
    angle = _deg(cross, _dot(down, t)) * -(facing_direction(lm) if facing is None else facing)
    conf = _confidence(lm, f"{s}_hip", f"{s}_knee", "left_shoulder", "right_shoulder", "left_hip", "right_hip")
    return Series(lm.t_s, angle, "deg", conf)


def hip_abduction(lm: LandmarkSeries, *, side: Side) -> Series:
    """Frontal-plane angle between the thigh and the perpendicular to the hip line.

    Returns
    -------
    Series
        deg, 0 when the thigh is perpendicular to the hip line (standing),
        > 0 when the knee moves away from the midline (abduction), < 0 toward
        and across it (adduction).

    Notes
    -----
    Measured against the pelvis, not the vertical: a hip that hikes during
    leg abduction shows in :func:`pelvic_obliquity`, not here.
    """
    s = _side(side)
    p = _points(lm)
    thigh = p[f"{s}_knee"] - p[f"{s}_hip"]
    h = _unit((p["left_hip"] - p["right_hip"])[:, :2])
    perp = np.stack([-h[:, 1], h[:, 0]], axis=1)
    perp = perp * np.where(perp[:, 1] < 0, -1.0, 1.0)[:, None]  # point down the image
    out = h if s == "left" else -h
    angle = _deg(_dot(thigh[:, :2], out), _dot(thigh[:, :2], perp))
    conf = _confidence(lm, f"{s}_hip", f"{s}_knee", "left_hip", "right_hip")
    return Series(lm.t_s, angle, "deg", conf)


def trunk_lean(lm: LandmarkSeries, *, plane: Plane, facing: np.ndarray | None = None) -> Series:
    """Inclination of the trunk line (hip midpoint to shoulder midpoint) from vertical.

    Parameters
    ----------
    plane
        ``"frontal"``: lateral lean, > 0 toward the subject's left.
        ``"sagittal"``: forward lean, > 0 forward.
    facing
        As for :func:`hip_flexion` (sagittal image input only).

    Notes
    -----
    Against the camera's vertical: a tilted camera biases this angle by its
    roll (frontal) or pitch (sagittal).
    """
    p = _points(lm)
    trunk = 0.5 * (p["left_shoulder"] + p["right_shoulder"]) - 0.5 * (p["left_hip"] + p["right_hip"])
    vertical = -trunk[:, 1]  # y is down
    if plane == "frontal":
        toward_left = np.sign(p["left_hip"][:, 0] - p["right_hip"][:, 0])
        angle = _deg(trunk[:, 0] * toward_left, vertical)
    elif plane == "sagittal":
        angle = _deg(trunk[:, 0] * (facing_direction(lm) if facing is None else facing), vertical)
    else:
        raise ValueError(f"plane must be 'frontal' or 'sagittal', got {plane!r}")
    conf = _confidence(lm, "left_shoulder", "right_shoulder", "left_hip", "right_hip")
    return Series(lm.t_s, angle, "deg", conf)


def body_yaw(lm: LandmarkSeries) -> Series:
    """Rotation of the body about the vertical, relative to facing the camera.

    Returns
    -------
    Series
        deg in (-180, 180]: 0 facing the camera, +-180 back to the camera,
        +-90 side-on. Confidence is lowered when depth is not available.

    Notes
    -----
    From the depth difference of the hips and of the shoulders (``atan2(dz,
    dx)`` of the right-to-left vectors). Image landmarks carry MediaPipe's
    relative depth on the scale of x, so the same formula applies after
    pixel scaling. This is a *view* estimate, good for telling frontal from
    side-on, not a measure of pelvic rotation: on the KERAAL recordings
    BlazePose's depth followed the chest rather than the pelvis and
    overstated rotation several times (docs/validation.md). Without depth (all z equal) the apparent shoulder width
    against the trunk length gives only ``|yaw|`` folded to [0, 90], and
    confidence is halved.
    """
    p = _points(lm)
    v = (p["left_hip"] - p["right_hip"]) + (p["left_shoulder"] - p["right_shoulder"])
    conf = _confidence(lm, "left_shoulder", "right_shoulder", "left_hip", "right_hip")
    has_depth = bool(np.nanmax(np.abs(lm.xyz[..., 2]), initial=0.0) > 0)
    if has_depth:
        return Series(lm.t_s, _deg(v[:, 2], v[:, 0]), "deg", conf)
    # Typical adult shoulder width is ~0.8x the hip-to-shoulder trunk length.
    trunk = np.linalg.norm(
        0.5 * (p["left_shoulder"] + p["right_shoulder"]) - 0.5 * (p["left_hip"] + p["right_hip"]), axis=1
    )
    width = np.linalg.norm((p["left_shoulder"] - p["right_shoulder"])[:, :2], axis=1)
    ratio = np.clip(width / (0.8 * trunk), 0.0, 1.0)
    return Series(lm.t_s, np.degrees(np.arccos(ratio)), "deg", conf * 0.5)


def hip_centre(lm: LandmarkSeries, *, side: Side | Literal["mid"]) -> Series:
    """Trajectory of a hip joint centre (or the midpoint of both).

    Returns
    -------
    Series
        ``(n, 2)`` image pixels (x right, y down) for image input, ``(n, 3)``
        metres for world input (origin between the hips, so the world
        midpoint is ~0 by construction).

    Notes
    -----
    BlazePose's hip landmarks are its own estimate of the hip joint centres;
    no further regression from pelvic width is applied.
    """
    p = _points(lm)
    if side == "mid":
        xyz = 0.5 * (p["left_hip"] + p["right_hip"])
        conf = _confidence(lm, "left_hip", "right_hip")
    else:
        s = _side(side)
        xyz = p[f"{s}_hip"]
        conf = lm.vis(f"{s}_hip")
    if lm.space == "image_norm":
        return Series(lm.t_s, xyz[:, :2], "px", conf)
    return Series(lm.t_s, xyz, "m", conf)

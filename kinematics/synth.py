"""Synthetic poses with known angles, seen by a pinhole camera.

A rigid-segment body (pelvis, trunk, head, two straight legs and feet) is
posed from the angles we want to recover, using the *same definitions* as
:mod:`kinematics.angles`, then projected by a pinhole camera into MediaPipe's
image-normalised space and written in its world space. Tests compare what the
analysis recovers with the angles put in.

The anatomical frame used for construction is ``x`` = subject's left,
``y`` = up, ``z`` = anterior (``left x up = anterior``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinematics.series import BLAZEPOSE33, LandmarkSeries

__all__ = ["Body", "Camera", "PoseAngles", "render"]


@dataclass(frozen=True, kw_only=True)
class Body:
    """Segment lengths in metres (an adult of about 1.75 m)."""

    hip_width_m: float = 0.30
    shoulder_width_m: float = 0.38
    trunk_m: float = 0.52
    thigh_m: float = 0.45
    shank_m: float = 0.43
    foot_m: float = 0.20


@dataclass(frozen=True, kw_only=True)
class Camera:
    """A level pinhole camera looking horizontally at the pelvis.

    Parameters
    ----------
    image_size_wh
        Upright image size in pixels.
    distance_m
        From the camera to the hip midpoint.
    focal_px
        Focal length in pixels (a phone's main camera is ~0.8-1.0 x the long side).
    yaw_deg
        The subject's rotation about the vertical: 0 facing the camera, 180
        back to it; +90 side-on facing image +x (right side toward the
        camera), -90 facing image -x. :func:`kinematics.angles.body_yaw`
        reads the same value back.
    """

    image_size_wh: tuple[int, int] = (1080, 1920)
    distance_m: float = 3.0
    focal_px: float = 1600.0
    yaw_deg: float = 0.0


@dataclass(frozen=True, kw_only=True)
class PoseAngles:
    """Angle trajectories in degrees, each a scalar or an ``(n,)`` array."""

    pelvic_obliquity_deg: np.ndarray | float = 0.0
    hip_flexion_left_deg: np.ndarray | float = 0.0
    hip_flexion_right_deg: np.ndarray | float = 0.0
    hip_abduction_left_deg: np.ndarray | float = 0.0
    hip_abduction_right_deg: np.ndarray | float = 0.0
    trunk_lean_lateral_deg: np.ndarray | float = 0.0
    trunk_lean_forward_deg: np.ndarray | float = 0.0
    knee_flexion_left_deg: np.ndarray | float = 0.0  # 0 straight, > 0 ankle behind the thigh line
    knee_flexion_right_deg: np.ndarray | float = 0.0
    body_pitch_deg: np.ndarray | float = 0.0  # whole body about the mediolateral axis: -90 lying on the back


def _col(v: np.ndarray | float, n: int) -> np.ndarray:
    return np.broadcast_to(np.radians(np.asarray(v, dtype=float)), (n,))[:, None]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _skeleton(angles: PoseAngles, body: Body, n: int, pelvis_m: np.ndarray) -> dict[str, np.ndarray]:
    """Landmark positions ``(n, 3)`` in the anatomical frame (y up)."""
    ob = _col(angles.pelvic_obliquity_deg, n)
    lat, fwd = _col(angles.trunk_lean_lateral_deg, n), _col(angles.trunk_lean_forward_deg, n)
    ex, ey, ez = np.eye(3)
    ml = np.cos(ob) * ex + np.sin(ob) * ey  # obliquity: rotation about the anterior axis
    trunk_dir = _unit(np.tan(lat) * ex + ey + np.tan(fwd) * ez)
    up = _unit(trunk_dir - np.sum(trunk_dir * ml, axis=1, keepdims=True) * ml)
    ap = np.cross(ml, up)
    pts: dict[str, np.ndarray] = {}
    pts["left_hip"] = pelvis_m + 0.5 * body.hip_width_m * ml
    pts["right_hip"] = pelvis_m - 0.5 * body.hip_width_m * ml
    sh_mid = pelvis_m + body.trunk_m * trunk_dir
    pts["left_shoulder"] = sh_mid + 0.5 * body.shoulder_width_m * ex
    pts["right_shoulder"] = sh_mid - 0.5 * body.shoulder_width_m * ex
    head = sh_mid + 0.22 * trunk_dir
    pts["nose"] = head + 0.10 * ez
    for s, sign in (("left", 1.0), ("right", -1.0)):
        pts[f"{s}_ear"] = head + sign * 0.075 * ex
        pts[f"{s}_eye_inner"] = head + 0.08 * ez + 0.05 * ey + sign * 0.015 * ex
        pts[f"{s}_eye"] = head + 0.08 * ez + 0.05 * ey + sign * 0.03 * ex
        pts[f"{s}_eye_outer"] = head + 0.075 * ez + 0.05 * ey + sign * 0.045 * ex
        pts[f"mouth_{s}"] = head + 0.09 * ez - 0.04 * ey + sign * 0.025 * ex
        elbow = pts[f"{s}_shoulder"] - 0.28 * ey + sign * 0.03 * ex
        wrist = elbow - 0.26 * ey
        pts[f"{s}_elbow"], pts[f"{s}_wrist"] = elbow, wrist
        for name, off in (("pinky", -0.02), ("index", 0.02), ("thumb", 0.03)):
            pts[f"{s}_{name}"] = wrist - 0.07 * ey + off * ez
        flex = _col(getattr(angles, f"hip_flexion_{s}_deg"), n)
        abd = _col(getattr(angles, f"hip_abduction_{s}_deg"), n)
        out = sign * ml
        # Projection-consistent: flexion = atan2(d.AP, -d.UP), abduction = atan2(d.out, -d.UP).
        thigh = _unit(np.sin(flex) * ap - np.cos(flex) * up + np.cos(flex) * np.tan(abd) * out)
        knee = pts[f"{s}_hip"] + body.thigh_m * thigh
        bend = _col(getattr(angles, f"knee_flexion_{s}_deg"), n)
        behind = _unit(np.cross(ml, thigh))  # perpendicular to the thigh, in the sagittal plane, posterior
        shank = np.cos(bend) * thigh + np.sin(bend) * behind
        ankle = knee + body.shank_m * shank
        pts[f"{s}_knee"], pts[f"{s}_ankle"] = knee, ankle
        pts[f"{s}_heel"] = ankle - 0.05 * ez - 0.05 * ey
        pts[f"{s}_foot_index"] = ankle + body.foot_m * ez - 0.07 * ey
    pitch = _col(angles.body_pitch_deg, n)
    if np.any(pitch):
        c, si = np.cos(pitch), np.sin(pitch)
        for name, p in pts.items():  # rotate about the mediolateral (x) axis through the pelvis
            rel = p - pelvis_m
            y = rel[:, 1:2] * c - rel[:, 2:3] * si
            z = rel[:, 1:2] * si + rel[:, 2:3] * c
            pts[name] = pelvis_m + np.concatenate([rel[:, 0:1], y, z], axis=1)
    return pts


def render(
    angles: PoseAngles,
    t_s: np.ndarray,
    *,
    body: Body = Body(),
    camera: Camera = Camera(),
    pelvis_path_m: np.ndarray | None = None,
    noise_px: float | np.ndarray = 0.0,
    noise_m: float | tuple[float, float, float] | np.ndarray = 0.0,
    hip_noise_correlation: float = 0.0,
    visibility: np.ndarray | float = 0.99,
    rng: np.random.Generator | None = None,
) -> tuple[LandmarkSeries, LandmarkSeries]:
    """Pose a body and see it through the camera.

    Parameters
    ----------
    angles
        Ground-truth angles (see :class:`PoseAngles`).
    t_s
        ``(n,)`` seconds.
    pelvis_path_m
        ``(n, 3)`` pelvis displacement in the anatomical frame (left, up,
        anterior); zero when omitted.
    noise_px
        Standard deviation of Gaussian noise on image coordinates, in pixels:
        a scalar, ``(33,)`` per landmark or ``(33, 2)`` per landmark and axis.
    noise_m
        Standard deviation of Gaussian noise on world coordinates, metres: a
        scalar, ``(3,)`` per axis or ``(33, 3)``. As in MediaPipe, the world
        origin is the *estimated* hip midpoint, so the noisy hip centre is
        subtracted from every landmark after the noise is added.
    hip_noise_correlation
        Correlation of the two hips' noise (BlazePose's hips jitter together:
        ~0.6 measured on image coordinates, tests/kinematics/conftest.py).
    visibility
        Scalar, ``(n,)`` or ``(n, 33)``.

    Returns
    -------
    image, world
        The same poses as ``image_norm`` and ``world_m`` landmark series.
    """
    t_s = np.asarray(t_s, dtype=float)
    n = t_s.shape[0]
    rng = rng if rng is not None else np.random.default_rng(0)
    pelvis = np.zeros((n, 3)) if pelvis_path_m is None else np.asarray(pelvis_path_m, dtype=float)
    pts = _skeleton(angles, body, n, pelvis)
    anat = np.stack([pts[name] for name in BLAZEPOSE33.names], axis=1)  # (n, 33, 3)

    # Turn the subject about the vertical, then map to camera axes: x right, y down, z away.
    yaw = np.radians(camera.yaw_deg)
    rot = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    turned = anat @ rot.T
    cam = np.stack([turned[..., 0], -turned[..., 1], camera.distance_m - turned[..., 2]], axis=-1)

    if not -1.0 <= hip_noise_correlation <= 1.0:
        raise ValueError(f"hip_noise_correlation must be in [-1, 1], got {hip_noise_correlation}")
    hips = [BLAZEPOSE33.index("left_hip"), BLAZEPOSE33.index("right_hip")]

    def jitter(sd: float | tuple[float, float, float] | np.ndarray, axes: int) -> np.ndarray:
        z = rng.normal(0.0, 1.0, (n, 33, axes))
        c = hip_noise_correlation
        z[:, hips[1]] = c * z[:, hips[0]] + np.sqrt(1.0 - c * c) * z[:, hips[1]]
        sd_arr = np.asarray(sd, dtype=float)
        return z * (sd_arr[:, None] if sd_arr.shape == (33,) else sd_arr)

    noisy_cam = cam + jitter(noise_m, 3) if np.any(np.asarray(noise_m) > 0) else cam
    hip_mid = 0.5 * (noisy_cam[:, hips[0]] + noisy_cam[:, hips[1]])
    world = noisy_cam - hip_mid[:, None, :]
    hip_mid = 0.5 * (cam[:, hips[0]] + cam[:, hips[1]])  # the image's depth reference is the true one

    w, h = camera.image_size_wh
    f = camera.focal_px
    u = f * cam[..., 0] / cam[..., 2] + w / 2
    v = f * cam[..., 1] / cam[..., 2] + h / 2
    depth_px = f * (cam[..., 2] - hip_mid[:, None, 2]) / hip_mid[:, None, 2]
    if np.any(np.asarray(noise_px) > 0):
        uv = jitter(noise_px, 2)
        u, v = u + uv[..., 0], v + uv[..., 1]
    image_xyz = np.stack([u / w, v / h, depth_px / w], axis=-1)

    vis = np.broadcast_to(
        np.asarray(visibility, dtype=float).reshape(
            (-1, 1) if np.ndim(visibility) == 1 else np.shape(visibility) or (1, 1)
        ),
        (n, 33),
    ).copy()
    image = LandmarkSeries(t_s, image_xyz, vis, BLAZEPOSE33, "image_norm", (w, h))
    world_series = LandmarkSeries(t_s, world, vis, BLAZEPOSE33, "world_m", None)
    return image, world_series

"""A multi-view reference for single-camera view, facing direction and planar angles.

The pose2sim recordings (``tests/fixtures/video/pose2sim_cam0*.mp4`` and
``pose2sim_multi_cam0*.mp4``, BSD-3-Clause, see ``tests/fixtures/SOURCES.md``)
were filmed by four synchronised cameras with a Qualisys calibration
(``tests/fixtures/calibration/pose2sim*_Calib.qca.txt``). Every camera's video
goes through the project's own pipeline (``service.analysis.prepare_input``,
the default ONNX BlazePose), so the reference measures what users get. The 2D
landmarks of the four views are triangulated (DLT, weighted by visibility,
views with a large reprojection error dropped, each view's left/right labels
checked against the others), and the subject's true facing direction relative
to each camera is derived from the triangulated hip and shoulder lines, with
the nose and feet telling front from back.

Everything ``docs/validation.md`` states about this comparison is computed
here; ``bench/validate_multiview.py`` prints it and
``tests/validation/test_multiview.py`` checks the bounds and that the document
still says what this code measures.

Conventions
-----------
* World: the calibration's frame, metres, ``z`` up (Qualisys).
* Camera: ``x`` right, ``y`` down, ``z`` along the optical axis (OpenCV).
* Yaw: :func:`kinematics.facing.estimate_yaw`'s convention, measured in a
  *level* camera at the real camera's position looking horizontally at the
  pelvis: 0 facing the camera, +-180 back to it, +90 side-on with the
  subject's right side toward the camera (facing image +x), -90 the left side.
* Camera pitch: angle of the line from the camera to the pelvis below the
  horizontal, deg (> 0 camera above the pelvis).
"""

from __future__ import annotations

import dataclasses
import functools
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kinematics.facing import YawEstimator
from kinematics.series import BLAZEPOSE33, LandmarkSeries
from validation.docblocks import DOC_PATH, GeneratedBlocks

__all__ = [
    "BLOCKS",
    "DOC_PATH",
    "CameraCalibration",
    "Triangulation",
    "camera_pitch_deg",
    "project",
    "read_qca",
    "reference_yaw_deg",
    "triangulate",
]

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"

# Qualisys stores intrinsics in sub-pixel sensor units: 64 per pixel.
_SUBPIXELS = 64.0
_PAIRS = [
    (BLAZEPOSE33.index(f"left_{n}"), BLAZEPOSE33.index(f"right_{n}"))
    for n in (
        "eye_inner",
        "eye",
        "eye_outer",
        "ear",
        "shoulder",
        "elbow",
        "wrist",
        "pinky",
        "index",
        "thumb",
        "hip",
        "knee",
        "ankle",
        "heel",
        "foot_index",
    )
] + [(BLAZEPOSE33.index("mouth_left"), BLAZEPOSE33.index("mouth_right"))]
_SWAP = np.arange(33)
for _a, _b in _PAIRS:
    _SWAP[_a], _SWAP[_b] = _b, _a


@dataclass(frozen=True)
class CameraCalibration:
    """One calibrated camera: ``uv ~ K [R | t] X`` with Brown distortion."""

    name: str
    size_wh: tuple[int, int]
    k: np.ndarray  # (3, 3) intrinsics, pixels
    dist: np.ndarray  # (5,) k1 k2 p1 p2 k3 (OpenCV order)
    r: np.ndarray  # (3, 3) world -> camera rotation
    t: np.ndarray  # (3,) world -> camera translation, m

    @property
    def centre_m(self) -> np.ndarray:
        """Camera position in the world frame, m."""
        return -self.r.T @ self.t

    @property
    def projection(self) -> np.ndarray:
        """``(3, 4)`` projection matrix on undistorted pixels."""
        return self.k @ np.hstack([self.r, self.t[:, None]])


def read_qca(path: str | Path) -> list[CameraCalibration]:
    """Cameras of a Qualisys ``.qca`` calibration, in file order.

    Notes
    -----
    The transform holds the camera-to-world rotation's rows as ``r11..r33``
    read as world-to-camera for a camera whose ``y`` and ``z`` point up and
    backward, and the camera position in mm; intrinsics are in 1/64 pixel
    sensor units relative to the full sensor, so the video's field-of-view
    offset (``fov_video``) is subtracted. The pose2sim file is the
    "rotated" variant: its sensor frame is already the portrait video frame.
    The reading is verified by reprojection error in the tests, not assumed.
    """
    root = ET.parse(path).getroot()
    flip = np.diag([1.0, -1.0, -1.0])
    cams = []
    for cam in root.iter("camera"):
        tr, intr, fov = (cam.find(tag) for tag in ("transform", "intrinsic", "fov_video"))
        if tr is None or intr is None or fov is None:
            raise ValueError(f"{path}: camera {cam.get('serial')} lacks transform, intrinsic or fov_video")
        t, i, f = tr.attrib, intr.attrib, fov.attrib
        rot = flip @ np.array([[float(t[f"r{a}{b}"]) for b in "123"] for a in "123"])
        centre = np.array([float(t[c]) for c in "xyz"]) / 1000.0
        left, top = float(f["left"]), float(f["top"])
        k = np.array(
            [
                [float(i["focalLengthU"]) / _SUBPIXELS, 0.0, float(i["centerPointU"]) / _SUBPIXELS - left],
                [0.0, float(i["focalLengthV"]) / _SUBPIXELS, float(i["centerPointV"]) / _SUBPIXELS - top],
                [0.0, 0.0, 1.0],
            ]
        )
        dist = np.array(
            [float(i[n]) for n in ("radialDistortion1", "radialDistortion2")]
            + [float(i[n]) for n in ("tangentalDistortion1", "tangentalDistortion2")]
            + [float(i["radialDistortion3"])]
        )
        size = (int(f["right"]) - int(f["left"]) + 1, int(f["bottom"]) - int(f["top"]) + 1)
        cams.append(CameraCalibration(str(cam.get("serial")), size, k, dist, rot, -rot @ centre))
    return cams


def undistort_px(cam: CameraCalibration, uv_px: np.ndarray) -> np.ndarray:
    """Undistorted pixel coordinates of ``uv_px`` (..., 2); NaN stays NaN."""
    import cv2

    flat = uv_px.reshape(-1, 2).astype(np.float64)
    ok = ~np.isnan(flat).any(axis=1)
    out = np.full_like(flat, np.nan)
    if ok.any():
        und = cv2.undistortPoints(flat[ok][:, None, :], cam.k, cam.dist, P=cam.k)
        out[ok] = und[:, 0, :]
    return out.reshape(uv_px.shape)


def project(cam: CameraCalibration, xyz_m: np.ndarray) -> np.ndarray:
    """Undistorted pixel coordinates ``(..., 2)`` of world points ``(..., 3)``."""
    h = np.concatenate([xyz_m, np.ones(xyz_m.shape[:-1] + (1,))], axis=-1) @ cam.projection.T
    return h[..., :2] / h[..., 2:3]


@dataclass(frozen=True, eq=False)
class Triangulation:
    """Landmarks triangulated from several views."""

    xyz_m: np.ndarray  # (n, 33, 3) world, NaN where fewer than two views agreed
    error_px: np.ndarray  # (n, 33) median reprojection error over the views used
    views_used: np.ndarray  # (n, 33) count
    swapped: np.ndarray  # (v, n) True where a view's left/right labels were swapped to agree


def _dlt(ps: np.ndarray, uv: np.ndarray, w: np.ndarray) -> np.ndarray:
    """One point from ``ps`` (v, 3, 4), ``uv`` (v, 2), weights ``w`` (v,)."""
    a = np.concatenate([w[:, None] * (uv[:, :1] * ps[:, 2] - ps[:, 0]), w[:, None] * (uv[:, 1:] * ps[:, 2] - ps[:, 1])])
    _, _, vt = np.linalg.svd(a)
    x = vt[-1]
    return x[:3] / x[3]


def _solve(
    ps: np.ndarray, uv: np.ndarray, w: np.ndarray, cams: list[CameraCalibration], max_error_px: float
) -> tuple[np.ndarray, float, int]:
    """Triangulate one point, dropping the worst view while its error exceeds ``max_error_px``."""
    use = (w > 0) & ~np.isnan(uv).any(axis=1)
    while use.sum() >= 2:
        x = _dlt(ps[use], uv[use], w[use])
        err = np.array(
            [np.linalg.norm(project(c, x) - q) if u else np.inf for c, q, u in zip(cams, uv, use, strict=True)]
        )
        in_front = all((c.r @ x + c.t)[2] > 0 for c, u in zip(cams, use, strict=True) if u)
        worst = int(np.argmax(np.where(use, err, -1.0)))
        if in_front and err[worst] <= max_error_px:
            return x, float(np.median(err[use])), int(use.sum())
        if use.sum() == 2:
            break
        use[worst] = False
    return np.full(3, np.nan), np.nan, 0


def triangulate(
    cams: list[CameraCalibration],
    views: list[LandmarkSeries],
    *,
    max_error_px: float = 40.0,
    min_visibility: float = 0.3,
) -> Triangulation:
    """DLT triangulation of every landmark from synchronised views.

    Parameters
    ----------
    cams
        One calibration per view.
    views
        ``image_norm`` landmark series of the same frames, one per camera.
    max_error_px
        A view whose reprojection error exceeds this is dropped (worst first)
        while at least two remain.
    min_visibility
        Landmarks the model rates below this are not used.

    Notes
    -----
    BlazePose labels left and right from the picture, and can swap them on a
    back view. Per frame, each view's labels are taken as given or swapped,
    whichever makes the hips and shoulders agree better with the other views.
    """
    n = min(len(v) for v in views)
    nv = len(views)
    ps = np.stack([c.projection for c in cams])
    uv = np.stack(
        [
            undistort_px(c, v.xyz[:n, :, :2] * np.asarray(c.size_wh if v.image_size_wh is None else v.image_size_wh))
            for c, v in zip(cams, views, strict=True)
        ]
    )  # (v, n, 33, 2)
    w = np.stack([np.where(v.visibility[:n] >= min_visibility, v.visibility[:n], 0.0) for v in views])
    swapped = _label_consensus(cams, ps, uv, w, max_error_px)
    for j in range(nv):
        uv[j, swapped[j]] = uv[j, swapped[j]][:, _SWAP]
        w[j, swapped[j]] = w[j, swapped[j]][:, _SWAP]
    xyz = np.full((n, 33, 3), np.nan)
    err = np.full((n, 33), np.nan)
    used = np.zeros((n, 33), dtype=int)
    for i in range(n):
        for k in range(33):
            xyz[i, k], err[i, k], used[i, k] = _solve(ps, uv[:, i, k], w[:, i, k], cams, max_error_px)
    return Triangulation(xyz, err, used, swapped)


_CORE = [BLAZEPOSE33.index(n) for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]


def _label_consensus(
    cams: list[CameraCalibration], ps: np.ndarray, uv: np.ndarray, w: np.ndarray, max_error_px: float
) -> np.ndarray:
    """``(v, n)``: which views to read with left and right swapped, frame by frame."""
    nv, n = uv.shape[:2]
    best = np.zeros((nv, n), dtype=bool)
    for i in range(n):
        best_cost = np.inf
        for code in range(2 ** (nv - 1)):  # view 0 fixed: a global swap changes nothing
            flags = np.array([False] + [bool(code >> b & 1) for b in range(nv - 1)])
            cost = 0.0
            for k in _CORE:
                kk = np.array([_SWAP[k] if f else k for f in flags])
                q = uv[np.arange(nv), i, kk]
                wk = w[np.arange(nv), i, kk]
                ok = (wk > 0) & ~np.isnan(q).any(axis=1)
                if ok.sum() < 2:
                    cost += max_error_px
                    continue
                x = _dlt(ps[ok], q[ok], wk[ok])
                e = [
                    min(np.linalg.norm(project(c, x) - qq), max_error_px)
                    for c, qq, o in zip(cams, q, ok, strict=True)
                    if o
                ]
                cost += float(np.mean(e))
            if cost < best_cost:
                best_cost, best[:, i] = cost, flags
    return best


def _mid(xyz: np.ndarray, a: str, b: str) -> np.ndarray:
    return 0.5 * (xyz[:, BLAZEPOSE33.index(a)] + xyz[:, BLAZEPOSE33.index(b)])


_UP = np.array([0.0, 0.0, 1.0])
# A person turning on the spot reaches ~180 deg/s (kinematics.facing): 3 deg per frame at 60 fps.
MAX_TURN_PER_FRAME_DEG = 30.0


def body_axes(
    xyz_m: np.ndarray, up: np.ndarray = _UP, max_step_deg: float = MAX_TURN_PER_FRAME_DEG
) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal unit vectors toward the subject's left and anterior, ``(n, 3)`` each.

    The mediolateral line is the sum of the hip and shoulder lines. Which way
    along it is *left* is decided by anatomy, not the model's labels, so a
    left/right label swap cannot turn the reference around: the nose ahead of
    the ears and the toes ahead of the heels. A body cannot turn half a circle
    between two frames, so that decision is made once per stretch of frames in
    which the line turns less than ``max_step_deg`` from one frame to the next
    (each frame's line taken in the direction nearer the previous one), by the
    majority of the stretch's frames: one frame's noisy nose or feet cannot
    flip the reference by 180 deg.
    """
    p = {name: xyz_m[:, i] for i, name in enumerate(BLAZEPOSE33.names)}
    ml = (p["left_hip"] - p["right_hip"]) + (p["left_shoulder"] - p["right_shoulder"])
    ml = ml - (ml @ up)[:, None] * up
    ml /= np.linalg.norm(ml, axis=1, keepdims=True)
    ahead = (p["nose"] - _mid(xyz_m, "left_ear", "right_ear")) + 0.5 * (
        (p["left_foot_index"] - p["left_heel"]) + (p["right_foot_index"] - p["right_heel"])
    )
    segment = np.full(len(ml), -1)
    prev, seg = None, -1
    cos_max = np.cos(np.radians(max_step_deg))
    for i in range(len(ml)):
        if not np.isfinite(ml[i]).all():
            prev = None
            continue
        if prev is not None and ml[i] @ ml[prev] < 0:
            ml[i] = -ml[i]
        if prev is None or ml[i] @ ml[prev] < cos_max:
            seg += 1
        segment[i], prev = seg, i
    ant = np.cross(ml, up)  # left x up = anterior
    vote = np.sign(np.einsum("ij,ij->i", np.nan_to_num(ahead), np.nan_to_num(ant)))
    sign = np.ones(len(ml))
    for s in range(seg + 1):
        here = segment == s
        sign[here] = -1.0 if vote[here].sum() < 0 else 1.0
    return ml * sign[:, None], ant * sign[:, None]


def reference_yaw_deg(cam: CameraCalibration, xyz_m: np.ndarray) -> np.ndarray:
    """The subject's yaw relative to ``cam`` per frame, deg (module conventions)."""
    left, _ = body_axes(xyz_m)
    pelvis = _mid(xyz_m, "left_hip", "right_hip")
    away = pelvis - cam.centre_m
    away[:, 2] = 0.0
    away /= np.linalg.norm(away, axis=1, keepdims=True)
    down = np.array([0.0, 0.0, -1.0])
    right = np.cross(down, away)  # x = y cross z for x right, y down, z away
    return np.degrees(
        np.arctan2(
            np.einsum("ij,ij->i", left, away), left @ right.T if right.ndim == 1 else np.einsum("ij,ij->i", left, right)
        )
    )


def camera_pitch_deg(cam: CameraCalibration, xyz_m: np.ndarray) -> np.ndarray:
    """Angle of the camera-to-pelvis line below the horizontal per frame, deg."""
    d = _mid(xyz_m, "left_hip", "right_hip") - cam.centre_m
    return np.degrees(np.arctan2(-d[:, 2], np.linalg.norm(d[:, :2], axis=1)))


# -- the comparison --------------------------------------------------------------------------

CALIBRATION = FIXTURES / "calibration" / "pose2sim_Calib.qca.txt"
RECORDINGS: dict[str, tuple[str, ...]] = {
    "single": tuple(f"pose2sim_cam0{c}" for c in range(1, 5)),
    "multi": tuple(f"pose2sim_multi_cam0{c}" for c in range(1, 5)),
}
# The reference's own uncertainty where it is compared with view bands: a frame whose
# reference yaw lies within this of a band edge agrees with either neighbouring view.
BAND_TOLERANCE_DEG = 5.0
SIDE_ON_MARGIN_DEG = 20.0  # front/back is undefined this close to side-on
# Selective agreement counts frames whose view was called with at least this probability:
# the pipeline's own threshold for a recording (KinematicsPipeline.min_view_prob), fixed beforehand.
MIN_VIEW_PROB = 0.8


@functools.cache
def load_views(recording: str) -> list[LandmarkSeries]:
    """Each camera's landmarks from the project's own pipeline (default ONNX BlazePose), once per process."""
    from service.analysis import prepare_input

    return [prepare_input(FIXTURES / "video" / f"{name}.mp4").landmarks for name in RECORDINGS[recording]]


def identity_groups(
    cams: list[CameraCalibration], views: list[LandmarkSeries], max_error_px: float = 30.0
) -> list[list[int]]:
    """Cameras that follow the same person: two-view triangulations of the trunk that agree."""
    nv = len(views)
    same = np.eye(nv, dtype=bool)
    for a in range(nv):
        for b in range(a + 1, nv):
            tri = triangulate([cams[a], cams[b]], [views[a], views[b]], max_error_px=1e9)
            same[a, b] = same[b, a] = bool(np.nanmedian(tri.error_px[:, _CORE]) < max_error_px)
    groups: list[list[int]] = []
    for c in range(nv):
        for g in groups:
            if all(same[c, o] for o in g):
                g.append(c)
                break
        else:
            groups.append([c])
    return groups


@functools.cache
def triangulated(recording: str, cameras: tuple[int, ...]) -> Triangulation:
    """The triangulation of ``recording`` from the cameras at these indices, once per process."""
    cams = read_qca(CALIBRATION)
    views = load_views(recording)
    return triangulate([cams[c] for c in cameras], [views[c] for c in cameras])


def reference_angles(xyz_m: np.ndarray) -> dict[str, np.ndarray]:
    """Pelvic obliquity and hip flexion (deg) from triangulated landmarks, angles' conventions."""
    p = {name: xyz_m[:, i] for i, name in enumerate(BLAZEPOSE33.names)}
    left, _ = body_axes(xyz_m)
    hips = p["left_hip"] - p["right_hip"]
    sign = np.sign(np.einsum("ij,ij->i", hips, left))  # the triangulated labels against anatomy
    d = hips * sign[:, None]
    out = {"pelvic_obliquity_deg": np.degrees(np.arctan2(d[:, 2], np.linalg.norm(d[:, :2], axis=1)))}
    trunk = _mid(xyz_m, "left_shoulder", "right_shoulder") - _mid(xyz_m, "left_hip", "right_hip")
    trunk /= np.linalg.norm(trunk, axis=1, keepdims=True)
    ml = d / np.linalg.norm(d, axis=1, keepdims=True)
    ant = np.cross(ml, trunk)
    for side in ("left", "right"):
        anat_side = side if True else side
        hip, knee = (p[f"{anat_side}_{j}"] for j in ("hip", "knee"))
        thigh = knee - hip
        out[f"hip_flexion_{side}_deg"] = np.degrees(
            np.arctan2(np.einsum("ij,ij->i", thigh, ant), -np.einsum("ij,ij->i", thigh, trunk))
        )
    return out


@dataclass(frozen=True, eq=False)
class CameraReport:
    """One camera's single-view analysis against the multi-view reference."""

    name: str
    independent: bool  # reference built without this camera's own landmarks
    pitch_deg: float
    reference_yaw_deg: np.ndarray
    yaw_deg: np.ndarray
    yaw_sd_deg: np.ndarray
    reference_view: np.ndarray
    view: np.ndarray
    recording_view: str
    facing: str
    front_back_errors: int
    front_back_frames: int
    angles: dict[str, tuple[float, float, int]]  # name -> (bias, RMSE, frames), ungated single view - reference
    view_prob: np.ndarray | None = None  # (n,) probability of each frame's view (ViewEstimate.per_sample_view_prob)

    @property
    def confident(self) -> np.ndarray:
        """Per frame: the view was called with at least MIN_VIEW_PROB probability."""
        if self.view_prob is None:
            return np.zeros(len(self.view), dtype=bool)
        return np.nan_to_num(self.view_prob) >= MIN_VIEW_PROB

    @property
    def yaw_error_deg(self) -> np.ndarray:
        return np.abs(_wrap(self.yaw_deg - self.reference_yaw_deg))

    @property
    def agreement(self) -> np.ndarray:
        """Per frame: the view agrees with the reference (within BAND_TOLERANCE_DEG of an edge, either)."""
        ok = np.isfinite(self.reference_yaw_deg)
        lo = _band(fold(self.reference_yaw_deg - BAND_TOLERANCE_DEG * np.sign(self.reference_yaw_deg)))
        hi = _band(fold(self.reference_yaw_deg + BAND_TOLERANCE_DEG * np.sign(self.reference_yaw_deg)))
        return ok & ((self.view == self.reference_view) | (self.view == lo) | (self.view == hi))

    @property
    def strict_agreement(self) -> np.ndarray:
        """Per frame: the view is the reference's band, no tolerance."""
        return np.isfinite(self.reference_yaw_deg) & (self.view == self.reference_view)


def _wrap(a: np.ndarray) -> np.ndarray:
    return (a + 180.0) % 360.0 - 180.0


def fold(yaw_deg: np.ndarray) -> np.ndarray:
    from kinematics.view import fold_yaw

    return fold_yaw(yaw_deg)


def _band(folded: np.ndarray) -> np.ndarray:
    return np.where(folded <= 30.0, "frontal", np.where(folded >= 60.0, "sagittal", "oblique")).astype(object)


def analyse(recording: str, yaw_estimator: YawEstimator | None = None, gravity: bool = False) -> list[CameraReport]:
    """Every camera of ``recording`` against the reference from the cameras that follow the same person.

    ``yaw_estimator`` replaces the pipeline's own (for estimators tried and not shipped); with
    ``gravity`` it is given each camera's calibrated vertical (what a phone's accelerometer would
    report) as ``camera_up``.
    """
    from kinematics import angles as A
    from kinematics.pipeline import KinematicsPipeline

    def pipeline(cam: CameraCalibration) -> KinematicsPipeline:
        if yaw_estimator is None:
            return KinematicsPipeline()
        est = dataclasses.replace(yaw_estimator, camera_up=tuple(cam.r @ _UP)) if gravity else yaw_estimator
        return KinematicsPipeline(yaw_estimator=est)

    cams = read_qca(CALIBRATION)
    views = load_views(recording)
    groups = identity_groups(cams, views)
    reports = []
    for c, lm in enumerate(views):
        group = next(g for g in groups if c in g)
        if len(group) < 2:
            continue
        others = [o for o in group if o != c]
        use = others if len(others) >= 2 else group
        tri = triangulated(recording, tuple(use))
        ref = reference_yaw_deg(cams[c], tri.xyz_m)
        result = pipeline(cams[c]).run(lm)
        v = result.view
        assert v.per_sample_yaw_deg is not None and v.per_sample_yaw_sd_deg is not None
        assert v.per_sample_facing is not None
        defined = np.isfinite(ref) & (np.abs(np.abs(ref) - 90.0) >= SIDE_ON_MARGIN_DEG)
        called = np.isin(v.per_sample_facing, ["front", "back"]) & defined
        truth = np.where(np.abs(ref) < 90.0, "front", "back")
        plain = KinematicsPipeline()
        smoothed = plain._smooth(plain._mask(lm))[0]
        refs = reference_angles(tri.xyz_m)
        single = {
            "pelvic_obliquity_deg": A.pelvic_obliquity(smoothed).values,
            "hip_flexion_left_deg": A.hip_flexion(smoothed, side="left").values,
            "hip_flexion_right_deg": A.hip_flexion(smoothed, side="right").values,
        }
        agree = {}
        for name, s in single.items():
            d = s - refs[name]
            ok = np.isfinite(d)
            agree[name] = (float(np.mean(d[ok])), float(np.sqrt(np.mean(d[ok] ** 2))), int(ok.sum()))
        reports.append(
            CameraReport(
                name=RECORDINGS[recording][c],
                independent=use is others,
                pitch_deg=float(np.nanmedian(camera_pitch_deg(cams[c], tri.xyz_m))),
                reference_yaw_deg=ref,
                yaw_deg=v.per_sample_yaw_deg,
                yaw_sd_deg=v.per_sample_yaw_sd_deg,
                reference_view=_band(fold(ref)),
                view=v.per_sample.astype(object),
                recording_view=v.view,
                facing=v.facing,
                front_back_errors=int(np.sum(called & (v.per_sample_facing != truth))),
                front_back_frames=int(called.sum()),
                angles=agree,
                view_prob=v.per_sample_view_prob,
            )
        )
    return reports


def anatomy(recording: str) -> list[tuple[list[str], float, float, float]]:
    """Per person followed: (cameras, trunk length m, shoulder / trunk, hip / trunk), triangulated medians.

    The shipped width cues use 0.72 and 0.45 (``YawEstimator.shoulder_width_ratio`` and
    ``hip_width_ratio``); the trunk-pose option's ``trunk_width_ratio`` (1.054, shoulders plus
    hips) is the mean of the two-person clip's people, so that the single-person clip, on which
    the view is reported, plays no part in choosing it.
    """
    cams = read_qca(CALIBRATION)
    views = load_views(recording)
    out = []
    for group in identity_groups(cams, views):
        if len(group) < 2:
            continue
        xyz = triangulate([cams[c] for c in group], [views[c] for c in group]).xyz_m
        p = {n: xyz[:, BLAZEPOSE33.index(n)] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")}
        trunk = np.linalg.norm(
            _mid(xyz, "left_shoulder", "right_shoulder") - _mid(xyz, "left_hip", "right_hip"), axis=1
        )
        shoulders = np.linalg.norm(p["left_shoulder"] - p["right_shoulder"], axis=1)
        hips = np.linalg.norm(p["left_hip"] - p["right_hip"], axis=1)
        out.append(
            (
                [RECORDINGS[recording][c].removeprefix("pose2sim_") for c in group],
                float(np.nanmedian(trunk)),
                float(np.nanmedian(shoulders / trunk)),
                float(np.nanmedian(hips / trunk)),
            )
        )
    return out


# -- the document ----------------------------------------------------------------------------

_LABELS = {
    "pose2sim_cam01": "cam01",
    "pose2sim_cam02": "cam02",
    "pose2sim_cam03": "cam03",
    "pose2sim_cam04": "cam04",
    "pose2sim_multi_cam01": "multi cam01 (woman)",
    "pose2sim_multi_cam02": "multi cam02 (woman)",
    "pose2sim_multi_cam03": "multi cam03 (man)",
    "pose2sim_multi_cam04": "multi cam04 (man)",
}


def _bias_rmse(v: tuple[float, float, int]) -> str:
    return f"{v[0]:+.1f}/{v[1]:.1f}"


def _selective(sure: np.ndarray, agree: np.ndarray) -> str:
    return f"{_pct(sure)}, {_pct(agree[sure]) if sure.any() else '-'}"


def _pct(flags: np.ndarray) -> str:
    return f"{100.0 * np.mean(flags):.0f} %"


def render_table(single: list[CameraReport], multi: list[CameraReport]) -> str:
    """The comparison table of docs/validation.md, computed."""
    lines = [
        (
            "| camera | own view excluded | ref. yaw (median) | camera pitch | yaw error median | p90 "
            "| reported yaw SD | front/back wrong | view agreement | recording view, facing "
            "| obliquity bias/RMSE | hip flexion L bias/RMSE | R | sure frames: share, agreement |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def row(r: CameraReport) -> str:
        a = r.angles
        return (
            f"| {_LABELS.get(r.name, r.name)} | {'yes' if r.independent else 'no'} "
            f"| {np.nanmedian(r.reference_yaw_deg):.0f} | {r.pitch_deg:.0f} "
            f"| {np.nanmedian(r.yaw_error_deg):.1f} | {np.nanpercentile(r.yaw_error_deg, 90):.1f} "
            f"| {np.nanmedian(r.yaw_sd_deg):.1f} | {r.front_back_errors}/{r.front_back_frames} "
            f"| {_pct(r.agreement)} ({_pct(r.strict_agreement)}) | {r.recording_view}, {r.facing} "
            f"| {_bias_rmse(a['pelvic_obliquity_deg'])} | {_bias_rmse(a['hip_flexion_left_deg'])} "
            f"| {_bias_rmse(a['hip_flexion_right_deg'])} | {_selective(r.confident, r.agreement)} |"
        )

    lines += [row(r) for r in single]
    err = np.concatenate([r.yaw_error_deg for r in single])
    lines.append(
        f"| **all four** | | | | **{np.nanmedian(err):.1f}** | **{np.nanpercentile(err, 90):.1f}** | "
        f"| **{sum(r.front_back_errors for r in single)}/{sum(r.front_back_frames for r in single)}** "
        f"| **{_pct(np.concatenate([r.agreement for r in single]))} "
        f"({_pct(np.concatenate([r.strict_agreement for r in single]))})** | | | | "
        f"| **{_selective(np.concatenate([r.confident for r in single]), np.concatenate([r.agreement for r in single]))}** |"
    )
    lines += [row(r) for r in multi]
    return "\n".join(lines)


def render_anatomy(people: dict[str, list[tuple[list[str], float, float, float]]]) -> str:
    lines = [
        "| clip | cameras | trunk length (m) | shoulder width / trunk | hip width / trunk |",
        "|---|---|---|---|---|",
    ]
    for recording, rows in people.items():
        for cams, trunk, shoulders, hips in rows:
            lines.append(f"| {recording} | {', '.join(cams)} | {trunk:.3f} | {shoulders:.3f} | {hips:.3f} |")
    return "\n".join(lines)


def render_blocks(
    single: list[CameraReport],
    multi: list[CameraReport],
    people: dict[str, list[tuple[list[str], float, float, float]]] | None = None,
) -> dict[str, str]:
    """Every generated block of docs/validation.md this module owns."""
    people = people if people is not None else {r: anatomy(r) for r in RECORDINGS}
    return {
        "table": render_table(single, multi),
        "anatomy": render_anatomy(people),
        "ceiling": render_ceiling(single, analyse("single", TRUNK_POSE), analyse("single", TRUNK_POSE, gravity=True)),
    }


# -- what a single camera could reach, and what the reference can decide ---------------------------


def yaw_about_axis(ml: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Yaw (module conventions, deg) of the left-pointing line ``ml`` ``(n, 3)`` about ``axis``.

    Both in the camera frame (x right, y down, z away); ``axis`` ``(3,)`` or
    ``(n, 3)`` points up along the body. The optical axis, projected on the
    plane normal to ``axis``, is the viewing direction; yaw 0 when ``ml``
    points to image right, +90 when it points away from the camera.
    """
    v = np.broadcast_to(np.asarray(axis, dtype=float), ml.shape)
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    d = np.broadcast_to(np.array([0.0, 0.0, 1.0]), ml.shape)
    d = d - np.einsum("ij,ij->i", d, v)[:, None] * v
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    right = np.cross(-v, d)  # x = y cross z, with y down (-axis) and z away (d)
    return np.degrees(np.arctan2(np.einsum("ij,ij->i", ml, d), np.einsum("ij,ij->i", ml, right)))


def _band_agreement(ref: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """CameraReport.agreement for a bare yaw series."""
    ok = np.isfinite(ref) & np.isfinite(yaw)
    view = _band(fold(yaw))
    lo = _band(fold(ref - BAND_TOLERANCE_DEG * np.sign(ref)))
    hi = _band(fold(ref + BAND_TOLERANCE_DEG * np.sign(ref)))
    return np.where(np.isfinite(ref), ok & ((view == _band(fold(ref))) | (view == lo) | (view == hi)), False)


# The trunk-pose yaw (kinematics.facing._trunk_pose_cos), tried and not shipped (docs/validation.md).
TRUNK_POSE = YawEstimator(trunk_pose=True)


def ceilings(recording: str = "single") -> dict[str, list[np.ndarray]]:
    """Per camera, view agreement of yaws a single camera could at best compute.

    Each camera's reference (the other three views) is taken as the truth and
    moved into that camera's frame; then the yaw is read (a) by the pipeline
    from the reference's own landmarks reprojected into the camera (no
    BlazePose error left), (b) from the true 3D hip and shoulder lines about
    the trunk's own axis, (c) about the image's vertical (a level camera
    assumed; the real ones are pitched 12-20 deg and rolled up to 24 deg) and
    (d) about the true vertical (the calibrated pitch and roll). (b)-(d) need
    no model of widths at all: they bound what a perfect trunk pose reaches
    without knowing where *up* is.
    """
    from kinematics.pipeline import KinematicsPipeline
    from kinematics.series import BLAZEPOSE33 as S

    cams = read_qca(CALIBRATION)
    views = load_views(recording)
    keys = (
        "reprojected",
        "trunk pose, reprojected",
        "trunk pose with gravity, reprojected",
        "trunk axis",
        "image vertical",
        "true vertical",
    )
    out: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for c in range(len(cams)):
        tri = triangulated(recording, tuple(o for o in range(len(cams)) if o != c))
        ref = reference_yaw_deg(cams[c], tri.xyz_m)
        lm = views[c]
        n = len(ref)
        uv = project(cams[c], tri.xyz_m) / np.asarray(lm.image_size_wh, dtype=float)
        xyz = np.concatenate([uv, np.zeros(uv.shape[:-1] + (1,))], axis=-1)
        seen = np.isfinite(xyz).all(axis=-1)
        reprojected = LandmarkSeries(
            lm.t_s[:n], np.where(seen[..., None], xyz, np.nan), seen.astype(float), image_size_wh=lm.image_size_wh
        )
        yaw = KinematicsPipeline().run(reprojected).view.per_sample_yaw_deg
        trunk_pose = KinematicsPipeline(yaw_estimator=TRUNK_POSE).run(reprojected).view.per_sample_yaw_deg
        with_up = dataclasses.replace(TRUNK_POSE, camera_up=tuple(cams[c].r @ _UP))
        gravity = KinematicsPipeline(yaw_estimator=with_up).run(reprojected).view.per_sample_yaw_deg
        assert yaw is not None and trunk_pose is not None and gravity is not None
        cam_xyz = tri.xyz_m @ cams[c].r.T + cams[c].t
        p = {k: cam_xyz[:, S.index(k)] for k in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")}
        ml = (p["left_shoulder"] - p["right_shoulder"]) + (p["left_hip"] - p["right_hip"])
        trunk = 0.5 * (p["left_shoulder"] + p["right_shoulder"] - p["left_hip"] - p["right_hip"])
        up = cams[c].r @ _UP
        for key, y in (
            ("reprojected", yaw),
            ("trunk pose, reprojected", trunk_pose),
            ("trunk pose with gravity, reprojected", gravity),
            ("trunk axis", yaw_about_axis(ml, trunk)),
            ("image vertical", yaw_about_axis(ml, np.array([0.0, -1.0, 0.0]))),
            ("true vertical", yaw_about_axis(ml, up)),
        ):
            out[key].append(_band_agreement(ref, y))
    return out


def reference_spread(recording: str = "single") -> list[tuple[np.ndarray, np.ndarray]]:
    """Per camera: its reference yaw and the spread of the folded yaw over every three-camera reference, deg.

    The four three-camera triangulations (each leaving one camera out) give
    four readings of the subject's yaw relative to each camera; their standard
    deviation (folded, 0-90 deg) is the reference's own uncertainty where view
    bands are concerned.
    """
    cams = read_qca(CALIBRATION)
    nv = len(cams)
    subsets = [tuple(o for o in range(nv) if o != left_out) for left_out in range(nv)]
    out = []
    for c in range(nv):
        ref = reference_yaw_deg(cams[c], triangulated(recording, subsets[c]).xyz_m)
        folded = np.stack([fold(reference_yaw_deg(cams[c], triangulated(recording, s).xyz_m)) for s in subsets])
        out.append((ref, np.nanstd(folded, axis=0)))
    return out


def edge_distance_deg(ref: np.ndarray) -> np.ndarray:
    """How far each reference yaw lies from the nearest view band edge (30 or 60 deg folded), deg."""
    f = fold(ref)
    return np.minimum(np.abs(f - 30.0), np.abs(f - 60.0))


def _summary(reports: list[CameraReport]) -> str:
    agree = np.concatenate([r.agreement for r in reports])
    strict = np.concatenate([r.strict_agreement for r in reports])
    err = np.concatenate([r.yaw_error_deg for r in reports])
    return f"{_pct(agree)} ({_pct(strict)}), {np.nanmedian(err):.1f}"


def render_ceiling(
    single: list[CameraReport], trunk_pose: list[CameraReport], gravity: list[CameraReport], recording: str = "single"
) -> str:
    """The block of docs/validation.md on what is reachable and what the reference decides.

    ``trunk_pose``: :func:`analyse` with :data:`TRUNK_POSE` (not shipped); ``gravity``: the same
    given each camera's calibrated vertical.
    """
    ceil = ceilings(recording)
    spread = reference_spread(recording)
    lines = [
        (
            "| camera | trunk pose (not shipped): agreement, yaw error median "
            "| same, given the camera's vertical "
            "| reprojected reference through the pipeline | same, trunk pose | same, trunk pose with the vertical "
            "| true trunk about its own axis "
            "| about the image vertical | about the true vertical | reference spread (median SD) "
            "| frames > 1 SD / > 2 SD from a band edge | pipeline agreement there (1 SD / 2 SD) |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = []
    for i, r in enumerate(single):
        ref, sd = spread[i]
        margin = edge_distance_deg(ref)
        one, two = margin > sd, margin > 2.0 * sd
        rows.append((one, two, r.agreement))
        lines.append(
            f"| {_LABELS.get(r.name, r.name)} | {_summary([trunk_pose[i]])} | {_summary([gravity[i]])} | "
            + " | ".join(_pct(ceil[k][i]) for k in ceil)
            + f" | {np.nanmedian(sd):.1f} | {_pct(one)} / {_pct(two)} "
            f"| {_pct(r.agreement[one])} / {_pct(r.agreement[two])} |"
        )
    one = np.concatenate([a for a, _, _ in rows])
    two = np.concatenate([b for _, b, _ in rows])
    agree = np.concatenate([g for _, _, g in rows])
    sd_all = np.concatenate([sd for _, sd in spread])
    lines.append(
        f"| **all four** | **{_summary(trunk_pose)}** | **{_summary(gravity)}** | "
        + " | ".join(f"**{_pct(np.concatenate(ceil[k]))}**" for k in ceil)
        + f" | **{np.nanmedian(sd_all):.1f}** | **{_pct(one)} / {_pct(two)}** "
        f"| **{_pct(agree[one])} / {_pct(agree[two])}** |"
    )
    return "\n".join(lines)


BLOCKS = GeneratedBlocks("multiview", "bench/validate_multiview.py")
extract_block = BLOCKS.extract
write_blocks = BLOCKS.write

"""KERAAL: BlazePose pelvis and trunk angles against an optical motion-capture reference.

Everything ``docs/validation.md`` states about the KERAAL comparison is computed
here; ``bench/validate_keraal.py`` prints it and ``tests/validation/test_keraal.py``
checks that the document still says what this code measures.

Data (``tests/fixtures/landmarks/keraal``, BSD-2-Clause, github
``nguyensmai/KeraalDataset``): one healthy participant, trial 1, three exercises,
each recorded at the same time by a video camera (BlazePose landmarks computed by
the dataset authors, one JSON per trial) and by an optical tracker (17 rigid
targets, position + orientation per row, one text file per trial). Neither file
carries timestamps.

Conventions used throughout:

* Anatomical global frame ``G``: ``x`` anterior (the way the subject faces),
  ``y`` the subject's left, ``z`` up; right-handed (``left x up = anterior``).
* Segment angles: intrinsic Z-X-Y (rotation about the vertical, then obliquity
  about the rotated anterior axis, then tilt about the segment's mediolateral
  axis), the pelvic sequence of Baker (Gait & Posture 2001). With this order
  the obliquity is exactly the elevation of the segment's mediolateral axis
  above the horizontal, which is what a camera sees of the hip line.
* Signs follow :mod:`kinematics.angles`: obliquity > 0 when the LEFT side is
  higher; yaw > 0 when the subject turns toward their left (counter-clockwise
  seen from above); lateral trunk lean > 0 toward the subject's left.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from kinematics.angles import body_yaw
from kinematics.errors import LandmarkFormatError
from kinematics.facing import YawEstimator
from kinematics.filtering import LowPass
from kinematics.pipeline import KinematicsPipeline
from kinematics.series import BLAZEPOSE33, LandmarkSeries
from validation.docblocks import DOC_PATH, GeneratedBlocks, compare_block

__all__ = [
    "DATA_DIR",
    "BLOCKS",
    "DOC_PATH",
    "EXERCISES",
    "Agreement",
    "Alignment",
    "ExerciseReport",
    "GlobalAxes",
    "KeraalFormatError",
    "MirrorVariant",
    "TargetAxes",
    "ViconTrial",
    "agreement",
    "align",
    "alignment_channels",
    "analyse",
    "analyse_all",
    "compare_block",
    "drift_check",
    "extract_block",
    "hip_line_yaw",
    "infer_global_axes",
    "infer_target_axes",
    "load_blazepose",
    "load_vicon",
    "mirror_variants",
    "quaternion_convention_check",
    "rate_scan",
    "render_blocks",
    "segment_angles",
    "trunk_lateral_lean",
    "write_blocks",
]

DATA_DIR = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "landmarks" / "keraal"
EXERCISES = ("CTK", "ELK", "RTK")
EXERCISE_NAMES = {"CTK": "hiding face", "ELK": "flank stretch", "RTK": "torso rotation"}

IMAGE_SIZE_WH = (960, 544)  # KERAAL group 3 videos
VIDEO_FPS = 30.0  # nominal; see docs/validation.md, "Sampling rates"
RATE_RATIO = 2.0  # optical rows per video frame (measured by rate_scan, fixed here)

VICON_TARGETS = (
    "right_forearm",
    "left_forearm",
    "right_arm",
    "left_arm",
    "chest",
    "right_thigh",
    "left_thigh",
    "right_shoulder",
    "left_shoulder",
    "right_hand",
    "left_hand",
    "right_foot",
    "left_foot",
    "pelvis",
    "head",
    "right_tibia",
    "left_tibia",
)
_VICON_VALUES = 7  # x y z (mm), quaternion x y z w

# KERAAL's BlazePose names are MediaPipe's with a capital first letter ("Left_eye_inner").
KERAAL_BP_NAMES = tuple(n[0].upper() + n[1:] for n in BLAZEPOSE33.names)


class KeraalFormatError(LandmarkFormatError):
    """A KERAAL file that does not follow the dataset's documented format."""


def bp_path(exercise: str) -> Path:
    return DATA_DIR / f"G3-BP-{exercise}-P1T1-Unknown-C-0.json"


def vicon_path(exercise: str) -> Path:
    return DATA_DIR / f"G3-Vicon-{exercise}-P1T1-Unknown-C-0.txt"


# -- loaders -------------------------------------------------------------------


def _swap_side(name: str) -> str:
    """``left_hip`` <-> ``right_hip``, ``mouth_left`` <-> ``mouth_right``; others unchanged."""
    for a, b in (("left", "right"), ("right", "left")):
        if name.startswith(a + "_"):
            return b + name[len(a) :]
        if name.endswith("_" + a):
            return name[: -len(a)] + b
    return name


def load_blazepose(
    path: str | Path, *, fps: float = VIDEO_FPS, flip_x: bool = True, swap_sides: bool = True
) -> LandmarkSeries:
    """Read a KERAAL BlazePose JSON into a :class:`LandmarkSeries`.

    Parameters
    ----------
    path
        ``{"positions": {"1.0": {"Nose": [x, y, z], ...}, ...}}`` with the 33
        MediaPipe landmarks per frame, x and y normalised to the 960 x 544
        image, z MediaPipe's relative depth.
    fps
        Frame rate of the video; the file has no timestamps. Frame keys count
        the frames in which a pose was found, so ``t = (key - 1) / fps``
        assumes that no frame was skipped (checked by the alignment, which
        finds one constant rate and lag for the whole trial).
    flip_x, swap_sides
        The dataset ran MediaPipe on horizontally flipped frames. ``flip_x``
        restores the camera's image (``x -> 1 - x``); ``swap_sides`` swaps the
        left/right labels so that "left" is the subject's anatomical left.
        Both are needed (see docs/validation.md, "Undoing the mirror"); the
        flags exist to show what each alone does.

    Notes
    -----
    The files hold no visibility; every landmark gets visibility 1, so the
    pipeline's visibility mask is inert (its out-of-image mask still works).
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise KeraalFormatError(f"{path.name}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise KeraalFormatError(f"{path.name}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("positions"), dict):
        raise KeraalFormatError(f'{path.name}: expected an object {{"positions": {{frame: {{name: [x, y, z]}}}}}}')
    frames = doc["positions"]
    if not frames:
        raise KeraalFormatError(f"{path.name}: no frames under 'positions'")
    try:
        keys = sorted(frames, key=float)
        numbers = np.array([float(k) for k in keys])
    except ValueError:
        raise KeraalFormatError(f"{path.name}: frame keys must be numbers such as '1.0'") from None
    if not np.all(np.isfinite(numbers)) or np.any(np.diff(numbers) <= 0):
        raise KeraalFormatError(f"{path.name}: frame keys must be finite and distinct")
    expected = set(KERAAL_BP_NAMES)
    xyz = np.empty((len(keys), len(KERAAL_BP_NAMES), 3))
    for i, key in enumerate(keys):
        frame = frames[key]
        if not isinstance(frame, dict) or set(frame) != expected:
            got = set(frame) if isinstance(frame, dict) else set()
            raise KeraalFormatError(
                f"{path.name}: frame {key}: expected the 33 BlazePose landmarks; "
                f"missing {sorted(expected - got)[:5]}, unknown {sorted(got - expected)[:5]}"
            )
        for j, name in enumerate(KERAAL_BP_NAMES):
            value = frame[name]
            if (
                not isinstance(value, list)
                or len(value) != 3
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
                or not all(math.isfinite(v) for v in value)
            ):
                raise KeraalFormatError(f"{path.name}: frame {key}, {name}: expected [x, y, z] finite numbers")
            xyz[i, j] = value
    if flip_x:
        xyz[..., 0] = 1.0 - xyz[..., 0]
    if swap_sides:
        order = [BLAZEPOSE33.index(_swap_side(n)) for n in BLAZEPOSE33.names]
        xyz = xyz[:, order, :]
    return LandmarkSeries(
        t_s=(numbers - numbers[0]) / fps,
        xyz=xyz,
        visibility=np.ones(xyz.shape[:2]),
        schema=BLAZEPOSE33,
        space="image_norm",
        image_size_wh=IMAGE_SIZE_WH,
    )


@dataclass(frozen=True, eq=False)
class ViconTrial:
    """One optical recording: 17 rigid targets, one row per optical frame."""

    name: str
    positions_mm: np.ndarray  # (n, 17, 3) in the tracker's global frame
    quat_xyzw: np.ndarray  # (n, 17, 4) target-to-global rotation, scalar last

    def __len__(self) -> int:
        return int(self.positions_mm.shape[0])

    def position(self, target: str) -> np.ndarray:
        return self.positions_mm[:, VICON_TARGETS.index(target), :]

    def rotation(self, target: str) -> Rotation:
        return Rotation.from_quat(self.quat_xyzw[:, VICON_TARGETS.index(target), :])


def load_vicon(path: str | Path) -> ViconTrial:
    """Read a KERAAL optical file: whitespace-separated rows of 17 x 7 numbers.

    Each target contributes ``x y z`` (mm) then the quaternion ``x y z w`` of
    its orientation (the dataset's documented order; scalar last is also what
    makes the chest target's rotation agree with its shoulder line, see
    :func:`quaternion_convention_check`).
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeraalFormatError(f"{path.name}: cannot read: {exc}") from None
    width = len(VICON_TARGETS) * _VICON_VALUES
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            values = [float(v) for v in line.split()]
        except ValueError:
            raise KeraalFormatError(f"{path.name}: line {number}: not all values are numbers") from None
        if len(values) != width:
            raise KeraalFormatError(
                f"{path.name}: line {number}: expected {width} values (17 targets x position + quaternion), "
                f"got {len(values)}"
            )
        rows.append(values)
    if len(rows) < 2:
        raise KeraalFormatError(f"{path.name}: expected at least 2 rows, got {len(rows)}")
    data = np.array(rows).reshape(len(rows), len(VICON_TARGETS), _VICON_VALUES)
    if not np.all(np.isfinite(data)):
        raise KeraalFormatError(f"{path.name}: non-finite values")
    quat = data[..., 3:]
    norm = np.linalg.norm(quat, axis=-1)
    lost = norm == 0  # a target the tracker did not see (all zeros)
    if np.any(~lost & (np.abs(norm - 1) > 0.01)):
        bad = np.argwhere(~lost & (np.abs(norm - 1) > 0.01))[0]
        raise KeraalFormatError(
            f"{path.name}: row {bad[0] + 1}, target {VICON_TARGETS[bad[1]]}: quaternion norm "
            f"{norm[bad[0], bad[1]]:.3f}, expected 1"
        )
    if np.any(lost):
        raise KeraalFormatError(f"{path.name}: {int(lost.sum())} target samples are all zeros (lost tracking)")
    return ViconTrial(path.name, data[..., :3].copy(), quat / norm[..., None])


# -- axes ----------------------------------------------------------------------


@dataclass(frozen=True)
class GlobalAxes:
    """The anatomical directions as unit vectors in the tracker's global frame."""

    anterior: np.ndarray
    left: np.ndarray
    up: np.ndarray
    evidence: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def matrix(self) -> np.ndarray:
        """``(3, 3)`` rows anterior, left, up: tracker coordinates -> ``G``."""
        return np.stack([self.anterior, self.left, self.up])

    def describe(self) -> str:
        axes = []
        for label, v in (("anterior", self.anterior), ("left", self.left), ("up", self.up)):
            k = int(np.argmax(np.abs(v)))
            axes.append(f"{label} = {'+' if v[k] > 0 else '-'}{'xyz'[k]}")
        return ", ".join(axes)


def _snap(v: np.ndarray) -> np.ndarray:
    """The signed coordinate axis nearest to ``v``."""
    out = np.zeros(3)
    k = int(np.argmax(np.abs(v)))
    out[k] = np.sign(v[k])
    return out


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    c = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def infer_global_axes(trial: ViconTrial) -> GlobalAxes:
    """Vertical and mediolateral axes of the tracker from where the targets are.

    ``up``: from the feet to the head (the head must be above the pelvis and
    the pelvis above the feet). ``left``: from right-side to left-side targets
    (thighs, tibias, feet, shoulders). Both are snapped to the nearest
    coordinate axis (a lab frame is set up level) and ``anterior = left x up``
    (a right-handed lab frame). The anterior direction is then checked
    independently: the thigh and tibia targets must lie in front of the pelvis
    target.
    """
    mean = {t: trial.position(t).mean(axis=0) for t in VICON_TARGETS}
    feet = 0.5 * (mean["left_foot"] + mean["right_foot"])
    up_raw = mean["head"] - feet
    up = _snap(up_raw)
    if not (np.dot(mean["head"] - mean["pelvis"], up) > 0 and np.dot(mean["pelvis"] - feet, up) > 0):
        raise KeraalFormatError(f"{trial.name}: head, pelvis and feet are not stacked along one axis")
    left_raw = sum(mean[f"left_{p}"] - mean[f"right_{p}"] for p in ("thigh", "tibia", "foot", "shoulder"))
    left = _snap(left_raw)
    if abs(np.dot(left, up)) > 0:
        raise KeraalFormatError(f"{trial.name}: left-right and vertical directions fall on the same axis")
    anterior = np.cross(left, up)
    legs_forward = 0.5 * (mean["left_thigh"] + mean["right_thigh"]) - mean["pelvis"]
    shins_forward = 0.5 * (mean["left_tibia"] + mean["right_tibia"]) - mean["pelvis"]
    if np.dot(legs_forward, anterior) <= 0 or np.dot(shins_forward, anterior) <= 0:
        raise KeraalFormatError(f"{trial.name}: thigh/tibia targets are not in front of the pelvis target")
    evidence = {
        "up_tilt_deg": _angle_deg(up_raw, up),
        "left_tilt_deg": _angle_deg(left_raw, left),
        "head_above_feet_mm": float(np.dot(up_raw, up)),
        "pelvis_above_feet_mm": float(np.dot(mean["pelvis"] - feet, up)),
        "thighs_ahead_of_pelvis_mm": float(np.dot(legs_forward, anterior)),
        "thighs_above_pelvis_mm": float(np.dot(legs_forward, up)),
        "left_right_thigh_mm": float(np.dot(mean["left_thigh"] - mean["right_thigh"], left)),
    }
    return GlobalAxes(anterior, left, up, evidence)


@dataclass(frozen=True)
class TargetAxes:
    """Which of a target's own axes point anterior, left and up (in neutral)."""

    target: str
    local: np.ndarray  # (3, 3) columns: anterior, left, up in target coordinates
    offset_deg: dict[str, float]  # mean angle between each snapped axis and the anatomical one

    def describe(self) -> str:
        parts = []
        for label, col in zip(("anterior", "left", "up"), self.local.T, strict=True):
            k = int(np.argmax(np.abs(col)))
            parts.append(f"{label} = {'+' if col[k] > 0 else '-'}{'xyz'[k]}")
        return ", ".join(parts)


def infer_target_axes(trial: ViconTrial, target: str, axes: GlobalAxes) -> TargetAxes:
    """Map a rigid target's local axes to anatomical ones from the data.

    Each anatomical direction of ``G`` is expressed in the target's frame at
    every row and averaged; the nearest signed local axis is taken. The
    remaining angle is the target's mounting offset (plus the mean posture),
    which the baseline-referenced comparison removes.
    """
    rot = trial.rotation(target)
    local = np.empty((3, 3))
    offset = {}
    for col, (label, g) in enumerate((("anterior", axes.anterior), ("left", axes.left), ("up", axes.up))):
        mean_local = rot.inv().apply(g).mean(axis=0)
        local[:, col] = _snap(mean_local)
        offset[label] = _angle_deg(mean_local, local[:, col])
    if not np.isclose(np.linalg.det(local), 1.0):
        raise KeraalFormatError(f"{trial.name}: {target} axes do not form a right-handed frame")
    return TargetAxes(target, local, offset)


def segment_angles(trial: ViconTrial, target: TargetAxes, axes: GlobalAxes) -> dict[str, np.ndarray]:
    """Yaw, obliquity and tilt (deg) of a target's anatomical frame in ``G``.

    ``R = axes.matrix @ R_target @ target.local`` has the segment's anterior,
    left and up axes as columns in ``G``; it is decomposed as
    ``Rz(yaw) Rx(obliquity) Ry(tilt)`` (intrinsic Z-X-Y). Yaw > 0 turning
    toward the subject's left, obliquity > 0 left side up, tilt > 0 top of the
    segment forward (anterior tilt for the pelvis).
    """
    m = axes.matrix @ trial.rotation(target.target).as_matrix() @ target.local
    yaw, obliquity, tilt = Rotation.from_matrix(m).as_euler("ZXY", degrees=True).T
    return {"yaw": yaw, "obliquity": obliquity, "tilt": tilt}


def _obliquity_yxz(trial: ViconTrial, target: TargetAxes, axes: GlobalAxes) -> np.ndarray:
    """Obliquity (deg) with the tilt-first sequence Y-X-Z, to show how much the sequence matters."""
    m = axes.matrix @ trial.rotation(target.target).as_matrix() @ target.local
    return Rotation.from_matrix(m).as_euler("YXZ", degrees=True)[:, 1]


def trunk_lateral_lean(trial: ViconTrial, axes: GlobalAxes) -> np.ndarray:
    """Lean (deg) of the line from the pelvis target to the mid-shoulder targets, > 0 toward the left.

    The positional analogue of :func:`kinematics.angles.trunk_lean` (frontal):
    a line through two points, against the vertical, projected on the
    frontal plane of ``G``.
    """
    d = 0.5 * (trial.position("left_shoulder") + trial.position("right_shoulder")) - trial.position("pelvis")
    return np.degrees(np.arctan2(d @ axes.left, d @ axes.up))


def quaternion_convention_check(trial: ViconTrial, axes: GlobalAxes) -> dict[str, float]:
    """Correlation of the chest target's yaw with the yaw of its shoulder-target line.

    The chest target's mediolateral axis is taken from its quaternion under
    three readings: as documented (``x y z w``, target-to-global), its inverse
    (global-to-target), and scalar-first. Only the reading that tracks the
    independently measured shoulder line is the right one.
    """
    sh = trial.position("left_shoulder") - trial.position("right_shoulder")
    ref = np.degrees(np.arctan2(-(sh @ axes.anterior), sh @ axes.left))
    q = trial.quat_xyzw[:, VICON_TARGETS.index("chest"), :]
    readings = {
        "xyzw": Rotation.from_quat(q),
        "xyzw_inverse": Rotation.from_quat(q).inv(),
        "wxyz": Rotation.from_quat(q[:, [1, 2, 3, 0]]),
    }
    out = {}
    for label, rot in readings.items():
        m = rot.as_matrix()
        # the local axis closest to the subject's left, at the first row
        k = int(np.argmax(np.abs(m[0].T @ axes.left)))
        ml = m[:, :, k] * np.sign(m[0, :, k] @ axes.left)
        yaw = np.degrees(np.arctan2(-(ml @ axes.anterior), ml @ axes.left))
        out[label] = float(np.corrcoef(yaw, ref)[0, 1])
    return out


# -- time alignment ------------------------------------------------------------


def alignment_channels(
    lm: LandmarkSeries, trial: ViconTrial, axes: GlobalAxes
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Movement signals seen by both systems: ``name -> (video, optical)``.

    None of them is a pelvis angle, so the alignment does not favour the
    quantities under test. Video in pixels (unmirrored image, x right, y
    down); optical in mm along ``G``. With the subject facing the camera the
    image's x axis points to the subject's left and its y axis down.
    """
    px = lm.metric_xyz()

    def bp(name: str) -> np.ndarray:
        return px[:, lm.schema.index(name), :]

    sh_mid_bp = 0.5 * (bp("left_shoulder") + bp("right_shoulder"))
    sh_mid_v = 0.5 * (trial.position("left_shoulder") + trial.position("right_shoulder"))
    out = {
        "left_hand_height": (-bp("left_wrist")[:, 1], trial.position("left_hand") @ axes.up),
        "right_hand_height": (-bp("right_wrist")[:, 1], trial.position("right_hand") @ axes.up),
        "trunk_lateral": (sh_mid_bp[:, 0], sh_mid_v @ axes.left),
        "head_lateral": (bp("nose")[:, 0], trial.position("head") @ axes.left),
    }
    # Other skeletons (validation/keraal_sources.py): a joint the source lacks gives no channel,
    # and a joint it missed in some frames is bridged linearly (the correlation needs every sample).
    for name, (video, optical) in list(out.items()):
        ok = np.isfinite(video)
        if not ok.any():
            del out[name]
        elif not ok.all():
            out[name] = (np.interp(lm.t_s, lm.t_s[ok], video[ok]), optical)
    return out


MIN_CHANNEL_SD_MM = 20.0  # optical channels that move less than this carry no timing
MIN_OVERLAP = 0.7  # fraction of video frames that must fall inside the optical recording


def _interp_many(t_query: np.ndarray, rate_hz: float, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of ``values`` (m, c), sampled at ``j / rate_hz``, at ``t_query`` (...)."""
    pos = t_query * rate_hz
    inside = (pos >= 0) & (pos <= values.shape[0] - 1)
    pos = np.clip(pos, 0, values.shape[0] - 1)
    j = np.minimum(np.floor(pos).astype(int), values.shape[0] - 2)
    w = (pos - j)[..., None]
    return values[j] * (1 - w) + values[j + 1] * w, inside


def _pearson_masked(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pearson r along axis -2 of ``(..., n, c)`` arrays, using samples where ``mask`` (..., n)."""
    m = mask[..., None].astype(float)
    k = m.sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        ma = (a * m).sum(axis=-2) / k
        mb = (b * m).sum(axis=-2) / k
        da, db = (a - ma[..., None, :]) * m, (b - mb[..., None, :]) * m
        return (da * db).sum(axis=-2) / np.sqrt((da**2).sum(axis=-2) * (db**2).sum(axis=-2))


@dataclass(frozen=True)
class Alignment:
    """``t_optical(row j) = lag_s + j / (fps * rate_ratio)`` on the video's clock."""

    rate_ratio: float
    lag_s: float
    r: float  # mean Pearson r over the channels used, at the optimum
    channels: dict[str, float]  # per-channel r at the optimum (all channels)
    used: tuple[str, ...]
    overlap: float  # fraction of video frames inside the optical recording
    fps: float = VIDEO_FPS

    @property
    def optical_rate_hz(self) -> float:
        return self.fps * self.rate_ratio

    def optical_at(self, t_s: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Optical ``values`` (rows, ...) interpolated at video times; NaN outside the recording."""
        flat = values.reshape(values.shape[0], -1)
        out, inside = _interp_many(np.asarray(t_s) - self.lag_s, self.optical_rate_hz, flat)
        out[~inside] = np.nan
        return out.reshape((len(t_s),) + values.shape[1:])


def _scan(
    t_s: np.ndarray, video: np.ndarray, optical: np.ndarray, ratios: np.ndarray, lags: np.ndarray, fps: float
) -> np.ndarray:
    """Per-channel r for every (ratio, lag): ``(len(ratios), len(lags), c)``; NaN where overlap is short."""
    out = np.full((len(ratios), len(lags), video.shape[1]), np.nan)
    for i, ratio in enumerate(ratios):
        tq = t_s[None, :] - lags[:, None]
        vals, inside = _interp_many(tq, fps * ratio, optical)
        r = _pearson_masked(np.broadcast_to(video, vals.shape), vals, inside)
        enough = inside.mean(axis=1) >= MIN_OVERLAP
        out[i, enough] = r[enough]
    return out


def align(
    lm: LandmarkSeries,
    trial: ViconTrial,
    axes: GlobalAxes,
    *,
    rate_ratio: float = RATE_RATIO,
    max_lag_s: float = 2.0,
    step_s: float = 1.0 / 300.0,
    fps: float = VIDEO_FPS,
) -> Alignment:
    """The lag that maximises the mean correlation of the alignment channels."""
    channels = alignment_channels(lm, trial, axes)
    names = tuple(channels)
    video = np.column_stack([channels[n][0] for n in names])
    optical = np.column_stack([channels[n][1] for n in names])
    used = tuple(n for n, sd in zip(names, optical.std(axis=0), strict=True) if sd >= MIN_CHANNEL_SD_MM)
    if not used:
        raise ValueError(f"{trial.name}: no movement large enough to align on")
    idx = [names.index(n) for n in used]
    lags = np.arange(-max_lag_s, max_lag_s + step_s / 2, step_s)
    r = _scan(lm.t_s, video, optical, np.array([rate_ratio]), lags, fps)[0]
    score = r[:, idx].mean(axis=1)
    best = int(np.nanargmax(score))
    lag = float(lags[best])
    _, inside = _interp_many(lm.t_s - lag, fps * rate_ratio, optical)
    return Alignment(
        rate_ratio=rate_ratio,
        lag_s=lag,
        r=float(score[best]),
        channels={n: float(r[best, k]) for k, n in enumerate(names)},
        used=used,
        overlap=float(inside.mean()),
        fps=fps,
    )


def rate_scan(
    lm: LandmarkSeries,
    trial: ViconTrial,
    axes: GlobalAxes,
    *,
    ratio_range: tuple[float, float] = (1.5, 2.5),
    max_lag_s: float = 2.0,
    fps: float = VIDEO_FPS,
) -> tuple[float, float, float]:
    """Best ``(rate_ratio, lag_s, r)`` when the rate ratio is free as well as the lag.

    Coarse grid (ratio step 0.02, lag step one video frame) over
    ``ratio_range`` x +-``max_lag_s``, then a fine grid (ratio step 0.001,
    lag step 1/300 s) around the coarse optimum.
    """
    channels = alignment_channels(lm, trial, axes)
    names = tuple(channels)
    video = np.column_stack([channels[n][0] for n in names])
    optical = np.column_stack([channels[n][1] for n in names])
    idx = [k for k, sd in enumerate(optical.std(axis=0)) if sd >= MIN_CHANNEL_SD_MM]

    def best(ratios: np.ndarray, lags: np.ndarray) -> tuple[float, float, float]:
        score = _scan(lm.t_s, video, optical, ratios, lags, fps)[..., idx].mean(axis=-1)
        i, j = np.unravel_index(int(np.nanargmax(score)), score.shape)
        return float(ratios[i]), float(lags[j]), float(score[i, j])

    ratio, lag, _ = best(
        np.arange(ratio_range[0], ratio_range[1] + 1e-9, 0.02),
        np.arange(-max_lag_s, max_lag_s + 1e-9, 1.0 / fps),
    )
    return best(
        np.round(np.arange(ratio - 0.02, ratio + 0.02 + 1e-9, 0.001), 3),
        lag + np.arange(-0.1, 0.1 + 1e-9, 1.0 / 300.0),
    )


def drift_check(lm: LandmarkSeries, trial: ViconTrial, axes: GlobalAxes, alignment: Alignment) -> tuple[float, float]:
    """Lag (s) found separately on the first and the second half of the video.

    Equal lags mean one rate and one offset hold for the whole trial, i.e. no
    video frame was dropped (a dropped frame would shift the second half).
    """
    n = len(lm)
    halves = []
    for sl in (slice(0, n // 2), slice(n // 2, n)):
        part = lm.replace(t_s=lm.t_s[sl], xyz=lm.xyz[sl], visibility=lm.visibility[sl])
        channels = alignment_channels(part, trial, axes)
        video = np.column_stack([channels[c][0] for c in alignment.used])
        optical = np.column_stack([channels[c][1] for c in alignment.used])
        lags = alignment.lag_s + np.arange(-0.5, 0.5 + 1e-9, 1.0 / 300.0)
        tq = part.t_s[None, :] - lags[:, None]
        vals, inside = _interp_many(tq, alignment.optical_rate_hz, optical)
        r = _pearson_masked(np.broadcast_to(video, vals.shape), vals, inside).mean(axis=1)
        r[inside.mean(axis=1) < 0.95] = np.nan
        halves.append(float(lags[int(np.nanargmax(r))]))
    return halves[0], halves[1]


# -- agreement -----------------------------------------------------------------


@dataclass(frozen=True)
class Agreement:
    """Video (test) against optical (reference) on the video's samples where both exist.

    Bland-Altman style: ``bias`` is the mean difference with no offset
    removed; ``sd_diff`` is the SD of the differences, i.e. the RMS error once
    each trial's own mean offset is removed (target mounting, camera roll,
    landmark-versus-target geometry all go into that offset).
    """

    n: int
    available: int  # video samples inside the optical recording
    ref_range: float  # max - min of the reference over the compared samples
    test_range: float
    bias: float  # mean(test - reference)
    sd_diff: float
    rmse: float  # no offsets removed
    r: float  # Pearson
    slope: float  # least-squares slope of test on reference (1 = same amplitude)

    @property
    def coverage(self) -> float:
        return self.n / self.available

    @property
    def loa(self) -> tuple[float, float]:
        """95 % limits of agreement, ``bias +- 1.96 sd_diff``."""
        return self.bias - 1.96 * self.sd_diff, self.bias + 1.96 * self.sd_diff


def agreement(test: np.ndarray, reference: np.ndarray) -> Agreement:
    in_ref = ~np.isnan(reference)
    both = in_ref & ~np.isnan(test)
    if both.sum() < 3:
        raise ValueError("fewer than 3 samples where both series exist")
    a, b = test[both], reference[both]
    d = a - b
    return Agreement(
        n=int(both.sum()),
        available=int(in_ref.sum()),
        ref_range=float(np.ptp(b)),
        test_range=float(np.ptp(a)),
        bias=float(d.mean()),
        sd_diff=float(d.std(ddof=1)),
        rmse=float(np.sqrt(np.mean(d**2))),
        r=float(np.corrcoef(a, b)[0, 1]),
        slope=float(np.cov(a, b)[0, 1] / np.var(b, ddof=1)),
    )


def hip_line_yaw(lm: LandmarkSeries, *, cutoff_hz: float = 6.0) -> np.ndarray:
    """Yaw (deg) of the hip line alone, ``atan2(dz, dx)`` as in :func:`kinematics.angles.body_yaw`.

    ``body_yaw`` sums the hip and the shoulder lines, so during a torso
    rotation it follows the trunk; this is the pelvis-only version, on hip
    landmarks low-passed like the pipeline's.
    """
    px = lm.metric_xyz()
    d = px[:, lm.schema.index("left_hip")] - px[:, lm.schema.index("right_hip")]
    d = LowPass(cutoff_hz=cutoff_hz).apply(lm.t_s, d)
    return np.degrees(np.arctan2(d[:, 2], d[:, 0]))


# The pipeline's per-frame view gate can be opened through its public parameters:
# every frame whose folded body yaw is below 89.9 deg counts as frontal.
GATE_OFF = {"frontal_max_deg": 89.9, "sagittal_min_deg": 90.0}

COMPARISONS: tuple[tuple[str, str, str, str, str], ...] = (
    # key, quantity, variant, video series, optical series
    ("obliquity", "Pelvic obliquity", "pipeline as shipped", "obliquity_shipped", "pelvis_obliquity"),
    ("obliquity_all", "Pelvic obliquity", "view gate off (all frames)", "obliquity_all", "pelvis_obliquity"),
    ("lean", "Trunk lateral lean", "pipeline as shipped", "lean_shipped", "trunk_lean"),
    ("lean_all", "Trunk lateral lean", "view gate off (all frames)", "lean_all", "trunk_lean"),
    ("yaw_body_pelvis", "Yaw", "body_yaw vs pelvis target", "body_yaw", "pelvis_yaw"),
    ("yaw_hips_pelvis", "Yaw", "hip-line yaw vs pelvis target", "hip_line_yaw", "pelvis_yaw"),
    ("yaw_body_chest", "Yaw", "body_yaw vs chest target", "body_yaw", "chest_yaw"),
    ("yaw_hips_chest", "Yaw", "hip-line yaw vs chest target", "hip_line_yaw", "chest_yaw"),
    ("yaw_fused_pelvis", "Yaw", "fused yaw (pipeline) vs pelvis target", "fused_yaw", "pelvis_yaw"),
    ("yaw_fused_chest", "Yaw", "fused yaw (pipeline) vs chest target", "fused_yaw", "chest_yaw"),
)
LAG_OFFSETS_S = (-0.2, 0.2)  # how sharp the alignment optimum is


@dataclass(frozen=True, eq=False)
class ExerciseReport:
    exercise: str
    n_video: int
    n_optical: int
    axes: GlobalAxes
    pelvis_axes: TargetAxes
    chest_axes: TargetAxes
    quaternion_check: dict[str, float]
    alignment: Alignment
    free_rate: tuple[float, float, float]  # (ratio, lag_s, r) with the rate ratio free
    drift: tuple[float, float]  # lag on the first / second half of the video
    lag_profile: dict[float, float]  # alignment r at the optimum + offset
    obliquity_only_lag_s: float  # the lag the obliquity alone would choose (gate off)
    view: str  # the pipeline's view of the whole recording
    frontal_share: float  # fraction of frames the pipeline keeps as frontal
    body_yaw_range: float
    sequence_sensitivity_deg: float  # max |obliquity Z-X-Y - obliquity Y-X-Z| of the optical pelvis
    reference: dict[str, np.ndarray]  # optical series on the video clock (NaN outside)
    optical_full: dict[str, np.ndarray]  # optical series at their own rate
    test: dict[str, np.ndarray]  # video series
    agreement: dict[str, Agreement]


def _smoothed(lm: LandmarkSeries) -> LandmarkSeries:
    """The landmarks the pipeline computes its angles from (masked, gap-filled, low-passed)."""
    pipeline = KinematicsPipeline()
    return pipeline._smooth(pipeline._mask(lm))[0]


def analyse(exercise: str) -> ExerciseReport:
    lm = load_blazepose(bp_path(exercise))
    trial = load_vicon(vicon_path(exercise))
    axes = infer_global_axes(trial)
    pelvis = infer_target_axes(trial, "pelvis", axes)
    chest = infer_target_axes(trial, "chest", axes)
    al = align(lm, trial, axes)

    shipped = KinematicsPipeline().run(lm)
    gate_off = KinematicsPipeline(**GATE_OFF).run(lm)
    p = segment_angles(trial, pelvis, axes)
    c = segment_angles(trial, chest, axes)
    optical = {
        "pelvis_obliquity": p["obliquity"],
        "pelvis_yaw": p["yaw"],
        "pelvis_tilt": p["tilt"],
        "chest_yaw": c["yaw"],
        "trunk_lean": trunk_lateral_lean(trial, axes),
    }
    reference = {k: al.optical_at(lm.t_s, v) for k, v in optical.items()}
    test = {
        "obliquity_shipped": np.array(shipped.series["pelvic_obliquity_deg"].values),
        "obliquity_all": np.array(gate_off.series["pelvic_obliquity_deg"].values),
        "lean_shipped": np.array(shipped.series["trunk_lean_lateral_deg"].values),
        "lean_all": np.array(gate_off.series["trunk_lean_lateral_deg"].values),
        # body_yaw: the depth-and-labels yaw of the smoothed landmarks (kinematics.angles.body_yaw);
        # fused_yaw: what the pipeline gates on (kinematics.facing: 2D widths, face, feet, depth signs)
        "body_yaw": body_yaw(_smoothed(lm)).values,
        "fused_yaw": np.array(shipped.yaw.values),
        "hip_line_yaw": hip_line_yaw(lm),
    }
    agree = {key: agreement(test[v], reference[o]) for key, _, _, v, o in COMPARISONS}

    # alignment diagnostics
    chans = alignment_channels(lm, trial, axes)
    video = np.column_stack([chans[n][0] for n in al.used])
    opt = np.column_stack([chans[n][1] for n in al.used])
    offsets = np.array(LAG_OFFSETS_S)
    prof = _scan(lm.t_s, video, opt, np.array([al.rate_ratio]), al.lag_s + offsets, al.fps)[0].mean(axis=1)
    lags = al.lag_s + np.arange(-1.0, 1.0 + 1e-9, 1.0 / 300.0)
    ob = _scan(
        lm.t_s,
        test["obliquity_all"][:, None],
        optical["pelvis_obliquity"][:, None],
        np.array([al.rate_ratio]),
        lags,
        al.fps,
    )[0, :, 0]

    return ExerciseReport(
        exercise=exercise,
        n_video=len(lm),
        n_optical=len(trial),
        axes=axes,
        pelvis_axes=pelvis,
        chest_axes=chest,
        quaternion_check=quaternion_convention_check(trial, axes),
        alignment=al,
        free_rate=rate_scan(lm, trial, axes),
        drift=drift_check(lm, trial, axes, al),
        lag_profile={float(o): float(v) for o, v in zip(offsets, prof, strict=True)},
        obliquity_only_lag_s=float(lags[int(np.nanargmax(ob))]),
        view=shipped.view.view,
        frontal_share=float(shipped.view.share.get("frontal", 0.0)),
        body_yaw_range=float(np.nanmax(test["body_yaw"]) - np.nanmin(test["body_yaw"])),
        sequence_sensitivity_deg=float(np.max(np.abs(p["obliquity"] - _obliquity_yxz(trial, pelvis, axes)))),
        reference=reference,
        optical_full=optical,
        test=test,
        agreement=agree,
    )


def analyse_all() -> dict[str, ExerciseReport]:
    return {ex: analyse(ex) for ex in EXERCISES}


@dataclass(frozen=True)
class MirrorVariant:
    flip_x: bool
    swap_sides: bool
    obliquity_r: float  # ELK, gate-off obliquity vs optical pelvis obliquity
    median_abs_body_yaw: float  # ELK, kinematics.angles.body_yaw (labels and depth); 0 facing the camera, 180 back
    labels_swapped_share: float  # ELK, frames whose labels contradict face and feet (kinematics.facing)
    left_wrist_vs_left_hand_r: float  # ELK, heights
    left_wrist_vs_right_hand_r: float
    yaw_vs_chest_r: float  # RTK, body_yaw (unwrapped) vs optical chest yaw


def mirror_variants() -> list[MirrorVariant]:
    """What each way of (not) undoing the mirror does.

    ELK (one arm up at a time, large pelvic obliquity) shows the sides and
    the obliquity sign; RTK (large trunk rotation) shows the sense of yaw.
    The time alignment is a property of the two recordings, so the one found
    with the correct reading is used for every variant.
    """
    setup = {}
    for ex in ("ELK", "RTK"):
        trial = load_vicon(vicon_path(ex))
        axes = infer_global_axes(trial)
        al = align(load_blazepose(bp_path(ex)), trial, axes)
        setup[ex] = (trial, axes, al)
    out = []
    for flip_x, swap in ((True, True), (False, False), (False, True), (True, False)):
        trial, axes, al = setup["ELK"]
        lm = load_blazepose(bp_path("ELK"), flip_x=flip_x, swap_sides=swap)
        res = KinematicsPipeline(**GATE_OFF).run(lm)
        pelvis = infer_target_axes(trial, "pelvis", axes)
        ref_ob = al.optical_at(lm.t_s, segment_angles(trial, pelvis, axes)["obliquity"])
        ob = res.series["pelvic_obliquity_deg"].values
        wrist = -lm.metric_xyz()[:, BLAZEPOSE33.index("left_wrist"), 1]
        lh = al.optical_at(lm.t_s, trial.position("left_hand") @ axes.up)
        rh = al.optical_at(lm.t_s, trial.position("right_hand") @ axes.up)
        ok = ~np.isnan(lh)
        both = ok & ~np.isnan(ob)

        trial_r, axes_r, al_r = setup["RTK"]
        lm_r = load_blazepose(bp_path("RTK"), flip_x=flip_x, swap_sides=swap)
        yaw = np.degrees(np.unwrap(np.radians(KinematicsPipeline(**GATE_OFF).run(lm_r).yaw.values)))
        chest = al_r.optical_at(
            lm_r.t_s, segment_angles(trial_r, infer_target_axes(trial_r, "chest", axes_r), axes_r)["yaw"]
        )
        ok_r = ~np.isnan(chest) & ~np.isnan(yaw)
        out.append(
            MirrorVariant(
                flip_x=flip_x,
                swap_sides=swap,
                obliquity_r=float(np.corrcoef(ob[both], ref_ob[both])[0, 1]),
                median_abs_body_yaw=float(np.nanmedian(np.abs(body_yaw(lm).values))),
                labels_swapped_share=float(np.mean(YawEstimator().estimate(lm).label_swap_prob[np.isfinite(ob)] > 0.5)),
                left_wrist_vs_left_hand_r=float(np.corrcoef(wrist[ok], lh[ok])[0, 1]),
                left_wrist_vs_right_hand_r=float(np.corrcoef(wrist[ok], rh[ok])[0, 1]),
                yaw_vs_chest_r=float(np.corrcoef(yaw[ok_r], chest[ok_r])[0, 1]),
            )
        )
    return out


# -- the figures in docs/validation.md -----------------------------------------

BLOCK_NAMES = ("axes", "alignment", "agreement", "mirror")


def _f(x: float, decimals: int = 2) -> str:
    """Fixed decimals, without a "-0.00"."""
    s = f"{x:.{decimals}f}"
    return s[1:] if s.startswith("-") and float(s) == 0 else s


def _axis_label(v: np.ndarray) -> str:
    k = int(np.argmax(np.abs(v)))
    return f"{'+' if v[k] > 0 else '-'}{'xyz'[k]}"


def render_blocks(reports: dict[str, ExerciseReport], mirror: list[MirrorVariant]) -> dict[str, str]:
    """The generated parts of docs/validation.md, by block name."""
    ex = list(reports)
    out: dict[str, str] = {}

    lines = [
        (
            "| Exercise | up | left | anterior (left x up) | head above feet (mm) | pelvis target above feet (mm) "
            "| thigh targets ahead of pelvis target (mm) | thigh targets above pelvis target (mm) "
            "| left minus right thigh target (mm) |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for e in ex:
        a = reports[e].axes
        ev = a.evidence
        lines.append(
            f"| {e} | {_axis_label(a.up)} | {_axis_label(a.left)} | {_axis_label(a.anterior)} "
            f"| {ev['head_above_feet_mm']:.0f} | {ev['pelvis_above_feet_mm']:.0f} | {ev['thighs_ahead_of_pelvis_mm']:.0f} "
            f"| {ev['thighs_above_pelvis_mm']:.0f} | {ev['left_right_thigh_mm']:.0f} |"
        )
    lines += [
        "",
        (
            "| Exercise | pelvis target: anterior, left, up | pelvis target offset (deg; anterior, left, up) "
            "| chest target: anterior, left, up | chest yaw vs shoulder line, r (x y z w / inverse / w first) "
            "| optical pelvis range (deg; obliquity, yaw, tilt) | obliquity, Z-X-Y minus Y-X-Z, max (deg) |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    for e in ex:
        r = reports[e]
        off = r.pelvis_axes.offset_deg
        q = r.quaternion_check
        full = r.optical_full
        rng = [float(np.ptp(full[k])) for k in ("pelvis_obliquity", "pelvis_yaw", "pelvis_tilt")]
        lines.append(
            f"| {e} | {r.pelvis_axes.describe()} | {_f(off['anterior'], 1)}, {_f(off['left'], 1)}, {_f(off['up'], 1)} "
            f"| {r.chest_axes.describe()} | {_f(q['xyzw'])} / {_f(q['xyzw_inverse'])} / {_f(q['wxyz'])} "
            f"| {_f(rng[0], 1)}, {_f(rng[1], 1)}, {_f(rng[2], 1)} | {_f(r.sequence_sensitivity_deg)} |"
        )
    out["axes"] = "\n".join(lines)

    lines = [
        (
            "| Exercise | video frames | optical rows | rows per frame | free fit: ratio, lag (s), r "
            "| fixed ratio 2: lag (s) | r at lag | r at lag -0.2 s / +0.2 s | lag on 1st / 2nd half (s) "
            "| lag chosen by obliquity alone (s) |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in ex:
        r = reports[e]
        al = r.alignment
        fr = r.free_rate
        lines.append(
            f"| {e} | {r.n_video} | {r.n_optical} | {_f(r.n_optical / r.n_video, 3)} "
            f"| {_f(fr[0], 3)}, {_f(fr[1], 3)}, {_f(fr[2], 3)} | {_f(al.lag_s, 3)} | {_f(al.r, 3)} "
            f"| {_f(r.lag_profile[LAG_OFFSETS_S[0]], 3)} / {_f(r.lag_profile[LAG_OFFSETS_S[1]], 3)} "
            f"| {_f(r.drift[0], 3)} / {_f(r.drift[1], 3)} | {_f(r.obliquity_only_lag_s, 3)} |"
        )
    lines += [
        "",
        (
            "Channel correlations at the chosen lag (channels used for the lag in bold; the others moved less "
            f"than {MIN_CHANNEL_SD_MM:.0f} mm SD in the optical data):"
        ),
        "",
    ]
    names = list(reports[ex[0]].alignment.channels)
    lines.append("| Exercise | " + " | ".join(n.replace("_", " ") for n in names) + " |")
    lines.append("|---|" + "---|" * len(names))
    for e in ex:
        al = reports[e].alignment
        cells = [f"**{_f(al.channels[n], 3)}**" if n in al.used else _f(al.channels[n], 3) for n in names]
        lines.append(f"| {e} | " + " | ".join(cells) + " |")
    out["alignment"] = "\n".join(lines)

    lines = []
    quantities: dict[str, list[tuple[str, str]]] = {}
    for key, quantity, variant, _, _ in COMPARISONS:
        quantities.setdefault(quantity, []).append((key, variant))
    for quantity, items in quantities.items():
        lines += [
            f"**{quantity}** (deg)",
            "",
            (
                "| Exercise | variant | frames compared | optical range | BlazePose range | bias | 95 % limits of agreement "
                "| RMSE | RMSE, offset removed | r | slope |"
            ),
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for e in ex:
            for key, variant in items:
                a = reports[e].agreement[key]
                lo, hi = a.loa
                lines.append(
                    f"| {e} | {variant} | {a.n} / {a.available} | {_f(a.ref_range)} | {_f(a.test_range)} "
                    f"| {_f(a.bias)} | {_f(lo)} to {_f(hi)} | {_f(a.rmse)} | {_f(a.sd_diff)} | {_f(a.r)} | {_f(a.slope)} |"
                )
        lines.append("")
    lines += [
        "| Exercise | pipeline view | frames kept as frontal | body_yaw range (deg) |",
        "|---|---|---|---|",
    ]
    for e in ex:
        r = reports[e]
        lines.append(f"| {e} | {r.view} | {_f(100 * r.frontal_share, 1)} % | {_f(r.body_yaw_range, 1)} |")
    out["agreement"] = "\n".join(lines)

    lines = [
        (
            "| x -> 1 - x | left/right labels swapped | ELK: obliquity r (gate off) | ELK: median abs(body_yaw) (deg) "
            "| ELK: frames read as mirrored (labels vs face and feet) "
            "| ELK: video left wrist height vs optical left hand, r | ELK: ... vs optical right hand, r "
            "| RTK: body yaw vs optical chest yaw, r |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for v in mirror:
        lines.append(
            f"| {'yes' if v.flip_x else 'no'} | {'yes' if v.swap_sides else 'no'} | {_f(v.obliquity_r)} "
            f"| {_f(v.median_abs_body_yaw, 1)} | {v.labels_swapped_share:.0%} "
            f"| {_f(v.left_wrist_vs_left_hand_r)} | {_f(v.left_wrist_vs_right_hand_r)} "
            f"| {_f(v.yaw_vs_chest_r)} |"
        )
    out["mirror"] = "\n".join(lines)
    return out


BLOCKS = GeneratedBlocks("keraal", "bench/validate_keraal.py")
extract_block = BLOCKS.extract
write_blocks = BLOCKS.write

"""Landmark schemas: the skeletons phones, pose models and depth cameras give, and what each can measure.

The kinematics core works on one vocabulary, the 33 names of
:data:`kinematics.series.BLAZEPOSE33` ("left_hip", "nose", "left_heel", ...).
Every other skeleton is laid onto those names by :meth:`Schema.to_core`: its
joints that mean the same point are copied, every core name it lacks is NaN
with visibility 0 and listed in the result's ``schema.missing``, and joints the
core has no use for (a neck, a spine joint) are dropped. Nothing downstream
indexes a landmark array by position; it asks the schema for a name.

Which joints mean the same point is a judgement made here once, against the
models' own documentation: a Kinect "FootLeft" sits on the forefoot, not at
the tip of the toes, so it is *not* taken as BlazePose's ``left_foot_index``;
a skeleton without heels or toes simply has none, and what needs them says so
(:func:`Schema.limits`). Hip joints of different models are all taken as the
hip: how far each source's hip line agrees with an optical pelvis is measured
in docs/validation.md (KERAAL), not assumed.

Axes and units per schema (``space`` is the landmark document's field):

* ``image``: x, y normalised to the upright image's width and height, origin
  top-left, y down (Apple Vision: origin bottom-left, y up; flipped here).
* ``world`` (BlazePose only): MediaPipe's world landmarks, metres, origin
  between the hips, y down.
* ``camera`` (depth cameras): metres in the depth camera's frame, as the
  device's SDK reports them (Kinect v2: x to the sensor's left, y up, z out of
  the sensor; Azure Kinect: x right, y down, z out of the sensor). Turned here
  into the core's camera axes: x image right, y down, z away from the camera.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from kinematics.errors import MotionscriptError
from kinematics.series import BLAZEPOSE33, LandmarkSchema, LandmarkSeries

__all__ = ["CORE", "SCHEMAS", "Limit", "Schema", "get_schema", "limits_of", "unsupported_series"]

CORE = BLAZEPOSE33  # the names the kinematics core looks landmarks up by

SpaceName = Literal["image", "world", "camera"]

# The KERAAL sources use the skeletons' own spellings; the registry keeps one name per joint
# (snake case, the subject's left/right) and records the vendor's spelling beside it.


@dataclass(frozen=True)
class Limit:
    """Something a schema cannot measure, because it lacks the landmarks it needs."""

    what: str  # e.g. "sagittal angles", "facing from the feet"
    needs: tuple[str, ...]  # core names, any of which missing is enough to lose it (see ``all_needed``)
    reason: str
    series: tuple[str, ...] = ()  # angle series (kinematics.pipeline.ANGLE_SERIES names) it withholds
    all_needed: bool = False  # True: lost only when every group in ``needs`` is absent (see Schema.limits)


@dataclass(frozen=True)
class Schema:
    """One skeleton: its joints in order, their meaning on the core's names, axes and units.

    Parameters
    ----------
    name
        The ``"schema"`` value of a landmark document.
    title
        What produces it.
    joints
        The skeleton's joints in its output order (snake case, the subject's
        left and right).
    vendor_names
        The producer's own spelling of each joint, same order (for the docs
        and the JSON Schema).
    core
        ``joint -> core name`` for every joint that is the same point as a
        core landmark; joints not listed are accepted and not used.
    dims
        Coordinates per joint in a document row (2: x, y; 3: x, y, z); an
        optional last value is the joint's confidence in [0, 1].
    spaces
        Which ``space`` values the document may declare.
    camera_axes
        For ``camera`` space: the sign applied to each SDK axis to reach the
        core's x right, y down, z away from the camera.
    image_y_up
        Image y grows upward (Apple Vision's normalised coordinates).
    """

    name: str
    title: str
    joints: tuple[str, ...]
    vendor_names: tuple[str, ...]
    core: Mapping[str, str]
    dims: Literal[2, 3]
    spaces: tuple[SpaceName, ...]
    axes: str
    camera_axes: tuple[float, float, float] = (1.0, 1.0, 1.0)
    image_y_up: bool = False
    notes: tuple[str, ...] = ()
    _layout: LandmarkSchema = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.vendor_names) != len(self.joints) or len(set(self.joints)) != len(self.joints):
            raise MotionscriptError(f"schema {self.name}: joints and vendor names must be distinct and match")
        for joint, core in self.core.items():
            if joint not in self.joints or core not in CORE.names:
                raise MotionscriptError(f"schema {self.name}: {joint} -> {core} is not a joint -> core name")
        present = set(self.core.values())
        layout = LandmarkSchema(self.name, CORE.names, frozenset(n for n in CORE.names if n not in present))
        object.__setattr__(self, "_layout", layout)

    def __len__(self) -> int:
        return len(self.joints)

    @property
    def layout(self) -> LandmarkSchema:
        """The core's names, with the ones this skeleton lacks marked ``missing``."""
        return self._layout

    @property
    def missing(self) -> frozenset[str]:
        return self._layout.missing

    def limits(self) -> list[Limit]:
        """What this skeleton cannot support, each with the reason naming the schema."""
        return limits_of(self._layout)

    def to_core(
        self,
        t_s: np.ndarray,
        xyz: np.ndarray,
        visibility: np.ndarray,
        space: SpaceName,
        image_size_wh: tuple[int, int] | None = None,
    ) -> LandmarkSeries:
        """Lay ``(n, len(joints), 3)`` coordinates in this schema onto the core's names.

        ``xyz`` holds the document's values (z 0 for two-dimensional
        skeletons); axes are turned into the core's conventions here.
        """
        xyz = np.asarray(xyz, dtype=float)
        visibility = np.asarray(visibility, dtype=float)
        n = xyz.shape[0]
        if xyz.shape != (n, len(self.joints), 3) or visibility.shape != (n, len(self.joints)):
            raise MotionscriptError(
                f"schema {self.name}: expected ({n}, {len(self.joints)}, 3) coordinates, got {xyz.shape}"
            )
        if space not in self.spaces:
            raise MotionscriptError(f"schema {self.name}: space must be one of {self.spaces}, got {space!r}")
        xyz = xyz.copy()
        if space == "image" and self.image_y_up:
            xyz[..., 1] = 1.0 - xyz[..., 1]
        if space == "camera":
            xyz *= np.asarray(self.camera_axes)
        out = np.full((n, len(CORE), 3), np.nan)
        vis = np.zeros((n, len(CORE)))
        src = [self.joints.index(j) for j in self.core]
        dst = CORE.indices(*self.core.values())
        out[:, dst] = xyz[:, src]
        vis[:, dst] = visibility[:, src]
        core_space = "image_norm" if space == "image" else "world_m"
        return LandmarkSeries(t_s, out, vis, self._layout, core_space, image_size_wh)  # type: ignore[arg-type]


def limits_of(layout: LandmarkSchema) -> list[Limit]:
    """What landmarks laid out as ``layout`` cannot support (none for a full BlazePose skeleton)."""
    out = []
    for lim in LIMITS:
        gone = [n in layout.missing for n in lim.needs]
        if all(gone) if lim.all_needed else any(gone):
            out.append(Limit(lim.what, lim.needs, lim.reason.format(schema=layout.name), lim.series, lim.all_needed))
    return out


def unsupported_series(layout: LandmarkSchema) -> dict[str, str]:
    """``angle series name -> reason`` for the series landmarks laid out as ``layout`` cannot give at all."""
    return {s: lim.reason for lim in limits_of(layout) for s in lim.series}


def _same(joints: tuple[str, ...]) -> dict[str, str]:
    return {j: j for j in joints if j in CORE.names}


_SIDE_FACING = ("nose", "left_ear", "right_ear")
_FEET = ("left_heel", "right_heel", "left_foot_index", "right_foot_index")

LIMITS: tuple[Limit, ...] = (
    Limit(
        "facing from the feet",
        _FEET,
        "{schema} has no heel or toe landmarks: which way the subject faces is told from the head alone, and "
        "nothing is measured from the foot itself (foot contacts are timed from the ankle, as for every schema)",
    ),
    Limit(
        "facing from the head",
        _SIDE_FACING,
        "{schema} has no nose or ears: which way the subject faces is told from the depth camera's 3D hip and "
        "shoulder lines (side-on angles are signed only while the body is turned at least 30 deg from the camera)",
    ),
    Limit(
        "hands",
        ("left_index", "right_index", "left_pinky", "right_pinky", "left_thumb", "right_thumb"),
        "{schema} has no finger landmarks: nothing is measured from the hands (none of the protocols needs them)",
    ),
)

_COCO17 = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)

_OPENPOSE18 = (
    "nose",
    "neck",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_hip",
    "right_knee",
    "right_ankle",
    "left_hip",
    "left_knee",
    "left_ankle",
    "right_eye",
    "left_eye",
    "right_ear",
    "left_ear",
)
_OPENPOSE18_VENDOR = (
    "Nose",
    "Neck",
    "RShoulder",
    "RElbow",
    "RWrist",
    "LShoulder",
    "LElbow",
    "LWrist",
    "RHip",
    "RKnee",
    "RAnkle",
    "LHip",
    "LKnee",
    "LAnkle",
    "REye",
    "LEye",
    "REar",
    "LEar",
)

_APPLE19 = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "neck",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "root",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
_APPLE19_VENDOR = (
    ".nose (head_joint)",
    ".leftEye (left_eye_joint)",
    ".rightEye (right_eye_joint)",
    ".leftEar (left_ear_joint)",
    ".rightEar (right_ear_joint)",
    ".neck (neck_1_joint)",
    ".leftShoulder (left_shoulder_1_joint)",
    ".rightShoulder (right_shoulder_1_joint)",
    ".leftElbow (left_forearm_joint)",
    ".rightElbow (right_forearm_joint)",
    ".leftWrist (left_hand_joint)",
    ".rightWrist (right_hand_joint)",
    ".root (root)",
    ".leftHip (left_upLeg_joint)",
    ".rightHip (right_upLeg_joint)",
    ".leftKnee (left_leg_joint)",
    ".rightKnee (right_leg_joint)",
    ".leftAnkle (left_foot_joint)",
    ".rightAnkle (right_foot_joint)",
)

_KINECT2 = (
    "spine_base",
    "spine_mid",
    "neck",
    "head",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "left_hand",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "right_hand",
    "left_hip",
    "left_knee",
    "left_ankle",
    "left_foot",
    "right_hip",
    "right_knee",
    "right_ankle",
    "right_foot",
    "spine_shoulder",
    "left_hand_tip",
    "left_thumb",
    "right_hand_tip",
    "right_thumb",
)
_KINECT2_VENDOR = (
    "SpineBase",
    "SpineMid",
    "Neck",
    "Head",
    "ShoulderLeft",
    "ElbowLeft",
    "WristLeft",
    "HandLeft",
    "ShoulderRight",
    "ElbowRight",
    "WristRight",
    "HandRight",
    "HipLeft",
    "KneeLeft",
    "AnkleLeft",
    "FootLeft",
    "HipRight",
    "KneeRight",
    "AnkleRight",
    "FootRight",
    "SpineShoulder",
    "HandTipLeft",
    "ThumbLeft",
    "HandTipRight",
    "ThumbRight",
)

_AZURE32 = (
    "pelvis",
    "spine_navel",
    "spine_chest",
    "neck",
    "left_clavicle",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "left_hand",
    "left_hand_tip",
    "left_thumb",
    "right_clavicle",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "right_hand",
    "right_hand_tip",
    "right_thumb",
    "left_hip",
    "left_knee",
    "left_ankle",
    "left_foot",
    "right_hip",
    "right_knee",
    "right_ankle",
    "right_foot",
    "head",
    "nose",
    "left_eye",
    "left_ear",
    "right_eye",
    "right_ear",
)

SCHEMAS: dict[str, Schema] = {
    s.name: s
    for s in (
        Schema(
            "blazepose33",
            "MediaPipe Pose / ML Kit pose detection (BlazePose), 33 landmarks",
            CORE.names,
            tuple(n.upper() for n in CORE.names),
            _same(CORE.names),
            3,
            ("image", "world"),
            "image: x, y normalised (origin top-left, y down), z relative depth on the scale of x; "
            "world: metres, origin between the hips, y down",
        ),
        Schema(
            "coco17",
            "COCO keypoints, 17 (MoveNet, YOLO-pose, RTMPose, AlphaPose, ViTPose, ...)",
            _COCO17,
            _COCO17,
            _same(_COCO17),
            2,
            ("image",),
            "x, y normalised to the image (origin top-left, y down); no depth",
        ),
        Schema(
            "openpose18",
            "OpenPose BODY_18 (the COCO-18 model: COCO's 17 plus a neck, in OpenPose's order)",
            _OPENPOSE18,
            _OPENPOSE18_VENDOR,
            _same(_OPENPOSE18),
            2,
            ("image",),
            "x, y normalised to the image (origin top-left, y down; divide OpenPose's pixels by the image size); "
            "no depth",
        ),
        Schema(
            "apple_vision19",
            "Apple Vision VNDetectHumanBodyPoseRequest, 19 joints",
            _APPLE19,
            _APPLE19_VENDOR,
            _same(_APPLE19),
            2,
            ("image",),
            "Vision's normalised image coordinates as they come: origin bottom-left, y UP (flipped on reading); "
            "no depth",
            image_y_up=True,
        ),
        Schema(
            "kinect_v2_25",
            "Microsoft Kinect v2 body tracking, 25 joints (JointType order)",
            _KINECT2,
            _KINECT2_VENDOR,
            _same(_KINECT2),
            3,
            ("camera",),
            "CameraSpacePoint: metres, origin at the depth sensor, x to the sensor's left, y up, z out of the sensor",
            camera_axes=(-1.0, -1.0, 1.0),
            notes=("FootLeft/FootRight lie on the forefoot, not at the toe tip: they are not taken as toes",),
        ),
        Schema(
            "azure_kinect_32",
            "Azure Kinect Body Tracking SDK (also Orbbec Femto), 32 joints (k4abt_joint_id_t order)",
            _AZURE32,
            tuple(n.upper() for n in _AZURE32),
            _same(_AZURE32),
            3,
            ("camera",),
            "depth camera coordinates converted to metres (the SDK gives millimetres: divide by 1000), "
            "origin at the depth camera, x right, y down, z out of the camera",
            notes=("FOOT_LEFT/FOOT_RIGHT lie on the forefoot, not at the toe tip: they are not taken as toes",),
        ),
    )
}


def get_schema(name: str) -> Schema:
    try:
        return SCHEMAS[name]
    except KeyError:
        raise MotionscriptError(f"unknown landmark schema {name!r}; known: {', '.join(SCHEMAS)}") from None

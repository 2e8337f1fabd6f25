"""Time series with units and confidence, and landmark sequences.

Time is axis 0 everywhere. Timestamps come from the source (the video
container, the phone app, the sensor clock) and are never derived from a
nominal frame rate. A sample that could not be measured is ``NaN`` with
confidence 0; samples are never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from kinematics.errors import MotionscriptError

__all__ = [
    "BLAZEPOSE33",
    "SIDES",
    "Event",
    "LandmarkSchema",
    "LandmarkSeries",
    "Series",
    "Side",
    "Space",
    "Unit",
    "other_side",
]

Unit = Literal["deg", "deg/s", "m", "m/s", "m/s^2", "px", "norm", "s", "mV", "1"]
Space = Literal["image_norm", "world_m"]
Side = Literal["left", "right"]
SIDES: tuple[Side, Side] = ("left", "right")


def other_side(side: Side) -> Side:
    """The opposite side: ``other_side("left") == "right"``."""
    return "right" if side == "left" else "left"


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise MotionscriptError(message)


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class Series:
    """A sampled signal; time is axis 0.

    Parameters
    ----------
    t_s
        ``(n,)`` seconds, strictly increasing.
    values
        ``(n, ...)`` in ``unit``; ``NaN`` where unmeasured.
    unit
        Physical unit of ``values``.
    confidence
        ``(n,)`` in [0, 1]; 0 wherever ``values`` is ``NaN``.
    """

    t_s: np.ndarray
    values: np.ndarray
    unit: Unit
    confidence: np.ndarray

    def __post_init__(self) -> None:
        t_s = np.array(self.t_s, dtype=float)  # a copy: freezing it must not freeze the caller's array
        values = np.array(self.values, dtype=float)
        confidence = np.array(self.confidence, dtype=float)
        n = t_s.shape[0] if t_s.ndim else -1
        _expect(t_s.ndim == 1, f"t_s must be 1-D, got shape {t_s.shape}")
        _expect(bool(np.all(np.diff(t_s) > 0)), "t_s must be strictly increasing")
        _expect(values.shape[:1] == (n,), f"values must be ({n}, ...), got {values.shape}")
        _expect(confidence.shape == (n,), f"confidence must be ({n},), got {confidence.shape}")
        missing = np.isnan(values).reshape(n, -1).any(axis=1) if n else np.zeros(0, bool)
        confidence = np.where(missing, 0.0, np.clip(confidence, 0.0, 1.0))
        object.__setattr__(self, "t_s", _frozen(t_s))
        object.__setattr__(self, "values", _frozen(values))
        object.__setattr__(self, "confidence", _frozen(confidence))

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    @property
    def valid(self) -> np.ndarray:
        """``(n,)`` bool, True where the sample was measured."""
        return self.confidence > 0

    def masked(self, keep: np.ndarray) -> Series:
        """A copy with samples outside ``keep`` set to NaN / confidence 0."""
        keep = np.asarray(keep, dtype=bool)
        shape = (len(self),) + (1,) * (self.values.ndim - 1)
        values = np.where(keep.reshape(shape), self.values, np.nan)
        return Series(self.t_s, values, self.unit, np.where(keep, self.confidence, 0.0))


@dataclass(frozen=True)
class LandmarkSchema:
    """Names of landmarks, in the order of a landmark array's joint axis.

    ``missing`` lists names that the source of the landmarks does not have
    (:mod:`kinematics.schemas`: a COCO-17 skeleton laid out on the core's
    names has no heels, for instance); their coordinates are NaN and their
    visibility 0 in every frame.
    """

    name: str
    names: tuple[str, ...]
    missing: frozenset[str] = frozenset()
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {n: i for i, n in enumerate(self.names)})

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise MotionscriptError(
                f"landmark {name!r} is not in schema {self.name!r} ({', '.join(self.names)})"
            ) from None

    def indices(self, *names: str) -> list[int]:
        """Positions of ``names`` on the joint axis, in the order given."""
        return [self.index(n) for n in names]

    def has(self, name: str) -> bool:
        """Whether the source of the landmarks has ``name`` (not merely a NaN slot for it)."""
        return name in self._index and name not in self.missing


BLAZEPOSE33 = LandmarkSchema(
    "blazepose33",
    (
        "nose",
        "left_eye_inner",
        "left_eye",
        "left_eye_outer",
        "right_eye_inner",
        "right_eye",
        "right_eye_outer",
        "left_ear",
        "right_ear",
        "mouth_left",
        "mouth_right",
        "left_shoulder",
        "right_shoulder",
        "left_elbow",
        "right_elbow",
        "left_wrist",
        "right_wrist",
        "left_pinky",
        "right_pinky",
        "left_index",
        "right_index",
        "left_thumb",
        "right_thumb",
        "left_hip",
        "right_hip",
        "left_knee",
        "right_knee",
        "left_ankle",
        "right_ankle",
        "left_heel",
        "right_heel",
        "left_foot_index",
        "right_foot_index",
    ),
)  # MediaPipe Pose landmark order; "left" is the subject's left.


@dataclass(frozen=True, eq=False)
class LandmarkSeries:
    """A pose sequence: one set of landmarks per sample.

    Parameters
    ----------
    t_s
        ``(n,)`` seconds, strictly increasing.
    xyz
        ``(n, k, 3)``. For ``space="image_norm"``: x and y normalised to the
        image width and height, y down, z relative depth on the scale of x
        (MediaPipe's convention). For ``space="world_m"``: metres, origin
        between the hips, x right, y down, z away from the camera.
        ``NaN`` where no pose was found.
    visibility
        ``(n, k)`` in [0, 1]; 0 where no pose was found.
    schema
        Landmark names, in the order of axis 1.
    space
        Coordinate space of ``xyz``.
    image_size_wh
        ``(width, height)`` in pixels of the upright image; required for
        ``image_norm`` so that angles can be aspect-ratio corrected.
    """

    t_s: np.ndarray
    xyz: np.ndarray
    visibility: np.ndarray
    schema: LandmarkSchema = BLAZEPOSE33
    space: Space = "image_norm"
    image_size_wh: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        t_s = np.array(self.t_s, dtype=float)  # a copy: freezing it must not freeze the caller's array
        xyz = np.array(self.xyz, dtype=float)
        visibility = np.array(self.visibility, dtype=float)
        n, k = t_s.shape[0], len(self.schema)
        _expect(t_s.ndim == 1, f"t_s must be 1-D, got shape {t_s.shape}")
        _expect(bool(np.all(np.diff(t_s) > 0)), "t_s must be strictly increasing")
        _expect(xyz.shape == (n, k, 3), f"xyz must be ({n}, {k}, 3), got {xyz.shape}")
        _expect(visibility.shape == (n, k), f"visibility must be ({n}, {k}), got {visibility.shape}")
        _expect(self.space in ("image_norm", "world_m"), f"space must be image_norm or world_m, got {self.space!r}")
        if self.space == "image_norm":
            _expect(
                self.image_size_wh is not None and min(self.image_size_wh) > 0,
                "image_size_wh (width, height) is required for image_norm landmarks",
            )
        visibility = np.where(np.isnan(xyz).any(axis=2), 0.0, np.clip(np.nan_to_num(visibility), 0, 1))
        object.__setattr__(self, "t_s", _frozen(t_s))
        object.__setattr__(self, "xyz", _frozen(xyz))
        object.__setattr__(self, "visibility", _frozen(visibility))

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    def point(self, name: str) -> np.ndarray:
        """``(n, 3)`` coordinates of one landmark, in ``space`` units."""
        return self.xyz[:, self.schema.index(name), :]

    def vis(self, name: str) -> np.ndarray:
        """``(n,)`` visibility of one landmark."""
        return self.visibility[:, self.schema.index(name)]

    def metric_xyz(self) -> np.ndarray:
        """``(n, k, 3)`` in an isotropic Cartesian space, y down.

        Image landmarks are scaled to pixels (x by width, y by height, z by
        width), which is the aspect-ratio correction that makes angles in
        the image plane true; world landmarks are returned as they are.
        """
        if self.space == "world_m":
            return np.array(self.xyz)
        w, h = self.image_size_wh  # type: ignore[misc]
        return self.xyz * np.array([w, h, w], dtype=float)

    def replace(self, **changes: object) -> LandmarkSeries:
        fields = dict(
            t_s=self.t_s,
            xyz=self.xyz,
            visibility=self.visibility,
            schema=self.schema,
            space=self.space,
            image_size_wh=self.image_size_wh,
        )
        fields.update(changes)
        return LandmarkSeries(**fields)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Event:
    """Something that happened at a time: a repetition, a hold, a stance phase."""

    t_s: float
    name: str
    side: Side | None = None
    confidence: float = 1.0
    end_s: float | None = None

"""The pose-backend interface: one frame in, the people found in it out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from kinematics.series import BLAZEPOSE33, LandmarkSchema

__all__ = ["BackendFactory", "PersonPose", "PoseBackend"]


@dataclass(frozen=True, eq=False)
class PersonPose:
    """One person's landmarks in one frame.

    Parameters
    ----------
    image_xyz
        ``(k, 3)``: x, y normalised to the upright frame's width and height
        (y down), z relative depth on the scale of x.
    world_xyz
        ``(k, 3)`` metres, origin between the hips, y down; ``None`` when the
        model gives no world landmarks.
    visibility
        ``(k,)`` in [0, 1]: the model's belief that the landmark is in view
        and not occluded.
    schema
        Names of the ``k`` landmarks; look landmarks up by name
        (:meth:`image_points`), never by position.
    """

    image_xyz: np.ndarray
    world_xyz: np.ndarray | None
    visibility: np.ndarray
    schema: LandmarkSchema = BLAZEPOSE33

    def image_points(self, *names: str) -> np.ndarray:
        """``(len(names), 3)`` image coordinates of the named landmarks."""
        return self.image_xyz[self.schema.indices(*names)]

    def bbox(self) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)`` of the confidently seen landmarks, normalised."""
        seen = self.visibility >= 0.5
        pts = self.image_xyz[seen if seen.sum() >= 4 else slice(None), :2]
        return (float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max()))


class PoseBackend(Protocol):
    """What every pose model adapter provides.

    ``estimate`` may be called with increasing ``t_s`` only (video mode keeps
    tracking state between calls); ``reset`` forgets that state.
    """

    name: str
    schema: LandmarkSchema

    def estimate(self, rgb: np.ndarray, t_s: float) -> list[PersonPose]: ...

    def provenance(self) -> dict[str, object]: ...

    def close(self) -> None: ...


BackendFactory = Callable[[], PoseBackend]
"""A zero-argument pose-backend factory; picklable (a module-level function or functools.partial)
when parallel extraction calls it in worker processes."""

"""Follow one subject through a video in which other people may appear.

The pose model may return several people per frame, in no stable order, and
when it loses the subject it may pick up a bystander instead. The tracker
chooses one subject and then only accepts poses where that subject can
plausibly be, given how far a person moves in the time since last seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vision.backends.base import PersonPose

__all__ = ["SubjectReport", "SubjectTracker"]


def _torso(pose: PersonPose, size_wh: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Centre (pixels) and length (pixels) of the torso."""
    scale = np.asarray(size_wh, dtype=float)
    sh = (pose.image_points("left_shoulder", "right_shoulder")[:, :2] * scale).mean(axis=0)
    hip = (pose.image_points("left_hip", "right_hip")[:, :2] * scale).mean(axis=0)
    return 0.5 * (sh + hip), float(np.linalg.norm(sh - hip))


@dataclass
class SubjectReport:
    """How the subject was chosen and followed; goes into the assessment."""

    rule: str = "the largest person in the first frame with a pose; then the pose nearest to where that person was"
    first_seen_s: float | None = None
    initial_bbox_norm: tuple[float, float, float, float] | None = None
    max_people_in_frame: int = 0
    frames_with_other_people: int = 0
    frames_subject_not_found: int = 0
    rejected_jumps: int = 0


@dataclass
class SubjectTracker:
    """Pick the subject in each frame.

    Parameters
    ----------
    image_size_wh
        Upright frame size, so that distances are in pixels, not in
        anisotropic normalised units.
    max_speed_torso_per_s
        How fast the torso centre may move, in torso lengths per second; a
        brisk walk across the frame is ~2.
    jump_allowance_torso
        Extra distance always allowed, for landmark noise and body sway.
    max_size_change
        A candidate whose torso length differs from the subject's by more than
        this factor is someone else (or a misdetection).
    """

    image_size_wh: tuple[int, int]
    max_speed_torso_per_s: float = 3.0
    jump_allowance_torso: float = 0.5
    max_size_change: float = 1.5
    report: SubjectReport = field(default_factory=SubjectReport)
    _centre: np.ndarray | None = None
    _size: float = 0.0
    _t_last: float = 0.0

    def choose(self, people: list[PersonPose], t_s: float) -> PersonPose | None:
        r = self.report
        r.max_people_in_frame = max(r.max_people_in_frame, len(people))
        if len(people) > 1:
            r.frames_with_other_people += 1
        if not people:
            r.frames_subject_not_found += self._centre is not None
            return None
        if self._centre is None:
            chosen = max(people, key=lambda p: _area(p.bbox()))
            r.first_seen_s, r.initial_bbox_norm = t_s, tuple(round(v, 4) for v in chosen.bbox())  # type: ignore[assignment]
            self._accept(chosen, t_s)
            return chosen
        best, best_d = None, np.inf
        for p in people:
            centre, size = _torso(p, self.image_size_wh)
            ratio = max(size, 1e-6) / max(self._size, 1e-6)
            if not (1 / self.max_size_change <= ratio <= self.max_size_change):
                continue
            d = float(np.linalg.norm(centre - self._centre)) / self._size
            if d < best_d:
                best, best_d = p, d
        allowed = self.jump_allowance_torso + self.max_speed_torso_per_s * (t_s - self._t_last)
        if best is None or best_d > allowed:
            r.frames_subject_not_found += 1
            r.rejected_jumps += best is not None
            return None
        self._accept(best, t_s)
        return best

    def _accept(self, pose: PersonPose, t_s: float) -> None:
        self._centre, self._size = _torso(pose, self.image_size_wh)
        self._t_last = t_s


def _area(b: tuple[float, float, float, float]) -> float:
    return (b[2] - b[0]) * (b[3] - b[1])

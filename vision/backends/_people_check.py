"""When to look for more people than are being tracked: the detector run that doubles a frame's cost.

BlazePose in video mode runs its person detector on every frame while fewer
people are tracked than ``num_poses``. With ``num_poses=2`` and one person in
view (most clinical recordings) that is every frame: 27 ms of CPU per frame
instead of 14 ms for the ONNX backend on one core of this project's machine
(1080x1920, docs/performance.md). The subject tracker needs a second person
only to avoid following the wrong one, and people do not appear between two
frames, so the ONNX backend looks for more people on a schedule instead:

* every ``every_s`` seconds of video (default 0.5 s);
* on every frame for ``hold_s`` after a search found two or more people (as
  MediaPipe does, until the second person has been gone for ``hold_s``; the
  ONNX backend counts boxes that overlap the same tracked person once), and
  for ``start_s`` after the video's first search (everyone in view at the start
  is found from the start, when the subject tracker makes its choice; live
  connections use 0, their per-frame latency matters more);
* whenever nobody is tracked (that is how tracking starts and restarts).

Between searches the tracked person's ROI comes from their previous landmarks,
BlazePose's own tracking. A search only adds people; it does not replace a
tracked ROI. The schedule runs on the video's timestamps, so it does not
depend on the frame rate or on how fast the machine is.

The MediaPipe backend cannot do this: its Tasks graph switches on a causal
landmark-smoothing filter when ``num_poses == 1`` in VIDEO mode
(``pose_landmarker_graph.cc``: "Apply smoothing filter only on the single pose
landmarks"), which would lag the landmarks and mix smoothed with raw frames. It
keeps MediaPipe's own schedule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["PeopleCheck"]


@dataclass
class PeopleCheck:
    """A per-video schedule of searches for more people (see the module docstring)."""

    every_s: float = 0.5
    hold_s: float = 1.0
    #: search on every frame for this long after the first search (0 for live use, where each
    #: frame's latency matters more than who is in view during the first second)
    start_s: float = 1.0
    _next_s: float = field(default=-math.inf, init=False)
    _many_until_s: float = field(default=-math.inf, init=False)

    def __post_init__(self) -> None:
        if not (self.every_s > 0 and self.hold_s >= 0 and self.start_s >= 0):
            raise ValueError(
                f"every_s must be > 0, hold_s and start_s >= 0; got {self.every_s}, {self.hold_s}, {self.start_s}"
            )

    def due(self, t_s: float) -> bool:
        """Should this frame search for everyone in view?"""
        return t_s >= self._next_s or t_s < self._many_until_s

    def searched(self, t_s: float, n_people: int) -> None:
        """A search ran at ``t_s`` and found ``n_people``."""
        if self._next_s == -math.inf:  # the video's first search: keep searching for start_s, so that
            self._many_until_s = t_s + self.start_s  # whoever is in view at the start is found from the start
        self._next_s = t_s + self.every_s
        if n_people >= 2:
            self._many_until_s = t_s + self.hold_s

    def reset(self) -> None:
        self._next_s = self._many_until_s = -math.inf

"""One live connection's measurement: the offline code, run as the frames arrive.

A :class:`LiveSession` decodes each frame, runs the connection's own pose model on it,
follows one subject from frame to frame (:class:`vision.tracking.SubjectTracker`, as the
offline extraction does) and feeds the landmarks to :class:`kinematics.streaming.SlidingAssessment`,
which re-runs the offline pipeline and the exercise's protocol over the last ``window_s``
every ``interval_s``. So the angles, the view, the repetition count and the holds a patient
sees live are the numbers the clinician's report will have, published about a second later
than the frame; there is no live-only filter, threshold or repetition rule.

An app that computes pose on the device sends landmarks instead of pixels
(:meth:`LiveSession.landmarks`): one frame of a landmark document (docs/landmarks.md) per
message, in any skeleton of :mod:`kinematics.schemas`, fed to the same sliding assessment.

The transport (``service/api/live.py``) only moves frames in and answers out.
"""

from __future__ import annotations

import math

import numpy as np

from kinematics.streaming import COUNTED_EVENT, SlidingAssessment, WindowUpdate
from service.frame_analysis import FrameAnalyzer, decode_image
from vision.backends.base import PersonPose
from vision.landmark_json import parse_landmarks
from vision.tracking import SubjectTracker

__all__ = ["EXERCISE_PLANE", "LEAN_CUE_DEG", "OBLIQUITY_CUE_DEG", "LiveSession"]

# The anatomical plane each protocol scores, so the view it needs (docs/protocols/<name>.md).
EXERCISE_PLANE = {
    "squat": "sagittal",
    "sit_to_stand": "sagittal",
    "standing_hip_flexion": "sagittal",
    "bridge": "sagittal",
    "standing_hip_abduction": "frontal",
    "single_leg_stance": "frontal",
}
# Cues only (short spoken-style hints while exercising); nothing is scored from them.
OBLIQUITY_CUE_DEG = 5.0
LEAN_CUE_DEG = 10.0


def _round(v: float | None, ndigits: int = 2) -> float | None:
    return None if v is None or math.isnan(v) else round(v, ndigits)


class LiveSession:
    """The state of one live connection: its subject and its sliding offline assessment.

    Parameters
    ----------
    exercise
        A protocol name, or None for kinematics and cues only.
    analyzer
        The connection's own pose model (VIDEO mode: it tracks between frames).
    window_s, interval_s
        See :class:`kinematics.streaming.SlidingAssessment`.
    """

    def __init__(
        self,
        exercise: str | None,
        analyzer: FrameAnalyzer | None = None,
        *,
        window_s: float = 20.0,
        interval_s: float = 1.0,
    ) -> None:
        self.exercise, self.analyzer = exercise, analyzer
        self.window_s, self.interval_s = window_s, interval_s
        self.counted = COUNTED_EVENT.get(exercise or "")
        self._size: tuple[int, int] | None = None
        self._tracker: SubjectTracker | None = None
        self.stream: SlidingAssessment | None = None
        self.last: WindowUpdate | None = None
        self.published: list[WindowUpdate] = []  # every run's update, oldest first (tests and summaries)
        self._header: dict = {}  # schema, space, image_size of the landmark messages, kept between messages
        self._layout: tuple | None = None  # (schema, space, image size) the landmark stream was started with

    def ready(self) -> dict:
        """What the server tells the client before the first frame."""
        return {
            "exercise": self.exercise,
            "counted": self.counted,
            "window_s": self.window_s,
            "interval_s": self.interval_s,
        }

    # -- frames in ------------------------------------------------------------------------------

    def frame_bytes(self, data: bytes, t_s: float, clock_s: float | None = None) -> dict:
        """One encoded frame (JPEG, PNG, WebP, BMP); ``clock_s`` is the pose model's increasing clock."""
        return self.frame_rgb(decode_image(data, "frame"), t_s, clock_s)

    def frame_rgb(self, rgb: np.ndarray, t_s: float, clock_s: float | None = None) -> dict:
        if self.analyzer is None:
            raise RuntimeError("this LiveSession has no pose model; give it an analyzer or call update()")
        people = self.analyzer.estimate(rgb, t_s if clock_s is None else clock_s)
        h, w = rgb.shape[:2]
        return self.update(t_s, people, (w, h))

    def landmarks(self, message: dict, t_s: float) -> dict:
        """One frame of landmarks the app computed itself: ``{"t_s", "landmarks"}`` plus, in the
        first message and whenever they change, ``"schema"``, ``"space"`` and ``"image_size"``.

        The frame is checked as a one-frame landmark document (docs/landmarks.md; a bad one
        raises :class:`kinematics.errors.LandmarkFormatError` naming the problem) and laid onto
        the core's names by its schema. A change of skeleton, space or picture size starts a
        new recording, as a turned phone does for video frames.
        """
        header = {k: message[k] if k in message else self._header.get(k) for k in ("schema", "space", "image_size")}
        doc = {k: v for k, v in header.items() if v is not None}
        lm = parse_landmarks({**doc, "frames": [{"t_s": t_s, "landmarks": message.get("landmarks")}]}).landmarks
        self._header = header
        layout = (lm.schema, lm.space, lm.image_size_wh)
        if layout != self._layout or self.stream is None:
            self._layout, self._size, self._tracker = layout, None, None
            self.stream = SlidingAssessment(
                exercise=self.exercise,
                schema=lm.schema,
                space=lm.space,
                image_size_wh=lm.image_size_wh,
                window_s=self.window_s,
                interval_s=self.interval_s,
            )
            self.last = None
        found = bool(lm.visibility[0].max() > 0)
        update = self.stream.push(t_s, lm.xyz[0] if found else None, lm.visibility[0] if found else None)
        if update is not None:
            self.last = update
            self.published.append(update)
        return self._answer(t_s, found, None, update)

    def update(self, t_s: float, people: list[PersonPose], size_wh: tuple[int, int]) -> dict:
        """The answer to one frame: this frame's landmarks, the newest published measurement."""
        if size_wh != self._size or self.stream is None or self._tracker is None:
            # a new picture size (the camera turned or changed): a new recording, counted afresh
            self._size, self._tracker, self._layout = size_wh, SubjectTracker(size_wh), None
            schema = self.analyzer.backend.schema if self.analyzer is not None else None
            self.stream = SlidingAssessment(
                exercise=self.exercise,
                image_size_wh=size_wh,
                window_s=self.window_s,
                interval_s=self.interval_s,
                **({"schema": schema} if schema is not None else {}),
            )
            self.last = None
        pose = self._tracker.choose(people, t_s)
        update = self.stream.push(
            t_s, None if pose is None else pose.image_xyz, None if pose is None else pose.visibility
        )
        if update is not None:
            self.last = update
            self.published.append(update)
        landmarks = (
            None
            if pose is None
            else [
                [round(float(v), 5) for v in (*p, vis)] for p, vis in zip(pose.image_xyz, pose.visibility, strict=True)
            ]
        )
        return self._answer(t_s, pose is not None, landmarks, update)

    def finish(self) -> WindowUpdate | None:
        """Publish what arrived since the last run (the end of a recording)."""
        update = self.stream.flush() if self.stream is not None else None
        if update is not None:
            self.last = update
            self.published.append(update)
        return update

    # -- answers out ----------------------------------------------------------------------------

    def _answer(self, t_s: float, found: bool, landmarks: list | None, update: WindowUpdate | None) -> dict:
        last = self.last
        analysed = None if last is None or not last.t_s.size else float(last.t_s[-1])
        angles = {} if last is None else {k: _round(v) for k, v in last.latest.items()}
        view = "unknown" if last is None or last.result is None else last.result.view.view
        hold = None if last is None else last.hold_s
        if hold and analysed is not None:
            hold += max(0.0, t_s - analysed)  # the hold goes on until the next run says otherwise
        return {
            "t_s": t_s,
            "person_found": found,
            "landmarks": landmarks,  # the pose model's, for a video frame; None for landmarks the app sent
            "analysed_t_s": analysed,
            "view": view,
            "angles": angles,
            "series": None if update is None else self._series(update),
            "reps": None if last is None else last.count,
            "in_rep": None if last is None else last.in_rep,
            "hold_s": _round(hold),
            "cues": self._cues(found, view, angles),
        }

    @staticmethod
    def _series(update: WindowUpdate) -> dict:
        """The samples this run published, as the assessment's ``series`` block has them."""
        out: dict[str, list] = {"t_s": [round(float(t), 6) for t in update.t_s]}
        for name, values in update.angles.items():
            out[name] = [_round(float(v)) for v in values]
        return out

    def _cues(self, found: bool, view: str, angles: dict[str, float | None]) -> list[str]:
        if not found:
            return ["step into the camera's view, whole body visible"]
        cues = []
        plane = EXERCISE_PLANE.get(self.exercise or "")
        if plane == "sagittal" and view == "frontal":
            cues.append("turn side-on to the camera")
        elif plane == "frontal" and view == "sagittal":
            cues.append("face the camera")
        obliquity = angles.get("pelvic_obliquity_deg")
        if obliquity is not None and abs(obliquity) > OBLIQUITY_CUE_DEG:  # > 0: the LEFT hip is higher
            cues.append(f"keep your {'right' if obliquity > 0 else 'left'} hip level with the other")
        lean = angles.get("trunk_lean_lateral_deg")
        if lean is not None and abs(lean) > LEAN_CUE_DEG:
            cues.append("keep your trunk upright")
        return cues

"""Live measurement with the offline code: the pipeline and the protocol re-run over a sliding window.

A live session must tell the patient what the clinician's report will say, so it has no
angle functions, filters, thresholds or repetition rules of its own. Every ``interval_s``
of the stream, :class:`SlidingAssessment` runs :class:`kinematics.pipeline.KinematicsPipeline`
and the exercise's protocol (:data:`kinematics.protocols.PROTOCOLS`) over the last
``window_s`` of landmarks, publishes the angles of the samples that arrived since the previous
run, and tallies the protocol's counted events (repetitions, steps, single-leg stances)
across windows (:class:`EventTally`).

============================  ======================================================
:class:`SlidingAssessment`    landmarks in, one :class:`WindowUpdate` per run out
:class:`WindowUpdate`         what one run publishes (new angle samples, the count)
:class:`EventTally`           counted events merged across overlapping windows
:data:`COUNTED_EVENT`         which event type each protocol's ``rep_count`` counts
:data:`HOLDING`               the protocols whose holds ``hold_s`` times
============================  ======================================================
"""

from kinematics.streaming.window import COUNTED_EVENT, HOLDING, EventTally, SlidingAssessment, WindowUpdate

__all__ = ["COUNTED_EVENT", "HOLDING", "EventTally", "SlidingAssessment", "WindowUpdate"]

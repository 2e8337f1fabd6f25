"""Live measurement with the offline code: the same functions and parameters, as the samples arrive.

A live session must tell the patient what the clinician's report will say, so it has no
angle functions, filters, thresholds or repetition rules of its own. Every ``interval_s``
of the stream, :class:`SlidingAssessment` runs :class:`kinematics.pipeline.KinematicsPipeline`
and the exercise's protocol (:data:`kinematics.protocols.PROTOCOLS`) over the last
``window_s`` of landmarks, publishes the angles of the samples that arrived since the previous
run, and tallies the protocol's counted events (repetitions, steps, single-leg stances)
across windows (:class:`EventTally`). Wearable sensors run causal forms of the offline
:mod:`kinematics.fusion` code, each with its latency stated: :class:`CausalEmg` (the
zero-phase EMG filters as FIR filters, the Hodges & Bui rule as a state machine) and
:class:`CausalPelvis` (the Mahony filter's forward pass from the stand), with
:class:`CausalMovement` and :class:`MuscleTiming` for muscle-before-movement timing.

============================  ======================================================
:class:`SlidingAssessment`    landmarks in, one :class:`WindowUpdate` per run out
:class:`WindowUpdate`         what one run publishes (new angle samples, the count)
:class:`EventTally`           counted events merged across overlapping windows
:data:`COUNTED_EVENT`         which event type each protocol's ``rep_count`` counts
:data:`HOLDING`               the protocols whose holds ``hold_s`` times
:class:`CausalEmg`            EMG blocks in, envelope and offline-equal onsets out (:class:`EmgStream`)
:class:`EmgBlock`             what one EMG block produced
:func:`zero_phase_fir`        a causal FIR equal to ``sosfiltfilt``, delayed
:class:`CausalPelvis`         IMU blocks in, pelvic tilt and obliquity out (:class:`PelvisStream`)
:class:`PelvisBlock`          what one IMU block produced
:class:`CausalMovement`       pelvis angle in, offline-equal movement onsets out (:class:`MovementStream`)
:class:`OnsetStream`          the Hodges & Bui onset rule, sample by sample
:class:`MuscleTiming`         muscle minus movement onset per repetition (:class:`TimingRow`)
============================  ======================================================
"""

from kinematics.streaming.emg import CausalEmg, EmgBlock, EmgStream
from kinematics.streaming.fir import zero_phase_fir
from kinematics.streaming.imu import CausalPelvis, PelvisBlock, PelvisStream
from kinematics.streaming.onsets import CausalMovement, MovementBlock, MovementStream, OnsetStream
from kinematics.streaming.timing import MuscleTiming, TimingRow
from kinematics.streaming.window import COUNTED_EVENT, HOLDING, EventTally, SlidingAssessment, WindowUpdate

__all__ = [
    "COUNTED_EVENT",
    "HOLDING",
    "CausalEmg",
    "CausalMovement",
    "CausalPelvis",
    "EmgBlock",
    "EmgStream",
    "EventTally",
    "MovementBlock",
    "MovementStream",
    "MuscleTiming",
    "OnsetStream",
    "PelvisBlock",
    "PelvisStream",
    "SlidingAssessment",
    "TimingRow",
    "WindowUpdate",
    "zero_phase_fir",
]

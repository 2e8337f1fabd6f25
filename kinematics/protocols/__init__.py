"""Exercise protocols: from kinematics to the answer to a clinical question.

One module per exercise. ``PROTOCOLS`` maps the exercise names the API and
CLI accept to a protocol with its default (clinic-configurable) parameters.
"""

from kinematics.protocols.base import (
    Coaching, ExerciseProtocol, Finding, ProtocolEvent, ProtocolMetric, ProtocolResult, Threshold, judge,
)
from kinematics.protocols.single_leg_stance import SingleLegStance

PROTOCOLS: dict[str, ExerciseProtocol] = {
    "single_leg_stance": SingleLegStance(),
}

__all__ = [
    "PROTOCOLS",
    "Coaching",
    "ExerciseProtocol",
    "Finding",
    "ProtocolEvent",
    "ProtocolMetric",
    "ProtocolResult",
    "SingleLegStance",
    "Threshold",
    "judge",
]

"""Exercise protocols: from kinematics to the answer to a clinical question.

One module per exercise. ``PROTOCOLS`` maps the exercise names the API and
CLI accept to a protocol with its default (clinic-configurable) parameters.
Each protocol is documented for clinicians in ``docs/protocols/<name>.md``.
"""

from kinematics.protocol_names import PROTOCOL_NAMES  # (the names alone, light: checked against PROTOCOLS by a test)
from kinematics.protocols.base import (
    Coaching,
    ExerciseProtocol,
    Finding,
    ProtocolEvent,
    ProtocolMetric,
    ProtocolResult,
    Threshold,
    judge,
    quality_issues,
)
from kinematics.protocols.bridge import Bridge
from kinematics.protocols.gait import Gait
from kinematics.protocols.single_leg_stance import SingleLegStance
from kinematics.protocols.sit_to_stand import SitToStand
from kinematics.protocols.squat import Squat
from kinematics.protocols.standing_hip_abduction import StandingHipAbduction
from kinematics.protocols.standing_hip_flexion import StandingHipFlexion

PROTOCOLS: dict[str, ExerciseProtocol] = {
    "bridge": Bridge(),
    "gait": Gait(),
    "single_leg_stance": SingleLegStance(),
    "sit_to_stand": SitToStand(),
    "squat": Squat(),
    "standing_hip_abduction": StandingHipAbduction(),
    "standing_hip_flexion": StandingHipFlexion(),
}

__all__ = [
    "PROTOCOLS",
    "PROTOCOL_NAMES",
    "Bridge",
    "Coaching",
    "ExerciseProtocol",
    "Finding",
    "Gait",
    "ProtocolEvent",
    "ProtocolMetric",
    "ProtocolResult",
    "SingleLegStance",
    "SitToStand",
    "Squat",
    "StandingHipAbduction",
    "StandingHipFlexion",
    "Threshold",
    "judge",
    "quality_issues",
]

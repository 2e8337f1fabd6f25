"""The exercise names the API and the CLI accept, without importing the protocols.

`kinematics.protocols` imports every protocol and with them scipy (~1 s on this project's
machine); an entry point checks a name before a long extraction and needs only this list.
``kinematics.protocols.PROTOCOLS`` has one protocol per name (tests/protocols/test_protocol_names.py).
``clients.cli_remote.EXERCISES`` is a copy, since clients/ imports nothing of this project's packages
(tests/clients/test_cli_remote.py keeps it equal).
"""

from __future__ import annotations

__all__ = ["PROTOCOL_NAMES"]

#: In alphabetical order; not to be confused with the therapy catalogue
#: :data:`kinematics.exercises.EXERCISES` (exercises to prescribe).
PROTOCOL_NAMES: tuple[str, ...] = (
    "bridge",
    "gait",
    "single_leg_stance",
    "sit_to_stand",
    "squat",
    "standing_hip_abduction",
    "standing_hip_flexion",
)

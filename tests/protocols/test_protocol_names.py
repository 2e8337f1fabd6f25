"""The light list of exercise names (what the CLI checks before a long extraction) is the protocols' own."""

from kinematics.protocol_names import PROTOCOL_NAMES
from kinematics.protocols import PROTOCOLS


def test_every_name_has_a_protocol_and_every_protocol_a_name():
    assert PROTOCOL_NAMES == tuple(sorted(PROTOCOLS))

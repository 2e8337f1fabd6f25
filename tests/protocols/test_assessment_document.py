"""Each protocol's answer fits the published assessment document (service/schemas.py) as it is."""

from __future__ import annotations

import json

import pytest

from kinematics.protocols import PROTOCOL_NAMES, PROTOCOLS
from service.analysis import analyze_landmarks
from service.schemas import InputInfo
from tests.protocols import synthetic as S
from tests.protocols.conftest import observed


def test_every_exercise_the_service_accepts_has_a_protocol():
    assert set(PROTOCOL_NAMES) == set(PROTOCOLS)


@pytest.mark.parametrize("name", sorted(S.SCENARIOS))
@pytest.mark.parametrize("view", ["right", "wrong"])
def test_protocol_output_serialises_into_the_assessment(name, view):
    sc = S.SCENARIOS[name]
    lm = observed(name, sc.yaws[0] if view == "right" else sc.wrong_yaw, "world").landmarks
    info = InputInfo(kind="landmarks", frames_read=len(lm), frames_with_pose=len(lm), landmark_space="world")
    doc = json.loads(analyze_landmarks(lm, input_info=info, exercise=sc.protocol).model_dump_json())
    assert not any(q["code"] == "protocol_not_available" for q in doc["quality"])
    protocol_metrics = [m for m in doc["metrics"] if m["source"] == "protocol"]
    assert any(m["name"] == "rep_count" for m in protocol_metrics)
    if view == "right":
        assert doc["findings"] and not doc["coaching"] and doc["events"]
        assert all(e["type"] in ("rep", "hold", "single_leg_stance", "initial_contact", "pass") for e in doc["events"])
    else:
        assert doc["coaching"] and not doc["findings"]

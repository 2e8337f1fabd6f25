"""Every protocol recovers what a synthetic subject of known truth did.

Each scenario (``tests/protocols/synthetic.py``) is filmed from every view its
protocol accepts (facing the camera and back to it; side-on facing either way),
as image and as world landmarks, with BlazePose's measured jitter, and from two
noise draws. Issue 4 asks for: the exact number of repetitions, holds within
0.5 s, single-leg stance within 0.5 s, pelvic drop within 1 deg on the correct
side. Other values are checked against tolerances stated next to them, which
allow for the known bias of a peak read from noisy samples (~1.5 deg high on
average). The errors seen over ten noise draws are tabulated in
docs/protocols/README.md.

Pelvic drop is a frontal-plane quantity: it is checked wherever a protocol is
filmed from the front (single-leg stance, standing hip abduction, squat,
sit-to-stand, gait). Side-on protocols (standing hip flexion, bridge) cannot
see it.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from kinematics.pipeline import KinematicsPipeline
from kinematics.protocols import PROTOCOLS, ProtocolMetric, ProtocolResult
from tests.protocols import synthetic as S
from tests.protocols.conftest import observed

HOLD_S = 0.5  # issue 4
STANCE_S = 0.5  # issue 4
DROP_DEG = 1.0  # issue 4
# A peak is the largest low-passed sample: with the filtered thigh angle's jitter of 0.7-0.9 deg SD and
# ~25 independent samples on a 2 s plateau it reads ~1.5 deg high on average and up to ~3 deg (seen over
# 10 noise draws); the instrument error in its 95 % interval (5 deg SD) dwarfs this.
PEAK_DEG = 3.5
SEEDS = (0, 1)

CASES = [
    (name, yaw, space, seed)
    for name, sc in S.SCENARIOS.items()
    for yaw in sc.yaws
    for space in ("image", "world")
    for seed in SEEDS
]


def _id(name: str, yaw: float, space: str, seed: int) -> str:
    return f"{name}-yaw{yaw:+.0f}-{space}-seed{seed}"


def metric(result: ProtocolResult, name: str, side: str | None = None) -> ProtocolMetric:
    found = [m for m in result.metrics if m.name == name and m.side == side]
    assert found, f"no metric {name!r} (side {side}) in {[(m.name, m.side) for m in result.metrics]}"
    assert found[0].measurable and found[0].value is not None, found[0]
    return found[0]


def holds(result: ProtocolResult) -> list[float]:
    return [e.end_s - e.start_s for e in sorted(result.events, key=lambda e: e.start_s) if e.type == "hold"]


def assert_holds(result: ProtocolResult, truth: S.Truth) -> None:
    got = holds(result)
    assert len(got) == len(truth.holds_s), f"holds {got}, truth {truth.holds_s}"
    np.testing.assert_allclose(got, truth.holds_s, atol=HOLD_S)


@pytest.mark.parametrize("name, yaw, space, seed", CASES, ids=[_id(*c) for c in CASES])
def test_protocol_recovers_the_synthetic_truth(name, yaw, space, seed):
    scenario = S.SCENARIOS[name]
    obs = observed(name, yaw, space, seed)
    result, truth = obs.result, scenario.truth
    assert not result.coaching, [c.message for c in result.coaching]
    assert metric(result, "rep_count").value == sum(truth.reps.values())
    for side, n in truth.reps.items():
        if side is not None:
            assert metric(result, "rep_count", side).value == n
    CHECKS[scenario.protocol](obs, scenario)


def _single_leg_stance(obs: S.Observed, sc: S.Scenario) -> None:
    result, truth = obs.result, sc.truth
    for stance, seconds in truth.stance_s.items():
        assert metric(result, "stance_duration_s", stance).value == pytest.approx(seconds, abs=STANCE_S)
    for key, (drop, lower) in truth.drops.items():
        # the metric's side is the side that is lower: the free side when it drops
        assert metric(result, "pelvic_drop_deg", lower).value == pytest.approx(drop, abs=DROP_DEG), key


def _standing_hip_abduction(obs: S.Observed, sc: S.Scenario) -> None:
    result, truth = obs.result, sc.truth
    assert_holds(result, truth)
    for side in ("left", "right"):
        assert metric(result, "hip_abduction_range_deg", side).value == pytest.approx(
            truth.values[f"hip_abduction_range_deg_{side}"], abs=PEAK_DEG
        )
        # signed toward the moving side: > 0 it rose (hike), < 0 it dropped
        assert metric(result, "pelvic_hike_deg", side).value == pytest.approx(
            truth.values[f"pelvic_hike_deg_{side}"], abs=DROP_DEG
        )
        assert metric(result, "trunk_lean_toward_stance_deg", side).value == pytest.approx(
            truth.values[f"trunk_lean_toward_stance_deg_{side}"], abs=1.0
        )
    drop, lower = truth.drops["lifting_right"]
    assert -metric(result, "pelvic_hike_deg", lower).value == pytest.approx(drop, abs=DROP_DEG)


def _standing_hip_flexion(obs: S.Observed, sc: S.Scenario) -> None:
    result, truth = obs.result, sc.truth
    assert_holds(result, truth)
    for side in ("left", "right"):
        assert metric(result, "peak_hip_flexion_deg", side).value == pytest.approx(
            truth.values[f"peak_hip_flexion_deg_{side}"], abs=PEAK_DEG
        )
    posture = next(f for f in result.findings if f.code == "posture")
    assert posture.evidence["lying"] == (sc.name == "active_straight_leg_raise")


def _squat(obs: S.Observed, sc: S.Scenario) -> None:
    result, truth = obs.result, sc.truth
    if obs.kinematics.view.view == "sagittal":
        assert metric(result, "squat_depth_hip_flexion_deg").value == pytest.approx(
            truth.values["squat_depth_hip_flexion_deg"], abs=PEAK_DEG
        )
        assert metric(result, "trunk_lean_forward_at_depth_deg").value == pytest.approx(
            truth.values["trunk_lean_forward_at_depth_deg"], abs=1.5
        )
        return
    drop, lower = truth.drops["at_depth"]
    assert metric(result, "pelvic_drop_deg", lower).value == pytest.approx(drop, abs=DROP_DEG)
    assert metric(result, "trunk_lean_lateral_change_deg").value == pytest.approx(
        truth.values["trunk_lean_lateral_change_deg"], abs=1.0
    )
    # FPPA truth: the same protocol on the noise-free projection (the 2-D angle depends on the camera)
    clean = PROTOCOLS["squat"].assess(KinematicsPipeline().run(obs.noise_free), obs.noise_free)
    for side in ("left", "right"):
        assert metric(result, "knee_fppa_at_depth_deg", side).value == pytest.approx(
            metric(clean, "knee_fppa_at_depth_deg", side).value, abs=2.0
        )


def _sit_to_stand(obs: S.Observed, sc: S.Scenario) -> None:
    result, truth = obs.result, sc.truth
    assert metric(result, "time_per_rep_s").value == pytest.approx(truth.values["time_per_rep_s"], abs=0.1)
    if obs.kinematics.view.view == "sagittal":
        assert metric(result, "hip_flexion_range_deg").value == pytest.approx(
            truth.values["hip_flexion_range_deg"], abs=2 * PEAK_DEG
        )  # a max minus a min: both ends biased
        assert metric(result, "peak_hip_extension_velocity_deg_s").value == pytest.approx(
            truth.values["peak_hip_extension_velocity_deg_s"], rel=0.06
        )
        assert {f.code for f in result.findings} >= {"hip_rom_reference", "hip_velocity_reference"}
        return
    drop, lower = truth.drops["standing"]
    assert metric(result, "pelvic_drop_deg", lower).value == pytest.approx(drop, abs=DROP_DEG)


def _bridge(obs: S.Observed, sc: S.Scenario) -> None:
    result, truth = obs.result, sc.truth
    assert_holds(result, truth)
    assert metric(result, "hip_extension_reached_deg").value == pytest.approx(
        truth.values["hip_extension_reached_deg"], abs=PEAK_DEG
    )


def _gait(obs: S.Observed, sc: S.Scenario) -> None:
    result, truth = obs.result, sc.truth
    # One frame side-on; from the front, where contacts come from BlazePose's depth (its least steady axis),
    # 2.5 frames (the worst of ten noise draws was 2.0).
    frames = 1.0 if obs.kinematics.view.view == "sagittal" else 2.5
    for side in ("left", "right"):
        got = [e.start_s for e in result.events if e.type == "initial_contact" and e.side == side]
        np.testing.assert_allclose(got, truth.contacts[side], atol=frames / S.FPS, err_msg=f"{side} contacts")
    assert metric(result, "cadence_steps_per_min").value == pytest.approx(
        truth.values["cadence_steps_per_min"], abs=1.0
    )
    if obs.kinematics.view.view == "sagittal":
        for side in ("left", "right"):
            assert metric(result, "hip_flexion_range_per_stride_deg", side).value == pytest.approx(
                truth.values[f"hip_flexion_range_per_stride_deg_{side}"], abs=PEAK_DEG
            )
        return
    assert metric(result, "pelvic_obliquity_range_per_stride_deg").value == pytest.approx(
        truth.values["pelvic_obliquity_range_per_stride_deg"], abs=DROP_DEG
    )
    for key, (drop, free) in truth.drops.items():
        assert metric(result, "pelvic_drop_deg", free).value == pytest.approx(drop, abs=DROP_DEG), key


CHECKS = {
    "single_leg_stance": _single_leg_stance,
    "standing_hip_abduction": _standing_hip_abduction,
    "standing_hip_flexion": _standing_hip_flexion,
    "squat": _squat,
    "sit_to_stand": _sit_to_stand,
    "bridge": _bridge,
    "gait": _gait,
}


def test_every_registered_protocol_has_a_synthetic_scenario():
    assert {sc.protocol for sc in S.SCENARIOS.values()} == set(PROTOCOLS) == set(CHECKS)


@pytest.mark.parametrize("name", sorted(S.SCENARIOS))
def test_wrong_view_gives_coaching_and_no_clinical_finding(name):
    """Filmed from a view the protocol does not accept (side-on for a frontal protocol, facing the
    camera for a side-on one, at 45 deg for one that accepts both): coaching, nothing clinical."""
    scenario = S.SCENARIOS[name]
    for space in ("image", "world"):
        result = observed(name, scenario.wrong_yaw, space).result
        assert [c.code for c in result.coaching][:1] == ["wrong_view"], result.coaching
        assert result.findings == [] and result.events == []
        assert not result.scored
        assert all(m.value is None or m.name == "rep_count" for m in result.metrics)


@pytest.mark.parametrize(
    ("yaw", "first", "then"), [(38.0, "faces you squarely", "side-on"), (52.0, "side-on", "faces you")]
)
def test_wrong_view_advice_names_the_nearer_accepted_view_first(yaw, first, then):
    """An oblique squat, 38 deg from facing the camera, is nearer the frontal view (30 deg) than the
    side-on one (60 deg): the advice asks to face the camera first, and says how far the body is turned.
    Before, every two-view protocol said "turn side-on" whatever the angle (pose2sim_cam02, 32 deg)."""
    result = S.observe(S.SCENARIOS["squat"], yaw, "image").result
    message = next(c.message for c in result.coaching if c.code == "wrong_view")
    advice = message.split(": ", 1)[1]
    assert first in advice and then in advice and advice.index(first) < advice.index(then), message
    turned = re.search(r"at an angle \(turned (\d+) deg from facing the camera squarely\)", message)
    assert turned and abs(int(turned.group(1)) - yaw) <= 8, message

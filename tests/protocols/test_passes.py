"""Gait passes on synthetic walks of known steps: across the picture, a turn on the spot, and back.

The synthetic treadmill walk of ``synthetic.gait`` (stride 1.1 s, contacts known) is moved across
a landscape picture at 1.1 m/s, filmed side-on by a level camera 6 m away: a walk left to right,
a turn on the spot facing the camera, and the walk back right to left.

"""

from __future__ import annotations

import numpy as np
import pytest

from kinematics.pipeline import KinematicsPipeline
from kinematics.protocols import PROTOCOLS
from kinematics.protocols.passes import find_walking
from kinematics.series import LandmarkSeries
from kinematics.synth import Camera, PoseAngles, render
from tests.kinematics.conftest import NOISE_PX
from tests.protocols import synthetic as S

SPEED_M_S = 1.1
STRIDE_S = 1.1


def _segment(pose: PoseAngles, t: np.ndarray, yaw: float, path: np.ndarray, seed: int) -> LandmarkSeries:
    camera = Camera(yaw_deg=yaw, distance_m=6.0, image_size_wh=(1920, 1080))
    image, _ = render(pose, t, camera=camera, pelvis_path_m=path, noise_px=NOISE_PX, rng=np.random.default_rng(seed))
    return image


def _slice(pose: PoseAngles, a: int, b: int) -> PoseAngles:
    return PoseAngles(**{k: (v[a:b] if isinstance(v, np.ndarray) else v) for k, v in pose.__dict__.items()})


def walk_turn_walk(seed: int = 0) -> tuple[LandmarkSeries, dict[str, object]]:
    """Left to right for 5 s, 1.2 s turning on the spot facing the camera, right to left for 5 s."""
    sc = S.SCENARIOS["gait"]
    n = round(5.0 * S.FPS)
    t_walk = sc.t_s[:n]
    pose = _slice(sc.pose, 0, n)
    zeros = np.zeros_like(t_walk)
    start_m, end_m = -3.0, -3.0 + SPEED_M_S * t_walk[-1]
    out = _segment(pose, t_walk, 90.0, np.stack([zeros, zeros, start_m + SPEED_M_S * t_walk], axis=1), seed)
    t_turn = np.arange(round(1.2 * S.FPS)) / S.FPS
    # facing the camera the subject's left is image +x: standing where the first walk ended
    turn = _segment(PoseAngles(), t_turn, 0.0, np.tile([end_m, 0.0, 0.0], (len(t_turn), 1)), seed + 1)
    back = _segment(pose, t_walk, -90.0, np.stack([zeros, zeros, -end_m + SPEED_M_S * t_walk], axis=1), seed + 2)
    parts = [out, turn, back]
    offsets = np.cumsum([0.0] + [p.t_s[-1] + 1 / S.FPS for p in parts[:-1]])
    lm = out.replace(
        t_s=np.concatenate([p.t_s + o for p, o in zip(parts, offsets, strict=True)]),
        xyz=np.concatenate([p.xyz for p in parts]),
        visibility=np.concatenate([p.visibility for p in parts]),
    )
    contacts = sc.truth.contacts
    truth = {
        "turn_s": (offsets[1], offsets[2]),
        "contacts_per_walk": sum(int(np.sum(c < t_walk[-1])) for c in contacts.values()),  # type: ignore[union-attr]
    }
    return lm, truth


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_walk_across_the_picture_and_back_is_two_passes_with_the_turn_left_out(seed):
    lm, truth = walk_turn_walk(seed)
    result = KinematicsPipeline().run(lm)
    walking = find_walking(lm, result)
    assert [p.direction for p in walking.passes] == ["left_to_right", "right_to_left"]
    turn_start, turn_end = truth["turn_s"]
    first, second = walking.passes
    assert first.end_s <= turn_start + 0.1 and second.start_s >= turn_end - 0.1  # the turn is in neither pass
    for p in walking.passes:
        assert p.duration_s > 3.5 and p.travel > 3.0 and p.alternations >= 5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gait_reports_steps_and_cadence_per_pass_on_a_walk_with_a_turn(seed):
    lm, truth = walk_turn_walk(seed)
    result = KinematicsPipeline().run(lm)
    out = PROTOCOLS["gait"].assess(result, lm)
    assert not out.coaching and out.detection is not None and out.detection.detected
    passes = [e for e in out.events if e.type == "pass"]
    assert [e.label for e in passes] == ["left_to_right", "right_to_left"]
    contacts = [e for e in out.events if e.type == "initial_contact"]
    turn_start, turn_end = truth["turn_s"]
    assert not [c for c in contacts if turn_start < c.start_s < turn_end], "no step is counted in the turn"
    for i in (0, 1):
        mine = [c for c in contacts if c.pass_index == i]
        # every contact of the walk inside the pass's time, give or take one at each end of the pass
        assert truth["contacts_per_walk"] - 3 <= len(mine) <= truth["contacts_per_walk"]
        cadence = [m for m in out.metrics if m.name == "cadence_steps_per_min" and m.pass_index == i]
        assert cadence and abs(cadence[0].value - 120.0 / STRIDE_S) < 3.0
        for side in ("left", "right"):
            hip = [m for m in out.metrics if m.name == "hip_flexion_range_deg" and m.pass_index == i and m.side == side]
            want = 40.0 if side == "left" else 34.0
            assert hip and hip[0].value is not None and abs(hip[0].value - want) < 4.0


def test_the_same_walk_as_a_knee_raise_is_not_detected():
    lm, _ = walk_turn_walk(0)
    result = KinematicsPipeline().run(lm)
    out = PROTOCOLS["standing_hip_flexion"].assess(result, lm)
    assert [c.code for c in out.coaching] == ["not_detected"] and not out.findings
    assert out.detection is not None and out.detection.seen.startswith("walking: 2 pass(es)")

"""Synthetic exercises of known truth for the protocol tests.

Every movement is built from raised-cosine ramps and plateaus and rendered by
:func:`kinematics.synth.render` with the noise measured on real BlazePose output
(``tests/kinematics/conftest.py``: 2 px on image coordinates, 1.6-13 mm on world
coordinates, the two hips' noise correlated 0.6) at the fixture's subject size
(camera 3.8 m away). Where the feet must stay on the floor (squat, sit-to-stand,
single-leg stance) the pelvis path is computed to keep them there.

Each scenario states its truth: repetitions per side, hold plateaus, stance
durations, pelvic drop (or hike) and its side, and exercise-specific values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kinematics.pipeline import KinematicsPipeline, KinematicsResult
from kinematics.protocols import PROTOCOLS, ProtocolResult
from kinematics.series import LandmarkSeries
from kinematics.synth import Body, Camera, PoseAngles, render
from tests.kinematics.conftest import CAMERA_DISTANCE_M, HIP_CORRELATION, NOISE_M, NOISE_PX

FPS = 30.0
BODY = Body()


def time_axis(duration_s: float, fps: float = FPS) -> np.ndarray:
    return np.arange(round(duration_s * fps)) / fps


def bumps(
    t: np.ndarray,
    starts: list[float],
    *,
    rise_s: float,
    hold_s: float,
    fall_s: float,
    low: float = 0.0,
    high: float = 1.0,
) -> np.ndarray:
    """``low`` everywhere except, from each start, a raised-cosine rise to ``high``, a plateau and a fall."""
    out = np.full(t.shape, float(low))
    for s in starts:
        a, b, c, d = s, s + rise_s, s + rise_s + hold_s, s + rise_s + hold_s + fall_s
        up = (t >= a) & (t < b)
        out[up] = low + (high - low) * 0.5 * (1 - np.cos(np.pi * (t[up] - a) / rise_s))
        out[(t >= b) & (t <= c)] = high
        down = (t > c) & (t < d)
        out[down] = high - (high - low) * 0.5 * (1 - np.cos(np.pi * (t[down] - c) / fall_s))
    return out


def ramps(t: np.ndarray, knots: list[tuple[float, float]]) -> np.ndarray:
    """Raised-cosine interpolation through ``(time, value)`` knots; flat outside them."""
    ts = np.array([k[0] for k in knots])
    vs = np.array([k[1] for k in knots])
    i = np.clip(np.searchsorted(ts, t, side="right") - 1, 0, len(ts) - 2)
    w = np.clip((t - ts[i]) / np.maximum(ts[i + 1] - ts[i], 1e-9), 0, 1)
    smooth = vs[i] + (vs[i + 1] - vs[i]) * 0.5 * (1 - np.cos(np.pi * w))
    return np.where(t < ts[0], vs[0], np.where(t > ts[-1], vs[-1], smooth))


def feet_fixed_path(
    thigh_from_vertical_deg: np.ndarray, shank_from_vertical_deg: np.ndarray, body: Body = BODY
) -> np.ndarray:
    """``(n, 3)`` pelvis path (left, up, anterior) that keeps the ankles where they are when standing.

    Angles are the sagittal inclinations of thigh and shank from the downward
    vertical, > 0 forward (as :mod:`kinematics.synth` poses them: thigh = hip
    flexion - forward trunk lean, shank = thigh - knee flexion).
    """
    th, sh = np.radians(thigh_from_vertical_deg), np.radians(shank_from_vertical_deg)
    up = body.thigh_m * np.cos(th) + body.shank_m * np.cos(sh) - (body.thigh_m + body.shank_m)
    anterior = -(body.thigh_m * np.sin(th) + body.shank_m * np.sin(sh))
    return np.stack([np.zeros_like(up), up, anterior], axis=1)


@dataclass
class Truth:
    """What the synthetic subject did."""

    reps: dict[str | None, int]  # side (None: both together) -> repetitions
    holds_s: list[float] = field(default_factory=list)  # plateau of every hold, in time order
    stance_s: dict[str, float] = field(default_factory=dict)  # stance leg -> seconds with the other foot off the floor
    drops: dict[str, tuple[float, str]] = field(default_factory=dict)  # what -> (degrees, side that is lower)
    values: dict[str, float] = field(default_factory=dict)  # metric -> true value
    contacts: dict[str, np.ndarray] = field(default_factory=dict)  # side -> initial contact times


@dataclass
class Scenario:
    """A synthetic recording of one exercise, the views it should be filmed from, and one it should not."""

    name: str
    protocol: str
    t_s: np.ndarray
    pose: PoseAngles
    truth: Truth
    yaws: tuple[float, ...]
    wrong_yaw: float
    path: np.ndarray | None = None


# -- the exercises -------------------------------------------------------------------


def single_leg_stance() -> Scenario:
    """Two-leg stance, 6.0 s on the right leg (left side drops 6 deg), then 5.0 s on the left (right drops 2.5).

    The foot is lifted and put down in 0.4 s each (hip 40 deg, knee 80 deg: ~20 cm
    at the ankle); the pelvis tilts once the foot is up, and the pelvis path keeps the
    standing foot on the floor. Stance truth: foot off the floor, lift start to landing.
    """
    t = time_axis(20.0)
    lift_l = bumps(t, [2.0], rise_s=0.4, hold_s=6.0, fall_s=0.4)
    lift_r = bumps(t, [11.0], rise_s=0.4, hold_s=5.0, fall_s=0.4)
    drop_l = bumps(t, [2.4], rise_s=0.4, hold_s=5.2, fall_s=0.4)
    drop_r = bumps(t, [11.4], rise_s=0.4, hold_s=4.2, fall_s=0.4)
    obliquity = -6.0 * drop_l + 2.5 * drop_r  # > 0: left hip higher
    half = 0.5 * BODY.hip_width_m * np.sin(np.radians(obliquity))
    up = np.where(t < 10.0, half, -half)  # the standing hip stays at its height
    pose = PoseAngles(
        hip_flexion_left_deg=40 * lift_l,
        knee_flexion_left_deg=80 * lift_l,
        hip_flexion_right_deg=40 * lift_r,
        knee_flexion_right_deg=80 * lift_r,
        pelvic_obliquity_deg=obliquity,
        trunk_lean_lateral_deg=-3 * drop_l + 2 * drop_r,
    )
    truth = Truth(
        reps={None: 2},
        stance_s={"right": 6.8, "left": 5.8},
        drops={"right_stance": (6.0, "left"), "left_stance": (2.5, "right")},
    )
    return Scenario(
        "single_leg_stance",
        "single_leg_stance",
        t,
        pose,
        truth,
        (0.0, 180.0),
        90.0,
        np.stack([np.zeros_like(t), up, np.zeros_like(t)], axis=1),
    )


def standing_hip_abduction() -> Scenario:
    """Left leg out to 30 deg three times with a 5 deg hike; right leg to 25 deg three times with a 3 deg drop.

    Every lift: 0.8 s up, 1.5 s hold, 0.8 s down; the pelvis and the trunk (leaning
    4 deg over the standing leg) move with it.
    """
    t = time_axis(24.0)
    kw = {"rise_s": 0.8, "hold_s": 1.5, "fall_s": 0.8}
    left, right = [1.0, 4.8, 8.6], [12.6, 16.4, 20.2]
    lift_l, lift_r = bumps(t, left, **kw), bumps(t, right, **kw)
    pose = PoseAngles(
        hip_abduction_left_deg=30 * lift_l,
        hip_abduction_right_deg=25 * lift_r,
        pelvic_obliquity_deg=5.0 * lift_l + 3.0 * lift_r,  # left hip up; then left hip up = right down
        trunk_lean_lateral_deg=-4.0 * lift_l + 4.0 * lift_r,
    )
    truth = Truth(
        reps={"left": 3, "right": 3},
        holds_s=[1.5] * 6,
        # lifting the right leg, its own side drops: the left (standing) leg's abductors let go
        drops={"lifting_right": (3.0, "right")},
        values={
            "hip_abduction_range_deg_left": 30.0,
            "hip_abduction_range_deg_right": 25.0,
            "pelvic_hike_deg_left": 5.0,
            "pelvic_hike_deg_right": -3.0,
            "trunk_lean_toward_stance_deg_left": 4.0,
            "trunk_lean_toward_stance_deg_right": 4.0,
        },
    )
    return Scenario("standing_hip_abduction", "standing_hip_abduction", t, pose, truth, (0.0, 180.0), 90.0)


def standing_hip_flexion(*, lying: bool = False) -> Scenario:
    """Left hip to 70 deg twice, right to 60 twice (knee raises), 2 s holds; lying: straight-leg raises to 50/40."""
    t = time_axis(18.0)
    kw = {"rise_s": 0.8, "hold_s": 2.0, "fall_s": 0.8}
    left, right = bumps(t, [1.0, 5.0], **kw), bumps(t, [9.0, 13.0], **kw)
    peak_l, peak_r = (50.0, 40.0) if lying else (70.0, 60.0)
    pose = PoseAngles(
        hip_flexion_left_deg=peak_l * left,
        hip_flexion_right_deg=peak_r * right,
        knee_flexion_left_deg=0.0 if lying else 80 * left,
        knee_flexion_right_deg=0.0 if lying else 70 * right,
        body_pitch_deg=-90.0 if lying else 0.0,
    )
    truth = Truth(
        reps={"left": 2, "right": 2},
        holds_s=[2.0] * 4,
        values={"peak_hip_flexion_deg_left": peak_l, "peak_hip_flexion_deg_right": peak_r},
    )
    name = "active_straight_leg_raise" if lying else "standing_hip_flexion"
    return Scenario(name, "standing_hip_flexion", t, pose, truth, (90.0, -90.0), 0.0)


def _squat_pose(t: np.ndarray, depth: np.ndarray) -> tuple[PoseAngles, np.ndarray, dict[str, np.ndarray]]:
    thigh, lean, shank = 70 * depth, 25 * depth, -30 * depth  # thigh and shank from vertical, trunk lean
    angles = {
        "hip_flexion_left_deg": thigh + lean,
        "hip_flexion_right_deg": thigh + lean,
        "trunk_lean_forward_deg": lean,
        "knee_flexion_left_deg": thigh - shank,
        "knee_flexion_right_deg": thigh - shank,
    }
    return angles, feet_fixed_path(thigh, shank), {"thigh": thigh, "lean": lean}


def squat() -> Scenario:
    """Four squats to 95 deg hip flexion (1 s down, 0.3 s at the bottom, 1 s up), feet on the floor.

    At the bottom: the knees move in (hip adduction 8 deg left, 3 right), the right
    side of the pelvis is 3 deg lower and the trunk leans 4 deg to the left.
    """
    t = time_axis(14.0)
    depth = bumps(t, [1.0, 4.5, 8.0, 11.0], rise_s=1.0, hold_s=0.3, fall_s=1.0)
    angles, path, _ = _squat_pose(t, depth)
    pose = PoseAngles(
        **angles,
        hip_abduction_left_deg=-8 * depth,
        hip_abduction_right_deg=-3 * depth,
        pelvic_obliquity_deg=3.0 * depth,
        trunk_lean_lateral_deg=4.0 * depth,
    )
    truth = Truth(
        reps={None: 4},
        drops={"at_depth": (3.0, "right")},
        values={
            "squat_depth_hip_flexion_deg": 95.0,
            "trunk_lean_forward_at_depth_deg": 25.0,
            "trunk_lean_lateral_change_deg": 4.0,
        },
    )
    return Scenario("squat", "squat", t, pose, truth, (90.0, -90.0, 0.0, 180.0), 45.0, path)


def sit_to_stand() -> Scenario:
    """Four sit-to-stands, one every 5.0 s: lean forward 35 deg (0.6 s), rise (1.2 s), stand (0.8 s), sit back down.

    Seated the thighs are horizontal and the shanks vertical; standing, the right
    side of the pelvis is 3 deg lower than sitting.
    """
    t = time_axis(22.0)
    thigh, lean, tilt = [(0.0, 90.0)], [(0.0, 0.0)], [(0.0, 0.0)]
    for s in (1.0, 6.0, 11.0, 16.0):
        thigh += [(s, 90), (s + 0.6, 90), (s + 1.8, 0), (s + 2.6, 0), (s + 3.8, 90), (s + 4.4, 90)]
        lean += [(s, 0), (s + 0.6, 35), (s + 1.8, 0), (s + 2.6, 0), (s + 3.8, 35), (s + 4.4, 0)]
        tilt += [(s + 0.6, 0), (s + 1.8, 3), (s + 2.6, 3), (s + 3.8, 0)]
    th, la, ob = ramps(t, thigh), ramps(t, lean), ramps(t, tilt)
    flexion = th + la
    pose = PoseAngles(
        hip_flexion_left_deg=flexion,
        hip_flexion_right_deg=flexion,
        trunk_lean_forward_deg=la,
        knee_flexion_left_deg=th,
        knee_flexion_right_deg=th,
        pelvic_obliquity_deg=ob,
    )
    velocity = -np.gradient(flexion, t)
    truth = Truth(
        reps={None: 4},
        drops={"standing": (3.0, "right")},
        values={
            "time_per_rep_s": 5.0,
            "hip_flexion_range_deg": float(np.ptp(flexion)),
            "peak_hip_extension_velocity_deg_s": float(velocity.max()),
        },
    )
    return Scenario(
        "sit_to_stand",
        "sit_to_stand",
        t,
        pose,
        truth,
        (90.0, -90.0, 0.0, 180.0),
        45.0,
        feet_fixed_path(th, np.zeros_like(th)),
    )


def bridge() -> Scenario:
    """Lying on the back, knees bent: three bridges from 50 deg hip flexion to 5 deg extension, 2 s holds.

    The trunk inclines 25 deg at the top (shoulders on the floor, pelvis up).
    """
    t = time_axis(16.0)
    lift = bumps(t, [1.0, 5.5, 10.0], rise_s=1.0, hold_s=2.0, fall_s=1.0)
    incline = 25.0 * lift
    flexion = 50.0 - 55.0 * lift
    pose = PoseAngles(
        hip_flexion_left_deg=flexion,
        hip_flexion_right_deg=flexion,
        knee_flexion_left_deg=100.0,
        knee_flexion_right_deg=100.0,
        body_pitch_deg=-90.0 - incline,
    )
    path = np.stack([np.zeros_like(t), BODY.trunk_m * np.sin(np.radians(incline)), np.zeros_like(t)], axis=1)
    truth = Truth(reps={None: 3}, holds_s=[2.0] * 3, values={"hip_extension_reached_deg": 5.0})
    return Scenario("bridge", "bridge", t, pose, truth, (90.0, -90.0), 0.0, path)


def gait() -> Scenario:
    """Walking on a treadmill, stride 1.1 s (109 steps/min), 11.4 s.

    Hip flexion 30 deg at each contact; range 40 deg left, 34 right. In the left
    leg's stance the right side drops 5 deg, in the right's the left drops 3
    (half sines, level at each contact). No contact lies within 0.45 s of either end.
    """
    t = time_axis(11.4)
    stride, first = 1.1, 1.0

    def leg(phase: np.ndarray, hip_range: float) -> tuple[np.ndarray, np.ndarray]:
        hip = 30.0 - hip_range / 2 * (1 - np.cos(2 * np.pi * phase))
        knee = np.where(phase >= 0.6, 60.0 * np.sin(np.pi * (phase - 0.6) / 0.4) ** 2, 0.0)  # swing
        return hip, knee

    phase_l = np.mod((t - first) / stride, 1.0)
    phase_r = np.mod(phase_l - 0.5, 1.0)
    hip_l, knee_l = leg(phase_l, 40.0)
    hip_r, knee_r = leg(phase_r, 34.0)
    obliquity = np.where(phase_l < 0.5, 5.0, 3.0) * np.sin(2 * np.pi * phase_l)
    pose = PoseAngles(
        hip_flexion_left_deg=hip_l,
        hip_flexion_right_deg=hip_r,
        knee_flexion_left_deg=knee_l,
        knee_flexion_right_deg=knee_r,
        pelvic_obliquity_deg=obliquity,
    )
    # Phase 0 of a leg: hip flexion at its peak and the knee straight, so the ankle is furthest ahead (Zeni).
    contacts = {"left": np.arange(first, t[-1], stride), "right": np.arange(first - stride / 2, t[-1], stride)}
    truth = Truth(
        reps={"left": len(contacts["left"]), "right": len(contacts["right"])},
        contacts=contacts,
        drops={"left_stance": (5.0, "right"), "right_stance": (3.0, "left")},
        values={
            "cadence_steps_per_min": 120.0 / stride,
            "hip_flexion_range_per_stride_deg_left": 40.0,
            "hip_flexion_range_per_stride_deg_right": 34.0,
            "pelvic_obliquity_range_per_stride_deg": 8.0,
        },
    )
    return Scenario("gait", "gait", t, pose, truth, (90.0, -90.0, 0.0, 180.0), 45.0)


SCENARIOS = {
    s.name: s
    for s in (
        single_leg_stance(),
        standing_hip_abduction(),
        standing_hip_flexion(),
        standing_hip_flexion(lying=True),
        squat(),
        sit_to_stand(),
        bridge(),
        gait(),
    )
}


@dataclass
class Observed:
    """One synthetic recording as the protocol sees it."""

    landmarks: LandmarkSeries
    kinematics: KinematicsResult
    result: ProtocolResult
    noise_free: LandmarkSeries


def observe(scenario: Scenario, yaw_deg: float, space: str, seed: int = 0) -> Observed:
    """Render ``scenario`` at ``yaw_deg`` with the measured noise, run the pipeline and the protocol."""
    camera = Camera(yaw_deg=yaw_deg, distance_m=CAMERA_DISTANCE_M)
    image, world = render(
        scenario.pose,
        scenario.t_s,
        camera=camera,
        pelvis_path_m=scenario.path,
        noise_px=NOISE_PX,
        noise_m=NOISE_M,
        hip_noise_correlation=HIP_CORRELATION,
        rng=np.random.default_rng(seed),
    )
    clean = render(scenario.pose, scenario.t_s, camera=camera, pelvis_path_m=scenario.path)
    lm = image if space == "image" else world
    kinematics = KinematicsPipeline().run(lm)
    return Observed(
        lm, kinematics, PROTOCOLS[scenario.protocol].assess(kinematics, lm), clean[0] if space == "image" else clean[1]
    )

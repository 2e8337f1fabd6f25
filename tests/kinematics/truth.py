"""Ground-truth angle trajectories for the recovery tests (functions of time, degrees).

Realistic ranges and speeds for a rehabilitation session: pelvic obliquity
+-8 deg, hip abduction 0..35, hip flexion -15..90 (a squat, a leg raise),
trunk lean +-15. Sinusoids, raised-cosine repetitions and slow ramps, each at
its own frequency so the series vary independently within a recording.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kinematics.synth import PoseAngles

Trajectory = Callable[[np.ndarray], np.ndarray]

FPS = 30.0
DURATION_S = 10.0


def time_axis(fps: float = FPS, duration_s: float = DURATION_S) -> np.ndarray:
    """``(n,)`` uniform timestamps in seconds."""
    return np.arange(int(round(fps * duration_s))) / fps


def _sine(amplitude: float, hz: float, phase: float = 0.0) -> Trajectory:
    return lambda t: amplitude * np.sin(2 * np.pi * hz * t + phase)


def _repetitions(low: float, high: float, hz: float) -> Trajectory:
    """Raised cosine from ``low`` up to ``high`` and back, ``hz`` times a second."""
    return lambda t: low + (high - low) * 0.5 * (1 - np.cos(2 * np.pi * hz * t))


def _ramp(start: float, stop: float) -> Trajectory:
    return lambda t: start + (stop - start) * np.asarray(t) / DURATION_S


# Frontal-plane movement (standing hip abduction with pelvic drop and lateral lean);
# sagittal angles stay 0.
FRONTAL: dict[str, Trajectory] = {
    "pelvic_obliquity_deg": _sine(8.0, 0.25),
    "hip_abduction_left_deg": _repetitions(0.0, 35.0, 0.2),
    "hip_abduction_right_deg": _ramp(0.0, 35.0),
    "trunk_lean_lateral_deg": _sine(15.0, 0.15, 1.0),
}

# Sagittal-plane movement (squats, a leg lowered from a raise, forward lean);
# frontal angles stay 0.
SAGITTAL: dict[str, Trajectory] = {
    "hip_flexion_left_deg": _repetitions(-15.0, 90.0, 0.2),
    "hip_flexion_right_deg": _ramp(90.0, -15.0),
    "trunk_lean_forward_deg": _sine(15.0, 0.1, 0.5),
}

PLANE = {**{k: "frontal" for k in FRONTAL}, **{k: "sagittal" for k in SAGITTAL}}


def truth(plane: str, t_s: np.ndarray) -> dict[str, np.ndarray]:
    """``{series name: (n,) degrees}`` of the movement in ``plane``."""
    return {name: f(t_s) for name, f in (FRONTAL if plane == "frontal" else SAGITTAL).items()}


def pose(plane: str, t_s: np.ndarray) -> PoseAngles:
    return PoseAngles(**truth(plane, t_s))


def rmse(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(got) - np.asarray(want)) ** 2)))

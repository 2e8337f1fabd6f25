"""Fixtures for the protocol tests: synthetic recordings (cached) and the real recordings."""

from __future__ import annotations

from functools import cache

import pytest

from kinematics.filtering import contiguous_runs
from kinematics.pipeline import KinematicsPipeline
from kinematics.series import LandmarkSeries
from kinematics.view import fold_yaw
from tests.protocols import synthetic as S


@cache
def observed(name: str, yaw_deg: float, space: str, seed: int = 0) -> S.Observed:
    """:func:`synthetic.observe`, once per recording for the whole session (protocols and pipeline are pure)."""
    return S.observe(S.SCENARIOS[name], yaw_deg, space, seed)


def frontal_phase(lm_image: LandmarkSeries, other: LandmarkSeries | None = None) -> LandmarkSeries:
    """The longest stretch of a real clip that the pipeline sees within 40 deg of facing the camera."""
    view = KinematicsPipeline().run(lm_image).view
    near = fold_yaw(view.per_sample_yaw_deg) <= 40.0  # frontal or borderline oblique
    a, b = max(contiguous_runs(near), key=lambda ab: ab[1] - ab[0])
    lm = other if other is not None else lm_image
    return lm.replace(t_s=lm.t_s[a:b], xyz=lm.xyz[a:b], visibility=lm.visibility[a:b])


@pytest.fixture(scope="session")
def keraal_landmarks() -> dict[str, LandmarkSeries]:
    """The three KERAAL trials (seated, facing the camera), unmirrored as validation/keraal.py does."""
    from validation import keraal as K

    return {ex: K.load_blazepose(K.bp_path(ex)) for ex in K.EXERCISES}

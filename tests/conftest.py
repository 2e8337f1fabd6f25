"""Shared fixtures: paths of the real recordings and the real pose model's outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests._sched import demote_realtime_threads

FIXTURES = Path(__file__).parent / "fixtures"
POSE2SIM = FIXTURES / "video" / "pose2sim_cam01.mp4"
SPORTS2D = FIXTURES / "video" / "sports2d_two_people.mp4"
ASTRONAUT = FIXTURES / "images" / "astronaut.png"


@pytest.fixture(autouse=True)
def _no_realtime_scheduling():
    """Fail the test that leaves the test process at a real-time policy (tests/_sched.py).

    Everything started later would inherit it; the threads are demoted before the next test.
    """
    yield
    found = demote_realtime_threads()
    assert not found, "this test left the test process on real-time scheduling (demoted): " + "; ".join(found)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def pose2sim_extraction():
    """The real BlazePose model over the real portrait clip (once per session)."""
    from vision.backends.mediapipe import Backend
    from vision.extract import extract_video

    with Backend.from_name("blazepose_full") as backend:
        return extract_video(POSE2SIM, backend)


@pytest.fixture(scope="session")
def sports2d_extraction():
    from vision.backends.mediapipe import Backend
    from vision.extract import extract_video

    with Backend.from_name("blazepose_full") as backend:
        return extract_video(SPORTS2D, backend)

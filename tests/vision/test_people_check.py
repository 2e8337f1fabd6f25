"""The schedule that decides when a backend searches for more people than it tracks."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import POSE2SIM
from vision.backends._people_check import PeopleCheck


def test_one_person_is_searched_for_on_every_frame_of_the_first_second_then_every_half_second():
    check = PeopleCheck(every_s=0.5, hold_s=1.0)
    t = np.arange(0, 3.0, 1 / 30)
    searched = []
    for t_s in t:
        if check.due(t_s):
            check.searched(t_s, 1)
            searched.append(t_s)
    first_second = [s for s in searched if s < 1.0]
    assert len(first_second) == 30  # everyone in view at the start is found at the start
    np.testing.assert_allclose(np.diff([s for s in searched if s >= 1.0 - 1 / 30]), 0.5, atol=1 / 30 + 1e-9)
    assert len(searched) == 30 + 3  # then about 1.47, 1.97 and 2.47 s


def test_two_people_keep_the_search_on_every_frame_for_the_hold():
    check = PeopleCheck(every_s=0.5, hold_s=1.0)
    check.searched(0.0, 1)  # the video's first search
    check.searched(5.0, 2)
    assert all(check.due(t) for t in np.arange(5 + 1 / 30, 6.0, 1 / 30))
    check.searched(5.9, 1)  # the second person left
    assert check.due(5.95)  # still inside the hold that began at 5.0
    assert not check.due(6.05) and check.due(6.4)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="every_s"):
        PeopleCheck(every_s=0)


def test_the_onnx_backend_searches_on_the_schedule_and_tracks_in_between():
    """Real clip, one person, 100 frames at 60 fps (1.65 s): the detector runs on the 60 frames of
    the first second and once more about 0.5 s later, the landmark model on every frame, and the
    person is found on every frame. On MediaPipe's schedule the detector runs on all 100."""
    from vision.backends.onnx import Backend
    from vision.decode import VideoReader

    for schedule, searches in ((0.5, (61, 62)), (None, (100, 100))):
        with Backend.from_name(people_check_s=schedule) as backend, VideoReader(POSE2SIM) as video:
            calls = []
            detect = backend.detect
            backend.detect = lambda rgb, calls=calls, detect=detect: calls.append(1) or detect(rgb)
            found = [len(backend.estimate(frame.rgb, frame.t_s)) for frame in video]
        assert found == [1] * 100
        assert searches[0] <= len(calls) <= searches[1]


def test_live_use_skips_the_first_second_of_searches():
    check = PeopleCheck(every_s=1.0, start_s=0.0)
    check.searched(0.0, 1)
    assert not any(check.due(t) for t in np.arange(1 / 30, 1.0 - 1e-9, 1 / 30)) and check.due(1.0)


def test_two_boxes_on_the_tracked_person_count_once_and_a_second_person_starts_the_hold():
    """Real clip, one person (60 fps, 1.65 s), no first-second searches. A search that boxes the
    tracked person twice (both boxes on its ROI, as the detector does now and then on a small
    person) found one person: searches stay every 0.5 s. A box elsewhere is a second person: the
    detector then runs on every frame for the hold (1 s)."""
    import dataclasses

    from vision.backends.onnx import Backend
    from vision.decode import VideoReader

    with VideoReader(POSE2SIM) as video:
        frames = list(video)
    counts = {}
    for label in ("same person twice", "someone else"):
        with Backend.from_name(people_check_start_s=0.0) as backend:
            backend.estimate(frames[0].rgb, frames[0].t_s)  # the first search finds the person
            detect, calls = backend.detect, []

            def twice(rgb, detect=detect, calls=calls, label=label):
                calls.append(1)
                found = detect(rgb)
                if label == "same person twice":
                    return found + found
                far = dataclasses.replace(found[0], x_center=1.0 - found[0].x_center, y_center=0.1, height=0.1)
                return found + [far]

            backend.detect = twice
            for frame in frames[1:]:
                backend.estimate(frame.rgb, frame.t_s)
        counts[label] = len(calls)
    assert counts["same person twice"] <= 4  # about 0.5, 1.0 and 1.5 s
    assert counts["someone else"] >= 50  # every frame (60 fps) for 1 s after the search at about 0.5 s

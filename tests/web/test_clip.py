"""The fake-camera clip counts exactly its constructed number of repetitions with the live endpoint's own code.

No browser here: the clip's frames go, JPEG-encoded as the patient page sends them, through
the pose model and ``LiveSession`` (the live endpoint's measurement: the offline protocol),
at the full rate and at the lower rates a busy server answers at (the page sends a frame only
after the previous answer arrived). The pose model here is the IMAGE-mode one (each frame on
its own), so one pass can be subsampled at every rate and offset; a live connection's own
model tracks between the frames it receives, and that path is the browser test's
(tests/web/test_patient_page.py, through the real endpoint).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.web.clip import EXERCISE, ClipSpec, clip_frames

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def answers():
    """Every clip frame through the pose model once: (t_s, people, (w, h))."""
    import cv2

    from service.frame_analysis import FrameAnalyzer, decode_image
    from service.settings import Settings

    spec = ClipSpec()
    analyzer = FrameAnalyzer(Settings().backend_factory(video=False)())
    out = []
    try:
        for i, rgb in enumerate(clip_frames(spec)):
            ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 75])
            assert ok
            sent = decode_image(jpg.tobytes())
            out.append((i / spec.fps, analyzer.estimate(sent), (sent.shape[1], sent.shape[0])))  # the y4m's times
    finally:
        analyzer.close()
    return spec, out


# Measured when written: exact at every rate down to every 7th frame (4.3 answers/s) from any
# starting frame; from every 8th frame (3.75/s) on, some starting frames miss a repetition.
MIN_ANSWERS_PER_S = 30 / 7


# The clip's source (pose2sim cam01) films a sideways leg swing from 30 deg off his front (the
# four-camera reference, docs/validation.md), not the side-on knee lift this test was built on.
# Since issue 15 the live count is the offline protocol's, which answers "wrong view" for it (as
# for every lab clip, tests/protocols/test_real_footage.py), so nothing is counted live either.
# No fixture clip films a standing exercise side-on; strict, so this goes when one does.
LIVE_CLIP_MISREAD = pytest.mark.xfail(
    strict=True, reason="clip source is front-oblique: the offline protocol, and so live, withholds it"
)


@LIVE_CLIP_MISREAD
@pytest.mark.parametrize("every", [1, 2, 3, 4, 5, 6, 7])
def test_live_counter_counts_the_constructed_repetitions(answers, every):
    """At 30 fps / ``every`` answers per second, whichever frame the answers start at."""
    from service.live import LiveSession

    spec, frames = answers
    for offset in range(every):
        session = LiveSession(EXERCISE)
        counts = [session.update(t_s, people, size)["reps"] for t_s, people, size in frames[offset::every]]
        assert counts[-1] == spec.reps, f"every {every}th frame from {offset}: counted {counts[-1]}, built {spec.reps}"
        # each repetition is counted on its way back down, one at a time
        assert sorted(set(counts)) == list(range(spec.reps + 1))


def test_clip_shows_a_person_only_between_the_blank_ends(answers):
    spec, frames = answers
    found = [bool(people) for _, people, _ in frames]
    n_blank = round(spec.blank_s * spec.fps)
    assert not any(found[:n_blank]) and not any(found[-n_blank:])
    inner = found[n_blank:-n_blank]
    assert sum(inner) / len(inner) > 0.95


@LIVE_CLIP_MISREAD
def test_the_offline_pipeline_measures_the_counted_angle_on_the_clip(answers):
    """The protocol's hip flexion moves well above the 15 deg its repetitions need."""
    from kinematics.pipeline import KinematicsPipeline
    from kinematics.streaming import SlidingAssessment

    spec, frames = answers
    stream = SlidingAssessment(exercise=EXERCISE, image_size_wh=frames[0][2], window_s=60.0)
    for t_s, people, _ in frames:
        pose = people[0] if people else None
        stream.push(t_s, None if pose is None else pose.image_xyz, None if pose is None else pose.visibility, run=False)
    lm = stream.landmarks()
    assert lm is not None
    result = KinematicsPipeline().run(lm)
    flexion = result.series["hip_flexion_left_deg"].values
    assert "hip_flexion_left_deg" not in result.unavailable and np.nanmax(flexion) - np.nanmin(flexion) > 30

"""The fake-camera clip counts exactly its constructed number of repetitions with the live endpoint's own code.

No browser here: the clip's frames go, JPEG-encoded as the patient page sends them, through
``FrameAnalyzer`` and ``LiveSession`` (the live endpoint's smoothing and repetition counter),
at the full rate and at the lower rates a busy server answers at (the page sends a frame only
after the previous answer arrived). The pose model here is the IMAGE-mode one (each frame on
its own), so one pass can be subsampled at every rate and offset; a live connection's own
model tracks between the frames it receives, and that path is the browser test's
(tests/web/test_patient_page.py, through the real endpoint).
"""

from __future__ import annotations

import pytest

from tests.web.clip import EXERCISE, ClipSpec, clip_frames

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def answers():
    """Every clip frame analysed once: (t_s, FrameResult)."""
    import cv2

    from service.frame_analysis import FrameAnalyzer
    from service.settings import Settings

    spec = ClipSpec()
    analyzer = FrameAnalyzer(Settings().backend_factory(video=False)())
    out = []
    try:
        for i, rgb in enumerate(clip_frames(spec)):
            ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 75])
            assert ok
            out.append((i / spec.fps, analyzer.analyze_bytes(jpg.tobytes())))  # the y4m's own frame times
    finally:
        analyzer.close()
    return spec, out


# Measured when written: exact at every rate down to every 7th frame (4.3 answers/s) from any
# starting frame; from every 8th frame (3.75/s) on, some starting frames miss a repetition.
MIN_ANSWERS_PER_S = 30 / 7


# The clip's source (pose2sim cam01) films a sideways leg swing from 30 deg off his front (the
# four-camera reference, docs/validation.md), not the side-on knee lift this test was built on:
# the live view gate now withholds hip flexion there, as the offline protocol does. Issue 15
# (one measurement path for live and offline) rebuilds the live counter tests on footage whose
# view measures the counted movement; strict, so this marker goes when they pass again.
LIVE_CLIP_MISREAD = pytest.mark.xfail(
    strict=True, reason="clip source is front-oblique, not side-on: rebuilt in issue 15"
)


@LIVE_CLIP_MISREAD
@pytest.mark.parametrize("every", [1, 2, 3, 4, 5, 6, 7])
def test_live_counter_counts_the_constructed_repetitions(answers, every):
    """At 30 fps / ``every`` answers per second, whichever frame the answers start at."""
    from service.api.live import LiveSession

    spec, frames = answers
    for offset in range(every):
        session = LiveSession(EXERCISE)
        counts = [session.update(t_s, frame)["reps"] for t_s, frame in frames[offset::every]]
        assert counts[-1] == spec.reps, f"every {every}th frame from {offset}: counted {counts[-1]}, built {spec.reps}"
        # each repetition is counted on its way back down, one at a time
        assert sorted(set(counts)) == list(range(spec.reps + 1))


def test_clip_shows_a_person_only_between_the_blank_ends(answers):
    spec, frames = answers
    found = [frame.person_found for _, frame in frames]
    n_blank = round(spec.blank_s * spec.fps)
    assert not any(found[:n_blank]) and not any(found[-n_blank:])
    inner = found[n_blank:-n_blank]
    assert sum(inner) / len(inner) > 0.95


@LIVE_CLIP_MISREAD
def test_the_segment_moves_the_counted_angle_enough(answers):
    """The rep series' excursion (deg) is well above the 15 deg the live counter needs."""
    from service.api.live import _REPS, _rep_value

    spec, frames = answers
    series, min_amplitude = _REPS[EXERCISE]
    values = [v for _, f in frames if f.person_found and (v := _rep_value(series, f.angles)) is not None]
    assert max(values) - min(values) > 2 * min_amplitude

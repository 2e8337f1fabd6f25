"""One video on two processes: same frames and clock as the serial path, same subject across the seam."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

from tests.conftest import POSE2SIM, SPORTS2D


def _factory():
    """The default model as the analysis loads it in each process (ONNX, people searched for every 0.5 s)."""
    from vision.backends import load_backend

    return functools.partial(load_backend, "blazepose_full_onnx", video=True)


def _hips(lm) -> np.ndarray:
    from kinematics.series import BLAZEPOSE33

    i = [BLAZEPOSE33.index("left_hip"), BLAZEPOSE33.index("right_hip")]
    return lm.xyz[:, i, :2].mean(axis=1)


def test_chunks_cover_the_duration_with_equal_work_and_the_asked_overlap():
    from vision.parallel import _bounds

    b = _bounds(60.0, 2, 1.0)
    assert b[0] == (0.0, 0.0, b[1][1]) and b[1][2] is None
    assert b[1][0] == pytest.approx(b[1][1] - 1.0)
    # each process decodes and infers the same length of video, overlap included
    assert b[0][2] - b[0][0] == pytest.approx(60.0 - b[1][0])
    b3 = _bounds(90.0, 3, 2.0)
    assert [x[1] for x in b3][1:] == [x[2] for x in b3][:-1]


def test_a_short_video_is_extracted_in_one_process():
    from vision.parallel import extract_video_parallel

    ex = extract_video_parallel(POSE2SIM, _factory())  # 1.65 s < MIN_PARALLEL_S
    assert ex.media.frames_read == 100 and ex.seams == ()


@pytest.fixture(scope="module")
def two_people_12s(tmp_path_factory):
    """The Sports2D clip (a man on a box, a woman walking past from 3.5 s), looped forwards and
    backwards to 12 s of H.264 at 30 fps: two people in view on both sides of the seam (~6.5 s)."""
    from bench.throughput import make_clip

    return make_clip(
        tmp_path_factory.mktemp("parallel") / "two_people_12s.mp4", seconds=12, size_wh=(1768, 994), source=SPORTS2D
    )


@pytest.mark.slow
def test_two_processes_give_the_serial_frames_clock_and_subject(two_people_12s):
    from vision.extract import extract_video
    from vision.parallel import extract_video_parallel

    factory = _factory()
    par = extract_video_parallel(two_people_12s, factory, workers=2, overlap_s=1.0)
    seams = par.seams
    backend = factory()
    try:
        ser = extract_video(two_people_12s, backend)
    finally:
        backend.close()

    assert len(seams) == 1, "the parallel path fell back to one process"
    # Same frames and the very same container clock, bit for bit; nothing lost or doubled at the seam.
    assert par.media.frames_read == ser.media.frames_read == 360
    np.testing.assert_array_equal(par.image.t_s, ser.image.t_s)
    np.testing.assert_array_equal(par.world.t_s, ser.world.t_s)
    # the media description is the serial one; sharpness is a median over the followed subject
    assert dataclasses.replace(par.media, sharpness=None) == dataclasses.replace(ser.media, sharpness=None)
    assert par.media.sharpness == pytest.approx(ser.media.sharpness, rel=0.05)
    assert par.subject.first_seen_s == ser.subject.first_seen_s

    # The same person is followed on both sides of the seam: in the overlap the previous chunk's
    # subject is found among the new chunk's people, and after it the hips are where the serial
    # path has them.
    seam = seams[0]
    # (here the man has just jumped off the box at ~5.7 s and is rarely found in the overlap: the
    # serial run has him in 2 of its 30 frames, so the seam check has little to compare; the hips
    # after the seam, below, are what shows that the same person is followed)
    assert seam.overlap_frames == 30
    both = (par.image.visibility.max(axis=1) > 0) & (ser.image.visibility.max(axis=1) > 0)
    after = both & (par.image.t_s >= seam.t_start_s)
    assert after.sum() > 60  # (119 frames with onnxruntime's AVX-512 kernels, 83 with AVX2: tests/fingerprint)
    hip_gap = np.linalg.norm(_hips(par.image)[after] - _hips(ser.image)[after], axis=1)
    assert np.all(hip_gap < 0.05), f"another person was followed after the seam ({hip_gap.max():.2f})"

    # Landmarks: same model, same frames, but the second process starts its VIDEO-mode tracking
    # afresh (detector on its first frame, then ROI tracking from its own previous landmarks,
    # searches on its own 0.5 s schedule), so for a moment after the chunk start its regions of
    # interest, and hence its landmarks, can differ slightly from the serial run's, which has
    # tracked since frame 0; nothing is filtered over time, so the difference does not persist.
    # Frames before the seam come from the first process, which is the serial run exactly.
    before = both & (par.image.t_s < seam.t_start_s)
    # (landmarks travel from the worker as float32: equal to the serial run's to float32 precision)
    np.testing.assert_allclose(par.image.xyz[before], ser.image.xyz[before], rtol=0, atol=1e-6)
    err = np.abs(par.image.xyz[after, :, :2] - ser.image.xyz[after, :, :2]).max(axis=(1, 2))
    assert np.median(err) < 1e-3 and np.quantile(err, 0.95) < 0.02
    # The subject is found in (nearly) the same frames.
    found_par, found_ser = par.image.visibility.max(axis=1) > 0, ser.image.visibility.max(axis=1) > 0
    assert np.sum(found_par != found_ser) <= 10


@pytest.mark.slow
def test_analyze_uses_every_core_it_is_given_for_a_long_video(two_people_12s, monkeypatch):
    """``analyze_file`` (what ``motionscript analyze`` runs) splits a video of 10 s or more over
    MOTIONSCRIPT_ANALYSIS_PROCESSES processes, and on one process it does not."""
    from service.analysis import analyze_file
    from vision import parallel

    real = parallel.extract_video_parallel
    seen: list = []

    def spy(*args, **kwargs):
        ex = real(*args, **kwargs)
        seen.extend(ex.seams)
        return ex

    monkeypatch.setattr(parallel, "extract_video_parallel", spy)
    runs = {}
    for processes in ("2", "1"):
        monkeypatch.setenv("MOTIONSCRIPT_ANALYSIS_PROCESSES", processes)  # read by analyze_file's default Settings()
        seen.clear()
        runs[processes] = (analyze_file(two_people_12s), list(seen))
    (par, seams), (ser, no_seams) = runs["2"], runs["1"]
    assert len(seams) == 1 and no_seams == []
    assert par.input.frames_read == ser.input.frames_read == 360
    assert par.series["t_s"] == ser.series["t_s"]
    assert par.subject.max_people_in_frame == ser.subject.max_people_in_frame == 2


def test_a_head_start_is_only_started_for_a_video_the_chunked_path_can_use(tmp_path):
    from vision.head_start import start_head

    assert start_head(POSE2SIM, _factory(), 2) is None  # 1.65 s: one process
    assert start_head(POSE2SIM, _factory(), 1) is None
    text = tmp_path / "notes.json"
    text.write_text("{}")
    assert start_head(text, _factory(), 2) is None
    assert start_head(tmp_path / "missing.mp4", _factory(), 2) is None  # the analysis reports it


def test_the_head_start_chunk_is_longer_by_the_lead_and_the_cut_depends_only_on_the_video():
    from vision.head_start import HEAD_LEAD_FRAMES, split_s
    from vision.parallel import _bounds, _bounds_after_head

    equal = _bounds(60.0, 2, 1.0)[0][2]
    assert split_s(60.0, 2, 1.0, 30.0) == pytest.approx(equal + HEAD_LEAD_FRAMES / 30.0)
    assert split_s(12.0, 2, 1.0, 30.0) == pytest.approx(_bounds(12.0, 2, 1.0)[0][2] + 1.2)  # at most a tenth
    b = _bounds_after_head(60.0, 3, 1.0, 25.0)
    assert b[0] == (0.0, 0.0, 25.0) and b[-1][2] is None
    assert [x[1] for x in b][1:] == [x[2] for x in b][:-1]  # owned parts tile the video
    assert b[1][0] == pytest.approx(24.0) and b[2][0] == pytest.approx(b[2][1] - 1.0)
    assert b[1][2] - b[1][0] == pytest.approx(60.0 - b[2][0])  # the rest in equal work, overlap included


def test_a_chunk_read_past_its_cut_is_trimmed_to_it():
    from vision.parallel import _ChunkResult, _trim

    counts = np.array([1, 2, 0, 1], np.int16)
    m = int(counts.sum())
    r = _ChunkResult(
        0,
        np.array([0.0, 0.1, 0.2, 0.3]),
        counts,
        np.arange(m * 3 * 3, dtype=np.float32).reshape(m, 3, 3),
        np.zeros((m, 3, 3), np.float32),
        np.ones((m, 3), np.float32),
        np.arange(m, dtype=np.float32),
        None,
        True,
        None,
        {},
        (10, 10),
    )
    t = _trim(r, 0.2)
    assert list(t.t_s) == [0.0, 0.1] and list(t.counts) == [1, 2] and t.next_t_s == 0.2
    assert t.image.shape[0] == t.world.shape[0] == t.vis.shape[0] == t.sharp.shape[0] == 3
    assert _trim(r, 1.0) is r


@pytest.mark.slow
def test_a_head_start_reads_the_first_chunk_as_the_serial_path_and_the_same_cut_every_time(two_people_12s):
    """The first chunk's worker, started before the call (as ``motionscript analyze`` starts it
    before its imports), reads from frame 0 to the fixed cut; this process reads the rest. Same
    frames and clock as the serial path, the serial landmarks before the cut, and the same
    landmarks on a second run (the cut does not depend on timing). Unused, it is ended."""
    from vision.extract import extract_video
    from vision.head_start import split_s, start_head
    from vision.parallel import extract_video_parallel

    factory = _factory()
    runs = []
    for _ in range(2):
        head = start_head(two_people_12s, factory, 2)
        assert head is not None
        runs.append(extract_video_parallel(two_people_12s, factory, workers=2, head_start=head))
        assert not head.process.is_alive()
    backend = factory()
    try:
        ser = extract_video(two_people_12s, backend)
    finally:
        backend.close()
    par = runs[0]
    assert len(par.seams) == 1 and par.seams[0].overlap_frames == 30
    cut = split_s(12.0, 2, 1.0, 30.0)
    assert cut - 1 / 30 < par.seams[0].t_start_s <= cut + 1 / 30
    np.testing.assert_array_equal(par.image.t_s, ser.image.t_s)
    before = (par.image.t_s < par.seams[0].t_start_s) & (ser.image.visibility.max(axis=1) > 0)
    np.testing.assert_allclose(par.image.xyz[before], ser.image.xyz[before], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(runs[1].image.xyz, par.image.xyz)

    head = start_head(two_people_12s, factory, 2)
    assert head is not None
    ex = extract_video_parallel(two_people_12s, factory, workers=2, head_start=head, min_duration_s=60.0)
    assert ex.seams == () and not head.process.is_alive()  # one process: the head start was cancelled


@pytest.mark.slow
def test_threads_read_the_very_landmarks_processes_read(two_people_12s):
    """The thread runner (`threads=True`) cuts where the process runner cuts and runs the same
    chunk code, so the stitched extraction is the same bit for bit, with and without a head start;
    the threads' backends share the models' sessions."""
    from vision.head_start import start_head
    from vision.parallel import extract_video_parallel

    factory = _factory()

    def same(a, b) -> None:
        assert len(a.seams) == len(b.seams) == 1 and a.seams == b.seams
        for field in ("image", "world"):
            x, y = getattr(a, field), getattr(b, field)
            np.testing.assert_array_equal(x.t_s, y.t_s)
            np.testing.assert_array_equal(x.xyz, y.xyz)
            np.testing.assert_array_equal(x.visibility, y.visibility)
        assert a.subject == b.subject and a.media == b.media

    waited = []  # the caller's deferred work, done once after its own chunk
    same(
        extract_video_parallel(
            two_people_12s, factory, workers=2, threads=True, while_waiting=lambda: waited.append(1)
        ),
        extract_video_parallel(two_people_12s, factory, workers=2),
    )
    assert waited == [1]
    head = start_head(two_people_12s, factory, 2, threads=True)
    assert head is not None and head.threads
    with_threads = extract_video_parallel(two_people_12s, factory, workers=2, head_start=head, threads=True)
    assert not head.process.is_alive()
    head = start_head(two_people_12s, factory, 2)
    assert head is not None and not head.threads
    same(with_threads, extract_video_parallel(two_people_12s, factory, workers=2, head_start=head))

    head = start_head(two_people_12s, factory, 2, threads=True)
    assert head is not None
    ex = extract_video_parallel(two_people_12s, factory, workers=2, head_start=head, threads=True, min_duration_s=60.0)
    assert ex.seams == () and not head.process.is_alive()  # read in one piece: the head thread was stopped

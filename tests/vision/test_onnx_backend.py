"""The ONNX backend reproduces the MediaPipe backend: same files, same landmarks, same angles.

The bar (project issue 5): on the real fixture videos, both backends in VIDEO
mode over the same frames, the followed subject's landmarks agree to a median
of 0.005 and a 95th percentile of 0.02 (normalised image units, landmarks that
both call visible); every angle series of the pose2sim assessment within 1 deg
RMSE. Measured: 0.0003 / 0.0013 (pose2sim) and 0.0010 / 0.017 (sports2d,
where MediaPipe against itself with +-1 grey level of noise gives 0.0018 /
0.037); angles 0.05-0.11 deg (docs/models.md).

Both run on MediaPipe's schedule here (``people_check_s=None``: the detector on
every frame while fewer than two people are tracked), so the comparison is of
the port, not of the schedule. The ONNX backend's default schedule tracks the
subject's ROI between searches instead; what that changes is measured in
``test_tracking_between_searches_is_steadier`` and docs/performance.md.
"""

from __future__ import annotations

import hashlib
import math
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import POSE2SIM, SPORTS2D

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"
ONNX_ENTRIES = ("blazepose_full_onnx", "blazepose_detector_onnx")


def _manifest() -> dict:
    with open(MODELS / "manifest.toml", "rb") as f:
        return tomllib.load(f)["models"]


@pytest.mark.parametrize("name", ONNX_ENTRIES)
def test_manifest_matches_file(name):
    entry = _manifest()[name]
    data = (MODELS / entry["file"]).read_bytes()
    assert entry["backend"] == "onnx"
    assert len(data) == entry["bytes"]
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert entry["license"] == "Apache-2.0" and (MODELS / entry["license_file"]).is_file()


def test_landmark_entry_names_its_detector_and_decoder():
    from vision.models import model_spec

    spec = model_spec("blazepose_full_onnx")
    assert spec.schema == "blazepose33" and spec.option("decoder") == "blazepose"
    assert model_spec(str(spec.option("detector"))).option("role") == "detector"
    # Existing entries read as before: no extra provenance keys.
    assert set(model_spec("blazepose_full").provenance()) == {
        "name",
        "backend",
        "file",
        "sha256",
        "schema",
        "license",
        "origin",
    }


# -- the numpy pipeline, piece by piece ------------------------------------------------


def test_anchors_follow_the_detector_layout():
    from vision.backends._blazepose import ssd_anchors

    a = ssd_anchors()
    assert a.shape == (2254, 2)
    np.testing.assert_allclose(a[0], a[1])  # 2 anchors per cell at stride 8
    np.testing.assert_allclose(a[0], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(a[28 * 28 * 2], [0.5 / 14, 0.5 / 14])  # first stride-16 cell
    np.testing.assert_allclose(a[-6:], np.tile([6.5 / 7, 6.5 / 7], (6, 1)))  # 6 per stride-32 cell


def test_weighted_nms_merges_overlaps_by_score():
    from vision.backends._blazepose import Detections, weighted_nms

    boxes = np.array([[0.0, 0.0, 1.0, 1.0], [0.1, 0.0, 1.1, 1.0], [2.0, 2.0, 3.0, 3.0]])
    kps = np.zeros((3, 4, 2))
    kps[:, 0, 0] = [0.0, 1.0, 5.0]
    det = weighted_nms(Detections(boxes, kps, np.array([0.9, 0.3, 0.8])), iou_threshold=0.5)
    assert len(det) == 2
    np.testing.assert_allclose(det.scores, [0.9, 0.8])  # the best keeps its own score
    np.testing.assert_allclose(det.boxes[0], [0.025, 0.0, 1.025, 1.0])  # (0.9*0 + 0.3*0.1) / 1.2
    np.testing.assert_allclose(det.keypoints[0, 0, 0], 0.25)
    np.testing.assert_allclose(det.boxes[1], boxes[2])


def test_roi_points_up_from_hip_centre_to_scale_point():
    from vision.backends._blazepose import rect_from_points

    upright = rect_from_points(np.array([0.5, 0.5]), np.array([0.5, 0.25]), (400, 400))
    assert upright.rotation == pytest.approx(0.0)
    assert upright.width == pytest.approx(0.5) and upright.height == pytest.approx(0.5)
    # Lying with the head to the right: the crop is turned a quarter turn.
    lying = rect_from_points(np.array([0.5, 0.5]), np.array([0.75, 0.5]), (400, 400))
    assert lying.rotation == pytest.approx(math.pi / 2)
    # Square in pixels on a non-square image.
    wide = rect_from_points(np.array([0.5, 0.5]), np.array([0.5, 0.25]), (800, 400))
    assert wide.width * 800 == pytest.approx(wide.height * 400)


def test_association_prefers_fresh_detections_and_keeps_the_rest():
    from vision.backends._blazepose import Rect, associate

    tracked = [Rect(0.3, 0.5, 0.2, 0.4), Rect(0.8, 0.5, 0.2, 0.4)]
    detected = [Rect(0.31, 0.5, 0.2, 0.4)]
    out = associate(tracked, detected, min_similarity=0.5)
    assert out == [tracked[1], detected[0]]


def test_letterbox_pads_the_short_side():
    from vision.backends._blazepose import letterbox

    rect, pad = letterbox((1080, 1920))  # portrait: pad left and right
    assert rect.width == pytest.approx(1920 / 1080) and rect.height == 1.0
    assert pad == pytest.approx(((1 - 1080 / 1920) / 2, 0.0))
    rect, pad = letterbox((1920, 1080))
    assert rect.height == pytest.approx(1920 / 1080) and pad[0] == 0.0


# -- the backend on real recordings ----------------------------------------------------


def _first_frame(path: Path) -> np.ndarray:
    from vision.decode import VideoReader

    with VideoReader(path) as video:
        return np.ascontiguousarray(next(iter(video)).rgb)


def test_runs_on_cpu_without_a_gpu():
    from vision.backends.base import PoseBackend
    from vision.backends.onnx import Backend

    with Backend.from_name(video=False) as backend:
        assert isinstance(backend, Backend)
        _check_protocol(backend, PoseBackend)
        assert backend.providers == ["CPUExecutionProvider"]
        people = backend.estimate(_first_frame(POSE2SIM), 0.0)
        assert "CPUExecutionProvider" in str(backend.provenance()["runtime"])
    assert len(people) == 1
    p = people[0]
    assert p.image_xyz.shape == (33, 3) and p.world_xyz.shape == (33, 3) and p.visibility.shape == (33,)
    y = p.image_xyz[:, 1]
    assert y[0] < y[[23, 24]].mean() < y[[27, 28]].mean()  # nose above hips above ankles


def _check_protocol(obj, protocol) -> None:
    for name in ("name", "schema", "estimate", "provenance", "close"):
        assert hasattr(obj, name), f"{type(obj).__name__} lacks {name} of {protocol.__name__}"


def test_asking_for_cuda_without_onnxruntime_gpu_falls_back_to_cpu():
    import onnxruntime as ort

    from vision.backends.onnx import Backend, ProviderFallbackWarning

    if "CUDAExecutionProvider" in ort.get_available_providers():
        with Backend.from_name(device="cuda") as backend:
            assert backend.providers[0] == "CUDAExecutionProvider"
        return
    with pytest.warns(ProviderFallbackWarning, match="install onnxruntime-gpu"):
        backend = Backend.from_name(device="cuda")
    assert backend.providers == ["CPUExecutionProvider"]
    backend.close()


def test_rejects_non_rgb_frames():
    from vision.backends.onnx import Backend

    with Backend.from_name() as backend, pytest.raises(ValueError, match=r"\(h, w, 3\) uint8"):
        backend.estimate(np.zeros((10, 10), np.uint8), 0.0)


class _Recording:
    """Wraps a backend and keeps what it returned, so that one analysis run
    gives both the assessment and the per-frame landmarks."""

    def __init__(self, backend) -> None:
        self.backend, self.name, self.schema = backend, backend.name, backend.schema
        self.frames: list[tuple[float, list, tuple[int, int]]] = []

    def estimate(self, rgb, t_s):
        people = self.backend.estimate(rgb, t_s)
        self.frames.append((t_s, people, (rgb.shape[1], rgb.shape[0])))
        return people

    def provenance(self):
        return self.backend.provenance()

    def close(self) -> None:
        self.backend.close()

    def subject(self):
        """The followed subject per frame, chosen as extract_video chooses it."""
        from vision.tracking import SubjectTracker

        tracker = SubjectTracker(self.frames[0][2])
        t_s, xyz, world, vis = [], [], [], []
        nan = np.full((33, 3), np.nan)
        for t, people, _ in self.frames:
            p = tracker.choose(people, t)
            t_s.append(t)
            xyz.append(nan if p is None else p.image_xyz)
            world.append(nan if p is None else p.world_xyz)
            vis.append(np.zeros(33) if p is None else p.visibility)
        return np.array(t_s), np.stack(xyz), np.stack(vis), np.stack(world)


@pytest.fixture(scope="module")
def pose2sim_both():
    """The pose2sim assessment with the MediaPipe backend and with ONNX on MediaPipe's schedule."""
    from service.analysis import PoseModels, analyze_file
    from vision.backends import mediapipe, onnx

    out = {}
    for key, make in (
        ("mp", lambda video: mediapipe.Backend.from_name(video=video)),
        ("onnx", lambda video: onnx.Backend.from_name(video=video, people_check_s=None)),
    ):
        made: list[_Recording] = []

        def factory(video: bool, make=make, made=made) -> _Recording:
            made.append(_Recording(make(video)))
            return made[-1]

        pose = PoseModels(factory=lambda video, factory=factory: lambda: factory(video))  # one process
        assessment = analyze_file(POSE2SIM, pose=pose)
        out[key] = (assessment, made[0].subject())
    return out


@pytest.fixture(scope="module")
def onnx_sports2d_extraction():
    from vision.backends.onnx import Backend
    from vision.extract import extract_video

    with Backend.from_name("blazepose_full_onnx") as backend:
        return extract_video(SPORTS2D, backend)


def _agreement(mp_xyz, mp_vis, ox_xyz, ox_vis, clip: str) -> None:
    found_mp, found_ox = mp_vis.max(axis=1) > 0, ox_vis.max(axis=1) > 0
    assert (found_mp != found_ox).mean() <= 0.05, "the backends disagree on whether the subject is in view"
    both = (mp_vis >= 0.5) & (ox_vis >= 0.5)
    assert both.sum() >= 0.5 * mp_vis.size * found_mp.mean()
    d = np.linalg.norm(mp_xyz[..., :2] - ox_xyz[..., :2], axis=-1)[both]
    median, p95 = float(np.median(d)), float(np.quantile(d, 0.95))
    assert median <= 0.005 and p95 <= 0.02, f"{clip}: median {median:.4f}, p95 {p95:.4f}"


def test_landmarks_agree_with_mediapipe_on_pose2sim(pose2sim_both):
    (t_mp, xyz_mp, vis_mp, _), (t_ox, xyz_ox, vis_ox, _) = pose2sim_both["mp"][1], pose2sim_both["onnx"][1]
    np.testing.assert_array_equal(t_mp, t_ox)
    assert len(t_mp) == 100
    _agreement(xyz_mp, vis_mp, xyz_ox, vis_ox, "pose2sim")


def _sports2d_on_mediapipes_schedule(module: str):
    import importlib

    from vision.extract import extract_video

    backend_cls = importlib.import_module(f"vision.backends.{module}").Backend
    name = "blazepose_full" if module == "mediapipe" else "blazepose_full_onnx"
    options = {"people_check_s": None} if module == "onnx" else {}
    with backend_cls.from_name(name, **options) as backend:
        return extract_video(SPORTS2D, backend).image


def test_landmarks_agree_with_mediapipe_on_sports2d():
    """The issue's bar, on the same schedule as MediaPipe's own graph (a detector run on every frame)."""
    mp, ox = _sports2d_on_mediapipes_schedule("mediapipe"), _sports2d_on_mediapipes_schedule("onnx")
    np.testing.assert_array_equal(mp.t_s, ox.t_s)
    _agreement(mp.xyz, mp.visibility, ox.xyz, ox.visibility, "sports2d")


def test_tracking_between_searches_is_steadier():
    """The default schedule (the subject's ROI from its previous landmarks, a people search every 0.5 s)
    against a search on every frame, on the one-person clip: frame-to-frame jitter of shoulders, hips
    and knees (second difference, pixels) is no larger. Measured 2026-11-24: median 4.70 vs 5.10 px,
    p90 10.3 vs 12.2 px. (On the back-lit two-person sports2d clip the two schedules follow the man
    through different frames, so their jitter is not comparable.)"""
    clip = POSE2SIM
    from vision.backends.onnx import Backend
    from vision.extract import extract_video

    jitter = {}
    for schedule in (0.5, None):
        with Backend.from_name(people_check_s=schedule) as backend:
            image = extract_video(clip, backend).image
        xy = image.xyz[:, [11, 12, 23, 24, 25, 26], :2] * np.asarray(image.image_size_wh, dtype=float)
        a = np.linalg.norm(xy[2:] - 2 * xy[1:-1] + xy[:-2], axis=-1)
        a = a[np.isfinite(a)]
        jitter[schedule] = (float(np.median(a)), float(np.quantile(a, 0.9)))
    (med_t, p90_t), (med_all, p90_all) = jitter[0.5], jitter[None]
    assert med_t <= med_all and p90_t <= p90_all, jitter


def test_world_landmarks_agree_with_mediapipe(pose2sim_both):
    (_, _, vis_mp, world_mp), (_, _, vis_ox, world_ox) = pose2sim_both["mp"][1], pose2sim_both["onnx"][1]
    both = (vis_mp >= 0.5) & (vis_ox >= 0.5)
    d = np.linalg.norm(world_mp - world_ox, axis=-1)[both]
    median, p95 = float(np.median(d)), float(np.quantile(d, 0.95))
    assert median <= 0.01 and p95 <= 0.03, f"median {median:.4f} m, p95 {p95:.4f} m"


def test_the_same_subject_is_followed_when_a_second_person_walks_in(onnx_sports2d_extraction):
    ex = onnx_sports2d_extraction
    assert ex.subject.max_people_in_frame == 2
    on_box = (ex.image.visibility.max(axis=1) > 0) & (ex.image.t_s < 5.7)
    hip_y = ex.image.xyz[on_box][:, [23, 24], 1].mean(axis=1)
    assert on_box.sum() > 120 and np.all(hip_y < 0.47)


def test_every_angle_series_within_1_deg_of_mediapipe(pose2sim_both):
    from kinematics.pipeline import ANGLE_SERIES

    ref, got = pose2sim_both["mp"][0], pose2sim_both["onnx"][0]
    assert got.model["name"] == "blazepose_full_onnx" and ref.model["name"] == "blazepose_full"
    compared = 0
    for spec in ANGLE_SERIES:
        a, b = ref.series[spec.name], got.series[spec.name]
        assert (a is None) == (b is None), f"{spec.name}: available with one backend only"
        if a is None:
            continue
        x = np.array([np.nan if v is None else v for v in a], dtype=float)
        y = np.array([np.nan if v is None else v for v in b], dtype=float)
        ok = ~np.isnan(x) & ~np.isnan(y)
        assert ok.sum() >= 0.9 * (~np.isnan(x)).sum()
        rmse = float(np.sqrt(np.mean((x[ok] - y[ok]) ** 2)))
        assert rmse <= 1.0, f"{spec.name}: RMSE {rmse:.2f} deg"
        compared += 1
    # the clip is front-oblique, so both backends withhold every planar series; the
    # yaw both backends give decides that, so it must agree too
    assert compared == 0
    x, y = (np.array([np.nan if v is None else v for v in r.series["body_yaw_deg"]], dtype=float) for r in (ref, got))
    ok = ~np.isnan(x) & ~np.isnan(y)
    assert ok.sum() >= 90
    assert np.median(np.abs((x[ok] - y[ok] + 180) % 360 - 180)) <= 5.0


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_closing_a_backend_hands_the_kept_heap_back():
    """The backend keeps freed heap blocks for its next model runs (`_keep_freed_memory`: up to
    64 MiB stays); once closed, nothing reuses them and `close` gives them back to the system."""
    from vision.backends.onnx import _keep_freed_memory, _return_freed_memory

    _keep_freed_memory()
    blocks = [np.ones(1 << 17) for _ in range(40)]  # 40 x 1 MiB, on the heap (below the 32 MiB mmap threshold)
    del blocks
    kept = _rss_mib()
    assert _return_freed_memory()
    assert kept - _rss_mib() >= 20


def test_backends_alive_together_share_one_session_per_model_and_free_it_with_the_last():
    """Threads reading chunks of one video (and live connections) each have their own backend
    and tracking state, but one session per model; a session outlives no backend that uses it."""
    import gc

    from vision.backends import onnx

    a, b = onnx.Backend.from_name(video=True), onnx.Backend.from_name(video=True)
    other_threads = onnx.Backend.from_name(video=True, threads=2)
    assert a._landmarker is b._landmarker and a._detector is b._detector
    assert other_threads._landmarker is not a._landmarker  # other settings, another session
    frame = _first_frame(POSE2SIM)
    first, second = a.estimate(frame, 0.0), b.estimate(frame, 0.0)
    assert a._tracked and b._tracked and a._tracked is not b._tracked  # each keeps its own ROIs
    np.testing.assert_array_equal(first[0].image_xyz, second[0].image_xyz)
    for backend in (a, b, other_threads):
        backend.close()
    gc.collect()
    assert len(onnx._sessions) == 0
    with onnx.Backend.from_name(video=True) as alone:  # a session of its own, the same answer
        np.testing.assert_array_equal(alone.estimate(frame, 0.0)[0].image_xyz, first[0].image_xyz)

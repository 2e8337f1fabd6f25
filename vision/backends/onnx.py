"""BlazePose Full on onnxruntime: MediaPipe's pose pipeline without MediaPipe.

The only module that imports ``onnxruntime``. It runs the two networks of
MediaPipe's ``PoseLandmarker`` (person detector and full landmark model,
converted to ONNX by ``models/tools/convert_blazepose_onnx.py``) and does the
graph's pre- and post-processing in numpy (:mod:`vision.backends._blazepose`):
SSD anchors, box decoding, weighted NMS, the rotated ROI, the 256x256 crop,
heatmap refinement, projection back to the image, world landmarks, and ROI
tracking between video frames. Its landmarks match the MediaPipe backend's
(``tests/vision/test_onnx_backend.py``; figures in ``docs/models.md``).

Execution providers are a constructor option: CPU by default; CUDA when
``onnxruntime-gpu`` is installed in place of ``onnxruntime`` and asked for.
"""

from __future__ import annotations

import threading
import warnings
import weakref
from dataclasses import asdict, dataclass
from typing import Any, Literal, Self

import numpy as np

from kinematics.series import BLAZEPOSE33, LandmarkSchema
from vision.backends import _blazepose as bp
from vision.backends._people_check import PeopleCheck
from vision.backends.base import PersonPose
from vision.models import ModelError, ModelSpec, model_spec, verify

__all__ = ["Backend", "Options", "ProviderFallbackWarning"]

Device = Literal["cpu", "cuda"]
DECODERS = ("blazepose",)  # landmark decoders this module implements (manifest field `decoder`)


class ProviderFallbackWarning(RuntimeWarning):
    """An execution provider was asked for but is not available; running on CPU."""


@dataclass(frozen=True, kw_only=True)
class Options:
    """Pipeline and runtime settings; MediaPipe's defaults except ``num_poses``.

    Parameters
    ----------
    num_poses
        Largest number of people returned. As in MediaPipe's VIDEO mode, the
        detector runs on every frame while fewer people than this are
        tracked, so ``num_poses=2`` lets the subject tracker see a second
        person (and costs a detector run per frame when only one is in
        view); ``num_poses=1`` runs the detector only when tracking is lost.
    people_check_s
        With ``num_poses > 1`` in video mode, while someone is tracked the
        detector looks for more people only every ``people_check_s`` seconds
        of video, and on every frame for a second after it found two
        (:mod:`vision.backends._people_check`). ``None``: every frame, as
        MediaPipe's graph does.
    people_check_start_s
        With ``people_check_s``: search on every frame for this long at the
        start of a video (0 for live use).
    min_detection_confidence
        Detector score threshold.
    min_presence_confidence
        Pose-presence threshold of the landmark model; below it the pose is
        dropped and, in video mode, its ROI is not tracked.
    min_tracking_confidence
        IoU above which a fresh detection replaces a tracked ROI.
    min_suppression_threshold
        IoU of the detector's weighted non-maximum suppression.
    video
        Track ROIs between calls (``estimate`` must then see increasing
        ``t_s``); ``False`` detects afresh on every call.
    device
        ``"cpu"`` or ``"cuda"`` (falls back to CPU with a
        :class:`ProviderFallbackWarning` when onnxruntime has no CUDA provider).
    intra_op_threads
        Threads per model run; 0 lets onnxruntime choose (all cores).
    """

    num_poses: int = 2
    people_check_s: float | None = 0.5
    people_check_start_s: float = 1.0
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    min_suppression_threshold: float = 0.5
    video: bool = True
    device: Device = "cpu"
    intra_op_threads: int = 1


def _providers(device: Device) -> list[str]:
    import onnxruntime as ort

    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device != "cuda":
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    available = ort.get_available_providers()
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    warnings.warn(
        f"CUDA was asked for, but onnxruntime {ort.__version__} offers only {', '.join(available)}; "
        "running on CPU. For the GPU, install onnxruntime-gpu instead of onnxruntime (with CUDA 12 and cuDNN 9).",
        ProviderFallbackWarning,
        stacklevel=3,
    )
    return ["CPUExecutionProvider"]


def _anchors(spec: ModelSpec) -> np.ndarray:
    cfg = dict(spec.option("anchors") or {})  # type: ignore[call-overload]
    anchors = bp.ssd_anchors(
        input_size=bp.DETECTOR_INPUT,
        strides=tuple(cfg.get("strides", (8, 16, 32, 32, 32))),
        offset=float(cfg.get("offset", 0.5)),
        interpolated_scale_aspect_ratio=float(cfg.get("interpolated_scale_aspect_ratio", 1.0)),
    )
    if "count" in cfg and len(anchors) != cfg["count"]:
        raise ModelError(f"{spec.name}: anchors config gives {len(anchors)} anchors, manifest says {cfg['count']}")
    return anchors


def _check_input(session, spec: ModelSpec, size: int) -> None:
    """The decoder's fixed input size must be the model's and the manifest's."""
    shape = session.get_inputs()[0].shape  # [batch, h, w, 3]
    want = list(spec.option("input_size", [size, size]))  # type: ignore[call-overload]
    if want != [size, size] or list(shape[1:]) != [size, size, 3]:
        raise ModelError(
            f"{spec.name}: the blazepose decoder needs {size}x{size}x3 input, manifest says {want}, model takes {shape}"
        )


#: glibc ``mallopt`` parameters (``malloc.h``).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def _keep_freed_memory(mmap_below: int = 32 << 20, trim_above: int = 64 << 20) -> bool:
    """Let glibc reuse freed blocks instead of unmapping them: no page faults per model run.

    Without onnxruntime's arena (see `_session`) every run mallocs its buffers; glibc serves
    blocks above its (adaptive) mmap threshold with fresh ``mmap`` and returns them on free,
    so each landmark run faulted ~450 pages back in: 2-9 % of the run's CPU time
    (docs/performance.md). Blocks below ``mmap_below`` now come from the heap, and the heap
    is trimmed only when more than ``trim_above`` is free at its top; the same buffers are
    reused run after run, so memory stays flat. Process-wide and idempotent; a no-op
    (False) where libc is not glibc.
    """
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_below)) and bool(mallopt(_M_TRIM_THRESHOLD, trim_above))


def _return_freed_memory() -> bool:
    """``malloc_trim(0)``: give the heap's free pages back to the system (glibc; a no-op elsewhere).

    `_keep_freed_memory` keeps up to 64 MiB of freed heap for the next model runs; once a
    backend is closed nothing will reuse it. A chunk worker of `vision.parallel` closes its
    backend before it sends its landmarks, and the caller closes its own before stitching, so
    the memory is back before that transfer, the moment a long video's analysis peaked.
    """
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


_sessions_lock = threading.Lock()
#: The sessions of the backends alive in this process, by (model file, providers, threads).
_sessions: weakref.WeakValueDictionary[tuple[str, tuple[str, ...], int], Any] = weakref.WeakValueDictionary()


def _session(spec: ModelSpec, providers: list[str], threads: int):
    """One onnxruntime session per model and settings in a process, shared by the backends alive in it.

    `vision.parallel` reads the chunks of one video on threads of one process, and the service
    runs live connections side by side: their backends keep their own tracking state but run
    the same sessions (onnxruntime's ``Run`` may be called from several threads at once), so the
    weights, about 25 MB as the CPU kernels lay them out, are held once and read from one copy
    in the shared cache, and each model is loaded once. A session holds no state between runs,
    so results are unchanged. It is freed with the last backend that uses it.
    """
    key = (str(spec.path), tuple(providers), threads)
    with _sessions_lock:  # (held while a session loads: another thread waits for it instead of loading its own)
        session = _sessions.get(key)
        if session is None:
            session = _sessions[key] = _new_session(spec, providers, threads)
        return session


def _new_session(spec: ModelSpec, providers: list[str], threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3  # CUDA provider start-up chatter
    # No CPU memory arena: the arena grows by powers of two when fragmented by the changing batch
    # sizes (1 or 2 ROIs, detector runs), which made a worker's RSS climb by hundreds of MB over a
    # long video on some runs; plain malloc/free costs nothing measurable here (docs/performance.md).
    so.enable_cpu_mem_arena = False
    _keep_freed_memory()
    return ort.InferenceSession(str(spec.path), so, providers=providers)


class Backend:
    """BlazePose Full: 33 image landmarks, 33 world landmarks, visibility."""

    schema: LandmarkSchema = BLAZEPOSE33
    #: ``estimate`` also takes a ``vision.yuv.YuvPicture`` (crops are resampled from its planes).
    takes_yuv = True

    def __init__(self, spec: ModelSpec, options: Options = Options(), *, detector: ModelSpec | None = None) -> None:
        if spec.backend != "onnx" or spec.option("decoder") not in DECODERS:
            raise ModelError(
                f"model {spec.name!r} is not an ONNX pose model with a known decoder "
                f"(backend={spec.backend!r}, decoder={spec.option('decoder')!r}; known: {', '.join(DECODERS)})"
            )
        if options.num_poses < 1:
            raise ValueError(f"num_poses must be >= 1, got {options.num_poses}")
        detector = detector or model_spec(str(spec.option("detector")))
        self.spec, self.detector_spec = verify(spec), verify(detector)
        self.name = f"onnx:{spec.name}"
        self.options = options
        providers = _providers(options.device)
        self._landmarker = _session(self.spec, providers, options.intra_op_threads)
        self._detector = _session(self.detector_spec, providers, options.intra_op_threads)
        self.providers = list(self._landmarker.get_providers())
        if providers[0] not in self.providers:  # the provider exists but could not start (e.g. no CUDA libraries)
            warnings.warn(
                f"{providers[0]} is installed but did not start; running on {', '.join(self.providers)}",
                ProviderFallbackWarning,
                stacklevel=2,
            )
        self._anchors = _anchors(self.detector_spec)
        _check_input(self._detector, self.detector_spec, bp.DETECTOR_INPUT)
        _check_input(self._landmarker, self.spec, bp.LANDMARK_INPUT)
        self._tracked: list[bp.Rect] = []
        every_s = options.people_check_s  # None: search every frame
        self._check = (
            PeopleCheck(every_s=every_s, start_s=options.people_check_start_s)
            if options.video and options.num_poses > 1 and every_s is not None
            else None
        )

    @classmethod
    def from_spec(cls, spec: ModelSpec, options: Options = Options()) -> Backend:
        return cls(spec, options)

    @classmethod
    def from_name(
        cls,
        name: str = "blazepose_full_onnx",
        *,
        video: bool = True,
        num_poses: int = 2,
        device: Device = "cpu",
        threads: int = 1,
        quiet: bool = True,
        people_check_s: float | None = 0.5,
        people_check_start_s: float = 1.0,
    ) -> Backend:
        """Same call as the MediaPipe backend's; ``quiet`` is accepted for that and has no effect
        (onnxruntime's start-up messages are already limited to errors)."""
        del quiet
        return cls(
            model_spec(name),
            Options(
                video=video,
                num_poses=num_poses,
                device=device,
                intra_op_threads=threads,
                people_check_s=people_check_s,
                people_check_start_s=people_check_start_s,
            ),
        )

    def reset(self) -> None:
        """Forget the tracked ROIs (start of a new video)."""
        self._tracked = []
        if self._check is not None:
            self._check.reset()

    def detect(self, rgb: np.ndarray | bp.Picture) -> list[bp.Rect]:
        """Landmark ROIs of the people the detector finds, best score first."""
        size = (rgb.shape[1], rgb.shape[0])
        box, pad = bp.letterbox(size)
        image = bp.crop(rgb, box, bp.DETECTOR_INPUT, border_zero=True)
        x = (image.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0))[None]
        raw_boxes, raw_scores = self._detector.run(["regressors", "classificators"], {"image": x})
        det = bp.decode_detections(
            raw_boxes[0], raw_scores[0, :, 0], self._anchors, min_score=self.options.min_detection_confidence
        )
        det = bp.weighted_nms(det, iou_threshold=self.options.min_suppression_threshold)
        return bp.detection_rects(bp.remove_letterbox(det, pad), size)

    def landmarks(self, rgb: np.ndarray | bp.Picture, rects: list[bp.Rect]) -> list[bp.Landmarks]:
        """The landmark model on each ROI (one batched run); present poses only."""
        if not rects:
            return []
        size = (rgb.shape[1], rgb.shape[0])
        crops = np.stack([bp.crop(rgb, r, bp.LANDMARK_INPUT, border_zero=False) for r in rects])
        x = crops.astype(np.float32) * np.float32(1.0 / 255.0)
        raw, flag, heatmap, world = self._landmarker.run(
            ["landmarks", "pose_flag", "heatmap", "world_landmarks"], {"image": x}
        )
        out = []
        for i, rect in enumerate(rects):
            if float(flag[i, 0]) < self.options.min_presence_confidence:
                continue
            out.append(bp.decode_landmarks(raw[i], float(flag[i, 0]), heatmap[i], world[i], rect, size))
        return out

    def estimate(self, rgb: np.ndarray | bp.Picture, t_s: float) -> list[PersonPose]:
        """People in one RGB frame ``(h, w, 3)`` uint8, or in a picture that makes its own crops
        (``vision.yuv.YuvPicture``, from ``VideoReader.pictures``).

        Video mode, as MediaPipe's graph: the ROIs tracked from the previous
        frame are kept; while fewer than ``num_poses`` are tracked the
        detector runs too, and a detection whose ROI overlaps a tracked one
        (IoU > ``min_tracking_confidence``) replaces it. At most
        ``num_poses`` ROIs go to the landmark model, tracked ones first.
        """
        if isinstance(rgb, np.ndarray) and (rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8):
            raise ValueError(f"rgb must be (h, w, 3) uint8, got {rgb.shape} {rgb.dtype}")
        o = self.options
        tracked = self._tracked if o.video else []
        search = len(tracked) < o.num_poses and (not tracked or self._check is None or self._check.due(t_s))
        detected = self.detect(rgb) if search else []
        if not o.video:
            rects = detected
        elif self._check is None:
            rects = bp.associate(tracked, detected, min_similarity=o.min_tracking_confidence)
        else:  # a scheduled search only adds people: tracked ROIs first, as they are, then new ones
            # (two tracked ROIs that have converged on one person count once, as in MediaPipe)
            tracked = bp.associate(tracked, min_similarity=o.min_tracking_confidence)
            new = [d for d in detected if all(bp._rect_iou(d, t) <= o.min_tracking_confidence for t in tracked)]
            rects = tracked + new
            if search:
                # People found: boxes that overlap the same tracked ROI are one person (two boxes on the one
                # tracked subject do not start the every-frame hold); never more than the boxes found.
                on_tracked = {
                    i for d in detected for i, t in enumerate(tracked) if bp._rect_iou(d, t) > o.min_tracking_confidence
                }
                self._check.searched(t_s, min(len(detected), len(on_tracked) + len(new)))
        poses = self.landmarks(rgb, rects[: o.num_poses])
        if o.video:
            self._tracked = [p.next_rect for p in poses]
        return [PersonPose(p.image_xyz, p.world_xyz, p.visibility, self.schema) for p in poses]

    def provenance(self) -> dict[str, object]:
        return {
            **self.spec.provenance(),
            "detector": self.detector_spec.provenance(),
            "runtime": f"onnxruntime {_ort_version()} ({', '.join(self.providers)})",
            **asdict(self.options),
        }

    def close(self) -> None:
        """Drop both sessions and hand the memory they freed back to the system (`_return_freed_memory`)."""
        had = self._landmarker is not None
        self._landmarker = self._detector = None
        if had:
            _return_freed_memory()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ort_version() -> str:
    import onnxruntime as ort

    return ort.__version__

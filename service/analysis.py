"""One analysis, start to finish: input file in, :class:`Assessment` out.

Used by the CLI and by the job workers, so that both write the same document.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from kinematics.errors import InputError
from vision._sniff import sniff

if TYPE_CHECKING:
    import numpy as np

    from kinematics.pipeline import KinematicsPipeline, KinematicsResult, QualityIssue
    from kinematics.protocols import ProtocolResult
    from kinematics.series import LandmarkSeries
    from service.schemas import Assessment, Convention, InputInfo, QualityIssueOut, SubjectOut
    from service.settings import Settings
    from service.wearables import WearableFiles, WearablesOut
    from vision.backends.base import BackendFactory
    from vision.extract import Extraction
    from vision.head_start import HeadStart

# Importing this module imports nothing that a video's extraction does not need (numpy, PyAV, OpenCV
# and the pose runtime come with the extraction itself): the kinematics (scipy), the document's
# pydantic models and the settings are imported by the functions that use them, so the caller's own
# chunk of a long video starts before them (docs/performance.md, issue 19; tests/service/test_cli_imports.py).
__all__ = [
    "NO_INPUT",
    "PoseModels",
    "PreparedInput",
    "analyze_file",
    "analyze_landmarks",
    "analyze_sensors",
    "build_assessment",
    "preload",
    "prepare_input",
]

NO_INPUT = (
    "nothing to analyse: give a video (mp4/mov/mkv/webm/avi), an image (jpeg/png/webp) or a landmark JSON file, "
    "and/or a sensor file with --imu FILE or --emg FILE"
)

Progress = Callable[[int, int | None], None]


def preload() -> None:
    """Import now what an analysis imports when it runs (a job worker, before it holds a job's lease)."""
    import importlib

    for name in (
        "kinematics.pipeline",
        "kinematics.protocols",
        "service.schemas",
        "service.wearables",
        "vision.parallel",
    ):
        importlib.import_module(name)


@dataclass(frozen=True, kw_only=True)
class PoseModels:
    """Where the pose models come from: decided by the entry point (CLI, job runner) from its settings.

    Parameters
    ----------
    factory
        ``factory(video)`` gives a zero-argument backend factory for VIDEO (True) or IMAGE
        mode; it must pickle, since parallel extraction calls it in each worker process
        (:meth:`service.settings.Settings.backend_factory` does).
    processes
        Processes per video; above 1, a long video is cut into as many parts
        (:func:`vision.parallel.extract_video_parallel`).
    """

    factory: Callable[[bool], BackendFactory]
    processes: int = 1
    threads: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> PoseModels:
        """The configured backend (MOTIONSCRIPT_POSE_BACKEND / _POSE_MODEL), processes per video and runner."""
        return cls(
            factory=lambda video: settings.backend_factory(video=video),
            processes=settings.processes_per_video,
            threads=settings.chunk_runner == "threads",
        )


_VALIDATION = "synthetic poses: RMSE <= 1 deg (tests/kinematics); real data: docs/validation.md"


def _conventions(space: str) -> dict[str, Convention]:
    from kinematics.pipeline import ANGLE_SERIES
    from service.schemas import Convention

    ref = "image plane (pixels, aspect-corrected)" if space == "image_norm" else "body frame from world landmarks"
    out = {
        spec.name: Convention(
            unit="deg", plane=spec.plane, convention=spec.convention, reference=ref, validation=_VALIDATION
        )
        for spec in ANGLE_SERIES
    }
    unit = "px" if space == "image_norm" else "m"
    axes = (
        "x right, y down, pixels of the upright frame"
        if space == "image_norm"
        else "x right, y down, z away from camera; origin between the hips"
    )
    for side in ("left", "right", "mid"):
        for axis in ("x", "y") if space == "image_norm" else ("x", "y", "z"):
            out[f"hip_centre_{side}_{axis}_{unit}"] = Convention(
                unit=unit,
                plane="image",
                convention=f"BlazePose hip landmark{'s midpoint' if side == 'mid' else ''}; {axes}",
                reference="camera",
                validation="not validated against a reference",
            )
    out["body_yaw_deg"] = Convention(
        unit="deg",
        plane=None,
        convention="0 facing the camera, +-180 back to it, +-90 side-on",
        reference="fused: hip and shoulder widths, feet, nose and depth signs, smoothed over time (kinematics.facing)",
        validation="synthetic poses (tests/kinematics) and a four-camera triangulated reference (docs/validation.md)",
    )
    return out


def _floats(values: np.ndarray, ndigits: int) -> list[float | None]:
    return [None if math.isnan(v) else round(float(v), ndigits) for v in values]


def _issue(q: QualityIssue) -> QualityIssueOut:
    from service.schemas import QualityIssueOut

    return QualityIssueOut(code=q.code, severity=q.severity, message=q.message)


def build_assessment(
    result: KinematicsResult,
    *,
    input_info: InputInfo,
    exercise: str | None,
    model: dict[str, object] | None,
    subject: SubjectOut | None,
    extra_issues: list[QualityIssue] = (),  # type: ignore[assignment]
    space: str,
    protocol: ProtocolResult | None = None,
) -> Assessment:
    """Turn a kinematics result into the published document."""
    from kinematics.protocols import quality_issues
    from kinematics.view import PLANE_OF_VIEW
    from service.schemas import Assessment, DetectedOut, MetricOut, ViewOut
    from service.version import software_versions

    series: dict[str, list[float | None] | None] = {"t_s": [round(float(t), 6) for t in result.t_s]}
    confidence: dict[str, list[float] | None] = {}
    for name, s in result.series.items():
        series[name] = None if name in result.unavailable else _floats(s.values, 2)
        confidence[name] = None if name in result.unavailable else [round(float(c), 3) for c in s.confidence]
    series["body_yaw_deg"] = _floats(result.yaw.values, 1)
    confidence["body_yaw_deg"] = [round(float(c), 3) for c in result.yaw.confidence]
    unit = "px" if space == "image_norm" else "m"
    for key, traj in result.trajectories.items():
        side = key.removeprefix("hip_centre_")
        for i, axis in enumerate(("x", "y", "z")[: traj.values.shape[1]]):
            series[f"hip_centre_{side}_{axis}_{unit}"] = _floats(traj.values[:, i], 1 if unit == "px" else 4)
        confidence[f"hip_centre_{side}"] = [round(float(c), 3) for c in traj.confidence]
    plane = PLANE_OF_VIEW[result.view.view]
    view = ViewOut(
        view=result.view.view,
        yaw_deg=None if result.view.yaw_deg is None else round(result.view.yaw_deg, 1),
        off_frontal_deg=None if result.view.off_frontal_deg is None else round(result.view.off_frontal_deg, 1),
        yaw_sd_deg=None if result.view.yaw_sd_deg is None else round(result.view.yaw_sd_deg, 1),
        view_prob=None if result.view.view_prob is None else round(result.view.view_prob, 3),
        facing=result.view.facing,
        confidence=round(result.view.confidence, 3),
        share={k: round(v, 3) for k, v in result.view.share.items()},
        measurable_planes=[plane] if plane else [],
    )
    events, protocol_metrics, findings, coaching = _protocol_outputs(protocol)
    detection = protocol.detection if protocol is not None else None
    return Assessment(
        exercise=exercise,
        input=input_info,
        model=model,
        subject=subject,
        view=view,
        quality=[_issue(q) for q in [*extra_issues, *quality_issues(result, protocol)]],
        series=series,
        confidence=confidence,
        unavailable=dict(result.unavailable),
        metrics=[MetricOut(**m.__dict__) for m in result.metrics] + protocol_metrics,
        events=events,
        findings=findings,
        coaching=coaching,
        detected=None if detection is None else DetectedOut(**detection.__dict__),
        conventions=_conventions(space),
        processing={
            "kinematics": result.parameters,
            "landmark_space": "image" if space == "image_norm" else "world",
            "filtered": result.filtered,
            "software": software_versions(),
        },
    )


def _protocol_outputs(p: ProtocolResult | None):
    if p is None:
        return [], [], [], []
    from service.schemas import CoachingOut, EventOut, FindingOut, MetricOut, ThresholdOut

    events = [
        EventOut(
            type=e.type,
            start_s=round(e.start_s, 3),
            end_s=None if e.end_s is None else round(e.end_s, 3),
            peak_s=None if e.peak_s is None else round(e.peak_s, 3),
            side=e.side,
            confidence=e.confidence,
            pass_index=e.pass_index,
            label=e.label,
        )
        for e in sorted(p.events, key=lambda e: e.start_s)
    ]
    metrics = [
        MetricOut(
            name=m.name,
            value=m.value,
            unit=m.unit,
            side=m.side,
            ci95=m.ci95,
            measurable=m.measurable,
            reason=m.reason,
            source="protocol",
            pass_index=m.pass_index,
            confidence=m.confidence,
            coverage=m.coverage,
            n_events=m.n_events,
            event_kind=m.event_kind,
        )
        for m in p.metrics
    ]
    findings = [
        FindingOut(
            code=f.code,
            severity=f.severity,
            message=f.message,
            evidence=f.evidence,
            threshold=None if f.threshold is None else ThresholdOut(**f.threshold.__dict__),
            source=f.source,
        )
        for f in p.findings
    ]
    coaching = [CoachingOut(code=c.code, message=c.message) for c in p.coaching]
    return events, metrics, findings, coaching


# Variance of the Laplacian of the subject at 256 px height (vision.extract.subject_sharpness).
# Calibrated on the fixture clips: sharp 274 and 1036; blurred with a Gaussian of sigma 2 px,
# 23 and 174; sigma 4 px, 5 and 33. Below 50, landmark jitter grows and coaching replaces scores.
BLUR_THRESHOLD = 50.0


def _blurred(info: InputInfo) -> bool:
    return info.sharpness is not None and info.sharpness < BLUR_THRESHOLD


def _check_exercise(exercise: str | None) -> None:
    from kinematics.protocol_names import PROTOCOL_NAMES  # (not kinematics.protocols: runs before the extraction)

    if exercise is not None and exercise not in PROTOCOL_NAMES:
        raise InputError(f"unknown exercise {exercise!r}; accepted: {', '.join(PROTOCOL_NAMES)}")


def _sha256(path: Path) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _clock_issues(lm: LandmarkSeries) -> list[QualityIssue]:
    if len(lm) < 3:
        return []
    import numpy as np

    from kinematics.pipeline import QualityIssue

    dt = np.diff(lm.t_s)
    med = float(np.median(dt))
    gaps = int(np.sum(dt > 5 * med))
    if not gaps:
        return []
    return [
        QualityIssue(
            "clock_gaps",
            "warning",
            f"{gaps} gap(s) in the timestamps longer than 5 sample intervals (longest {dt.max():.2f} s); "
            "movement inside a gap is not measured",
        )
    ]


def analyze_landmarks(
    lm: LandmarkSeries,
    *,
    input_info: InputInfo,
    exercise: str | None = None,
    model: dict[str, object] | None = None,
    subject: SubjectOut | None = None,
    extra_issues: list[QualityIssue] | None = None,
    pipeline: KinematicsPipeline | None = None,
    wearables: WearableFiles | None = None,
) -> Assessment:
    """The assessment of landmarks: kinematics, the exercise's protocol, the document.

    ``pipeline``: the kinematics' parameters; default `KinematicsPipeline()`.
    """
    from kinematics.pipeline import KinematicsPipeline, QualityIssue
    from kinematics.protocols import PROTOCOLS, Coaching, ProtocolResult

    _check_exercise(exercise)
    result = (pipeline or KinematicsPipeline()).run(lm)
    issues = list(extra_issues or []) + _clock_issues(lm)
    protocol = PROTOCOLS[exercise].assess(result, lm) if exercise in PROTOCOLS else None
    if protocol is not None and _blurred(input_info):
        protocol = ProtocolResult(
            protocol.protocol,
            [],
            [],
            [],
            [
                *protocol.coaching,
                Coaching(
                    "blurred",
                    f"The video is too blurred to measure this exercise reliably (sharpness {input_info.sharpness:g}, "
                    f"need {BLUR_THRESHOLD:g}): add light, hold or prop the phone still, and clean the lens.",
                ),
            ],
            protocol.parameters,
            quality=protocol.quality,
        )
    if exercise is not None and protocol is None:
        issues.append(
            QualityIssue(
                "protocol_not_available", "info", f"no scoring protocol for {exercise!r} yet; general kinematics only"
            )
        )
    assessment = build_assessment(
        result,
        input_info=input_info,
        exercise=exercise,
        model=model,
        subject=subject,
        extra_issues=issues,
        space=lm.space,
        protocol=protocol,
    )
    if wearables is not None:
        assessment.wearables = _wearables(result, wearables)
    return assessment


def _wearables(result: KinematicsResult, files: WearableFiles) -> WearablesOut:
    """The wearables section; the video's obliquity (when its view measures it) drives sync and fusion."""
    from service.wearables import WearablesIssueOut

    obliquity = result.series.get("pelvic_obliquity_deg")
    measured = (
        obliquity is not None and "pelvic_obliquity_deg" not in result.unavailable and bool(obliquity.valid.any())
    )
    out = files.analyze(video_obliquity=obliquity if measured else None)
    if files.imu_path is not None and not measured:
        out.quality.append(
            WearablesIssueOut(
                code="no_video_obliquity",
                severity="info",
                message="the video does not measure pelvic obliquity (it needs a frontal view): the IMU was not "
                "synchronised to it by correlation nor fused with it; its times stay on the IMU clock "
                "unless an offset was given",
            )
        )
    return out


@dataclass(frozen=True)
class PreparedInput:
    """An input file turned into landmarks, with what the assessment records about it."""

    landmarks: LandmarkSeries
    info: InputInfo
    model: dict[str, object] | None
    subject: SubjectOut | None
    issues: list[QualityIssue]
    image_landmarks: LandmarkSeries | None = None  # a video's or image's landmarks in pixels, for the overlay


def analyze_file(
    path: str | Path | None,
    *,
    exercise: str | None = None,
    pose: PoseModels | None = None,
    space: Literal["image", "world"] = "image",
    progress: Progress | None = None,
    pipeline: KinematicsPipeline | None = None,
    filename: str | None = "",
    wearables: WearableFiles | None = None,
    on_landmarks: Callable[[LandmarkSeries], None] | None = None,
    head_start: HeadStart | None = None,
) -> Assessment:
    """Analyse a video, an image or a landmark JSON file (recognised by content).

    ``filename`` is what the assessment records as the input's name: the
    file's own name by default; the service passes ``None`` because uploaded
    file names often carry a patient's name. Without ``path``, ``wearables``
    alone are analysed (:func:`analyze_sensors`). ``on_landmarks`` receives a video's
    or image's landmarks in image space (what the annotated video is drawn from). ``pose``:
    the entry point's pose models; without it, those the environment configures (``Settings()``).
    ``head_start``: the first chunk's worker the entry point started before importing this module
    (`vision.head_start.start_head`, same ``path``); used by the chunked extraction, else cancelled.
    """
    try:
        _check_exercise(exercise)
    except BaseException:
        if head_start is not None:
            head_start.cancel()
        raise
    if path is None:
        if wearables is None or (wearables.imu_path is None and wearables.emg_path is None):
            raise InputError(NO_INPUT)
        return analyze_sensors(wearables, exercise=exercise, filename=filename)
    prepared = prepare_input(path, pose=pose, space=space, progress=progress, filename=filename, head_start=head_start)
    if on_landmarks is not None and prepared.image_landmarks is not None:
        on_landmarks(prepared.image_landmarks)
    return analyze_landmarks(
        prepared.landmarks,
        input_info=prepared.info,
        exercise=exercise,
        model=prepared.model,
        subject=prepared.subject,
        extra_issues=prepared.issues,
        pipeline=pipeline,
        wearables=wearables,
    )


def prepare_input(
    path: str | Path,
    *,
    pose: PoseModels | None = None,
    space: Literal["image", "world"] = "image",
    progress: Progress | None = None,
    filename: str | None = "",
    head_start: HeadStart | None = None,
) -> PreparedInput:
    """Decode and run the pose model once; :func:`analyze_landmarks` then scores any exercise on it.

    ``head_start``: as for :func:`analyze_file`; cancelled here whenever it is not used.
    """
    try:
        return _prepare_input(path, pose=pose, space=space, progress=progress, filename=filename, head_start=head_start)
    finally:
        if head_start is not None:
            head_start.cancel()  # (a no-op once the chunked extraction has taken it)


def _prepare_input(
    path: str | Path,
    *,
    pose: PoseModels | None,
    space: Literal["image", "world"],
    progress: Progress | None,
    filename: str | None,
    head_start: HeadStart | None,
) -> PreparedInput:
    path = Path(path)
    name = path.name if filename == "" else filename
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    kind = sniff(path)
    digest, size = _sha256(path)
    if kind == "landmarks_json":
        from kinematics.pipeline import QualityIssue
        from kinematics.schemas import limits_of
        from service.schemas import InputInfo
        from vision.landmark_json import load_landmark_file

        doc = load_landmark_file(path)
        lm = doc.landmarks
        issues = []
        if not doc.visibility_given:
            issues.append(
                QualityIssue(
                    "no_visibility", "warning", "landmarks carry no visibility; every landmark was taken as visible"
                )
            )
        if doc.timestamps_from_fps:
            issues.append(
                QualityIssue("timestamps_from_fps", "warning", "frames carry no t_s; timestamps were derived from fps")
            )
        # What this skeleton cannot support, said once per limit (kinematics.schemas); none for BlazePose.
        issues += [QualityIssue("skeleton_limit", "info", lim.reason) for lim in limits_of(lm.schema)]
        has_pose = int((lm.visibility.max(axis=1) > 0).sum())
        info = InputInfo(
            kind="landmarks",
            filename=name,
            sha256=digest,
            bytes=size,
            width=lm.image_size_wh[0] if lm.image_size_wh else None,
            height=lm.image_size_wh[1] if lm.image_size_wh else None,
            fps_nominal=doc.fps,
            duration_s=round(float(lm.t_s[-1] - lm.t_s[0]), 6),
            frames_read=len(lm),
            frames_with_pose=has_pose,
            landmark_space=doc.space,  # type: ignore[arg-type]
            landmark_schema=doc.schema,
        )
        return PreparedInput(lm, info, None, None, issues)
    if pose is None:
        from service.settings import Settings

        pose = PoseModels.from_settings(Settings())
    ex = _extract(path, kind, pose, progress, head_start)
    # What the rest needs (the document's models, the kinematics' types): imported once the landmarks are in.
    from kinematics.pipeline import QualityIssue
    from service.schemas import InputInfo, SubjectOut

    lm = ex.image if space == "image" or ex.world is None else ex.world
    issues = [QualityIssue("decode_note", "info", note) for note in ex.media.notes]
    if m_sharp := ex.media.sharpness:
        if m_sharp < BLUR_THRESHOLD:
            issues.append(
                QualityIssue(
                    "blurred",
                    "warning",
                    f"the subject is blurred (sharpness {m_sharp:g}, below {BLUR_THRESHOLD:g}): "
                    "landmarks are less reliable; more light and a still phone help",
                )
            )
    if ex.media.truncated:
        issues.append(
            QualityIssue(
                "truncated",
                "warning",
                f"the file ends early; the {ex.media.frames_read} frames before the damage were analysed",
            )
        )
    if ex.subject.max_people_in_frame > 1:
        issues.append(
            QualityIssue(
                "several_people",
                "info",
                f"up to {ex.subject.max_people_in_frame} people in view; followed {ex.subject.rule} "
                f"(first seen at {ex.subject.first_seen_s:.2f} s)",
            )
        )
    m = ex.media
    info = InputInfo(
        kind=m.kind,
        filename=name,
        sha256=digest,
        bytes=size,
        container=m.container,
        codec=m.codec,
        width=m.width,
        height=m.height,
        rotation_deg=m.rotation_deg,
        fps_nominal=m.fps_nominal,
        duration_s=None if m.duration_s is None else round(m.duration_s, 6),
        frames_read=m.frames_read,
        frames_with_pose=int((ex.image.visibility.max(axis=1) > 0).sum()),
        variable_frame_rate=m.variable_frame_rate,
        truncated=m.truncated,
        landmark_space=space,
        landmark_schema=ex.image.schema.name,
        sharpness=m.sharpness,
    )
    subject = SubjectOut(
        **{
            **ex.subject.__dict__,
            "initial_bbox_norm": list(ex.subject.initial_bbox_norm) if ex.subject.initial_bbox_norm else None,
        }
    )
    return PreparedInput(lm, info, ex.model, subject, issues, ex.image)


def _extract(
    path: Path, kind: str, pose: PoseModels, progress: Progress | None, head_start: HeadStart | None = None
) -> Extraction:
    """Landmarks of the followed subject; a long video uses as many processes as ``pose`` allows."""
    if kind == "video" and pose.processes > 1:  # (short videos, and daemonic job workers, fall back to one process)
        from vision.parallel import extract_video_parallel

        return extract_video_parallel(
            path,
            pose.factory(True),
            workers=pose.processes,
            progress=progress,
            head_start=head_start,
            threads=pose.threads,
            while_waiting=preload,  # the rest of the analysis imports while the head start's longer chunk ends
        )
    from vision.extract import extract_image, extract_video

    backend = pose.factory(kind == "video")()
    try:
        return extract_video(path, backend, progress=progress) if kind == "video" else extract_image(path, backend)
    finally:
        backend.close()


# -- sensor-only assessments (IMU and/or EMG, no camera) ------------------------------------------------


def analyze_sensors(wearables: WearableFiles, *, exercise: str | None = None, filename: str | None = "") -> Assessment:
    """An assessment from wearable files alone: what the sensors answer, and what needs a camera."""
    from kinematics.fusion.protocols import CAMERA_ONLY, ImuProtocol
    from kinematics.pipeline import ANGLE_SERIES, QualityIssue
    from service.schemas import Assessment, InputInfo, ViewOut
    from service.version import software_versions

    _check_exercise(exercise)
    main = wearables.imu_path if wearables.imu_path is not None else wearables.emg_path
    if main is None:
        raise InputError(NO_INPUT)
    section, found = wearables.analyze_alone()
    digest, size = _sha256(Path(main))
    rec = section.imu if section.imu is not None else section.emg
    no_camera = "needs a camera (a video or landmarks); this assessment has wearable sensors only"
    issues = [
        QualityIssue(
            "no_camera",
            "info",
            "sensor-only assessment: pelvis, hip and trunk angles from a camera are not measured"
            + (f"; {CAMERA_ONLY[exercise]}" if exercise in CAMERA_ONLY else ""),
        )
    ]
    protocol = None
    if exercise is not None and section.imu is not None:
        protocol = ImuProtocol().assess(
            exercise, gait=found.gait, strides=found.strides, obliquity=found.obliquity, samples=found.samples
        )
    if exercise is not None and protocol is None:
        what = "a lower-back IMU" if section.imu is not None else "EMG alone (it needs an IMU or a camera)"
        issues.append(
            QualityIssue(
                "protocol_needs_camera",
                "info",
                f"{exercise!r} cannot be scored from {what}: {CAMERA_ONLY.get(exercise, 'it needs a camera')}",
            )
        )
    events, metrics, findings, coaching = _protocol_outputs(protocol)
    names = [spec.name for spec in ANGLE_SERIES]
    return Assessment(
        exercise=exercise,
        input=InputInfo(
            kind="sensors",
            filename=Path(main).name if filename == "" else filename,
            sha256=digest,
            bytes=size,
            duration_s=None if rec is None else rec.duration_s,
            frames_read=0,
            frames_with_pose=0,
            landmark_space=None,
        ),
        model=None,
        subject=None,
        view=ViewOut(view="none", confidence=0.0, measurable_planes=[]),
        quality=[_issue(q) for q in [*issues, *(protocol.quality if protocol else [])]],
        series={"t_s": [], **dict.fromkeys(names)},
        confidence=dict.fromkeys(names),
        unavailable=dict.fromkeys(names, no_camera),
        metrics=metrics,
        events=events,
        findings=findings,
        coaching=coaching,
        conventions={},
        processing={
            "sensor_protocol": None if protocol is None else protocol.parameters,
            "software": software_versions(),
        },
        wearables=section,
    )

"""The assessment's ``wearables`` section: IMU and EMG files in, a JSON-ready model out.

``analyze_wearables`` reads the files, computes what the core offers
(:mod:`kinematics.fusion`) and returns :class:`WearablesOut`. Everything the
section cannot measure is reported in ``quality`` with the reason, never
silently left out. Times: when a video is present every series and event is
on the video clock (seconds from its first frame); otherwise on the IMU's.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from kinematics.errors import InsufficientDataError
from kinematics.fusion import (
    MOBILISED_LOWER_BACK,
    ClockOffset,
    ClockSync,
    EmgAnalysis,
    EmgFilter,
    GaitEvents,
    ImuRecording,
    InitialContactDetector,
    InvertedPendulum,
    ObliquityFusion,
    SynchronisationError,
    ThresholdOnsetDetector,
    calibrate_static,
    movement_onsets,
    pelvis_orientation,
    read_emg,
    read_imu,
)
from kinematics.fusion.evidence import SampleValidity, sample_validity
from kinematics.fusion.stride import StrideLengths
from kinematics.series import Series
from service.schemas.wearables import (
    BurstOut,
    CalibrationOut,
    ContactOut,
    EmgChannelOut,
    EmgOut,
    FusedOut,
    GaitOut,
    ImuOut,
    OnsetEvidenceOut,
    SamplesOut,
    SeriesOut,
    StrideOut,
    SyncOut,
    TimingOut,
    WearablesIssueOut,
    WearablesOut,
    WearablesRequest,
    parse_axes,
)

__all__ = [
    "SensorResults",
    "WearableFiles",
    "WearablesIssueOut",
    "WearablesOut",
    "WearablesRequest",
    "analyze_wearables",
    "analyze_wearables_detail",
    "parse_axes",
]


CONVENTIONS = {
    "pelvic_tilt_deg": "Baker (2001) rotation-obliquity-tilt; > 0 anterior tilt; relative to the calibration stand",
    "pelvic_obliquity_deg": "> 0 when the subject's LEFT side of the pelvis is higher (as the video angle)",
    "offset_s": "t_video = t_imu + offset_s",
    "emg_delta_ms": "muscle onset minus movement onset, ms; negative = the muscle started first",
    "emg_symmetry_pct": "100 (L - R) / (0.5 (L + R)); > 0 = left more active",
    "emg_co_contraction_pct": "Falconer & Winter 1985: 200 sum(min(A, B)) / sum(A + B)",
}


@dataclass
class SensorResults:
    """What the core computed from the IMU, on the IMU clock (for the sensor-only protocol)."""

    gait: GaitEvents | None = None
    strides: StrideLengths | None = None
    obliquity: Series | None = None
    samples: SampleValidity | None = None  # the recording's valid samples: what the protocol's coverage rests on


@dataclass(frozen=True)
class WearableFiles:
    """Wearable files that came with a recording, and what the caller said about them."""

    imu_path: Path | None = None
    emg_path: Path | None = None
    request: WearablesRequest = field(default_factory=lambda: WearablesRequest())

    def analyze(
        self, *, video_obliquity: Series | None = None, movement_onsets_s: list[float] | None = None
    ) -> WearablesOut:
        return analyze_wearables(
            self.request,
            imu_path=self.imu_path,
            emg_path=self.emg_path,
            video_obliquity=video_obliquity,
            movement_onsets_s=movement_onsets_s,
        )

    def analyze_alone(self) -> tuple[WearablesOut, SensorResults]:
        """No video: the section and the core's results for :class:`kinematics.fusion.protocols.ImuProtocol`."""
        return analyze_wearables_detail(self.request, imu_path=self.imu_path, emg_path=self.emg_path)


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


def _series(s: Series, clock: str, nd: int = 2, step: int = 1) -> SeriesOut:
    v = s.values.reshape(len(s), -1)[::step, 0]
    return SeriesOut(
        unit=s.unit,
        clock=clock,
        t_s=[round(float(t), 4) for t in s.t_s[::step]],  # type: ignore[arg-type]
        values=[_r(x, nd) for x in v],
        confidence=[round(float(c), 3) for c in s.confidence[::step]],
    )


def _shift(s: Series, offset_s: float) -> Series:
    return Series(s.t_s + offset_s, s.values, s.unit, s.confidence)


def analyze_wearables(
    request: WearablesRequest | None = None,
    *,
    imu_path: str | Path | None = None,
    emg_path: str | Path | None = None,
    video_obliquity: Series | None = None,
    movement_onsets_s: list[float] | None = None,
) -> WearablesOut:
    """Read and analyse the wearable files of one assessment.

    ``video_obliquity`` (deg, video clock) enables clock synchronisation and
    fusion; ``movement_onsets_s`` (video clock) are used for EMG timing, else
    movement onsets are detected from the pelvis angles available.
    """
    return analyze_wearables_detail(
        request,
        imu_path=imu_path,
        emg_path=emg_path,
        video_obliquity=video_obliquity,
        movement_onsets_s=movement_onsets_s,
    )[0]


def analyze_wearables_detail(
    request: WearablesRequest | None = None,
    *,
    imu_path: str | Path | None = None,
    emg_path: str | Path | None = None,
    video_obliquity: Series | None = None,
    movement_onsets_s: list[float] | None = None,
) -> tuple[WearablesOut, SensorResults]:
    """:func:`analyze_wearables`, and the core's results (IMU clock) for a sensor-only protocol."""
    request = request if request is not None else WearablesRequest()
    found = SensorResults()
    quality: list[WearablesIssueOut] = []
    out = WearablesOut(conventions=CONVENTIONS)
    processing: dict[str, object] = {}

    def issue(code: str, severity: str, message: str) -> None:
        quality.append(WearablesIssueOut(code=code, severity=severity, message=message))  # type: ignore[arg-type]

    clock_offset = 0.0
    pelvis_obliquity: Series | None = None
    onset_source: str | None = "caller" if movement_onsets_s is not None else None
    if imu_path is not None:
        rec = read_imu(
            imu_path,
            placement=request.imu_placement,
            side=request.imu_side,
            sampling_rate_hz=request.imu_sampling_rate_hz,
        )
        imu_out, pelvis_obliquity, pelvis_tilt = _imu_section(rec, request, issue, processing, found)
        if pelvis_obliquity is not None:
            offset = _sync(pelvis_obliquity, video_obliquity, request, issue)
            if offset is not None:
                clock_offset = offset.offset_s
                out.sync = SyncOut(**{k: (_r(v, 4) if isinstance(v, float) else v) for k, v in asdict(offset).items()})
                imu_out.pelvic_tilt_deg = _series(_shift(pelvis_tilt, clock_offset), "video")  # type: ignore[arg-type]
                imu_out.pelvic_obliquity_deg = _series(_shift(pelvis_obliquity, clock_offset), "video")
                if imu_out.gait is not None:
                    for c in imu_out.gait.initial_contacts:
                        c.t_s = round(c.t_s + clock_offset, 4)
                    imu_out.gait.sequences_s = [
                        (round(a + clock_offset, 4), round(b + clock_offset, 4)) for a, b in imu_out.gait.sequences_s
                    ]
                if video_obliquity is not None:
                    fusion = ObliquityFusion()
                    fused = fusion.fuse(pelvis_obliquity, video_obliquity, offset=offset)
                    out.fused = FusedOut(
                        method="complementary Kalman filter + RTS smoother (Higgins 1975; Rauch et al. 1965)",
                        pelvic_obliquity_deg=_series(fused.angle, "video"),
                        video_frames_used=fused.frames_used,
                        normalised_innovation_rms=_r(fused.normalised_innovation_rms),
                    )
                    processing["fusion"] = asdict(fusion)
            if movement_onsets_s is None:
                moving = pelvis_tilt if pelvis_tilt is not None else pelvis_obliquity
                try:
                    movement_onsets_s = [e.t_s + clock_offset for e in movement_onsets(moving)]
                    onset_source = "imu pelvic tilt (angular speed, Hodges & Bui threshold)"
                except InsufficientDataError:
                    pass
        out.imu = imu_out
    if movement_onsets_s is None and video_obliquity is not None:
        try:
            movement_onsets_s = [e.t_s for e in movement_onsets(video_obliquity)]
            onset_source = "video pelvic obliquity (angular speed, Hodges & Bui threshold)"
        except InsufficientDataError:
            pass
    if emg_path is not None:
        motion_clock = "video" if video_obliquity is not None else "imu" if imu_path is not None else "emg"
        out.emg = _emg_section(
            emg_path, request, movement_onsets_s or [], onset_source, motion_clock, issue, processing
        )
    out.quality = quality
    out.processing = processing
    return out, found


def _imu_section(rec: ImuRecording, request: WearablesRequest, issue, processing: dict, found: SensorResults):
    for note in rec.notes:
        issue("imu_note", "info", f"{rec.source}: {note}")
    axes = (
        parse_axes(request.imu_axes)
        if request.imu_axes
        else (MOBILISED_LOWER_BACK if rec.format == "mobilised" else None)
    )
    out = ImuOut(
        filename=rec.source,
        format=rec.format,
        placement=rec.placement,
        side=rec.side,
        sampling_rate_hz=round(rec.sampling_rate_hz, 4),
        duration_s=round(rec.duration_s, 4),
        n_samples=len(rec),
        axes=None if axes is None else {"up": axes.up, "anterior": axes.anterior, "left": axes.left},
        calibration=None,
        pelvic_tilt_deg=None,
        pelvic_obliquity_deg=None,
        gait=None,
        notes=list(rec.notes),
    )
    found.samples = samples = sample_validity(rec.t_s, np.column_stack([rec.acc_mps2, rec.gyr_rads]))
    out.samples = SamplesOut(
        coverage=round(samples.coverage, 3), lost={k: round(v, 3) for k, v in samples.lost.items()}
    )
    if samples.coverage < 0.995:
        issue(
            "imu_samples_lost",
            "warning",
            f"{rec.source}: {1 - samples.coverage:.0%} of the recording has no valid sample ({samples.describe()}); "
            "values on too little of it are not measurable",
        )
    if rec.placement not in ("sacrum", "lower_back", "pelvis"):
        issue(
            "imu_placement",
            "info",
            f"the IMU is on the {rec.placement}: pelvic angles and gait events need a "
            "sacrum or lower-back sensor; only the recording's summary is reported",
        )
        return out, None, None
    if axes is None:
        issue(
            "imu_axes_missing",
            "warning",
            "no IMU axis mapping given (which sensor axis points up, anterior and "
            "left when standing): pelvic angles were not computed",
        )
    else:
        cal = calibrate_static(rec, axes, window_s=request.imu_calibration_window_s)
        if not cal.still:
            issue(
                "imu_not_still",
                "warning",
                f"no still stand found for calibration (angular rate SD {cal.gyro_sd_dps:.1f} deg/s in the stillest "
                f"second, {cal.window_s[0]:.2f}-{cal.window_s[1]:.2f} s): gyroscope bias and zero posture are "
                "uncertain; "
                "record 2 s of quiet standing at the start",
            )
        orient = pelvis_orientation(rec, axes=axes, calibration=cal)
        out.calibration = CalibrationOut(
            window_s=(round(cal.window_s[0], 4), round(cal.window_s[1], 4)),
            still=cal.still,
            gyro_sd_dps=round(cal.gyro_sd_dps, 3),
            gyro_bias_dps=[round(float(np.degrees(b)), 4) for b in cal.gyro_bias_rads],
            mounting_correction_deg=round(cal.mounting_correction_deg, 2),
            posture_deg={"tilt": cal.posture_deg[0], "obliquity": cal.posture_deg[1]},
        )
        out.pelvic_tilt_deg = _series(orient.tilt, "imu")
        out.pelvic_obliquity_deg = _series(orient.obliquity, "imu")
        processing["orientation"] = orient.parameters
    detector = InitialContactDetector()
    try:
        gait = detector.detect(rec, axes=axes)
    except InsufficientDataError as exc:
        issue("gait_not_measured", "info", str(exc))
    else:
        found.gait = gait
        out.gait = GaitOut(
            method="walking bouts (step-band half-waves in runs with left-right yaw alternation), then initial "
            "contacts at the steepest rise of the vertical acceleration; side by the local alternation of the "
            "pelvic yaw rate (McCamley et al. 2012; Ullrich et al. 2021); docs/wearables.md",
            initial_contacts=[
                ContactOut(t_s=round(e.t_s, 4), side=e.side, confidence=round(e.confidence, 3))
                for e in gait.initial_contacts
            ],
            cadence_steps_per_min=_r(gait.cadence_steps_per_min, 1),
            n_steps=int(gait.step_times_s.shape[0]),
            sequences_s=[(round(a, 4), round(b, 4)) for a, b in gait.sequences],
        )
        processing["gait"] = asdict(detector)
        if request.imu_height_m is not None:
            pendulum = InvertedPendulum()
            found.strides = sl = pendulum.estimate(rec, gait, sensor_height_m=request.imu_height_m)
            out.gait.stride_method = (
                "inverted pendulum (Zijlstra & Hof 2003) with Mobilise-D's filters and factor 4.587/4"
            )
            out.gait.sensor_height_m = request.imu_height_m
            out.gait.stride_length_m = _r(sl.median_length_m, 3)
            out.gait.walking_speed_mps = _r(sl.median_speed_mps, 3)
            out.gait.strides = [
                StrideOut(start_s=round(a, 4), end_s=round(b, 4), length_m=round(x, 3), speed_mps=round(v, 3))
                for a, b, x, v in zip(sl.start_s, sl.end_s, sl.length_m, sl.speed_mps, strict=True)
            ]
            processing["stride_length"] = asdict(pendulum)
        elif gait.initial_contacts:
            issue(
                "stride_length_not_measured",
                "info",
                "stride length and walking speed need the lower-back sensor's height above the ground while "
                "standing (--imu-height / imu_height_m)",
            )
    if axes is None:
        return out, None, None
    found.obliquity = orient.obliquity
    return out, orient.obliquity, orient.tilt


def _sync(imu_obliquity: Series, video: Series | None, request: WearablesRequest, issue) -> ClockOffset | None:
    if request.imu_offset_s is not None:
        return ClockOffset.manual(request.imu_offset_s)
    if video is None:
        return None
    try:
        offset = ClockSync().estimate(imu_obliquity, video)
    except SynchronisationError as exc:
        issue(
            "sync_failed",
            "warning",
            f"IMU and video clocks could not be aligned: {exc}. IMU results stay on "
            "the IMU clock and no fused angle was computed",
        )
        return None
    if offset.confidence < 0.3:
        issue(
            "sync_uncertain",
            "warning",
            f"IMU-video offset {offset.offset_s:.3f} s has low confidence {offset.confidence:.2f} (peak r "
            f"{offset.peak_r:.2f}, next-best {offset.second_r:.2f}): a repeated movement may make it ambiguous by one "
            "repetition; start the recording with a distinctive movement or give the offset manually",
        )
    return offset


def _emg_section(
    path,
    request: WearablesRequest,
    movement_s: list[float],
    onset_source: str | None,
    clock: str,
    issue,
    processing: dict,
) -> EmgOut:
    rec = read_emg(path, sampling_rate_hz=request.emg_sampling_rate_hz)
    analysis = EmgAnalysis(
        filter=EmgFilter(mains_hz=request.emg_mains_hz),
        hardware_delay_s=request.emg_hardware_delay_s,
        clock_offset_s=request.emg_offset_s,
        reference_mv=request.emg_reference_mv,
        detector=ThresholdOnsetDetector(baseline_s=request.emg_baseline_s),
    )
    res = analysis.run(rec, movement_onsets_s=movement_s)
    if res.hardware_delay_assumed:
        issue(
            "emg_delay_assumed",
            "warning",
            "EMG hardware delay not configured: 0 s was assumed (not measured); "
            "muscle timings may be late by the system's internal delay",
        )
    if res.normalisation != "reference":
        issue(
            "emg_session_peak",
            "info",
            "EMG normalised to each channel's session peak, not to a reference "
            "contraction: amplitudes are not % MVC and left/right symmetry compares "
            "activation time courses, not strength",
        )
    for note in res.notes:
        if note.startswith(tuple(c.name for c in rec.channels)):
            issue("emg_label", "info", note)
    for name, ev in res.evidence.items():
        if not ev.measurable:
            issue("emg_onsets_not_measurable", "warning", f"{name}: muscle onsets not measurable: {ev.reason}")
    step = max(1, round(rec.sampling_rate_hz / 100.0))
    processing["emg"] = {k: v for k, v in res.parameters.items() if k != "reference_mv"}
    return EmgOut(
        filename=rec.source,
        format=rec.format,
        sampling_rate_hz=round(rec.sampling_rate_hz, 4),
        duration_s=round(float(rec.t_s[-1] - rec.t_s[0]), 4),
        channels=[
            EmgChannelOut(name=c.name, label=c.label, site=c.site, side=c.side, electrode=c.electrode)
            for c in rec.channels
        ],
        filters={
            "bandpass_hz": list(analysis.filter.bandpass_hz),
            "mains_notch_hz": analysis.filter.mains_hz,
            "envelope_lowpass_hz": analysis.envelope_hz,
            "onset_lowpass_hz": analysis.onset_envelope_hz,
            "onset_conditioning": analysis.conditioning,
            "onset_threshold_sd": analysis.detector.k_sd,
            "onset_window_s": analysis.detector.window_s,
        },
        normalisation=res.normalisation,
        reference_mv={k: round(v, 6) for k, v in res.reference_mv.items()},
        hardware_delay_s=res.hardware_delay_s,
        hardware_delay_assumed=res.hardware_delay_assumed,
        clock_offset_s=request.emg_offset_s,
        envelopes={k: _series(v, clock, 3, step) for k, v in res.envelopes.items()},
        bursts=[BurstOut(channel=e.name, onset_s=round(e.t_s, 4), offset_s=_r(e.end_s, 4)) for e in res.onsets],
        symmetry_pct={k: _r(v, 1) for k, v in res.symmetry_pct.items()},
        co_contraction_pct={k: _r(v, 1) for k, v in res.co_contraction_pct.items()},
        movement_onsets_source=onset_source,
        timing=[
            TimingOut(
                channel=str(r["channel"]),
                label=str(r["label"]),
                movement_onset_s=round(float(r["movement_onset_s"]), 4),  # type: ignore[arg-type]
                muscle_onset_s=_r(r["muscle_onset_s"], 4),  # type: ignore[arg-type]
                delta_ms=_r(r["delta_ms"], 1),
                reason=r["reason"],  # type: ignore[arg-type]
            )  # type: ignore[arg-type]
            for r in res.timing_ms
        ],
        onset_evidence=[OnsetEvidenceOut(channel=k, **asdict(v)) for k, v in res.evidence.items()],
        notes=res.notes,
    )

"""The assessment's ``wearables`` section and the request that configures it (:mod:`service.wearables` fills it)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from kinematics.fusion import MOBILISED_LOWER_BACK, AxisMapping
from service.schemas._base import _Model


class WearablesIssueOut(_Model):
    """A limitation of the wearables section; the same shape as the assessment's quality issues."""

    code: str
    severity: Literal["info", "warning", "error"]
    message: str


class WearablesRequest(_Model):
    """What the caller says about the wearable files (CLI flags / multipart fields)."""

    imu_placement: Literal["sacrum", "lower_back", "pelvis", "thigh", "shank", "trunk"] | None = None
    imu_side: Literal["left", "right"] | None = None
    imu_axes: str | None = Field(
        None,
        description="'up=+x,anterior=+z,left=-y' or 'mobilised'; which sensor axis "
        "points up, anterior and to the subject's left when standing",
    )
    imu_sampling_rate_hz: float | None = Field(None, gt=0)
    imu_calibration_window_s: tuple[float, float] | None = Field(None, description="a still stand, IMU clock")
    imu_offset_s: float | None = Field(None, description="manual clock offset, t_video = t_imu + offset_s")
    imu_height_m: float | None = Field(
        None,
        ge=0.4,
        le=1.5,
        description="height of the lower-back sensor above the ground while standing, m: the inverted pendulum's "
        "length for stride length and walking speed",
    )
    emg_sampling_rate_hz: float | None = Field(None, gt=0)
    emg_mains_hz: float | None = Field(50.0, description="50 or 60; null for no notch")
    emg_hardware_delay_s: float | None = Field(
        None, ge=0, description="the EMG system's internal delay; null = unknown"
    )
    emg_offset_s: float = Field(0.0, description="t_motion = t_emg + emg_offset_s - emg_hardware_delay_s")
    emg_baseline_s: tuple[float, float] | None = Field(
        None,
        description="a quiet period, EMG clock: the EMG file's own times, before emg_offset_s and "
        "emg_hardware_delay_s move them onto the motion clock (the window moves with them)",
    )
    emg_reference_mv: dict[str, float] | None = Field(
        None, description="per channel, a reference contraction's envelope amplitude"
    )

    @field_validator("imu_axes")
    @classmethod
    def _axes(cls, v: str | None) -> str | None:
        if v is not None:
            parse_axes(v)
        return v


class SeriesOut(_Model):
    unit: str
    clock: Literal["video", "imu", "emg"]
    t_s: list[float]
    values: list[float | None]
    confidence: list[float]


class CalibrationOut(_Model):
    window_s: tuple[float, float]
    still: bool
    gyro_sd_dps: float = Field(description="how much the sensor moved during the stand")
    gyro_bias_dps: list[float] = Field(description="sensor axes x, y, z")
    mounting_correction_deg: float = Field(description="declared up axis vs measured gravity")
    posture_deg: dict[str, float] = Field(
        description="pelvis angles assumed during the stand (0 = the stand defines zero)"
    )


class ContactOut(_Model):
    t_s: float
    side: Literal["left", "right"] | None
    confidence: float


class StrideOut(_Model):
    start_s: float
    end_s: float
    length_m: float
    speed_mps: float


class GaitOut(_Model):
    method: str
    initial_contacts: list[ContactOut]
    cadence_steps_per_min: float | None
    n_steps: int
    sequences_s: list[tuple[float, float]] = Field(description="walking bouts: first and last contact, s")
    stride_method: str | None = None
    sensor_height_m: float | None = Field(None, description="the pendulum's length used for stride length")
    stride_length_m: float | None = Field(None, description="median over the strides; null without imu_height_m")
    walking_speed_mps: float | None = Field(None, description="median over the strides; null without imu_height_m")
    strides: list[StrideOut] = Field(default_factory=list)


class ImuOut(_Model):
    filename: str
    format: str
    placement: str
    side: str | None
    sampling_rate_hz: float
    duration_s: float
    n_samples: int
    axes: dict[str, str] | None
    calibration: CalibrationOut | None
    pelvic_tilt_deg: SeriesOut | None
    pelvic_obliquity_deg: SeriesOut | None
    gait: GaitOut | None
    samples: SamplesOut | None = Field(None, description="the recording's valid samples (what coverage rests on)")
    notes: list[str]


class SyncOut(_Model):
    offset_s: float = Field(description="t_video = t_imu + offset_s")
    method: Literal["cross_correlation", "manual"]
    confidence: float
    peak_r: float | None = None
    second_r: float | None = Field(None, description="best correlation outside the main peak (a repeated movement)")
    lobe_width_s: float | None = Field(None, description="full width at half height of the peak: sharpness")
    overlap_s: float | None = None
    signal: str | None = None


class FusedOut(_Model):
    method: str
    pelvic_obliquity_deg: SeriesOut
    video_frames_used: int
    normalised_innovation_rms: float | None = Field(None, description="about 1 when the noise model fits")


class EmgChannelOut(_Model):
    name: str
    label: str
    site: str
    side: Literal["left", "right"] | None
    electrode: str


class BurstOut(_Model):
    channel: str
    onset_s: float
    offset_s: float | None


class TimingOut(_Model):
    channel: str
    label: str
    movement_onset_s: float
    muscle_onset_s: float | None
    delta_ms: float | None = Field(description="muscle onset minus movement onset; negative = muscle first")
    reason: str | None = Field(
        None, description="why the channel's muscle onsets are not measurable (its onset_evidence); null when they are"
    )


class OnsetEvidenceOut(_Model):
    """What one EMG channel's muscle onsets rest on; the same fields and rule as a protocol metric's."""

    channel: str
    coverage: float = Field(
        description="fraction of the recording with valid samples (no clock gap, dropout or saturation)"
    )
    n_events: int = Field(description="bursts found in the channel")
    event_kind: str = "burst"
    confidence: float = Field(description="coverage x the mean clarity of the bursts' peaks; 0 without bursts")
    measurable: bool = Field(description="false below 0.5 coverage or without a burst; then reason says why")
    reason: str | None = None


class SamplesOut(_Model):
    """How much of a sensor recording measured something."""

    coverage: float = Field(
        description="fraction of the samples due (first to last timestamp) that were recorded and valid"
    )
    lost: dict[str, float] = Field(description="share of the samples due lost to clock gaps, dropouts, saturation")


class EmgOut(_Model):
    filename: str
    format: str
    sampling_rate_hz: float
    duration_s: float
    channels: list[EmgChannelOut]
    filters: dict[str, object]
    normalisation: str = Field(description="'reference' (% of a reference contraction) or 'session_peak'")
    reference_mv: dict[str, float]
    hardware_delay_s: float
    hardware_delay_assumed: bool = Field(description="true: no delay was configured and 0 s was used")
    clock_offset_s: float = Field(description="t_motion = t_emg + clock_offset_s - hardware_delay_s")
    envelopes: dict[str, SeriesOut] = Field(description="normalised envelopes (1 = reference), 100 Hz, motion clock")
    bursts: list[BurstOut]
    symmetry_pct: dict[str, float | None] = Field(description="site -> 100 (L - R) / mean(L, R); > 0 left larger")
    co_contraction_pct: dict[str, float | None]
    movement_onsets_source: str | None
    timing: list[TimingOut]
    onset_evidence: list[OnsetEvidenceOut] = Field(
        default_factory=list, description="per channel: what its muscle onsets rest on"
    )
    notes: list[str]


class WearablesOut(_Model):
    """Wearable sensors recorded with the assessment."""

    imu: ImuOut | None = None
    sync: SyncOut | None = None
    fused: FusedOut | None = None
    emg: EmgOut | None = None
    quality: list[WearablesIssueOut] = Field(default_factory=list)
    conventions: dict[str, str] = Field(default_factory=dict)
    processing: dict[str, object] = Field(default_factory=dict)


def parse_axes(text: str) -> AxisMapping:
    """``"up=+x,anterior=+z,left=-y"`` or ``"mobilised"``."""
    if text.strip().lower() in ("mobilised", "mobilized", "mobgap"):
        return MOBILISED_LOWER_BACK
    parts = dict(p.split("=", 1) for p in text.replace(" ", "").split(",") if "=" in p)
    if set(parts) != {"up", "anterior", "left"}:
        raise ValueError(f"imu_axes {text!r}: expected up=..,anterior=..,left=.. (e.g. up=+x,anterior=+z,left=-y)")
    mapping = AxisMapping(up=parts["up"], anterior=parts["anterior"], left=parts["left"])  # type: ignore[arg-type]
    mapping.body_from_sensor()  # validates
    return mapping

"""Wearable values state what they rest on as video ones do: coverage, events, confidence (kinematics.fusion.evidence).

Synthetic sensors with known truth: a walk of 72 steps at 1.8 steps/s, clean or with a known share of it
lost (a clock gap, a held value, a saturated channel); EMG bursts at known times. Then the real fixtures.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from kinematics.fusion import MOBILISED_LOWER_BACK, EmgAnalysis, EmgChannel, EmgRecording, ImuRecording, read_emg
from kinematics.fusion import InitialContactDetector as Detector
from kinematics.fusion.evidence import BASES, sample_validity
from kinematics.fusion.protocols import ImuProtocol
from kinematics.fusion.synth import daily_motion, emg_bursts, pelvis_imu
from kinematics.protocols import evidence as E
from tests.fusion.data import UCI_5N
from validation import mobilised as M

STEP_HZ = 1.8


def _walk(rng, seconds: float = 40.0) -> ImuRecording:
    t = np.arange(0.0, seconds, 0.01)
    return pelvis_imu(daily_motion(t, "walk", step_hz=STEP_HZ, rng=rng), axes=MOBILISED_LOWER_BACK, rng=rng)


def _samples(rec: ImuRecording):
    return sample_validity(rec.t_s, np.column_stack([rec.acc_mps2, rec.gyr_rads]))


def _assess(rec: ImuRecording):
    gait = Detector().detect(rec, axes=MOBILISED_LOWER_BACK)
    return ImuProtocol().assess("gait", gait=gait, samples=_samples(rec)), gait


def _lose(rec: ImuRecording, how: str, start_s: float, end_s: float) -> ImuRecording:
    """``rec`` with ``[start_s, end_s)`` lost: samples missing (clock gap) or held at the last one (dropout)."""
    inside = (rec.t_s >= start_s) & (rec.t_s < end_s)
    if how == "clock gap":
        keep = ~inside
        return replace(rec, t_s=rec.t_s[keep], acc_mps2=rec.acc_mps2[keep], gyr_rads=rec.gyr_rads[keep])
    last = int(np.flatnonzero(inside)[0]) - 1
    acc, gyr = rec.acc_mps2.copy(), rec.gyr_rads.copy()
    acc[inside], gyr[inside] = acc[last], gyr[last]
    return replace(rec, acc_mps2=acc, gyr_rads=gyr)


def _by_name(result):
    return {(m.name, m.side): m for m in result.metrics}


def test_a_clean_walk_has_full_coverage_and_high_confidence(rng):
    rec = _walk(rng)
    samples = _samples(rec)
    assert samples.coverage == 1.0 and samples.describe() == "no sample lost"
    result, gait = _assess(rec)
    m = _by_name(result)
    cadence = m["cadence_steps_per_min", None]
    assert cadence.value == pytest.approx(60 * STEP_HZ, abs=1.0)
    steps = len(gait.initial_contacts)
    assert steps >= 69  # of the 72 (none at the recording's edges)
    assert (cadence.n_events, cadence.event_kind, cadence.coverage) == (steps, "step", 1.0)
    # confidence = coverage x the steps' mean confidence (their side votes' margin): every step clear here
    contacts = np.mean([e.confidence for e in gait.initial_contacts])
    assert cadence.confidence == pytest.approx(contacts, abs=0.001) and cadence.confidence >= 0.9
    for metric in result.metrics:
        if metric.name in ("stride_length_m", "walking_speed_mps"):  # no sensor height given: its own reason
            assert not metric.measurable and "height" in (metric.reason or "")
            continue
        assert metric.measurable and metric.coverage == 1.0 and metric.confidence >= 0.9, metric
    assert (m["walking_bout_count", None].n_events, m["walking_bout_count", None].event_kind) == (1, "walking bout")
    assert {f.code for f in result.findings} >= {"cadence"}
    assert not [q for q in result.quality if q.code == "weak_protocol_evidence"]


@pytest.mark.parametrize("how", ["clock gap", "dropout"])
def test_a_walk_with_60_percent_lost_is_not_measurable(rng, how):
    """8-32 s of a 40 s walk lost: 16 s of steps remain, but a value over 40 % of the recording is not its value."""
    rec = _lose(_walk(rng), how, 8.0, 32.0)
    result, gait = _assess(rec)
    assert len(gait.initial_contacts) >= 20  # the steps before and after are still found
    cause = "clock gaps" if how == "clock gap" else "dropouts"
    why = f"only 40% of the recording had valid samples (need 50%; lost to {cause} 60%)"
    for metric in result.metrics:
        assert metric.coverage == pytest.approx(0.40, abs=0.002), metric
        if metric.name in ("stride_length_m", "walking_speed_mps"):  # no sensor height: its own reason
            continue
        assert not metric.measurable and metric.value is None and metric.reason == why, metric
        assert metric.confidence <= 0.40
    assert result.findings == []  # the cadence and step-time findings rest on withheld values
    weak = [q for q in result.quality if q.code == "weak_protocol_evidence"]
    assert len(weak) == 1 and "cadence_steps_per_min: " + why in weak[0].message


def test_confidence_falls_with_the_share_lost_and_the_value_stays_measurable_above_half(rng):
    rec = _walk(rng)
    clean = _by_name(_assess(rec)[0])["cadence_steps_per_min", None]
    result, _ = _assess(_lose(rec, "dropout", 28.0, 40.0))  # the last 30 %: held at its last sample
    cadence = _by_name(result)["cadence_steps_per_min", None]
    assert cadence.measurable and cadence.value == pytest.approx(60 * STEP_HZ, abs=1.0)
    assert cadence.coverage == pytest.approx(0.70, abs=0.002)
    assert cadence.confidence == pytest.approx(0.70 * clean.confidence, abs=0.03)


def test_a_clipped_channel_is_saturation_for_the_share_of_time_it_sits_at_its_rail():
    """3 sin(2 pi t) clipped at +-2: at the rail for 1 - (2 / pi) asin(2 / 3) = 53.5 % of the time."""
    t = np.arange(0.0, 20.0, 0.01)
    x = np.clip(3.0 * np.sin(2 * np.pi * t), -2.0, 2.0)
    v = sample_validity(t, np.column_stack([x, np.cos(2 * np.pi * t)]))
    truth = 1 - 2 / np.pi * np.arcsin(2 / 3)
    assert v.lost["saturation"] == pytest.approx(truth, abs=0.01)
    assert v.lost["dropouts"] == 0.0 and v.lost["clock gaps"] == 0.0
    assert v.coverage == pytest.approx(1 - truth, abs=0.01)
    assert sample_validity(t, 3.0 * np.sin(2 * np.pi * t)).coverage == 1.0  # the same signal unclipped


def test_one_quiet_channel_recorded_coarsely_is_not_a_dropout_but_every_channel_held_is(rng):
    """A still gyroscope axis rounded to 0.1 rad/s repeats 0.0 for whole seconds while the other axes
    measure: every sample valid. The whole sample repeated (a lost link) for 2 of 10 s: 20 % dropouts."""
    t = np.arange(0.0, 10.0, 0.01)
    busy = np.column_stack([np.sin(2 * np.pi * t) + rng.normal(0, 0.01, t.size) for _ in range(5)])
    quiet = np.zeros(t.size)  # 0.0 for 0.24 s at a time, between single-sample blips of +-0.1
    quiet[::50], quiet[25::50] = 0.1, -0.1
    v = sample_validity(t, np.column_stack([busy, quiet]))
    assert v.coverage == 1.0 and v.describe() == "no sample lost"
    lost = np.column_stack([busy, quiet])
    lost[300:500] = lost[299]
    v = sample_validity(t, lost)
    # the 200 repeats and the last real sample they repeat (it cannot be told from them): 201 of 1000
    assert v.lost["dropouts"] == pytest.approx(0.201, abs=1e-9) and v.coverage == pytest.approx(0.799, abs=1e-9)


def test_the_sensor_rule_is_the_video_rule():
    """One threshold and one minimum per kind of value, whatever found the steps (not copies)."""
    assert BASES["gait:cadence_steps_per_min"].min_events == E.BASES["gait:cadence_steps_per_min"].min_events
    assert BASES["gait:step_time_s"].min_events == E.MIN_STEP_TIMES
    assert BASES["gait:stride_length_m"].min_events == E.MIN_STRIDES


def _emg(t: np.ndarray, x: np.ndarray, fs: float) -> EmgRecording:
    return EmgRecording(
        t_s=t,
        emg_mv=x.reshape(len(t), -1),
        sampling_rate_hz=fs,
        source="synthetic",
        format="generic",
        channels=(EmgChannel(name="gluteus_medius_left_mV", site="gluteus_medius", side="left"),),
    )


def test_emg_onsets_rest_on_clear_bursts_and_a_flat_lead_is_not_measurable(rng):
    fs = 1000.0
    t = np.arange(0.0, 10.0, 1.0 / fs)
    x = emg_bursts(t, [(2.0, 2.8, 0.1), (5.0, 5.8, 0.1), (8.0, 8.8, 0.1)], sampling_rate_hz=fs, rng=rng)
    analysis = EmgAnalysis(hardware_delay_s=0.0)
    clean = analysis.run(_emg(t, x, fs), movement_onsets_s=[2.0, 5.0, 8.0])
    ev = clean.evidence["gluteus_medius_left_mV"]
    assert (ev.coverage, ev.n_events, ev.event_kind, ev.measurable, ev.reason) == (1.0, 3, "burst", True, None)
    assert ev.confidence >= 0.9  # bursts 20x the noise: their peaks stand far above the threshold
    assert all(abs(r["delta_ms"]) <= 20 for r in clean.timing_ms)  # type: ignore[arg-type]

    flat = x.copy()
    flat[(t >= 1.0) & (t < 7.0)] = 0.0  # the lead came off for 6 of the 10 s
    lost = analysis.run(_emg(t, flat, fs), movement_onsets_s=[2.0, 5.0, 8.0])
    ev = lost.evidence["gluteus_medius_left_mV"]
    assert ev.coverage == pytest.approx(0.40, abs=0.001) and not ev.measurable
    assert ev.reason == "only 40% of the recording had valid samples (need 50%; lost to dropouts 60%)"
    assert all(r["muscle_onset_s"] is None and r["reason"] == ev.reason for r in lost.timing_ms)


def test_real_fixtures_lose_no_sample_and_state_their_evidence():
    """The Mobilise-D lower-back walk (optical reference) and the UCI gait EMG: every sample valid."""
    rec = M.recording("HA001", "Test5", "Trial2")
    samples = _samples(rec)
    assert samples.coverage == 1.0, samples.describe()
    result, gait = _assess(rec)
    cadence = _by_name(result)["cadence_steps_per_min", None]
    assert cadence.measurable and cadence.coverage == 1.0
    assert cadence.n_events == len(gait.initial_contacts)
    assert cadence.confidence == pytest.approx(np.mean([e.confidence for e in gait.initial_contacts]), abs=0.001)
    emg = EmgAnalysis(hardware_delay_s=0.0).run(read_emg(UCI_5N))
    for name, ev in emg.evidence.items():
        assert ev.coverage == 1.0 and ev.n_events >= 1 and ev.measurable, (name, ev)

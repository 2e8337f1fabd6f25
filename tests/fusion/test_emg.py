"""EMG: known synthetic onsets found within 20 ms; honest labels; the real UCI gait EMG runs; malformed files named."""

from __future__ import annotations

import numpy as np
import pytest

from kinematics.fusion import (
    EmgAnalysis,
    EmgChannel,
    EmgFilter,
    EmgRecording,
    SensorFormatError,
    ThresholdOnsetDetector,
    co_contraction_index,
    movement_onsets,
    read_emg,
    symmetry_index,
)
from kinematics.fusion.synth import emg_bursts
from kinematics.series import Series
from tests.fusion.data import UCI_5N

BASELINE = ThresholdOnsetDetector(baseline_s=(0.2, 1.2))


def _recording(t: np.ndarray, x: np.ndarray, fs: float, name: str = "lower_abdominal_left_mV") -> EmgRecording:
    return EmgRecording(
        t_s=t,
        emg_mv=x.reshape(len(t), -1),
        sampling_rate_hz=fs,
        source="synthetic",
        format="generic",
        channels=(EmgChannel(name=name, site="lower_abdominal", side="left"),),
    )


@pytest.mark.parametrize("fs", [1000.0, 2000.0])
def test_known_onsets_and_offsets_are_found_within_20_ms(rng, fs):
    """Bursts of 0.03-0.15 mV RMS on 0.005 mV noise, 0.02 mV mains hum and 0.05 mV movement artefact."""
    t = np.arange(0.0, 8.0, 1.0 / fs)
    onset_errors, offset_errors = [], []
    for _ in range(8):
        truth = [(1.5 + rng.uniform(0, 0.3), 2.4, 0.08), (4.1 + rng.uniform(0, 0.3), 5.0, 0.03), (6.3, 7.0, 0.15)]
        x = emg_bursts(t, truth, sampling_rate_hz=fs, rng=rng)
        res = EmgAnalysis(detector=BASELINE, hardware_delay_s=0.0).run(_recording(t, x, fs))
        b = res.bursts["lower_abdominal_left_mV"]
        assert len(b.onsets_s) == 3
        onset_errors += list(b.onsets_s - [on for on, _, _ in truth])
        offset_errors += list(b.offsets_s - [off for _, off, _ in truth])
    assert np.max(np.abs(onset_errors)) <= 0.020  # measured <= 0.011 s
    assert np.max(np.abs(offset_errors)) <= 0.030


def test_the_window_mean_rule_fires_earlier_than_the_sustained_rule(rng):
    fs = 2000.0
    t = np.arange(0.0, 8.0, 1.0 / fs)
    worst = {"sustained": 0.0, "mean": 0.0}
    for _ in range(8):
        truth = [(1.5 + rng.uniform(0, 0.3), 2.4, 0.08), (6.3, 7.0, 0.15)]
        x = emg_bursts(t, truth, sampling_rate_hz=fs, rng=rng)
        for rule, so_far in worst.items():
            det = ThresholdOnsetDetector(baseline_s=(0.2, 1.2), rule=rule)  # type: ignore[arg-type]
            on = (
                EmgAnalysis(detector=det, hardware_delay_s=0.0)
                .run(_recording(t, x, fs))
                .bursts["lower_abdominal_left_mV"]
                .onsets_s
            )
            err = [on[np.argmin(np.abs(on - a))] - a for a, _, _ in truth]
            worst[rule] = max(so_far, float(np.max(np.abs(err))))
    assert worst["sustained"] <= 0.010  # measured 4 ms
    assert worst["mean"] > 2 * worst["sustained"]  # 17 ms early: a noise excursion just before the burst


def test_the_hardware_delay_moves_every_onset_and_is_never_silently_zero(rng):
    fs = 1000.0
    t = np.arange(0.0, 5.0, 1.0 / fs)
    x = emg_bursts(t, [(2.0, 3.0, 0.1)], sampling_rate_hz=fs, rng=rng)
    rec = _recording(t, x, fs)
    unknown = EmgAnalysis(detector=BASELINE).run(rec)
    known = EmgAnalysis(detector=BASELINE, hardware_delay_s=0.048).run(rec)
    assert unknown.hardware_delay_assumed and any("not configured" in n for n in unknown.notes)
    assert not known.hardware_delay_assumed and known.hardware_delay_s == 0.048
    np.testing.assert_allclose(
        known.bursts[rec.channels[0].name].onsets_s, unknown.bursts[rec.channels[0].name].onsets_s - 0.048
    )


def test_timing_is_muscle_minus_movement_and_negative_when_the_muscle_leads(rng):
    fs = 1000.0
    t = np.arange(0.0, 6.0, 1.0 / fs)
    x = emg_bursts(t, [(2.0, 3.0, 0.1), (4.0, 4.8, 0.1)], sampling_rate_hz=fs, rng=rng)
    res = EmgAnalysis(detector=BASELINE, hardware_delay_s=0.0).run(_recording(t, x, fs), movement_onsets_s=[2.05, 3.97])
    first, second = res.timing_ms
    assert first["delta_ms"] == pytest.approx(-50.0, abs=15.0)  # feed-forward: 50 ms before the movement
    assert second["delta_ms"] == pytest.approx(30.0, abs=15.0)
    assert first["label"] == "left lower-abdominal (TrA/IO) surface EMG"


def test_mains_notch_is_configurable():
    fs = 1000.0
    t = np.arange(0.0, 4.0, 1.0 / fs)
    hum50, hum60 = np.sin(2 * np.pi * 50 * t), np.sin(2 * np.pi * 60 * t)
    mid = slice(1000, 3000)
    for hz, hum, other in ((50.0, hum50, hum60), (60.0, hum60, hum50)):
        out, _ = EmgFilter(mains_hz=hz).apply(np.column_stack([hum, other]), fs)
        assert np.abs(out[mid, 0]).max() < 0.03  # > 30 dB down
        assert np.abs(out[mid, 1]).max() > 0.9  # the other mains frequency passes
    out, notes = EmgFilter(bandpass_hz=(20.0, 450.0)).apply(hum50[:, None], 500.0)
    assert "lowered from 450 to 225" in notes[0]


def test_symmetry_and_co_contraction_indices():
    assert symmetry_index(3.0, 1.0) == pytest.approx(100.0)
    assert symmetry_index(1.0, 1.0) == 0.0 and symmetry_index(1.0, 3.0) == pytest.approx(-100.0)
    a = np.array([0.0, 1.0, 1.0, 0.0])
    assert co_contraction_index(a, a) == pytest.approx(100.0)
    assert co_contraction_index(a, 1.0 - a) == pytest.approx(0.0)
    assert co_contraction_index(a, 0.5 * a) == pytest.approx(200 * 1.0 / 3.0)


def test_left_right_symmetry_from_paired_channels(rng):
    fs = 1000.0
    t = np.arange(0.0, 4.0, 1.0 / fs)
    left = emg_bursts(t, [(1.0, 3.0, 0.10)], sampling_rate_hz=fs, rng=rng)
    right = emg_bursts(t, [(1.0, 3.0, 0.05)], sampling_rate_hz=fs, rng=rng)
    chans = (EmgChannel("gmed_l", "gluteus_medius", "left"), EmgChannel("gmed_r", "gluteus_medius", "right"))
    rec = EmgRecording(
        t_s=t, emg_mv=np.column_stack([left, right]), channels=chans, sampling_rate_hz=fs, source="s", format="generic"
    )
    res = EmgAnalysis(hardware_delay_s=0.0, reference_mv={"gmed_l": 0.1, "gmed_r": 0.1}).run(rec)
    assert res.normalisation == "reference"
    assert res.symmetry_pct["gluteus_medius"] == pytest.approx(66.7, abs=8.0)  # 0.10 vs 0.05 mV: (2-1)/1.5


def test_movement_onsets_from_an_imu_rate_angle(rng):
    t = np.arange(0.0, 12.0, 0.01)

    def min_jerk(t0: float, d: float, amp: float) -> np.ndarray:
        x = np.clip((t - t0) / d, 0.0, 1.0)
        return amp * (10 * x**3 - 15 * x**4 + 6 * x**5)

    angle = min_jerk(2.0, 0.8, 10) - min_jerk(4.0, 0.8, 10) + min_jerk(7.3, 0.6, 8) - min_jerk(9.0, 0.6, 8)
    got = movement_onsets(Series(t, angle + rng.normal(0, 0.02, t.shape[0]), "deg", np.ones(t.shape[0])))
    assert len(got) == 4
    assert all(
        0.0 <= e.t_s - s <= 0.08 for e, s in zip(got, [2.0, 4.0, 7.3, 9.0], strict=True)
    )  # a speed threshold fires late


# -- files ---------------------------------------------------------------------------


def test_the_uci_file_loads_with_its_knee_goniometer():
    rec = read_emg(UCI_5N)
    assert rec.format == "uci" and rec.sampling_rate_hz == 1000.0
    assert rec.emg_mv.shape == (6563, 4)
    assert [c.site for c in rec.channels] == ["rectus_femoris", "biceps_femoris", "vastus_medialis", "semitendinosus"]
    assert rec.channels[0].label == "rectus femoris surface EMG"
    knee = rec.aux["knee_flexion_deg"]
    assert knee.unit == "deg" and 50.0 < np.nanmax(knee.values) < 65.0
    assert any("which leg" in n for n in rec.notes)


def test_the_detector_runs_on_the_real_gait_emg():
    rec = read_emg(UCI_5N)
    res = EmgAnalysis().run(rec)
    for ch in rec.channels:
        b = res.bursts[ch.name]
        assert 3 <= len(b.onsets_s) <= 20  # 3 gait cycles in 6.6 s
        assert np.all(np.diff(b.onsets_s) > 0)
    assert set(res.co_contraction_pct) == {"RF / BF", "RF / ST", "VM / BF", "VM / ST"}
    assert all(0.0 <= v <= 100.0 for v in res.co_contraction_pct.values())
    assert res.normalisation == "session_peak" and res.hardware_delay_assumed


def _write(tmp_path, text: str, name: str = "emg.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_a_surface_channel_named_transversus_abdominis_is_relabelled(tmp_path):
    rows = "\n".join(f"{i / 1000:.3f},0.001,0.002" for i in range(50))
    rec = read_emg(_write(tmp_path, f"t_s,tra_left_mV,gmed_right_uV\n{rows}\n"))
    assert rec.channels[0].site == "lower_abdominal"
    assert rec.channels[0].label == "left lower-abdominal (TrA/IO) surface EMG"
    assert any("cannot isolate transversus abdominis" in n for n in rec.notes)
    assert rec.emg_mv[0, 1] == pytest.approx(0.002e-3)  # uV -> mV
    fine = read_emg(
        _write(
            tmp_path,
            "# electrode: fine_wire\nt_s,tra_left_mV\n" + "\n".join(f"{i / 1000:.3f},0.001" for i in range(50)) + "\n",
            "fw.csv",
        )
    )
    assert fine.channels[0].label == "left transversus abdominis (fine-wire EMG)"


@pytest.mark.parametrize(
    ("text", "column", "line", "words"),
    [
        ("t_s,psoas_left_mV\n0,1\n0.001,1\n", "psoas_left_mV", 1, "unknown muscle site 'psoas'"),
        ("t_s,gmed_left_mA\n0,1\n0.001,1\n", "gmed_left_mA", 1, "unit V, mV or uV"),
        ("t_s,gmed_left_mV\n0,1\n0.001,\n0.002,1\n", "gmed_left_mV", 3, "empty"),
        ("t_s,gmed_left_mV\n0,1\n0.002,1\n0.001,1\n", "t_s", 4, "does not increase"),
    ],
)
def test_malformed_emg_files_name_the_column_and_the_line(tmp_path, text, column, line, words):
    with pytest.raises(SensorFormatError) as info:
        read_emg(_write(tmp_path, text, "bad_emg.csv"))
    msg = str(info.value)
    assert "bad_emg.csv" in msg and words in msg and info.value.column == column and info.value.line == line


def test_a_truncated_or_damaged_uci_file_is_named(tmp_path):
    lines = UCI_5N.read_text(encoding="latin-1").splitlines()
    cut = _write(tmp_path, "\n".join(lines[:500]) + "\n", "cut.txt")
    with pytest.raises(SensorFormatError, match=r"cut\.txt: 493 EMG samples, the header declares 6563"):
        read_emg(cut)
    lines[100] = lines[100].replace("\t", "\tx", 1)
    with pytest.raises(SensorFormatError) as info:
        read_emg(_write(tmp_path, "\n".join(lines) + "\n", "bad.txt"))
    assert info.value.line == 101 and info.value.column == "BF"


def test_the_given_baseline_is_on_the_emg_clock_whatever_the_offset_and_delay(rng):
    """WearablesRequest.emg_baseline_s says "EMG clock": the window moves with the samples onto the motion clock."""
    fs = 1000.0
    t = np.arange(0.0, 5.0, 1.0 / fs)
    x = emg_bursts(t, [(2.0, 3.0, 0.1)], sampling_rate_hz=fs, rng=rng)
    rec = _recording(t, x, fs)
    name = rec.channels[0].name
    plain = EmgAnalysis(detector=BASELINE, hardware_delay_s=0.0).run(rec)
    moved = EmgAnalysis(detector=BASELINE, hardware_delay_s=0.03, clock_offset_s=100.0).run(rec)
    a, b = plain.bursts[name], moved.bursts[name]
    assert b.baseline_given and (b.baseline_mean, b.baseline_sd) == (a.baseline_mean, a.baseline_sd)
    assert b.baseline_window_s == pytest.approx((100.17, 101.17), abs=1.5 / fs)  # where it ran: the motion clock
    np.testing.assert_allclose(b.onsets_s, a.onsets_s + 100.0 - 0.03)
    assert moved.parameters["detector"]["baseline_s"] == (0.2, 1.2)  # as given

"""The causal EMG path gives the offline onsets: synthetic bursts with known onsets, and real gait EMG.

Each recording is streamed in blocks through :class:`kinematics.streaming.CausalEmg` and
compared with :class:`kinematics.fusion.EmgAnalysis` over the whole file, with the same parameters.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from kinematics.errors import InputError
from kinematics.fusion import EmgAnalysis, EmgChannel, EmgFilter, EmgRecording, ThresholdOnsetDetector, read_emg, tkeo
from kinematics.fusion.synth import emg_bursts
from kinematics.streaming import CausalEmg
from tests.fusion.data import UCI_5N

QUIET = ThresholdOnsetDetector(baseline_s=(0.2, 1.2))  # the patient stands still first
CHANNEL = EmgChannel(name="lower_abdominal_left", site="lower_abdominal", side="left")


def _recording(t: np.ndarray, x: np.ndarray, fs: float) -> EmgRecording:
    return EmgRecording(
        t_s=t,
        emg_mv=x.reshape(len(t), -1),
        sampling_rate_hz=fs,
        source="synthetic",
        format="generic",
        channels=(CHANNEL,),
    )


def _stream(rec: EmgRecording, analysis: EmgAnalysis, block: int, **start) -> tuple[dict, list, object]:
    """Onsets by channel, every block, and the stream."""
    stream = CausalEmg(analysis=analysis).start(rec.channels, rec.sampling_rate_hz, **start)
    onsets: dict[str, list[float]] = {c.name: [] for c in rec.channels}
    blocks = []
    for a in range(0, len(rec.t_s), block):
        b = stream.push(rec.t_s[a : a + block], rec.emg_mv[a : a + block])
        blocks.append(b)
        for e in b.onsets:
            onsets[e.name].append(e.t_s)
    for e in stream.finish():
        onsets[e.name].append(e.t_s)
    return {k: np.array(v) for k, v in onsets.items()}, blocks, stream


def _bursts(rng, fs: float) -> tuple[np.ndarray, np.ndarray, list[tuple[float, float, float]]]:
    t = np.arange(0.0, 8.0, 1.0 / fs)
    truth = [(1.5 + rng.uniform(0, 0.3), 2.4, 0.08), (4.1 + rng.uniform(0, 0.3), 5.0, 0.03), (6.3, 7.0, 0.15)]
    return t, emg_bursts(t, truth, sampling_rate_hz=fs, rng=rng), truth


@pytest.mark.parametrize("fs", [1000.0, 2000.0])
def test_known_onsets_live_are_the_offline_onsets(rng, fs):
    """Bursts of 0.03-0.15 mV on noise, mains hum and movement artefact; a quiet stand first."""
    analysis = EmgAnalysis(detector=QUIET, hardware_delay_s=0.0)
    live_vs_offline, live_vs_truth = [], []
    for _ in range(5):
        t, x, truth = _bursts(rng, fs)
        rec = _recording(t, x, fs)
        offline = analysis.run(rec).bursts[CHANNEL.name].onsets_s
        live, _, _ = _stream(rec, analysis, block=int(fs) // 25)  # 40 ms blocks
        assert live[CHANNEL.name].shape == offline.shape == (3,)
        live_vs_offline += list(live[CHANNEL.name] - offline)
        live_vs_truth += list(live[CHANNEL.name] - [on for on, _, _ in truth])
    assert np.max(np.abs(live_vs_offline)) <= 0.020  # measured 0 ms: the same sample
    assert np.max(np.abs(live_vs_truth)) <= 0.020  # measured <= 8 ms


def test_the_real_gait_emg_gives_the_offline_onsets_on_every_channel():
    """UCI lower-limb EMG (4 thigh muscles, 1 kHz): with offline's own baseline, every onset."""
    rec = read_emg(UCI_5N)
    analysis = EmgAnalysis()
    offline = analysis.run(rec)
    baseline = {name: (b.baseline_mean, b.baseline_sd) for name, b in offline.bursts.items()}
    live, _, _ = _stream(rec, analysis, block=50, baseline=baseline)
    for ch in rec.channels:
        want = offline.bursts[ch.name].onsets_s
        assert len(want) >= 8
        assert live[ch.name].shape == want.shape, ch.name
        assert np.max(np.abs(live[ch.name] - want)) <= 0.020  # measured <= 1 ms


def test_the_live_onset_envelope_is_the_offline_one_delayed_by_the_stated_latency(rng):
    """Stage by stage: the FIR forms of the zero-phase band-pass and low-pass, and the TKEO's sample."""
    fs = 1000.0
    t, x, _ = _bursts(rng, fs)
    analysis = EmgAnalysis(detector=QUIET)
    _, blocks, stream = _stream(_recording(t, x, fs), analysis, block=40)
    t_live = np.concatenate([b.onset_t_s for b in blocks])
    env_live = np.concatenate([b.onset_envelope for b in blocks])[:, 0]
    band, _ = EmgFilter(bandpass_hz=analysis.filter.bandpass_hz, mains_hz=None).apply(x[:, None], fs)
    low = signal.butter(2, analysis.onset_envelope_hz, fs=fs, output="sos")
    env_offline = signal.sosfiltfilt(low, np.abs(tkeo(band)), axis=0)[:, 0]
    # the envelope each live sample describes is the input sample onset_delay_s earlier
    lag = int(np.argmin(np.abs(t - t_live[0])))
    assert lag == 0 and t_live.shape[0] == t.shape[0] - stream.delay_samples
    inner = slice(200, -200)  # away from the offline filter's padded ends
    err = np.abs(env_live[inner] - env_offline[: t_live.shape[0]][inner])
    assert err.max() <= 0.01 * env_offline.max()  # the taps are cut at 1e-3 of their peak
    # measured, not assumed: cross-correlating the raw causal output with offline's finds the delay
    raw = signal.lfilter(
        stream._low, [1.0], np.abs(tkeo(signal.lfilter(stream._band, [1.0], x - x[0]))), axis=0
    )  # no hand-made alignment
    xc = signal.correlate(raw - raw.mean(), env_offline - env_offline.mean(), mode="full")
    measured = (int(np.argmax(xc)) - (len(env_offline) - 1)) / fs
    assert measured == pytest.approx(stream.onset_delay_s, abs=1.5 / fs)  # 102-103 ms at 1 kHz


def test_an_onset_is_reported_no_later_than_the_stated_decision_latency(rng):
    fs = 1000.0
    t, x, _ = _bursts(rng, fs)
    analysis = EmgAnalysis(detector=QUIET)
    _, blocks, stream = _stream(_recording(t, x, fs), analysis, block=10)
    waits = [b.t_s[-1] - e.t_s for b in blocks for e in b.onsets]
    assert len(waits) == 3
    assert max(waits) <= stream.decision_latency_s + 10 / fs  # one block of 10 ms at most
    assert min(waits) >= stream.onset_delay_s  # and never before the filters have seen the onset


def test_block_size_and_time_origin_change_nothing(rng):
    fs = 1000.0
    t, x, _ = _bursts(rng, fs)
    analysis = EmgAnalysis(detector=QUIET)
    first, _, _ = _stream(_recording(t, x, fs), analysis, block=1)
    for block in (7, 250, 4000):
        again, _, _ = _stream(_recording(t, x, fs), analysis, block=block)
        np.testing.assert_array_equal(again[CHANNEL.name], first[CHANNEL.name])
    shifted_analysis = EmgAnalysis(detector=ThresholdOnsetDetector(baseline_s=(100.2, 101.2)))
    shifted, _, _ = _stream(_recording(t + 100.0, x, fs), shifted_analysis, block=40)
    np.testing.assert_allclose(shifted[CHANNEL.name] - 100.0, first[CHANNEL.name], atol=1e-9)


def test_without_a_given_baseline_the_quietest_window_so_far_is_used(rng):
    """Offline takes the quietest window of the whole file; live, of the past: both quiet here."""
    fs = 1000.0
    errors = []
    for _ in range(4):
        t, x, truth = _bursts(rng, fs)
        live, blocks, _ = _stream(_recording(t, x, fs), EmgAnalysis(), block=40)
        assert np.isnan(blocks[0].threshold[0])  # no baseline yet: nothing can be detected
        assert live[CHANNEL.name].shape == (3,)
        errors += list(live[CHANNEL.name] - [on for on, _, _ in truth])
    assert np.max(np.abs(errors)) <= 0.020  # measured <= 8 ms


def test_clock_offset_and_hardware_delay_move_onsets_as_offline(rng):
    fs = 1000.0
    t, x, _ = _bursts(rng, fs)
    plain, _, _ = _stream(_recording(t, x, fs), EmgAnalysis(detector=QUIET, hardware_delay_s=0.0), block=40)
    moved_analysis = EmgAnalysis(detector=QUIET, hardware_delay_s=0.03, clock_offset_s=2.0)  # baseline: EMG clock
    moved, _, _ = _stream(_recording(t, x, fs), moved_analysis, block=40)
    np.testing.assert_allclose(moved[CHANNEL.name], plain[CHANNEL.name] + 2.0 - 0.03, atol=1e-9)


def test_bad_input_is_refused_with_the_expected_shape():
    stream = CausalEmg().start((CHANNEL,), 1000.0)
    with pytest.raises(InputError, match=r"\(10, 1\)"):
        stream.push(np.arange(10) / 1000.0, np.zeros((10, 2)))
    with pytest.raises(InputError, match="finite"):
        stream.push(np.arange(3) / 1000.0, np.array([0.0, np.nan, 0.0]))
    with pytest.raises(InputError, match="sustained"):
        CausalEmg(analysis=EmgAnalysis(detector=ThresholdOnsetDetector(rule="mean"))).start((CHANNEL,), 1000.0)
    with pytest.raises(InputError, match="unknown channel"):
        CausalEmg().start((CHANNEL,), 1000.0, baseline={"nope": (0.0, 1.0)})

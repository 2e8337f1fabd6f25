"""LowPass: zero phase, pass band and stop band; GapFiller: what it bridges and what it leaves."""

from __future__ import annotations

import numpy as np
import pytest

from kinematics.filtering import GapFiller, LowPass, contiguous_runs

FS = 60.0
T60 = np.arange(int(10 * FS)) / FS


def _amplitude(t: np.ndarray, x: np.ndarray, hz: float) -> float:
    """Least-squares amplitude of the ``hz`` component over the middle 6 s (no edge effects)."""
    mid = (t > 2.0) & (t < 8.0)
    basis = np.column_stack([np.sin(2 * np.pi * hz * t[mid]), np.cos(2 * np.pi * hz * t[mid])])
    coef, *_ = np.linalg.lstsq(basis, x[mid], rcond=None)
    return float(np.hypot(*coef))


def _jittered(rng: np.random.Generator) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum((1 / FS) * (1 + rng.uniform(-0.2, 0.2, T60.shape[0] - 1)))])


@pytest.mark.parametrize("timing", ["uniform", "variable"])
@pytest.mark.parametrize("centre_s", [3.0, 4.31, 6.77])
def test_a_bump_peaks_at_the_same_time_after_filtering(rng, timing, centre_s):
    """Zero phase: event timing (a peak) does not move by even one sample."""
    t = T60 if timing == "uniform" else _jittered(rng)
    bump = np.exp(-0.5 * ((t - centre_s) / 0.15) ** 2)
    filtered = LowPass(cutoff_hz=6.0).apply(t, bump)
    assert abs(int(np.argmax(filtered)) - int(np.argmax(bump))) <= 1
    assert filtered.max() > 0.95  # a 0.15 s bump is movement, not noise
    # a causal filter would have delayed it: the centroid stays put (here to 2 ms)
    assert _centroid(t, filtered) == pytest.approx(_centroid(t, bump), abs=0.002)


def _centroid(t: np.ndarray, y: np.ndarray) -> float:
    w = np.diff(t) * 0.5 * (y[1:] + y[:-1])  # trapezoids: timestamps may be irregular
    return float(np.sum(w * 0.5 * (t[1:] + t[:-1])) / np.sum(w))


def test_pass_band_and_stop_band_at_60_hz():
    lowpass = LowPass(cutoff_hz=6.0)
    slow = np.sin(2 * np.pi * 1.0 * T60)
    fast = np.sin(2 * np.pi * 12.0 * T60)
    assert _amplitude(T60, lowpass.apply(T60, slow), 1.0) > 0.99  # < 1 % loss
    assert _amplitude(T60, lowpass.apply(T60, fast), 12.0) < 0.10  # > 90 % attenuation
    # and the cutoff is where the docstring says: -3 dB of the combined pass at 6 Hz
    at_cutoff = _amplitude(T60, lowpass.apply(T60, np.sin(2 * np.pi * 6.0 * T60)), 6.0)
    assert at_cutoff == pytest.approx(2**-0.5, abs=0.03)


def test_filtering_is_per_axis_and_per_run():
    """Columns are filtered independently and NaN does not leak across a gap."""
    t = T60
    x = np.column_stack([np.sin(2 * np.pi * t), np.cos(2 * np.pi * t)])
    x[300:310] = np.nan
    y = LowPass().apply(t, x)
    assert np.isnan(y[300:310]).all()
    assert np.isfinite(np.delete(y, np.s_[300:310], axis=0)).all()
    np.testing.assert_allclose(y[:, 1], LowPass().apply(t, x[:, 1:2])[:, 0])


def test_too_slow_sampling_is_returned_unfiltered():
    t = np.arange(50) / 10.0  # 10 Hz: Nyquist 5 Hz, below a 6 Hz cutoff
    x = np.random.default_rng(0).normal(size=(50, 1))
    assert not LowPass(cutoff_hz=6.0).sampling_ok(t)
    np.testing.assert_array_equal(LowPass(cutoff_hz=6.0).apply(t, x), x)


def test_gap_filler_bridges_short_gaps_only():
    t = np.arange(120) / 30.0
    x = (2.0 * t)[:, None]
    x[10:13] = np.nan  # 0.1 s missing: bridged (0.133 s between the valid neighbours)
    x[40:70] = np.nan  # 1 s missing: left alone
    x[:2] = np.nan  # at the start: no sample before it, not extrapolated
    filled, bridged = GapFiller(max_gap_s=0.25).fill(t, x)
    np.testing.assert_allclose(filled[10:13, 0], 2.0 * t[10:13])  # a line is interpolated exactly
    assert bridged[10:13].all() and bridged.sum() == 3
    assert np.isnan(filled[40:70]).all() and np.isnan(filled[:2]).all()
    assert contiguous_runs(np.isnan(filled[:, 0])) == [(0, 2), (40, 70)]

"""A causal FIR filter whose output is a zero-phase (forward-backward) Butterworth's, delayed."""

from __future__ import annotations

import numpy as np
from scipy import signal

__all__ = ["zero_phase_fir"]


def zero_phase_fir(sos: np.ndarray, *, tolerance: float = 1e-3) -> np.ndarray:
    """Taps of a causal FIR whose output is ``sosfiltfilt(sos, x)`` delayed by ``(len - 1) / 2`` samples.

    The forward-backward impulse response is the autocorrelation of the forward one; it is
    cut where it falls below ``tolerance`` of its peak.

    Examples
    --------
    >>> taps = zero_phase_fir(signal.butter(2, 50.0, fs=1000.0, output="sos"))
    >>> len(taps) % 2, bool(np.allclose(taps, taps[::-1]))
    (1, True)
    """
    n = 1024
    while True:
        impulse = np.zeros(n)
        impulse[0] = 1.0
        h = signal.sosfilt(sos, impulse)
        if np.abs(h[-n // 8 :]).max() < 1e-9 * np.abs(h).max() or n >= 1 << 20:
            break
        n *= 2
    r = np.correlate(h, h, "full")
    centre = n - 1
    big = np.flatnonzero(np.abs(r) > tolerance * np.abs(r).max())
    half = int(max(centre - big[0], big[-1] - centre))
    return r[centre - half : centre + half + 1].copy()

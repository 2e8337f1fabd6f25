"""Gap filling and zero-lag low-pass filtering of sampled signals.

All functions take plain arrays with time on axis 0 and return new arrays;
inputs are never modified.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

__all__ = ["GapFiller", "LowPass", "contiguous_runs"]


def contiguous_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open ``(start, stop)`` index ranges where ``mask`` is True.

    Examples
    --------
    >>> contiguous_runs(np.array([0, 1, 1, 0, 1], dtype=bool))
    [(1, 3), (4, 5)]
    """
    padded = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


@dataclass(frozen=True, kw_only=True)
class GapFiller:
    """Linear interpolation across short runs of missing samples.

    Parameters
    ----------
    max_gap_s
        Gaps up to this long (time between the valid samples on either side)
        are bridged; longer gaps stay missing, since a straight line through
        half a second of movement would invent a trajectory.
    """

    max_gap_s: float = 0.25

    def fill(self, t_s: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bridge short gaps.

        Parameters
        ----------
        t_s
            ``(n,)`` seconds.
        values
            ``(n, ...)``; a sample is missing where any of its entries is NaN.

        Returns
        -------
        filled, bridged
            ``filled`` has the shape of ``values``; ``bridged`` is ``(n,)``
            bool, True for samples that were interpolated.
        """
        values = np.array(values, dtype=float)
        n = values.shape[0]
        flat = values.reshape(n, -1)
        missing = np.isnan(flat).any(axis=1)
        bridged = np.zeros(n, dtype=bool)
        for start, stop in contiguous_runs(missing):
            if start == 0 or stop == n:
                continue  # no sample on one side: extrapolation would be a guess
            if t_s[stop] - t_s[start - 1] > self.max_gap_s:
                continue
            w = (t_s[start:stop] - t_s[start - 1]) / (t_s[stop] - t_s[start - 1])
            flat[start:stop] = flat[start - 1] + w[:, None] * (flat[stop] - flat[start - 1])
            bridged[start:stop] = True
        return flat.reshape(values.shape), bridged


@dataclass(frozen=True, kw_only=True)
class LowPass:
    """Zero-phase Butterworth low-pass filter for irregularly timed signals.

    Parameters
    ----------
    cutoff_hz
        -3 dB frequency of the *combined* forward-backward pass (the design
        cutoff is raised by Winter's correction for the second pass). 6 Hz is
        the usual choice for human movement captured on video (Winter,
        Biomechanics and Motor Control of Human Movement, 4th ed., ch. 2).
    order
        Order of the Butterworth prototype (the forward-backward pass doubles
        the effective order).

    Notes
    -----
    ``sosfiltfilt``: zero phase, because event timing (onsets, peaks) must not
    shift. Each run of valid samples is filtered on its own, so that no NaN
    leaks across a gap. When timestamps are irregular (variable frame rate)
    the run is resampled to its median interval, filtered, and interpolated
    back onto the original timestamps. When the sampling rate is too low for
    the cutoff (Nyquist at or below it) the signal is returned unfiltered.
    """

    cutoff_hz: float = 6.0
    order: int = 2

    def apply(self, t_s: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Filter ``values`` ``(n, ...)`` sampled at ``t_s`` ``(n,)``."""
        if self.cutoff_hz <= 0:
            raise ValueError(f"cutoff_hz must be > 0, got {self.cutoff_hz}")
        values = np.array(values, dtype=float)
        n = values.shape[0]
        flat = values.reshape(n, -1)
        out = flat.copy()
        valid = ~np.isnan(flat).any(axis=1)
        for start, stop in contiguous_runs(valid):
            out[start:stop] = self._filter_run(t_s[start:stop], flat[start:stop])
        return out.reshape(values.shape)

    @property
    def design_cutoff_hz(self) -> float:
        """Cutoff of one pass such that the two passes together are -3 dB at ``cutoff_hz``."""
        return self.cutoff_hz / (2.0**0.5 - 1.0) ** (1.0 / (2 * self.order))

    def sampling_ok(self, t_s: np.ndarray) -> bool:
        """True when the median sampling rate leaves room above the cutoff."""
        if t_s.shape[0] < 2:
            return False
        return 0.5 / float(np.median(np.diff(t_s))) > self.design_cutoff_hz * 1.05

    def _filter_run(self, t_s: np.ndarray, x: np.ndarray) -> np.ndarray:
        m = t_s.shape[0]
        if m < 4 or not self.sampling_ok(t_s):
            return x
        dt = float(np.median(np.diff(t_s)))
        uniform = bool(np.all(np.abs(np.diff(t_s) - dt) <= 0.01 * dt))
        if uniform:
            grid, xg = t_s, x
        else:
            # A grid from the first to the last sample, so that neither end is extrapolated.
            grid = np.linspace(t_s[0], t_s[-1], max(int(round((t_s[-1] - t_s[0]) / dt)) + 1, m))
            dt = float(grid[1] - grid[0])
            xg = np.column_stack([np.interp(grid, t_s, x[:, j]) for j in range(x.shape[1])])
        sos = signal.butter(self.order, self.design_cutoff_hz, btype="low", fs=1.0 / dt, output="sos")
        padlen = min(3 * (2 * len(sos) + 1), grid.shape[0] - 1)
        yg = signal.sosfiltfilt(sos, xg, axis=0, padlen=padlen)
        if uniform:
            return yg
        return np.column_stack([np.interp(t_s, grid, yg[:, j]) for j in range(x.shape[1])])

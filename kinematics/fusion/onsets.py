"""Onsets and offsets of activity: a threshold above baseline, sustained.

Hodges & Bui (1996), "A comparison of computer-based methods for the
determination of onset of muscle contraction using electromyography",
Electroencephalogr Clin Neurophysiol 101(6):511-519: activity starts where the
envelope exceeds the baseline mean + ``k_sd`` standard deviations for a
window (they compared 1-3 SD and windows of 20-100 ms, the window's *mean*
exceeding the threshold, against visual onsets). Here every sample of the
window must exceed it (``rule="sustained"``, the default): on synthetic bursts
with known onsets the window-mean form triggered up to 22 ms early on a noise
excursion followed by the burst, the sustained form erred by at most 10 ms
(tests/fusion/test_emg.py; docs/wearables.md). ``rule="mean"`` is Hodges &
Bui's. Offsets mirror onsets (below the threshold for a window). The same
rule finds movement onsets in an angular-velocity signal
(:func:`movement_onsets`).

Baseline: a window given by the caller (quiet standing before the task), or
else the quietest window of ``baseline_length_s`` in the recording (lowest
mean envelope): an assumption the result records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from kinematics.errors import InputError, InsufficientDataError
from kinematics.filtering import LowPass
from kinematics.series import Event, Series

__all__ = ["MOVEMENT_CUTOFF_HZ", "MOVEMENT_DETECTOR", "Bursts", "ThresholdOnsetDetector", "movement_onsets"]


@dataclass(frozen=True)
class Bursts:
    """Activity bursts found in one envelope."""

    onsets_s: np.ndarray  # (m,)
    offsets_s: np.ndarray  # (m,) NaN when the burst runs past the end
    threshold: float
    baseline_mean: float
    baseline_sd: float
    baseline_window_s: tuple[float, float]
    baseline_given: bool
    #: (m,) how clearly each burst's peak stands out: (peak - threshold) / (peak - baseline mean), in [0, 1];
    #: 1 for a peak far above the threshold, 0 for one that barely crosses it
    clarity: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _window_means(x: np.ndarray, w: int) -> np.ndarray:
    """Mean of ``x[i:i+w]`` for every ``i`` (shorter windows at the end)."""
    c = np.concatenate([[0.0], np.cumsum(x)])
    n = x.shape[0]
    end = np.minimum(np.arange(n) + w, n)
    return (c[end] - c[:n]) / (end - np.arange(n))


def _sustained(mask: np.ndarray, w: int, rule: str, env: np.ndarray, threshold: float, above: bool) -> np.ndarray:
    """True at ``i`` when the window ``[i, i + w)`` satisfies the rule."""
    if rule == "mean":
        means = _window_means(env, w)
        return mask & ((means > threshold) if above else (means <= threshold))
    return _window_means(mask.astype(float), w) >= 1.0 - 1e-12


@dataclass(frozen=True, kw_only=True)
class ThresholdOnsetDetector:
    """Mean + k SD of baseline, sustained for a window (Hodges & Bui 1996).

    Parameters
    ----------
    k_sd
        Threshold in baseline standard deviations above the baseline mean.
    window_s
        How long the envelope must stay beyond the threshold after a crossing
        (above for an onset, below for an offset).
    rule
        ``"sustained"``: every sample of the window; ``"mean"``: the window's
        mean (Hodges & Bui 1996).
    baseline_s
        ``(start, end)`` seconds of a known quiet period; when None the
        quietest ``baseline_length_s`` window is used.
    baseline_length_s
        Length of the automatically chosen baseline.
    min_gap_s
        Bursts separated by less are merged (a brief dip is not an offset).
    min_burst_s
        Shorter bursts are dropped.
    min_fraction_of_peak
        The threshold is at least this fraction of the envelope's 99th
        percentile (0: the baseline rule alone). Kinematic onsets use 0.1:
        a short quiet window underestimates the noise of a differentiated
        video angle, and a fraction of peak speed is the usual kinematic
        criterion.
    """

    k_sd: float = 3.0
    window_s: float = 0.025
    rule: Literal["sustained", "mean"] = "sustained"
    baseline_s: tuple[float, float] | None = None
    baseline_length_s: float = 0.25
    min_gap_s: float = 0.05
    min_burst_s: float = 0.03
    min_fraction_of_peak: float = 0.0

    def detect(self, t_s: np.ndarray, envelope: np.ndarray) -> Bursts:
        """Bursts of ``envelope`` ``(n,)`` sampled uniformly at ``t_s`` ``(n,)``."""
        t_s = np.asarray(t_s, dtype=float)
        env = np.asarray(envelope, dtype=float)
        if env.shape != t_s.shape or env.ndim != 1:
            raise InputError(f"envelope must be ({t_s.shape[0]},) like t_s, got {env.shape}")
        if not np.all(np.isfinite(env)):
            raise InputError("envelope has NaN or infinite samples; fill or trim them first")
        n = env.shape[0]
        fs = 1.0 / float(np.median(np.diff(t_s)))
        w = max(1, round(self.window_s * fs))
        if self.baseline_s is not None:
            a, b = int(np.searchsorted(t_s, self.baseline_s[0])), int(np.searchsorted(t_s, self.baseline_s[1]))
            if b - a < 10:
                raise InsufficientDataError(f"baseline window {self.baseline_s} holds {b - a} samples; need >= 10")
            base = env[a:b]
            window = (float(t_s[a]), float(t_s[b - 1]))
        else:
            bl = max(10, round(self.baseline_length_s * fs))
            if n < bl:
                raise InsufficientDataError(f"{n} samples; the automatic baseline needs {bl}")
            means = _window_means(env, bl)[: n - bl + 1]
            a = int(np.argmin(means))
            base = env[a : a + bl]
            window = (float(t_s[a]), float(t_s[a + bl - 1]))
        if self.rule not in ("sustained", "mean"):
            raise InputError(f"rule must be 'sustained' or 'mean', got {self.rule!r}")
        mean, sd = float(base.mean()), float(base.std())
        threshold = max(mean + self.k_sd * sd, self.min_fraction_of_peak * float(np.percentile(env, 99)))
        above = _sustained(env > threshold, w, self.rule, env, threshold, True)
        above[max(0, n - w + 1) :] = False  # an onset needs a whole window of evidence
        below = _sustained(env <= threshold, w, self.rule, env, threshold, False)
        onsets, offsets = [], []
        i = 0
        while i < n:
            hits = np.flatnonzero(above[i:])
            if not hits.size:
                break
            on = i + int(hits[0])
            ends = np.flatnonzero(below[on:])
            off = on + int(ends[0]) if ends.size else n
            onsets.append(on)
            offsets.append(off)
            i = off + 1
        # merge bursts separated by short gaps, then drop short bursts
        merged: list[list[int]] = []
        for on, off in zip(onsets, offsets, strict=True):
            if merged and off < n and merged[-1][1] < n and (t_s[on] - t_s[merged[-1][1]]) < self.min_gap_s:
                merged[-1][1] = off
            else:
                merged.append([on, off])
        on_s, off_s, clarity = [], [], []
        for on, off in merged:
            end_t = t_s[off] if off < n else np.nan
            if off < n and end_t - t_s[on] < self.min_burst_s:
                continue
            on_s.append(float(t_s[on]))
            off_s.append(float(end_t))
            clarity.append(_clarity(float(env[on:off].max()), threshold, mean))
        return Bursts(
            np.array(on_s), np.array(off_s), threshold, mean, sd, window, self.baseline_s is not None, np.array(clarity)
        )


def _clarity(peak: float, threshold: float, baseline_mean: float) -> float:
    """How far a burst's peak rises above the threshold, as a fraction of its rise above the baseline."""
    rise = peak - baseline_mean
    return float(np.clip((peak - threshold) / rise, 0.0, 1.0)) if rise > 0 else 0.0


#: The rule :func:`movement_onsets` applies to angular speed (and its live form, kinematics.streaming).
MOVEMENT_DETECTOR = ThresholdOnsetDetector(
    k_sd=3.0, window_s=0.05, baseline_length_s=1.0, min_gap_s=0.3, min_burst_s=0.2, min_fraction_of_peak=0.05
)
#: Zero-lag low-pass of the angle before it is differentiated, Hz.
MOVEMENT_CUTOFF_HZ = 3.0


def movement_onsets(
    angle: Series,
    *,
    cutoff_hz: float = MOVEMENT_CUTOFF_HZ,
    detector: ThresholdOnsetDetector = MOVEMENT_DETECTOR,
) -> list[Event]:
    """Starts of movement in an angle series (deg), from its angular speed.

    The angle is low-passed (zero lag, ``cutoff_hz``), differentiated, and
    the detector runs on the absolute angular velocity (deg/s); the
    threshold is at least 5 % of the peak speed. Each onset is an
    ``Event(name="movement_onset", end_s=end of that movement)``. Gaps (NaN)
    are bridged linearly for the speed only.

    Notes
    -----
    On minimum-jerk movements (8-10 deg in 0.6-0.8 s) sampled at 100 Hz with
    0.02 deg noise (an IMU) every movement was found, 35 ms late in the
    median (50 ms at most): a threshold on speed fires once the movement
    is under way. From a 30 fps video angle with 0.3 deg of per-frame
    noise, spurious onsets appeared in most draws: prefer the IMU, or
    onsets the protocol supplies.
    """
    t, x = angle.t_s, angle.values.reshape(len(angle), -1)[:, 0]
    ok = angle.valid & np.isfinite(x)
    if ok.sum() < 10:
        raise InsufficientDataError("fewer than 10 valid samples: no movement onset can be found")
    x = np.interp(t, t[ok], x[ok])
    grid = np.linspace(t[0], t[-1], max(round((t[-1] - t[0]) * 100.0) + 1, 10))  # 100 Hz for the detector
    xg = LowPass(cutoff_hz=cutoff_hz).apply(grid, np.interp(grid, t, x))
    speed = np.abs(np.gradient(xg, grid))
    bursts = detector.detect(grid, speed)
    return [
        Event(t_s=float(a), name="movement_onset", end_s=None if np.isnan(b) else float(b))
        for a, b in zip(bursts.onsets_s, bursts.offsets_s, strict=True)
    ]

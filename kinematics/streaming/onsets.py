"""Causal onsets: the Hodges & Bui rule of :class:`~kinematics.fusion.ThresholdOnsetDetector`, sample by sample.

:class:`OnsetStream` makes the offline rule's decisions (an onset where a whole window stays
above the threshold, an offset where a whole window stays below, bursts closer than
``min_gap_s`` merged, bursts shorter than ``min_burst_s`` dropped) as each envelope sample
arrives, reporting a burst as soon as the offline rule could no longer drop it. The threshold
is what cannot be the same: offline takes the baseline from the whole recording; here it is
the given window once it has passed, a ``(mean, sd)`` given up front, or the quietest window so
far, and ``min_fraction_of_peak`` is taken of the 99th percentile *so far*.

:class:`CausalMovement` is :func:`~kinematics.fusion.movement_onsets` in this form: the angle's
zero-lag 3 Hz low-pass as a delayed FIR filter (:func:`~kinematics.streaming.zero_phase_fir`),
the central difference one sample late, then :class:`OnsetStream` on the angular speed.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from scipy import signal

from kinematics.errors import InputError
from kinematics.filtering import LowPass
from kinematics.fusion.onsets import MOVEMENT_CUTOFF_HZ, MOVEMENT_DETECTOR, ThresholdOnsetDetector
from kinematics.series import Event
from kinematics.streaming.fir import zero_phase_fir

__all__ = ["CausalMovement", "MovementBlock", "MovementStream", "OnsetStream"]


@dataclass
class _Channel:
    """One channel's threshold state machine; indices count envelope samples."""

    fixed: bool = False  # the baseline was given
    threshold: float = np.nan
    base_threshold: float = np.nan  # mean + k SD, before the fraction of the peak
    best_mean: float = np.inf
    base_n: int = 0
    base_sum: float = 0.0
    base_sq: float = 0.0
    active: bool = False
    run_above: int = 0
    run_below: int = 0
    group_on: int = -1  # onset of the merged burst in progress or pending, -1 when none
    group_off: int = -1  # offset of its last raw burst, -1 while that burst is on
    reported: bool = False


class OnsetStream:
    """The offline onset rule over ``k`` envelopes sampled uniformly at ``sampling_rate_hz``.

    Parameters
    ----------
    detector
        The offline rule (``rule="sustained"``).
    sampling_rate_hz
        Of the envelope.
    k
        Number of channels.
    baseline
        Per channel index, a known baseline ``(mean, sd)``.
    peak_lookahead_s
        With ``min_fraction_of_peak``: each sample is judged this long after it arrived, against
        the 99th percentile of everything up to then, so that a movement's own peak counts
        towards its threshold as it does offline (where the peak is the whole recording's).
        Adds this much latency.
    """

    def __init__(
        self,
        detector: ThresholdOnsetDetector,
        sampling_rate_hz: float,
        k: int,
        *,
        baseline: dict[int, tuple[float, float]] | None = None,
        peak_lookahead_s: float = 0.0,
    ) -> None:
        if detector.rule != "sustained":
            raise InputError(f"the causal detector implements rule='sustained' only, got {detector.rule!r}")
        self.detector, self.sampling_rate_hz = detector, float(sampling_rate_hz)
        self._w = max(1, round(detector.window_s * self.sampling_rate_hz))
        self._bl = max(10, round(detector.baseline_length_s * self.sampling_rate_hz))
        self._n = 0
        self._t: deque[float] = deque()  # times of recent samples; index _t0 first
        self._t0 = 0
        self._recent: deque[np.ndarray] = deque()
        self._sum, self._sq = np.zeros(k), np.zeros(k)
        self._sorted: list[list[float]] = [[] for _ in range(k)]  # every sample so far (peak fraction)
        self._ahead = round(peak_lookahead_s * self.sampling_rate_hz) if detector.min_fraction_of_peak > 0 else 0
        self._waiting: deque[tuple[float, np.ndarray]] = deque()  # samples not yet judged
        self._state = [_Channel() for _ in range(k)]
        for j, (mean, sd) in (baseline or {}).items():
            st = self._state[j]
            st.fixed, st.base_threshold = True, float(mean) + detector.k_sd * float(sd)
            st.threshold = st.base_threshold

    @property
    def window_samples(self) -> int:
        return self._w

    @property
    def thresholds(self) -> np.ndarray:
        """``(k,)`` each channel's threshold now, NaN before a baseline exists."""
        return np.array([st.threshold for st in self._state])

    def push(
        self, t_s: np.ndarray, envelope: np.ndarray
    ) -> tuple[list[tuple[int, float]], list[tuple[int, float, float]]]:
        """Envelope samples ``(m, k)`` at ``t_s`` ``(m,)``; returns the onsets ``(channel, t)``
        reported and the bursts ``(channel, onset, offset)`` closed by these samples."""
        onsets: list[tuple[int, float]] = []
        offsets: list[tuple[int, float, float]] = []
        for t, v in zip(np.asarray(t_s, dtype=float).tolist(), np.asarray(envelope, dtype=float), strict=True):
            if self.detector.min_fraction_of_peak > 0:
                for j, value in enumerate(v.tolist()):
                    bisect.insort(self._sorted[j], value)
            self._waiting.append((t, v))
            if len(self._waiting) > self._ahead:
                self._sample(*self._waiting.popleft(), onsets, offsets)
        return onsets, offsets

    def finish(self) -> list[tuple[int, float]]:
        """The end: a burst still on and not yet reported is reported (offline keeps a burst
        that runs past the end of the recording)."""
        onsets: list[tuple[int, float]] = []
        while self._waiting:
            self._sample(*self._waiting.popleft(), onsets, [])
        out = onsets
        for j, st in enumerate(self._state):
            if st.group_on >= 0 and not st.reported and st.active:
                out.append((j, self._time(st.group_on)))
                st.reported = True
        return out

    # -- internals ---------------------------------------------------------------------------------

    def _time(self, index: int) -> float:
        return self._t[index - self._t0]

    def _baseline(self, t: float, v: np.ndarray) -> None:
        det = self.detector
        if det.baseline_s is not None:
            start, end = det.baseline_s
            for st, value in zip(self._state, v.tolist(), strict=True):
                if st.fixed or not np.isnan(st.base_threshold):
                    continue
                if start <= t < end:
                    st.base_n += 1
                    st.base_sum += value
                    st.base_sq += value * value
                elif t >= end and st.base_n >= 10:  # offline refuses a baseline of fewer samples
                    mean = st.base_sum / st.base_n
                    sd = float(np.sqrt(max(st.base_sq / st.base_n - mean * mean, 0.0)))
                    st.base_threshold = mean + det.k_sd * sd
        else:
            self._recent.append(v)
            self._sum += v
            self._sq += v * v
            if len(self._recent) > self._bl:
                gone = self._recent.popleft()
                self._sum -= gone
                self._sq -= gone * gone
            if len(self._recent) >= self._bl:
                means = self._sum / self._bl
                for j, st in enumerate(self._state):
                    if not st.fixed and means[j] < st.best_mean:
                        sd = float(np.sqrt(max(self._sq[j] / self._bl - means[j] ** 2, 0.0)))
                        st.best_mean = float(means[j])
                        st.base_threshold = st.best_mean + det.k_sd * sd
        fraction = det.min_fraction_of_peak
        for j, st in enumerate(self._state):
            if fraction > 0:
                st.threshold = max(st.base_threshold, fraction * self._p99(j))
            else:
                st.threshold = st.base_threshold

    def _p99(self, j: int) -> float:
        """``np.percentile(samples so far, 99)`` (linear interpolation), from the sorted samples."""
        x = self._sorted[j]
        pos = 0.99 * (len(x) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(x) - 1)
        return x[lo] + (x[hi] - x[lo]) * (pos - lo)

    def _sample(self, t: float, v: np.ndarray, onsets: list, offsets: list) -> None:
        det = self.detector
        fs = self.sampling_rate_hz
        i = self._n
        self._n += 1
        self._t.append(t)
        # keep times only as far back as a pending burst or the sustained window can reach
        oldest = min(
            [i - self._w - 1]
            + [st.group_on for st in self._state if st.group_on >= 0]
            + [st.group_off for st in self._state if st.group_off >= 0]
        )
        while self._t0 < oldest:
            self._t.popleft()
            self._t0 += 1
        self._baseline(t, v)
        w = self._w
        for j, st in enumerate(self._state):
            if np.isnan(st.threshold):
                continue
            above = float(v[j]) > st.threshold
            st.run_above = st.run_above + 1 if above else 0
            st.run_below = 0 if above else st.run_below + 1
            if not st.active:
                if st.run_above >= w:  # a whole window above: a raw burst began at the run's start
                    on = i - w + 1
                    st.active = True
                    joins = st.group_on >= 0 and self._time(on) - self._time(st.group_off) < det.min_gap_s
                    if not joins:
                        self._close(j, st, offsets)
                        st.group_on = on
                    st.group_off = -1
            elif st.run_below >= w:  # a whole window below: the raw burst ended at the run's start
                st.active = False
                st.group_off = i - w + 1
            if st.group_on >= 0 and not st.reported:
                # reported once the offline rule can no longer drop it as too short: while it is
                # on, the earliest offset still possible is where the samples below began
                earliest = (i - st.run_below + 1) if st.active else st.group_off
                t_end = self._time(earliest) if earliest <= i else t + 1.0 / fs
                if t_end - self._time(st.group_on) >= det.min_burst_s:
                    onsets.append((j, self._time(st.group_on)))
                    st.reported = True
            if not st.active and st.group_off >= 0:
                # closed once no later burst can join it: the earliest onset still possible is
                # where the samples above began (confirmed only a window later)
                start = i - st.run_above + 1
                t_next = self._time(start) if start <= i else t + 1.0 / fs
                if t_next - self._time(st.group_off) >= det.min_gap_s:
                    self._close(j, st, offsets)

    def _close(self, j: int, st: _Channel, offsets: list) -> None:
        if st.group_on >= 0 and st.reported:
            offsets.append((j, self._time(st.group_on), self._time(st.group_off)))
        st.group_on, st.group_off, st.reported = -1, -1, False


@dataclass(frozen=True, eq=False)
class MovementBlock:
    """What one block of angle samples produced.

    Attributes
    ----------
    onsets
        Movement onsets confirmed in this block, ``Event(name="movement_onset")`` (as offline).
    ends
        Movements whose end was confirmed, ``Event(t_s=onset, end_s=end)``.
    speed_t_s, speed_dps
        The angular speed (deg/s) this block completed, at the times of the samples it describes.
    """

    onsets: list[Event]
    ends: list[Event]
    speed_t_s: np.ndarray
    speed_dps: np.ndarray


@dataclass(frozen=True, kw_only=True)
class CausalMovement:
    """The live form of :func:`~kinematics.fusion.movement_onsets` for an angle sampled uniformly.

    Parameters
    ----------
    cutoff_hz, detector
        As offline (:data:`~kinematics.fusion.onsets.MOVEMENT_CUTOFF_HZ`,
        :data:`~kinematics.fusion.onsets.MOVEMENT_DETECTOR`).
    peak_lookahead_s
        How long after a sample it is judged, so that a movement's peak speed is in the 99th
        percentile its threshold is a fraction of (:class:`OnsetStream`): about the time from a
        movement's onset to its peak speed.
    fir_tolerance
        Where the low-pass's zero-phase impulse response is cut (:func:`zero_phase_fir`).
    """

    cutoff_hz: float = MOVEMENT_CUTOFF_HZ
    detector: ThresholdOnsetDetector = field(default_factory=lambda: MOVEMENT_DETECTOR)
    fir_tolerance: float = 1e-3
    peak_lookahead_s: float = 0.5

    def start(self, sampling_rate_hz: float) -> MovementStream:
        if not sampling_rate_hz > 0:
            raise InputError(f"sampling_rate_hz must be > 0, got {sampling_rate_hz}")
        return MovementStream(self, float(sampling_rate_hz))


class MovementStream:
    """One angle's filter and detector state; :meth:`push` blocks in time order."""

    def __init__(self, config: CausalMovement, fs: float) -> None:
        self.config, self.sampling_rate_hz = config, fs
        low = LowPass(cutoff_hz=config.cutoff_hz)
        sos = signal.butter(low.order, low.design_cutoff_hz, btype="low", fs=fs, output="sos")
        self._taps = zero_phase_fir(sos, tolerance=config.fir_tolerance)
        self.delay_samples = (len(self._taps) - 1) // 2 + 1  # the central difference waits one sample
        self._zi: np.ndarray | None = None
        self._prev = np.zeros(0)  # the last two smoothed samples
        self._times: deque[float] = deque()
        self._n_in = 0
        self._onsets = OnsetStream(config.detector, fs, 1, peak_lookahead_s=config.peak_lookahead_s)

    @property
    def delay_s(self) -> float:
        """How far the speed runs behind the angle, s (the low-pass's FIR delay and one sample)."""
        return self.delay_samples / self.sampling_rate_hz

    @property
    def decision_latency_s(self) -> float:
        """From a movement's onset to its report, s: the delay, the peak look-ahead (a sample is
        judged that long after it arrived), then the longer of the sustained window and the
        shortest movement kept (``min_burst_s``)."""
        det = self.config.detector
        return self.delay_s + self.config.peak_lookahead_s + max(det.window_s, det.min_burst_s)

    def push(self, t_s: np.ndarray, angle_deg: np.ndarray) -> MovementBlock:
        """Angle samples ``(m,)`` deg at ``t_s`` ``(m,)``; NaN is not accepted (hold the last value)."""
        t_s = np.asarray(t_s, dtype=float).reshape(-1)
        x = np.asarray(angle_deg, dtype=float).reshape(-1)
        if x.shape != t_s.shape:
            raise InputError(f"angle_deg must be ({t_s.shape[0]},) like t_s, got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise InputError("angle samples must be finite")
        m = x.shape[0]
        if not m:
            return MovementBlock([], [], np.zeros(0), np.zeros(0))
        if self._zi is None:
            self._zi = signal.lfilter_zi(self._taps, [1.0]) * x[0]
        smooth, self._zi = signal.lfilter(self._taps, [1.0], x, zi=self._zi)
        joined = np.concatenate([self._prev, smooth])
        self._prev = joined[-2:]
        dt = 1.0 / self.sampling_rate_hz
        speed = np.abs(joined[2:] - joined[:-2]) / (2 * dt)  # for the sample before each new one
        self._times.extend(t_s.tolist())
        # output k (of the smoothed stream, index n) describes input sample n - taps delay; the
        # speed at smoothed sample n - 1 describes input n - 1 - taps delay
        first_out = self._n_in + m - speed.shape[0]  # smoothed index of speed[0] + 1
        described_t: list[float] = []
        values: list[float] = []
        for k_, value in enumerate(speed.tolist()):
            n_in = first_out + k_ - self.delay_samples
            if n_in < 0:
                continue
            described_t.append(self._times.popleft())
            values.append(value)
        self._n_in += m
        on, off = self._onsets.push(np.array(described_t), np.array(values)[:, None] if values else np.zeros((0, 1)))
        return MovementBlock(
            [Event(t_s=t, name="movement_onset") for _, t in on],
            [Event(t_s=a, name="movement_onset", end_s=b) for _, a, b in off],
            np.array(described_t),
            np.array(values),
        )

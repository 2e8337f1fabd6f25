"""Causal EMG envelope and onsets: :class:`~kinematics.fusion.EmgAnalysis`, one block at a time.

The offline analysis filters forwards and backwards (``sosfiltfilt``): its impulse response is
the autocorrelation of the Butterworth's, symmetric about zero, so nothing moves in time. Live,
the onset path keeps that exact response, delayed: each zero-phase stage becomes a causal FIR
filter whose taps are that autocorrelation, cut where it falls below ``fir_tolerance`` of its
peak, and shifted to start at zero. Band-pass, Teager-Kaiser operator (one sample late: it
needs the next sample), rectification and 50 Hz low-pass therefore give the offline onset
envelope, ``delay_samples`` later, and every envelope sample is put back on the time of the
input sample it describes. The Hodges & Bui rule then runs as a state machine that reaches the
offline rule's decision (onset, offset, merged gaps, dropped short bursts) on that envelope.
Every parameter is the offline :class:`~kinematics.fusion.EmgAnalysis`'s own.

What differs, stated:

- **latency**: the onset path's FIR delay (:attr:`EmgStream.onset_delay_s`, about 0.10 s at
  1 kHz with the default 20-450 Hz band-pass and 50 Hz low-pass), then the sustained window
  or the shortest kept burst (``min_burst_s``), whichever is longer, before an onset is
  reported (:attr:`EmgStream.decision_latency_s`). The reported *time* is not delayed.
- **baseline**: the offline default is the quietest ``baseline_length_s`` of the whole
  recording; live, it is the quietest window *so far*, the given ``baseline_s`` once it has
  passed, or a ``(mean, sd)`` measured earlier (:meth:`CausalEmg.start`); nothing is detected
  before a baseline exists.
- **amplitude envelope** (display only, no decision uses it): the notch and the 6 Hz low-pass
  run forwards twice (the same magnitude response as offline), delayed by their group delay
  (:attr:`EmgStream.envelope_delay_s`), not shifted back.
- the first ``delay_samples`` of a stream have no envelope (the offline filter pads the
  recording's ends instead).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from scipy import signal

from kinematics.errors import InputError
from kinematics.fusion.emg import EmgAnalysis
from kinematics.fusion.emg_io import EmgChannel
from kinematics.series import Event
from kinematics.streaming.fir import zero_phase_fir
from kinematics.streaming.onsets import OnsetStream

__all__ = ["CausalEmg", "EmgBlock", "EmgStream"]


def _band_sos(analysis: EmgAnalysis, fs: float) -> np.ndarray:
    low, high = analysis.filter.bandpass_hz
    if high >= 0.9 * 0.5 * fs:  # as EmgFilter.apply: the upper edge comes down to 0.45 fs
        high = 0.45 * fs
    if not 0 < low < high:
        raise InputError(f"band-pass must satisfy 0 < low < high, got ({low}, {high}) Hz")
    return signal.butter(analysis.filter.order, (low, high), "bandpass", fs=fs, output="sos")


def _notch_sos(analysis: EmgAnalysis, fs: float) -> np.ndarray | None:
    """The offline notches at the mains frequency and its harmonics in the band, as sections."""
    if not analysis.filter.mains_hz:
        return None
    high = analysis.filter.bandpass_hz[1]
    if high >= 0.9 * 0.5 * fs:
        high = 0.45 * fs
    sections, f = [], float(analysis.filter.mains_hz)
    while f < min(high * 1.05, 0.5 * fs):
        b, a = signal.iirnotch(f, analysis.filter.notch_q, fs=fs)
        sections.append(signal.tf2sos(b, a))
        f += float(analysis.filter.mains_hz)
    return np.vstack(sections) if sections else None


def _lowpass_sos(hz: float, fs: float) -> np.ndarray:
    return signal.butter(2, min(hz, 0.45 * fs), fs=fs, output="sos")


def _group_delay_at_0_s(sos: np.ndarray, fs: float) -> float:
    total = 0.0
    for section in sos:
        _, gd = signal.group_delay((section[:3], section[3:]), w=np.array([0.0]), fs=fs)
        total += float(gd[0])
    return total / fs


@dataclass(frozen=True, eq=False)
class EmgBlock:
    """What one block of samples produced.

    Attributes
    ----------
    t_s
        ``(m,)`` the block's sample times on the motion clock
        (``t_emg + clock_offset_s - hardware_delay_s``, as offline).
    envelope
        ``(m, k)`` the causal amplitude envelope at ``t_s`` (notch, rectification, low-pass),
        in units of each channel's ``reference_mv`` (mV for a channel without one: a session
        peak is not known live); it lags by :attr:`EmgStream.envelope_delay_s`.
    onsets
        Bursts confirmed in this block: ``Event(t_s=onset on the motion clock, name=channel)``,
        ``end_s`` None (the burst is usually still on).
    offsets
        Bursts whose end was confirmed in this block (``min_gap_s`` passed without a new
        onset): ``Event(t_s=onset, end_s=offset)``.
    threshold
        ``(k,)`` each channel's onset threshold now (onset-envelope units), NaN before a
        baseline exists.
    onset_t_s, onset_envelope
        ``(p,)`` and ``(p, k)``: the onset envelope (band-pass, TKEO, rectification, 50 Hz
        low-pass; offline's) that this block completed, at the times of the input samples
        it describes (``onset_delay_s`` before the block's).
    """

    t_s: np.ndarray
    envelope: np.ndarray
    onsets: list[Event]
    offsets: list[Event]
    threshold: np.ndarray
    onset_t_s: np.ndarray
    onset_envelope: np.ndarray


@dataclass(frozen=True, kw_only=True)
class CausalEmg:
    """The causal form of an offline :class:`~kinematics.fusion.EmgAnalysis`.

    Parameters
    ----------
    analysis
        The offline analysis whose parameters the live one uses, unchanged. Its detector
        must use ``rule="sustained"`` (the default).
    fir_tolerance
        Where the zero-phase impulse responses are cut (:func:`zero_phase_fir`), relative to
        their peak: smaller is closer to offline and later.

    Examples
    --------
    >>> channel = EmgChannel(name="lower_abdominal_left", site="lower_abdominal", side="left")
    >>> stream = CausalEmg().start((channel,), 1000.0)
    >>> block = stream.push(np.arange(200) / 1000.0, np.zeros((200, 1)))
    >>> block.envelope.shape, round(stream.onset_delay_s, 3)
    ((200, 1), 0.103)
    """

    analysis: EmgAnalysis = field(default_factory=EmgAnalysis)
    fir_tolerance: float = 1e-3

    def start(
        self,
        channels: tuple[EmgChannel, ...],
        sampling_rate_hz: float,
        *,
        baseline: dict[str, tuple[float, float]] | None = None,
    ) -> EmgStream:
        """A new stream of ``channels`` sampled at ``sampling_rate_hz``.

        ``baseline`` gives channels a known onset-envelope baseline ``(mean, sd)`` (e.g. the
        :class:`~kinematics.fusion.onsets.Bursts` of a quiet stand analysed earlier): their
        threshold is fixed from the first sample instead of searched for.
        """
        if self.analysis.conditioning not in ("tkeo", "none"):
            raise InputError(f"conditioning must be 'tkeo' or 'none', got {self.analysis.conditioning!r}")
        if self.analysis.detector.rule != "sustained":
            raise InputError(
                f"the causal detector implements rule='sustained' only, got {self.analysis.detector.rule!r}"
            )
        if not sampling_rate_hz > 0:
            raise InputError(f"sampling_rate_hz must be > 0, got {sampling_rate_hz}")
        if not 0 < self.fir_tolerance < 0.1:
            raise InputError(f"fir_tolerance must be in (0, 0.1), got {self.fir_tolerance}")
        names = [c.name for c in channels]
        for name in baseline or {}:
            if name not in names:
                raise InputError(f"baseline names unknown channel {name!r}; channels: {', '.join(names)}")
        known = {names.index(name): value for name, value in (baseline or {}).items()}
        stream = EmgStream(self, tuple(channels), float(sampling_rate_hz), known)
        return stream


class EmgStream:
    """One EMG stream's filter and detector state; :meth:`push` blocks in time order.

    Made by :meth:`CausalEmg.start`. Samples are taken to be uniform at the stream's rate
    (the filters assume it); each block's times place its samples on the clock.
    """

    def __init__(
        self,
        config: CausalEmg,
        channels: tuple[EmgChannel, ...],
        fs: float,
        baseline: dict[int, tuple[float, float]],
    ) -> None:
        a = config.analysis
        self.config, self.channels, self.sampling_rate_hz = config, channels, fs
        k = len(channels)
        tol = config.fir_tolerance
        self._band = zero_phase_fir(_band_sos(a, fs), tolerance=tol)
        self._low = zero_phase_fir(_lowpass_sos(a.onset_envelope_hz, fs), tolerance=tol)
        notch = _notch_sos(a, fs)
        band_sos = _band_sos(a, fs)
        # amplitude path: forwards twice (the offline magnitude response), group-delayed
        self._amp_sos = np.vstack([band_sos, band_sos] + ([notch, notch] if notch is not None else []))
        self._env_sos = np.vstack([_lowpass_sos(a.envelope_hz, fs)] * 2)
        self._tkeo = a.conditioning == "tkeo"
        self.delay_samples = (len(self._band) - 1) // 2 + (len(self._low) - 1) // 2 + (1 if self._tkeo else 0)
        self._zi: dict[str, np.ndarray] | None = None
        self._tk_prev = np.zeros((2, k))  # the last two band-passed samples, for the TKEO
        self._hw_delay = 0.0 if a.hardware_delay_s is None else float(a.hardware_delay_s)
        self._times: deque[float] = deque()  # input times not yet reached by the onset envelope
        self._n_in = 0  # input samples so far
        self._detector = OnsetStream(a.onset_detector(), fs, k, baseline=baseline)  # baseline_s: EMG clock
        self.refs = np.array([(a.reference_mv or {}).get(c.name, 1.0) for c in channels])

    # -- what it costs -------------------------------------------------------------------------------

    @property
    def onset_delay_s(self) -> float:
        """How far the onset envelope runs behind the input, s (FIR delays and the TKEO's sample)."""
        return self.delay_samples / self.sampling_rate_hz

    @property
    def envelope_delay_s(self) -> float:
        """Group delay of the amplitude envelope's low-pass at 0 Hz, s (not compensated)."""
        return _group_delay_at_0_s(self._env_sos, self.sampling_rate_hz)

    @property
    def decision_latency_s(self) -> float:
        """From a muscle's onset to the stream reporting it, s: the onset path's delay, then the
        sustained window or the shortest burst the offline rule keeps, whichever is longer."""
        det = self.config.analysis.detector
        return self.onset_delay_s + max(det.window_s, det.min_burst_s)

    # -- samples in ----------------------------------------------------------------------------------

    def push(self, t_s: np.ndarray, emg_mv: np.ndarray) -> EmgBlock:
        """Filter ``emg_mv`` ``(m, k)`` mV sampled at ``t_s`` ``(m,)`` s on the EMG clock."""
        t_s = np.asarray(t_s, dtype=float).reshape(-1)
        k = len(self.channels)
        x = np.asarray(emg_mv, dtype=float)
        if x.ndim == 1 and k == 1:
            x = x[:, None]
        if x.shape != (t_s.shape[0], k):
            raise InputError(f"emg_mv must be ({t_s.shape[0]}, {k}), got {x.shape}")
        if not np.all(np.isfinite(x)) or not np.all(np.isfinite(t_s)):
            raise InputError("EMG samples and their times must be finite numbers")
        a = self.config.analysis
        t_motion = t_s + a.clock_offset_s - self._hw_delay
        m = x.shape[0]
        if not m:
            return EmgBlock(
                t_motion, np.zeros((0, k)), [], [], self._detector.thresholds, np.zeros(0), np.zeros((0, k))
            )
        if self._zi is None:
            self._zi = self._initial_states(x[0])
        amp, self._zi["amp"] = signal.sosfilt(self._amp_sos, x, axis=0, zi=self._zi["amp"])
        env, self._zi["env"] = signal.sosfilt(self._env_sos, np.abs(amp), axis=0, zi=self._zi["env"])
        envelope = np.clip(env, 0.0, None) / self.refs
        band, self._zi["band"] = signal.lfilter(self._band, [1.0], x, axis=0, zi=self._zi["band"])
        if self._tkeo:  # the operator's value for the previous sample, now that this one is here
            joined = np.vstack([self._tk_prev, band])
            cond = joined[1:-1] ** 2 - joined[:-2] * joined[2:]
            self._tk_prev = joined[-2:]
        else:
            cond = band
        onset_env, self._zi["low"] = signal.lfilter(self._low, [1.0], np.abs(cond), axis=0, zi=self._zi["low"])
        self._times.extend(t_motion.tolist())
        first = max(0, self.delay_samples - self._n_in)  # before it: the filters' start-up
        described = np.array([self._times.popleft() for _ in range(first, m)])
        self._n_in += m
        on, off = self._detector.push(described, onset_env[first:])
        onsets = [self._event(j, t) for j, t in on]
        offsets = [self._event(j, t, end) for j, t, end in off]
        return EmgBlock(t_motion, envelope, onsets, offsets, self._detector.thresholds, described, onset_env[first:])

    def finish(self) -> list[Event]:
        """The end of the stream: a burst still on and not yet reported is reported, as the
        offline rule keeps a burst that runs past the end of the recording. The last
        ``delay_samples`` of input are not analysed (the offline filter pads the end instead)."""
        return [self._event(j, t) for j, t in self._detector.finish()]

    # -- internals -----------------------------------------------------------------------------------

    def _initial_states(self, x0: np.ndarray) -> dict[str, np.ndarray]:
        """Filter states for a signal that had always been ``x0``: no start-up step."""
        k = x0.shape[0]
        amp_zi = signal.sosfilt_zi(self._amp_sos)[:, :, None] * x0[None, None, :]
        env_zi = np.zeros((self._env_sos.shape[0], 2, k))
        band_zi = signal.lfilter_zi(self._band, [1.0])[:, None] * x0[None, :]
        low_zi = np.zeros((len(self._low) - 1, k))
        return {"amp": amp_zi, "env": env_zi, "band": band_zi, "low": low_zi}

    def _event(self, j: int, on_s: float, off_s: float | None = None) -> Event:
        ch = self.channels[j]
        return Event(t_s=on_s, name=ch.name, side=ch.side, end_s=off_s)

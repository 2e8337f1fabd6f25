"""Surface-EMG processing: filters, envelope, normalisation, onsets, symmetry, co-contraction, timing.

Pipeline (:class:`EmgAnalysis`), every filter zero-phase (``sosfiltfilt``)
because onset timing must not move:

1. band-pass 20-450 Hz (4th-order Butterworth; the upper edge is lowered to
   0.45 x the sampling rate when the rate is too low, with a note);
2. amplitude envelope: a notch at the mains frequency and its harmonics
   inside the band (50 Hz by default, 60 Hz in the Americas; Q = 30), full-wave
   rectification and a 6 Hz 2nd-order low-pass (the linear envelope),
   normalised to a reference contraction when one is given (e.g. an MVC's
   envelope peak, in mV), else to the session's peak (then the output says
   so: % of session peak is not % MVC);
3. onsets: Teager-Kaiser energy operator ``x[n]^2 - x[n-1] x[n+1]``
   (Li, Zhou & Aruin 2007, J Electromyogr Kinesiol 17:e1-e9; Solnik et al.
   2010, Eur J Appl Physiol 110:489-498) on the band-passed signal,
   rectified, 50 Hz 2nd-order low-pass, then the Hodges & Bui (1996)
   threshold (:mod:`kinematics.fusion.onsets`). No notch on this path: a
   zero-phase notch rings for ~0.2 s on *both* sides of a burst (Q = 30 at
   50 Hz) and moved synthetic onsets up to 100-190 ms earlier, whereas the
   TKEO turns a steady mains hum into a constant that the baseline mean
   absorbs (measured in docs/wearables.md);
4. symmetry index per left/right pair of the same site, on the mean
   envelope: ``100 (L - R) / (0.5 (L + R))`` % (Robinson, Herzog & Nigg 1987,
   J Manipulative Physiol Ther 10:172-176), > 0 = left more active;
5. co-contraction index per antagonist pair: ``200 * sum(min(A, B)) /
   sum(A + B)`` % (Falconer & Winter 1985, Electromyogr Clin Neurophysiol
   25:135-149), 0 = never active together, 100 = identical envelopes;
6. timing: each muscle's first onset near each movement onset,
   ``muscle - movement`` in ms: **negative = the muscle started before the
   movement** (feed-forward / anticipatory, as reported for TrA in fast arm
   movements by Hodges & Richardson 1997).

Clock: EMG times are put on the motion clock as
``t_motion = t_emg + clock_offset_s - hardware_delay_s``. Many EMG systems
record a fixed internal delay behind the motion data; it must be measured or
taken from the manufacturer. When ``hardware_delay_s`` is None it is taken
as 0 s and the result says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Literal

import numpy as np
from scipy import signal

from kinematics.errors import InputError
from kinematics.fusion.emg_io import EmgChannel, EmgRecording
from kinematics.fusion.evidence import OnsetEvidence, onset_evidence, sample_validity
from kinematics.fusion.onsets import Bursts, ThresholdOnsetDetector
from kinematics.series import Event, Series

__all__ = ["ANTAGONISTS", "EmgAnalysis", "EmgFilter", "EmgResult", "co_contraction_index", "symmetry_index", "tkeo"]

#: agonist/antagonist site pairs used for the co-contraction index when none are given
ANTAGONISTS: tuple[tuple[str, str], ...] = (
    ("rectus_femoris", "biceps_femoris"),
    ("rectus_femoris", "semitendinosus"),
    ("vastus_medialis", "biceps_femoris"),
    ("vastus_medialis", "semitendinosus"),
    ("vastus_lateralis", "biceps_femoris"),
    ("lower_abdominal", "lumbar_multifidus"),
    ("lower_abdominal", "erector_spinae"),
    ("rectus_abdominis", "erector_spinae"),
    ("gluteus_medius", "adductor_longus"),
)


def tkeo(x: np.ndarray) -> np.ndarray:
    """Teager-Kaiser energy operator along axis 0; the end samples copy their neighbours.

    Examples
    --------
    >>> tkeo(np.array([0.0, 1.0, 0.0, -1.0, 0.0]))
    array([1., 1., 1., 1., 1.])
    """
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    out[1:-1] = x[1:-1] ** 2 - x[:-2] * x[2:]
    out[0], out[-1] = out[1], out[-2]
    return out


def symmetry_index(left: float, right: float) -> float:
    """``100 (L - R) / (0.5 (L + R))`` %, > 0 when the left is larger (Robinson et al. 1987)."""
    den = 0.5 * (left + right)
    return float("nan") if den <= 0 else 100.0 * (left - right) / den


def co_contraction_index(a: np.ndarray, b: np.ndarray) -> float:
    """Falconer & Winter (1985): ``200 * sum(min(a, b)) / sum(a + b)`` %, envelopes on one scale."""
    a, b = np.clip(np.asarray(a, float), 0, None), np.clip(np.asarray(b, float), 0, None)
    total = float(np.sum(a + b))
    return float("nan") if total <= 0 else 200.0 * float(np.sum(np.minimum(a, b))) / total


@dataclass(frozen=True, kw_only=True)
class EmgFilter:
    """Band-pass and mains notch.

    Parameters
    ----------
    bandpass_hz
        Pass band of the surface-EMG signal (SENIAM: high-pass 10-20 Hz; the
        energy lies below ~450 Hz).
    mains_hz
        50 or 60 (None: no notch). Harmonics inside the band are notched too.
    notch_q
        Quality factor of each notch (bandwidth = frequency / Q).
    order
        Butterworth order of the band-pass.
    """

    bandpass_hz: tuple[float, float] = (20.0, 450.0)
    mains_hz: float | None = 50.0
    notch_q: float = 30.0
    order: int = 4

    def apply(self, emg_mv: np.ndarray, sampling_rate_hz: float) -> tuple[np.ndarray, list[str]]:
        """Filter ``emg_mv`` ``(n, k)``; returns the filtered copy and notes."""
        notes = []
        low, high = self.bandpass_hz
        nyquist = 0.5 * sampling_rate_hz
        if high >= 0.9 * nyquist:
            notes.append(
                f"band-pass upper edge lowered from {high:g} to {0.45 * sampling_rate_hz:g} Hz "
                f"(sampling rate {sampling_rate_hz:g} Hz)"
            )
            high = 0.45 * sampling_rate_hz
        if not 0 < low < high:
            raise InputError(f"band-pass must satisfy 0 < low < high, got ({low}, {high}) Hz")
        sos = signal.butter(self.order, (low, high), "bandpass", fs=sampling_rate_hz, output="sos")
        out = signal.sosfiltfilt(sos, np.asarray(emg_mv, dtype=float), axis=0)
        if self.mains_hz:
            f = float(self.mains_hz)
            while f < min(high * 1.05, nyquist):
                b, a = signal.iirnotch(f, self.notch_q, fs=sampling_rate_hz)
                out = signal.filtfilt(b, a, out, axis=0)
                f += float(self.mains_hz)
        return out, notes


@dataclass(frozen=True, eq=False)
class EmgResult:
    """What :meth:`EmgAnalysis.run` found."""

    channels: tuple[EmgChannel, ...]
    envelopes: dict[str, Series]  # channel name -> normalised envelope, unit "1" (1.0 = reference)
    normalisation: str  # "reference" or "session_peak"
    reference_mv: dict[str, float]  # the envelope value that is 1.0, per channel
    bursts: dict[str, Bursts]  # channel name -> onsets/offsets on the motion clock
    onsets: list[Event]  # every burst, name = channel name, sorted by time
    symmetry_pct: dict[str, float]  # site -> symmetry index
    co_contraction_pct: dict[str, float]  # "a / b" -> CCI
    timing_ms: list[dict[str, object]]  # one row per (movement onset, channel)
    hardware_delay_s: float
    hardware_delay_assumed: bool
    notes: list[str] = field(default_factory=list)
    parameters: dict[str, object] = field(default_factory=dict)
    #: channel name -> what its muscle onsets rest on (valid samples, bursts, their clarity); a channel whose
    #: onsets are not measurable has no muscle onset in ``timing_ms``, with the reason
    evidence: dict[str, OnsetEvidence] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class EmgAnalysis:
    """From raw EMG to envelopes, onsets, symmetry, co-contraction and timing.

    Parameters
    ----------
    filter
        Band-pass and notch.
    envelope_hz
        Low-pass of the rectified signal for the amplitude envelope.
    onset_envelope_hz
        Low-pass for onset detection (Hodges & Bui's 50 Hz).
    conditioning
        ``"tkeo"`` (Solnik et al. 2010) or ``"none"`` before rectification for onsets.
    detector
        Onset threshold rule. Its ``baseline_s`` is on the EMG clock (the recording's own
        ``t_s``, as a quiet period is read off the EMG file), whatever ``clock_offset_s`` and
        ``hardware_delay_s`` are: :meth:`onset_detector` moves it to the motion clock that
        onsets are detected and reported on.
    reference_mv
        Per channel name, the envelope amplitude (mV) of a reference
        contraction; channels without one are normalised to the session peak.
    hardware_delay_s
        The EMG system's fixed delay behind the motion data; None = unknown,
        taken as 0 and reported as assumed.
    clock_offset_s
        ``t_motion = t_emg + clock_offset_s - hardware_delay_s``.
    timing_window_s
        ``(before, after)`` a movement onset in which a muscle onset is paired with it.
    cci_pairs
        Channel-name pairs for the co-contraction index; default: same-side
        channels whose sites are in :data:`ANTAGONISTS`.
    """

    filter: EmgFilter = EmgFilter()
    envelope_hz: float = 6.0
    onset_envelope_hz: float = 50.0
    conditioning: Literal["tkeo", "none"] = "tkeo"
    detector: ThresholdOnsetDetector = field(default_factory=ThresholdOnsetDetector)
    reference_mv: dict[str, float] | None = None
    hardware_delay_s: float | None = None
    clock_offset_s: float = 0.0
    timing_window_s: tuple[float, float] = (0.5, 0.5)
    cci_pairs: tuple[tuple[str, str], ...] | None = None

    def run(self, rec: EmgRecording, *, movement_onsets_s: Sequence[float] | np.ndarray = ()) -> EmgResult:
        """Analyse ``rec``; ``movement_onsets_s`` are on the motion (video/IMU) clock."""
        if self.conditioning not in ("tkeo", "none"):
            raise InputError(f"conditioning must be 'tkeo' or 'none', got {self.conditioning!r}")
        fs = rec.sampling_rate_hz
        notes = list(rec.notes)
        band = EmgFilter(bandpass_hz=self.filter.bandpass_hz, mains_hz=None, order=self.filter.order)
        filtered, filter_notes = band.apply(rec.emg_mv, fs)
        notched, _ = self.filter.apply(rec.emg_mv, fs)
        notes += filter_notes
        assumed = self.hardware_delay_s is None
        delay = 0.0 if assumed else float(self.hardware_delay_s)  # type: ignore[arg-type]
        if assumed:
            notes.append(
                "EMG hardware delay not configured: taken as 0 s (not measured); onsets may be late by "
                "the system's internal delay"
            )
        t = rec.t_s + self.clock_offset_s - delay
        detector = self.onset_detector()

        def lp(x: np.ndarray, hz: float) -> np.ndarray:
            return signal.sosfiltfilt(signal.butter(2, min(hz, 0.45 * fs), fs=fs, output="sos"), x, axis=0)

        amp = np.clip(lp(np.abs(notched), self.envelope_hz), 0.0, None)
        cond = tkeo(filtered) if self.conditioning == "tkeo" else filtered
        onset_env = lp(np.abs(cond), self.onset_envelope_hz)
        refs = dict(self.reference_mv or {})
        unknown = sorted(set(refs) - {c.name for c in rec.channels})
        if unknown:
            raise InputError(
                f"reference_mv names unknown channel(s) {', '.join(unknown)}; "
                f"channels: {', '.join(c.name for c in rec.channels)}"
            )
        normalisation = (
            "reference" if refs and len(refs) == len(rec.channels) else ("session_peak" if not refs else "mixed")
        )
        envelopes, bursts, onsets, used_ref, evidence = {}, {}, [], {}, {}
        for j, ch in enumerate(rec.channels):
            ref = refs.get(ch.name, float(amp[:, j].max()))
            if ref <= 0:
                raise InputError(f"reference amplitude of {ch.name} must be > 0 mV, got {ref}")
            used_ref[ch.name] = float(ref)
            envelopes[ch.name] = Series(t, amp[:, j] / ref, "1", np.ones(len(t)))
            b = detector.detect(t, onset_env[:, j])
            bursts[ch.name] = b
            evidence[ch.name] = onset_evidence(sample_validity(rec.t_s, rec.emg_mv[:, j]), b.clarity)
            onsets += [
                Event(
                    t_s=float(a),
                    name=ch.name,
                    side=ch.side,
                    confidence=float(c),
                    end_s=None if np.isnan(e) else float(e),
                )
                for a, e, c in zip(b.onsets_s, b.offsets_s, b.clarity, strict=True)
            ]
        onsets.sort(key=lambda e: e.t_s)
        if not self.detector.baseline_s:
            notes.append(
                f"onset baseline: the quietest {self.detector.baseline_length_s:g} s of each channel "
                "(no quiet period was given)"
            )
        return EmgResult(
            channels=rec.channels,
            envelopes=envelopes,
            normalisation=normalisation,
            reference_mv=used_ref,
            bursts=bursts,
            onsets=onsets,
            symmetry_pct=self._symmetry(rec.channels, envelopes),
            co_contraction_pct=self._cci(rec.channels, envelopes),
            timing_ms=self._timing(rec.channels, bursts, np.asarray(movement_onsets_s, dtype=float), evidence),
            hardware_delay_s=delay,
            hardware_delay_assumed=assumed,
            notes=notes,
            parameters=asdict(self),
            evidence=evidence,
        )

    def onset_detector(self) -> ThresholdOnsetDetector:
        """:attr:`detector` as it runs on the motion clock (``t_emg + clock_offset_s - hardware_delay_s``).

        Its baseline window, given on the EMG clock, is moved by the same offset and delay as the
        samples (an unknown delay counts as 0, as for them); without one it is unchanged.
        """
        window = self.detector.baseline_s
        if window is None:
            return self.detector
        shift = self.clock_offset_s - (0.0 if self.hardware_delay_s is None else float(self.hardware_delay_s))
        return replace(self.detector, baseline_s=(window[0] + shift, window[1] + shift))

    @staticmethod
    def _symmetry(channels: tuple[EmgChannel, ...], env: dict[str, Series]) -> dict[str, float]:
        out = {}
        for ch in channels:
            if ch.side != "left":
                continue
            other = next((c for c in channels if c.site == ch.site and c.side == "right"), None)
            if other is not None:
                out[ch.site] = symmetry_index(float(env[ch.name].values.mean()), float(env[other.name].values.mean()))
        return out

    def _cci(self, channels: tuple[EmgChannel, ...], env: dict[str, Series]) -> dict[str, float]:
        if self.cci_pairs is not None:
            pairs = list(self.cci_pairs)
            names = {c.name for c in channels}
            bad = [p for p in pairs if p[0] not in names or p[1] not in names]
            if bad:
                raise InputError(f"co-contraction pair {bad[0]} names an unknown channel; channels: {', '.join(names)}")
        else:
            pairs = [
                (a.name, b.name)
                for a in channels
                for b in channels
                if a.side == b.side and ((a.site, b.site) in ANTAGONISTS)
            ]
        return {f"{a} / {b}": co_contraction_index(env[a].values, env[b].values) for a, b in pairs}

    def _timing(
        self,
        channels: tuple[EmgChannel, ...],
        bursts: dict[str, Bursts],
        movement_s: np.ndarray,
        evidence: dict[str, OnsetEvidence],
    ) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = []
        before, after = self.timing_window_s
        for m in movement_s:
            for ch in channels:
                ev = evidence[ch.name]
                on = bursts[ch.name].onsets_s if ev.measurable else np.zeros(0)
                near = on[(on >= m - before) & (on <= m + after)]
                rows.append(
                    {
                        "channel": ch.name,
                        "label": ch.label,
                        "movement_onset_s": float(m),
                        "muscle_onset_s": float(near[0]) if near.size else None,
                        "delta_ms": float(1000.0 * (near[0] - m)) if near.size else None,
                        "reason": ev.reason,
                    }
                )
        return rows

"""What a wearable sensor's values rest on: its valid samples, its events, and how clear they were.

The protocol metrics from video state ``coverage``, ``n_events`` / ``event_kind`` and ``confidence``
(:mod:`kinematics.protocols.evidence`). The lower-back IMU's metrics (:class:`~kinematics.fusion.protocols.
ImuProtocol`) and each EMG channel's muscle onsets state the same, with the same meaning and by the same
rule (:func:`kinematics.protocols.evidence.judge` and :func:`~kinematics.protocols.evidence.shortfall`,
with their thresholds):

``coverage``
    the fraction of the recording with valid samples (:func:`sample_validity`): of the samples the clock
    says were due (first to last timestamp at the median interval), those present (not lost in a clock
    gap, an interval over :data:`~kinematics.fusion._table.MAX_GAP_INTERVALS` median intervals, the
    readers' own rule), finite, not a dropout (every channel held at one value for :data:`MIN_HELD_S` or
    longer: a lost link repeats the whole last sample; one quiet channel recorded coarsely may repeat its
    value and still measure) and no channel saturated (held at its extreme). An IMU sample is valid when
    it is valid on all six channels; an EMG channel counts its own.
``n_events`` and ``event_kind``
    the steps, strides or walking bouts an IMU value rests on; an EMG channel's bursts.
``confidence``
    ``coverage`` x the events' mean confidence (a valid sample carries full confidence: the sensors state
    none of their own): an initial contact's is the margin of the left-right vote that gave its side
    (:mod:`kinematics.fusion.gait`), a walking bout's the mean of its contacts', an EMG burst's the clarity
    of its peak (:attr:`kinematics.fusion.onsets.Bursts.clarity`).

A value becomes *not measurable*, with the reason, when its coverage is below
:data:`~kinematics.protocols.evidence.MIN_COVERAGE` or it rests on fewer events than its basis needs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from kinematics.fusion._table import MAX_GAP_INTERVALS
from kinematics.protocols.base import ProtocolResult
from kinematics.protocols.evidence import (
    EVENT_KIND,
    MIN_STEP_TIMES,
    MIN_STEPS_FOR_RATE,
    MIN_STRIDES,
    Basis,
    Measured,
    judge,
    shortfall,
)

__all__ = [
    "BASES",
    "MIN_HELD_S",
    "ONSET_BASIS",
    "OnsetEvidence",
    "SampleValidity",
    "attach",
    "onset_evidence",
    "sample_validity",
]

#: A channel that repeats one value exactly for this long (and at least :data:`MIN_HELD_SAMPLES` samples)
#: has stopped measuring: a lost link holds the last sample, a saturated amplifier its rail.
MIN_HELD_S = 0.05
MIN_HELD_SAMPLES = 5


@dataclass(frozen=True, eq=False)
class SampleValidity:
    """Which samples of a recording measured something.

    Parameters
    ----------
    valid
        ``(n,)`` bool, the recorded samples in which every channel was valid.
    n_due
        Samples the clock says were due, first to last timestamp: the recorded ones and those lost in gaps.
    lost
        Share of ``n_due`` lost to each cause: ``"clock gaps"``, ``"dropouts"`` (held or non-finite values),
        ``"saturation"`` (held at the channel's extreme); a sample is counted under one cause.
    """

    valid: np.ndarray
    n_due: int
    lost: dict[str, float]

    @property
    def coverage(self) -> float:
        """Fraction of the due samples that were recorded and valid."""
        return float(self.valid.sum()) / self.n_due if self.n_due else 0.0

    def describe(self) -> str:
        """What was lost, for a reason: ``"lost to clock gaps 60%"``; ``"no sample lost"`` when none was."""
        parts = [f"{cause} {share:.0%}" for cause, share in self.lost.items() if share > 0]
        return "lost to " + ", ".join(parts) if parts else "no sample lost"


def _held(x: np.ndarray, min_run: int) -> tuple[np.ndarray, np.ndarray]:
    """``(n,)`` in a run of one repeated value at least ``min_run`` long; ``(n,)`` that run is at an extreme."""
    n = x.shape[0]
    starts = np.r_[0, np.flatnonzero(x[1:] != x[:-1]) + 1]  # NaN != NaN: never a run
    lengths = np.diff(np.r_[starts, n])
    held = np.repeat(lengths >= min_run, lengths)
    finite = x[np.isfinite(x)]
    if not finite.size:
        return held, np.zeros(n, dtype=bool)
    value = np.repeat(x[starts], lengths)
    return held, held & ((value == finite.max()) | (value == finite.min()))


def sample_validity(t_s: np.ndarray, values: np.ndarray) -> SampleValidity:
    """Valid samples of a recording: no clock gap, no dropout, no saturation.

    Parameters
    ----------
    t_s
        ``(n,)`` seconds, strictly increasing, sampled at a nominal rate (the median interval).
    values
        ``(n,)`` or ``(n, k)`` the channels, any unit; a sample is valid when every channel is.

    Returns
    -------
    SampleValidity
        The valid samples and, for the reasons, what the rest were lost to.

    Examples
    --------
    >>> t = np.r_[np.arange(0, 40), np.arange(100, 160)] / 100.0  # 0.60 s missing of 1.60 s
    >>> v = sample_validity(t, np.sin(7.0 * t))
    >>> round(v.coverage, 3), v.describe()
    (0.625, 'lost to clock gaps 38%')
    """
    t = np.asarray(t_s, dtype=float)
    x = np.asarray(values, dtype=float).reshape(t.shape[0], -1)
    n = t.shape[0]
    if n < 2:
        return SampleValidity(np.isfinite(x).all(axis=1), n, {})
    dt = np.diff(t)
    median = float(np.median(dt))
    gaps = dt > MAX_GAP_INTERVALS * median
    missing = int(np.sum(np.round(dt[gaps] / median) - 1)) if gaps.any() else 0
    n_due = n + missing
    min_run = max(MIN_HELD_SAMPLES, round(MIN_HELD_S / median))
    # A lost link repeats the whole last sample: every channel held at once. One channel held alone is a
    # quiet axis recorded coarsely (a still gyroscope rounded to 0.1 deg/s repeats its value for seconds),
    # unless it sits at its extreme: a saturated channel is lost on its own.
    held_all, saturated = np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
    for j in range(x.shape[1]):
        held, at_extreme = _held(x[:, j], min_run)
        saturated |= at_extreme
        held_all &= held
    dropout = (~np.isfinite(x).all(axis=1) | held_all) & ~saturated
    valid = ~(dropout | saturated)
    lost = {
        "clock gaps": missing / n_due,
        "dropouts": float(dropout.sum()) / n_due,
        "saturation": float(saturated.sum()) / n_due,
    }
    return SampleValidity(valid, n_due, lost)


def _asym(code: str) -> tuple[str, ...]:
    return (f"{code}_asymmetry", f"{code}_asymmetry_inconclusive", f"{code}_symmetric")


_OBLIQUITY = Basis((), findings=("pelvic_obliquity",))

#: ``"protocol:metric"`` -> what an IMU-only metric rests on (:class:`kinematics.protocols.evidence.Basis`,
#: whose ``inputs`` are the IMU's channels, all of them, here). The minimum numbers of events are the video
#: protocols': one rule for a step rate, a step time per foot and a per-stride value, whatever found the steps.
BASES: dict[str, Basis] = {
    "gait:rep_count": Basis((), "initial_contact", count=True),
    "gait:walking_bout_count": Basis((), "walking_bout", count=True),
    "gait:walking_time_s": Basis((), "walking_bout"),
    "gait:cadence_steps_per_min": Basis(
        (), "initial_contact", MIN_STEPS_FOR_RATE, same_side=False, findings=("cadence",)
    ),
    "gait:step_time_s": Basis((), "initial_contact", MIN_STEP_TIMES, findings=_asym("step_time")),
    "gait:stride_length_m": Basis((), "stride", MIN_STRIDES, same_side=False),
    "gait:walking_speed_mps": Basis((), "stride", MIN_STRIDES, same_side=False),
    "single_leg_stance:pelvic_obliquity_peak_deg": _OBLIQUITY,
    "single_leg_stance:pelvic_obliquity_range_deg": _OBLIQUITY,
    "standing_hip_abduction:pelvic_obliquity_peak_deg": _OBLIQUITY,
    "standing_hip_abduction:pelvic_obliquity_range_deg": _OBLIQUITY,
}


def attach(protocol: ProtocolResult, samples: SampleValidity) -> ProtocolResult:
    """``protocol`` (from :class:`~kinematics.fusion.protocols.ImuProtocol`) with every metric's evidence.

    Coverage is the recording's (``samples``); the rest as for video (:func:`kinematics.protocols.evidence.judge`):
    values under the coverage or event minimum are withheld with the reason, with the findings on them.
    """
    measured = Measured(samples.coverage, 1.0, "the recording had valid samples", samples.describe)
    return judge(protocol, lambda m: BASES.get(f"{protocol.protocol}:{m.name}"), lambda m, b, e: measured)


#: What an EMG channel's muscle onsets rest on: its bursts, at least one.
ONSET_BASIS = Basis((), "burst", 1)


@dataclass(frozen=True)
class OnsetEvidence:
    """What one EMG channel's muscle onsets rest on, and whether they are measurable.

    ``confidence`` is ``coverage`` x the mean clarity of its bursts' peaks (0 without bursts); ``reason`` says
    why the onsets are not measurable when ``measurable`` is False.
    """

    coverage: float
    n_events: int
    event_kind: str
    confidence: float
    measurable: bool
    reason: str | None = None


def onset_evidence(samples: SampleValidity, clarity: np.ndarray) -> OnsetEvidence:
    """The evidence of one EMG channel from its valid samples and its bursts' peak clarity (``(m,)``, in [0, 1])."""
    n = int(np.asarray(clarity).size)
    measured = Measured(samples.coverage, 1.0, "the recording had valid samples", samples.describe)
    why = shortfall(measured, ONSET_BASIS, n)
    out = OnsetEvidence(
        coverage=round(samples.coverage, 3),
        n_events=n,
        event_kind=EVENT_KIND["burst"],
        confidence=round(samples.coverage * float(np.mean(clarity)), 3) if n else 0.0,
        measurable=why is None,
    )
    return out if why is None else replace(out, reason=why)

"""Walking bouts, initial contacts, their side, and cadence from one lower-back IMU.

The order is bouts first, contacts second: a contact is only reported inside a
walking bout, so standing, sitting down, arm movements and fidgeting yield no
steps.

1. **Vertical acceleration.** Acceleration along the direction of gravity that
   the accelerometer itself measures, low-passed at 0.25 Hz (the tilt
   correction of Moe-Nilssen 1998, Clin Biomech 13:320-327, made local in
   time), so a sensor worn tilted, or a trunk that leans, still gives the
   vertical component. No axis mapping is needed.
2. **Step candidates.** The vertical acceleration band-passed to the step band
   (0.5-3 Hz, zero phase) oscillates once per step; each positive half-wave
   is one candidate, kept when its peak reaches ``min_step_amplitude_mps2``
   (quiet standing and arm movements stay far below; measured in
   ``tests/fusion/test_gait.py``). One candidate per half-wave, so a double
   bump of slow gait is not counted twice (the zero-crossing idea of
   Paraschiv-Ionescu et al. 2020, EMBC, in Mobilise-D's ``IcdIonescu``).
3. **Walking bouts.** Runs of at least ``min_bout_steps`` candidates whose
   consecutive intervals are step times (``min_step_s`` .. ``max_step_s``);
   a sit-to-stand or a reach gives one or two isolated candidates, not a run.
   A run is walking only if the pelvis's yaw alternates with the steps (left,
   right, left: a stride is two steps); a rhythmic arm movement or a bounce
   rotates it the same way at every candidate.
4. **Timing.** The band-passed peak follows heel contact by tens of ms, and
   the Gaussian-smoothed peak of McCamley et al. (2012, Gait Posture
   36:316-318) used before by ~30 ms. At heel contact the vertical
   acceleration of the trunk rises most steeply (the impact): each contact is
   moved to the maximum of the vertical jerk (vertical acceleration low-passed
   at ``refine_cutoff_hz``, differentiated) within ``refine_window_s`` before
   the candidate's peak, with parabolic sub-sample interpolation.
5. **Side.** McCamley's rule on the angular rate about the vertical (pelvic
   yaw), band-passed 0.5-2 Hz as Ullrich et al. (2021, IEEE EMBC): at a left
   contact the pelvis turns clockwise seen from above (rate <= 0 about the up
   direction). In a turn the turning rate adds to that signal and flips single
   contacts, so each side is decided by the alternation of the
   ``laterality_window_steps`` contacts around it (left, right, left, ...):
   ``sum_j (-1)^(j-k) yaw_j`` (robustly scaled). A missed step flips the
   parity only locally. The confidence is that vote's margin.

Cadence: steps per minute, 60 / median step time over the bouts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

from kinematics.errors import InputError, InsufficientDataError
from kinematics.fusion.axes import AxisMapping
from kinematics.fusion.imu_io import ImuRecording
from kinematics.series import Event

__all__ = ["GaitEvents", "InitialContactDetector", "MatchResult", "match_events", "vertical_acceleration"]


@dataclass(frozen=True)
class GaitEvents:
    """Walking bouts, initial contacts and cadence.

    ``sequences`` are the walking bouts as (first contact, last contact) in
    seconds; every contact lies inside one. ``step_times_s`` are the
    intervals between consecutive contacts inside a bout, in order.
    """

    initial_contacts: list[Event]  # name "initial_contact", side left/right
    cadence_steps_per_min: float | None
    step_times_s: np.ndarray
    sequences: list[tuple[float, float]]


@dataclass(frozen=True)
class MatchResult:
    """Detected events matched one-to-one to reference events within a tolerance."""

    pairs: list[tuple[float, float]]  # (detected, reference)
    false_positives: int
    false_negatives: int

    @property
    def f1(self) -> float:
        tp = len(self.pairs)
        den = 2 * tp + self.false_positives + self.false_negatives
        return 2 * tp / den if den else math.nan

    @property
    def errors_s(self) -> np.ndarray:
        """``(tp,)`` detected minus reference, seconds (positive: detected late)."""
        return np.array([d - r for d, r in self.pairs])


def match_events(detected_s: np.ndarray, reference_s: np.ndarray, *, tolerance_s: float) -> MatchResult:
    """Match closest pairs first, each event used once, only within ``tolerance_s``.

    Examples
    --------
    >>> m = match_events(np.array([1.02, 2.0, 5.0]), np.array([1.0, 2.1, 3.0]), tolerance_s=0.25)
    >>> len(m.pairs), m.false_positives, m.false_negatives
    (2, 1, 1)
    """
    det = np.asarray(detected_s, dtype=float)
    ref = np.asarray(reference_s, dtype=float)
    ref = ref[np.isfinite(ref)]
    if det.size == 0 or ref.size == 0:
        return MatchResult([], int(det.size), int(ref.size))
    dist = np.abs(det[:, None] - ref[None, :])
    cand = np.argwhere(dist <= tolerance_s)
    cand = cand[np.argsort(dist[cand[:, 0], cand[:, 1]], kind="stable")]
    used_d, used_r, pairs = set(), set(), []
    for i, j in cand.tolist():
        if i not in used_d and j not in used_r:
            used_d.add(i)
            used_r.add(j)
            pairs.append((float(det[i]), float(ref[j])))
    pairs.sort()
    return MatchResult(pairs, int(det.size - len(pairs)), int(ref.size - len(pairs)))


def vertical_acceleration(rec: ImuRecording, *, gravity_cutoff_hz: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Acceleration along the measured gravity, and that direction.

    Returns
    -------
    vertical_mps2
        ``(n,)`` m/s^2, including gravity (about +9.81 when still).
    up
        ``(n, 3)`` unit vectors, sensor axes: the low-passed specific force.
    """
    sos = signal.butter(2, gravity_cutoff_hz, fs=rec.sampling_rate_hz, output="sos")
    gravity = signal.sosfiltfilt(sos, rec.acc_mps2, axis=0)
    up = gravity / np.linalg.norm(gravity, axis=1, keepdims=True)
    return np.sum(rec.acc_mps2 * up, axis=1), up


def _half_wave_peaks(x: np.ndarray, min_height: float) -> np.ndarray:
    """Index of the maximum of each positive half-wave of ``x`` that reaches ``min_height``."""
    neg = np.signbit(x)
    edges = np.flatnonzero(neg[1:] != neg[:-1]) + 1  # first sample after each sign change
    peaks = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        if not neg[a]:
            k = a + int(np.argmax(x[a:b]))
            if x[k] >= min_height:
                peaks.append(k)
    return np.asarray(peaks, dtype=int)


def _bouts(t_s: np.ndarray, min_step_s: float, max_step_s: float, min_steps: int) -> list[tuple[int, int]]:
    """``[start, stop)`` index ranges of runs of at least ``min_steps`` events spaced like steps."""
    out, start = [], 0
    for i in range(1, t_s.shape[0] + 1):
        if i == t_s.shape[0] or not (min_step_s <= t_s[i] - t_s[i - 1] <= max_step_s):
            if i - start >= min_steps:
                out.append((start, i))
            start = i
    return out


def _steepest_rise(jerk: np.ndarray, peak: int, window: int) -> float:
    """Fractional index of the largest ``jerk`` in ``[peak - window, peak]`` (parabolic interpolation).

    The parabola through three samples locates a maximum only where the middle one is a local
    maximum; at the window's edge (the rise began before it, or is still going on) the sample is
    kept as it is: the vertex of a flat parabola there can lie half a second away.
    """
    a = max(1, peak - window)
    b = min(jerk.shape[0] - 1, peak + 1)
    k = a + int(np.argmax(jerk[a:b]))
    y0, y1, y2 = jerk[k - 1], jerk[k], jerk[k + 1]
    den = y0 - 2 * y1 + y2
    if den >= 0 or y1 < y0 or y1 < y2:
        return float(k)
    return k + 0.5 * (y0 - y2) / den


def _alternation(yaw: np.ndarray) -> float:
    """Minus the lag-1 autocorrelation of the yaw rates at consecutive contacts: +1 alternating, -1 all alike."""
    return float(-np.sum(yaw[1:] * yaw[:-1]) / (np.sum(yaw[:-1] ** 2) + 1e-12))


def _alternation_sides(yaw: np.ndarray, half: int) -> tuple[list[str], np.ndarray]:
    """Left/right of consecutive contacts of one bout from their yaw rates, by local alternation."""
    y = np.clip(yaw / (float(np.median(np.abs(yaw))) + 1e-12), -3.0, 3.0)  # one turn cannot outvote the bout
    n = y.shape[0]
    sides, conf = [], np.zeros(n)
    for k in range(n):
        j = np.arange(max(0, k - half), min(n, k + half + 1))
        terms = np.where((j - k) % 2 == 0, 1.0, -1.0) * y[j]
        score = float(terms.sum())
        sides.append("left" if score <= 0 else "right")
        conf[k] = abs(score) / (float(np.abs(terms).sum()) + 1e-12)
    return sides, conf


@dataclass(frozen=True, kw_only=True)
class InitialContactDetector:
    """Walking bouts and initial contacts (left/right) from a lower-back IMU.

    Parameters
    ----------
    step_band_hz
        Band of the vertical acceleration that oscillates once per step.
    min_step_amplitude_mps2
        Smallest peak of that band-passed signal counted as a step candidate.
    min_step_s, max_step_s
        Intervals between consecutive contacts of a walking bout.
    min_bout_steps
        Fewest consecutive contacts that make a walking bout.
    refine_cutoff_hz
        Low-pass of the vertical acceleration whose steepest rise times a contact.
    refine_window_s
        How far before the band-passed peak the steepest rise is searched.
    gravity_cutoff_hz
        Low-pass that estimates the direction of gravity in sensor axes.
    laterality_band_hz
        Band-pass of the yaw rate used for the side (Ullrich et al. 2021).
    laterality_window_steps
        Contacts (odd) whose alternating yaw rates decide each contact's side.
    min_alternation
        A run of step candidates is a walking bout only if the yaw rates at its
        contacts alternate: minus their lag-1 autocorrelation must exceed this.
        Walking turns the pelvis left and right once per stride, every other
        bounce; a rhythmic arm or trunk movement turns it with every bounce
        (measured: real walking bouts of the Mobilise-D recordings -0.3 to 1.1, most
        above 0.4; synthetic arm movement -0.9 to -1.0).
    """

    step_band_hz: tuple[float, float] = (0.5, 3.0)
    min_step_amplitude_mps2: float = 0.3
    min_step_s: float = 0.25
    max_step_s: float = 1.25
    min_bout_steps: int = 4
    refine_cutoff_hz: float = 10.0
    refine_window_s: float = 0.15
    gravity_cutoff_hz: float = 0.25
    laterality_band_hz: tuple[float, float] = (0.5, 2.0)
    laterality_window_steps: int = 7
    min_alternation: float = -0.5

    def detect(self, rec: ImuRecording, *, axes: AxisMapping | None = None) -> GaitEvents:
        """Walking bouts, initial contacts (left/right) and cadence.

        Parameters
        ----------
        rec
            Lower-back / sacrum recording, uniformly sampled.
        axes
            Declared sensor-to-body mapping; when given, its up axis must be
            within 45 deg of the measured gravity (a wrongly declared mapping
            is reported rather than silently producing swapped sides).

        Returns
        -------
        GaitEvents
            Empty (no contacts, cadence None) when nobody walked.
        """
        if rec.placement not in ("sacrum", "lower_back", "pelvis"):
            raise InputError(
                f"{rec.source}: initial contacts need a lower-back or sacrum sensor, this one is on the {rec.placement}"
            )
        fs = rec.sampling_rate_hz
        n = len(rec)
        if n < int(4 * fs):
            raise InsufficientDataError(f"{rec.source}: {n / fs:.1f} s of data; gait needs at least 4 s")
        if self.laterality_window_steps < 1 or self.laterality_window_steps % 2 == 0:
            raise ValueError(f"laterality_window_steps must be odd and >= 1, got {self.laterality_window_steps}")
        vertical, up = vertical_acceleration(rec, gravity_cutoff_hz=self.gravity_cutoff_hz)
        if axes is not None:
            declared = axes.body_from_sensor()[1]
            angle = float(np.degrees(np.arccos(np.clip(up.mean(axis=0) @ declared, -1.0, 1.0))))
            if angle > 45.0:
                raise InputError(
                    f"{rec.source}: the declared up axis ({axes.up}) is {angle:.0f} deg from the "
                    "measured gravity; check the axis mapping"
                )
        # filtfilt everywhere: zero phase, contact timing is the measurement
        band = signal.sosfiltfilt(
            signal.butter(4, self.step_band_hz, "bandpass", fs=fs, output="sos"), vertical - vertical.mean()
        )
        peaks = _half_wave_peaks(band, self.min_step_amplitude_mps2)
        smooth = signal.sosfiltfilt(
            signal.butter(4, min(self.refine_cutoff_hz, 0.45 * fs), fs=fs, output="sos"), vertical
        )
        jerk = np.gradient(smooth)
        window = max(1, int(round(self.refine_window_s * fs)))
        # two neighbouring half-waves can share a steepest rise: one contact, kept once, in order
        at = np.unique([_steepest_rise(jerk, int(p), window) for p in peaks])
        t_all = np.interp(at, np.arange(n), rec.t_s) if at.size else np.zeros(0)
        yaw = np.sum(rec.gyr_rads * up, axis=1)
        low, high = self.laterality_band_hz
        yaw_f = signal.sosfiltfilt(signal.butter(4, (low, high), "bandpass", fs=fs, output="sos"), yaw)
        events: list[Event] = []
        sequences: list[tuple[float, float]] = []
        steps: list[np.ndarray] = []
        for a, b in _bouts(t_all, self.min_step_s, self.max_step_s, self.min_bout_steps):
            t = t_all[a:b]
            yaw_at = np.interp(at[a:b], np.arange(n), yaw_f)
            if _alternation(yaw_at) <= self.min_alternation:
                continue  # the pelvis did not turn left-right-left with the bounces: not walking
            sides, conf = _alternation_sides(yaw_at, self.laterality_window_steps // 2)
            events += [
                Event(t_s=float(ti), name="initial_contact", side=s, confidence=float(c))  # type: ignore[arg-type]
                for ti, s, c in zip(t, sides, conf, strict=True)
            ]
            sequences.append((float(t[0]), float(t[-1])))
            steps.append(np.diff(t))
        step_times = np.concatenate(steps) if steps else np.zeros(0)
        cadence = 60.0 / float(np.median(step_times)) if step_times.size else None
        return GaitEvents(events, cadence, step_times, sequences)

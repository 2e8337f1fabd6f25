"""Initial contacts, their side, and cadence from one lower-back IMU.

Initial contacts: McCamley, Donati, Grimpampi & Mazza (2012), "An enhanced
estimate of initial contact and final contact instants of time using lower
trunk inertial sensor data", Gait Posture 36(2):316-318. The vertical
acceleration is integrated and then differentiated with a Gaussian continuous
wavelet transform (first derivative of a Gaussian, ``gaus1``); initial
contacts are the minima. The ``gaus1`` CWT at scale ``a`` (samples) is
``-sqrt(a)`` times the derivative of the signal smoothed by a Gaussian of
standard deviation ``a / sqrt(2)`` samples, so it is computed here as such
(``scipy.ndimage.gaussian_filter1d``, no wavelet package); a test checks
this against the CWT integral. The scale follows McCamley's wavelet
pseudo-frequency of 1.25 Hz (``gaus1`` centre frequency 0.2 cycles/sample:
scale = 0.2 fs / 1.25, 16 at 100 Hz).

"Vertical" is the direction of gravity measured by the accelerometer itself,
low-passed at 0.25 Hz (the tilt correction of Moe-Nilssen 1998, Clin
Biomech 13:320-327, made local in time), so a sensor worn tilted still
gives the vertical component.

Side: McCamley's rule on the angular rate about the vertical (pelvic yaw),
band-passed 0.5-2 Hz as Ullrich et al. (2021, IEEE EMBC) did: at a left
initial contact the pelvis turns clockwise seen from above (rate <= 0 about
the up direction, right-handed); at a right one, counter-clockwise. The up
direction is the same measured gravity direction, so no axis mapping is
needed; a declared mapping, when given, is only checked against it.

Cadence: steps per minute, 60 / median step time, over contacts that form
walking sequences (consecutive steps between ``min_step_s`` and
``max_step_s``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal

from kinematics.errors import InputError, InsufficientDataError
from kinematics.fusion.axes import AxisMapping
from kinematics.fusion.imu_io import ImuRecording
from kinematics.series import Event

__all__ = ["GaitEvents", "InitialContactDetector", "MatchResult", "gaus1_cwt", "match_events"]

GAUS1_CENTRE_FREQUENCY = 0.2  # pywt.central_frequency("gaus1"): cycles per sample at scale 1


def gaus1_cwt(x: np.ndarray, scale: float) -> np.ndarray:
    """Continuous wavelet transform with the ``gaus1`` wavelet at one scale.

    Parameters
    ----------
    x
        ``(n,)`` uniformly sampled signal.
    scale
        Wavelet scale in samples.

    Returns
    -------
    np.ndarray
        ``(n,)`` coefficients, ``-sqrt(scale) * d/dt (x * G)`` with ``G`` a
        unit-area Gaussian of standard deviation ``scale / sqrt(2)`` samples
        (``gaus1(t) = -2 t exp(-t^2) / norm``, the PyWavelets definition, up to
        its L2 normalisation constant).
    """
    sigma = scale / math.sqrt(2.0)
    return (
        -math.sqrt(scale)
        * math.sqrt(math.pi)
        * scale
        * ndimage.gaussian_filter1d(
            np.asarray(x, dtype=float),
            sigma,
            order=1,
            mode="nearest",
        )
    )


@dataclass(frozen=True)
class GaitEvents:
    """Initial contacts and cadence."""

    initial_contacts: list[Event]  # name "initial_contact", side left/right
    cadence_steps_per_min: float | None
    step_times_s: np.ndarray
    sequences: list[tuple[float, float]]  # (first, last) contact time of each walking sequence


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


@dataclass(frozen=True, kw_only=True)
class InitialContactDetector:
    """McCamley et al. (2012) initial contacts from a lower-back IMU.

    Parameters
    ----------
    wavelet_frequency_hz
        Pseudo-frequency of the ``gaus1`` wavelet (McCamley: 1.25 Hz).
    gravity_cutoff_hz
        Low-pass that estimates the direction of gravity in sensor axes.
    min_step_s, max_step_s
        Step times accepted inside a walking sequence.
    min_sequence_steps
        Fewest consecutive contacts that count as walking; isolated contacts
        (shuffles, sitting down) are dropped.
    min_prominence_mps2
        Smallest prominence of a contact's peak in the smoothed vertical
        acceleration.
    laterality_band_hz
        Band-pass of the yaw rate used for the side (Ullrich et al. 2021).
    """

    wavelet_frequency_hz: float = 1.25
    gravity_cutoff_hz: float = 0.25
    min_step_s: float = 0.25
    max_step_s: float = 1.25
    min_sequence_steps: int = 4
    min_prominence_mps2: float = 0.3
    laterality_band_hz: tuple[float, float] = (0.5, 2.0)

    def detect(self, rec: ImuRecording, *, axes: AxisMapping | None = None) -> GaitEvents:
        """Initial contacts (left/right) and cadence.

        Parameters
        ----------
        rec
            Lower-back / sacrum recording, uniformly sampled.
        axes
            Declared sensor-to-body mapping; when given, its up axis must be
            within 45 deg of the measured gravity (a wrongly declared mapping
            is reported rather than silently producing swapped sides).
        """
        if rec.placement not in ("sacrum", "lower_back", "pelvis"):
            raise InputError(
                f"{rec.source}: initial contacts need a lower-back or sacrum sensor, this one is on the {rec.placement}"
            )
        fs = rec.sampling_rate_hz
        n = len(rec)
        if n < int(4 * fs):
            raise InsufficientDataError(f"{rec.source}: {n / fs:.1f} s of data; gait needs at least 4 s")
        sos = signal.butter(2, self.gravity_cutoff_hz, fs=fs, output="sos")
        gravity = signal.sosfiltfilt(sos, rec.acc_mps2, axis=0)
        up = gravity / np.linalg.norm(gravity, axis=1, keepdims=True)
        if axes is not None:
            declared = axes.body_from_sensor()[1]
            angle = float(np.degrees(np.arccos(np.clip(up.mean(axis=0) @ declared, -1.0, 1.0))))
            if angle > 45.0:
                raise InputError(
                    f"{rec.source}: the declared up axis ({axes.up}) is {angle:.0f} deg from the "
                    "measured gravity; check the axis mapping"
                )
        vertical = np.sum(rec.acc_mps2 * up, axis=1)
        vertical = signal.detrend(vertical)
        velocity = np.concatenate([[0.0], np.cumsum(0.5 * (vertical[1:] + vertical[:-1]) / fs)])
        scale = GAUS1_CENTRE_FREQUENCY * fs / self.wavelet_frequency_hz
        cwt = gaus1_cwt(velocity, scale)
        # -cwt / (sqrt(a) sqrt(pi) a) * fs is the Gaussian-smoothed vertical acceleration in m/s^2
        smoothed = -cwt * fs / (math.sqrt(scale) * math.sqrt(math.pi) * scale)
        peaks, _ = signal.find_peaks(
            smoothed, distance=max(1, int(self.min_step_s * fs)), prominence=self.min_prominence_mps2
        )
        keep, sequences = self._sequences(rec.t_s[peaks])
        peaks = peaks[keep]
        yaw = np.sum(rec.gyr_rads * up, axis=1)
        low, high = self.laterality_band_hz
        yaw_f = signal.sosfiltfilt(signal.butter(4, (low, high), "bandpass", fs=fs, output="sos"), yaw)
        events = []
        for p in peaks:
            strength = abs(float(yaw_f[p])) / (float(np.std(yaw_f)) + 1e-12)
            events.append(
                Event(
                    t_s=float(rec.t_s[p]),
                    name="initial_contact",
                    side="left" if yaw_f[p] <= 0 else "right",
                    confidence=float(min(1.0, strength)),
                )
            )
        steps = (
            np.concatenate(
                [np.diff(rec.t_s[peaks][(rec.t_s[peaks] >= a) & (rec.t_s[peaks] <= b)]) for a, b in sequences]
            )
            if sequences
            else np.zeros(0)
        )
        cadence = 60.0 / float(np.median(steps)) if steps.size else None
        return GaitEvents(events, cadence, steps, sequences)

    def _sequences(self, t: np.ndarray) -> tuple[np.ndarray, list[tuple[float, float]]]:
        keep = np.zeros(t.shape[0], dtype=bool)
        sequences = []
        start = 0
        for i in range(1, t.shape[0] + 1):
            if i == t.shape[0] or not (self.min_step_s <= t[i] - t[i - 1] <= self.max_step_s):
                if i - start >= self.min_sequence_steps:
                    keep[start:i] = True
                    sequences.append((float(t[start]), float(t[i - 1])))
                start = i
        return keep, sequences

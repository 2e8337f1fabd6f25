"""Clock offset between an IMU and a video, from a pelvis signal both measure.

Both signals are put on one uniform grid, low-passed with the same zero-lag
filter (so that neither is delayed relative to the other), differentiated
(angle -> angular velocity, which removes each one's offset and most of the
IMU's drift), and the Pearson correlation is computed at every lag in the
search range over the samples both have (gaps are skipped, not filled).
The lag of the highest correlation, refined to a fraction of a grid sample
by a parabola through the peak and its neighbours, is the offset.

Convention: ``t_video = t_imu + offset_s``.

How far to trust it: ``peak_r`` (the correlation at the peak), ``second_r``
(the best correlation outside the peak's own lobe: a repetitive movement
correlates at every repetition, and a second peak close to the first means
the offset may be off by one repetition) and ``lobe_width_s`` (the peak's
full width at half height: narrower is sharper). ``confidence`` combines
them: ``peak_r * clip((peak_r - second_r) / (0.5 * peak_r), 0, 1)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import signal as _signal

from kinematics.filtering import LowPass, contiguous_runs
from kinematics.fusion.errors import SynchronisationError
from kinematics.fusion.imu_io import STANDARD_GRAVITY_MPS2, ImuRecording
from kinematics.series import Series

__all__ = ["ClockOffset", "ClockSync", "vertical_acceleration"]


def vertical_acceleration(rec: ImuRecording, *, gravity_cutoff_hz: float = 0.25) -> Series:
    """Acceleration along the vertical minus 1 g, m/s^2 (up positive), on the IMU clock.

    The vertical is the accelerometer's own low-passed direction (as in
    :mod:`kinematics.fusion.gait`). Correlate with the video's hip-midpoint
    height twice differentiated (``video_derivative=2``), with
    ``video_sign=-1`` for image y pointing down.
    """
    sos = _signal.butter(2, gravity_cutoff_hz, fs=rec.sampling_rate_hz, output="sos")
    g = _signal.sosfiltfilt(sos, rec.acc_mps2, axis=0)
    up = g / np.linalg.norm(g, axis=1, keepdims=True)
    values = np.sum(rec.acc_mps2 * up, axis=1) - STANDARD_GRAVITY_MPS2
    return Series(rec.t_s, values, "m/s^2", np.ones(len(rec)))


@dataclass(frozen=True)
class ClockOffset:
    """``t_video = t_imu + offset_s``, with how it was found and how far to trust it."""

    offset_s: float
    method: Literal["cross_correlation", "manual"]
    confidence: float
    peak_r: float | None = None
    second_r: float | None = None
    lobe_width_s: float | None = None
    overlap_s: float | None = None
    signal: str | None = None

    @classmethod
    def manual(cls, offset_s: float) -> ClockOffset:
        """An offset the user measured (e.g. a clap seen in both), trusted as given."""
        if not math.isfinite(offset_s):
            raise SynchronisationError(f"a manual offset must be a finite number of seconds, got {offset_s}")
        return cls(offset_s=float(offset_s), method="manual", confidence=1.0)


def _uniform(series: Series, dt: float, max_gap_s: float) -> tuple[float, np.ndarray]:
    """Linear resampling onto ``t0 + k dt``; NaN across gaps longer than ``max_gap_s``."""
    t, v = series.t_s, np.where(series.valid, series.values.reshape(len(series), -1)[:, 0], np.nan)
    valid = np.isfinite(v)
    if valid.sum() < 2:
        return float(t[0]), np.full(1, np.nan)
    tv, vv = t[valid], v[valid]
    t0 = float(tv[0])
    grid = t0 + dt * np.arange(math.floor((tv[-1] - t0) / dt) + 1)
    out = np.interp(grid, tv, vv)
    # blank grid points inside long gaps between valid samples
    k = np.searchsorted(tv, grid, side="right")
    k = np.clip(k, 1, tv.shape[0] - 1)
    out[(tv[k] - tv[k - 1]) > max_gap_s] = np.nan
    return t0, out


def _differentiate(x: np.ndarray, dt: float, order: int) -> np.ndarray:
    out = x.copy()
    for _ in range(order):
        d = np.full_like(out, np.nan)
        for a, b in contiguous_runs(np.isfinite(out)):
            if b - a >= 3:
                d[a:b] = np.gradient(out[a:b], dt)
        out = d
    return out


@dataclass(frozen=True, kw_only=True)
class ClockSync:
    """Estimate the IMU-to-video clock offset by cross-correlation.

    Parameters
    ----------
    max_lag_s
        Offsets searched: ``prior_s +- max_lag_s``.
    grid_hz
        Common sampling rate for the comparison (0.01 s steps at 100 Hz; the
        parabola refines below that).
    cutoff_hz
        Zero-lag low-pass applied to both before differentiating: video
        jitter dominates above a few Hz, so higher frequencies only add noise.
    min_overlap_s
        Fewest seconds of shared valid samples for a lag to count.
    min_peak_r
        Below this peak correlation no offset is returned
        (:class:`~kinematics.fusion.errors.SynchronisationError`).
    max_gap_s
        Video gaps longer than this are not interpolated.
    """

    max_lag_s: float = 10.0
    grid_hz: float = 100.0
    cutoff_hz: float = 3.0
    min_overlap_s: float = 5.0
    min_peak_r: float = 0.3
    max_gap_s: float = 0.2

    def estimate(
        self,
        imu: Series,
        video: Series,
        *,
        prior_s: float = 0.0,
        imu_derivative: int = 1,
        video_derivative: int = 1,
        video_sign: float = 1.0,
        signal: str = "pelvic obliquity rate",
    ) -> ClockOffset:
        """Find ``offset_s`` such that ``video(t_imu + offset_s)`` matches ``imu(t_imu)``.

        Parameters
        ----------
        imu, video
            The same quantity seen by both (e.g. pelvic obliquity in deg), each
            on its own clock. Only the first column of ``values`` is used.
        prior_s
            Centre of the search (e.g. the difference of the recordings' start times).
        imu_derivative, video_derivative
            How often each is differentiated before correlating: 1 and 1 for
            angles; 0 and 2 for IMU vertical acceleration against the video's
            hip-midpoint height.
        video_sign
            -1 when the video quantity points the other way (image y is down).
        signal
            Name recorded in the result.
        """
        dt = 1.0 / self.grid_hz
        lowpass = LowPass(cutoff_hz=self.cutoff_hz)
        ti0, xi = _uniform(imu, dt, self.max_gap_s)
        tv0, xv = _uniform(video, dt, self.max_gap_s)
        if xi.shape[0] < 4 or xv.shape[0] < 4:
            raise SynchronisationError("too few valid samples in the IMU or the video signal to synchronise")
        gi = ti0 + dt * np.arange(xi.shape[0])
        gv = tv0 + dt * np.arange(xv.shape[0])
        xi = _differentiate(lowpass.apply(gi, xi), dt, imu_derivative)
        xv = video_sign * _differentiate(lowpass.apply(gv, xv), dt, video_derivative)
        # lag L pairs xi[i] with xv[i + L]: offset = tv0 - ti0 + L dt
        base = tv0 - ti0
        lags = np.arange(
            math.floor((prior_s - self.max_lag_s - base) / dt), math.ceil((prior_s + self.max_lag_s - base) / dt) + 1
        )
        r = np.full(lags.shape[0], np.nan)
        overlap = np.zeros(lags.shape[0])
        vi, vv = np.isfinite(xi), np.isfinite(xv)
        min_n = int(self.min_overlap_s / dt)
        ni, nv = xi.shape[0], xv.shape[0]
        for j, lag in enumerate(lags.tolist()):
            a0, a1 = max(0, -lag), min(ni, nv - lag)
            if a1 - a0 < min_n:
                continue
            a, b = xi[a0:a1], xv[a0 + lag : a1 + lag]
            both = vi[a0:a1] & vv[a0 + lag : a1 + lag]
            m = int(both.sum())
            overlap[j] = m * dt
            if m < min_n:
                continue
            a, b = a[both], b[both]
            a = a - a.mean()
            b = b - b.mean()
            den = math.sqrt(float(a @ a) * float(b @ b))
            r[j] = float(a @ b) / den if den > 0 else np.nan
        if not np.any(np.isfinite(r)):
            raise SynchronisationError(
                f"the IMU and the video share less than {self.min_overlap_s:g} s of valid signal at every offset "
                f"within {prior_s:g} +- {self.max_lag_s:g} s; give the offset manually"
            )
        k = int(np.nanargmax(r))
        peak = float(r[k])
        if peak < self.min_peak_r:
            raise SynchronisationError(
                f"best correlation {peak:.2f} (at offset {base + lags[k] * dt:.3f} s) is below {self.min_peak_r}: "
                "the two signals do not share enough movement; give the offset manually"
            )
        delta = 0.0
        if 0 < k < r.shape[0] - 1 and np.isfinite(r[k - 1]) and np.isfinite(r[k + 1]):
            den = r[k - 1] - 2 * r[k] + r[k + 1]
            if den < 0:
                delta = float(np.clip(0.5 * (r[k - 1] - r[k + 1]) / den, -0.5, 0.5))
        # the peak's lobe: out to where r falls below half the peak on each side
        lo, hi = k, k
        while lo > 0 and np.isfinite(r[lo - 1]) and r[lo - 1] > 0.5 * peak:
            lo -= 1
        while hi < r.shape[0] - 1 and np.isfinite(r[hi + 1]) and r[hi + 1] > 0.5 * peak:
            hi += 1
        # the lobe extends to the first minimum beyond the half-height points
        lo2, hi2 = lo, hi
        while lo2 > 0 and np.isfinite(r[lo2 - 1]) and r[lo2 - 1] <= r[lo2]:
            lo2 -= 1
        while hi2 < r.shape[0] - 1 and np.isfinite(r[hi2 + 1]) and r[hi2 + 1] <= r[hi2]:
            hi2 += 1
        outside = np.concatenate([r[:lo2], r[hi2 + 1 :]])
        second = float(np.nanmax(outside)) if np.any(np.isfinite(outside)) else 0.0
        confidence = max(peak, 0.0) * float(np.clip((peak - second) / (0.5 * peak), 0.0, 1.0))
        return ClockOffset(
            offset_s=float(base + (lags[k] + delta) * dt),
            method="cross_correlation",
            confidence=confidence,
            peak_r=peak,
            second_r=second,
            lobe_width_s=float((hi - lo + 1) * dt),
            overlap_s=float(overlap[k]),
            signal=signal,
        )

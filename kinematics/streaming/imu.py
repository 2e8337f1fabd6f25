"""Causal pelvic tilt and obliquity: :func:`~kinematics.fusion.pelvis_orientation`, one block at a time.

The offline estimate calibrates on a still stand (:func:`~kinematics.fusion.calibrate_static`),
then runs the Mahony filter forwards from the stand and, for the samples before it, backwards.
The filter itself is causal: each step uses the samples at the two ends of its interval, so
the live estimate is the offline forward pass, sample for sample, from the same stand, with no
added delay beyond the sample interval. What differs, stated:

- **the stand**: offline takes the stillest ``length_s`` in the first ``search_s`` (or a given
  window); live takes the given window once it has passed, or else the *first* window still
  enough (gyroscope SD at most ``max_gyro_sd_dps``), or at ``search_s`` the stillest so far
  (flagged not still). With the same window both give the same numbers
  (:attr:`PelvisBlock.calibration` says which window was used, so that the offline analysis of
  the recording can be given it).
- **before the stand**: no angle (NaN); offline runs the filter backwards there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinematics.errors import InputError, InsufficientDataError
from kinematics.fusion.axes import AxisMapping, StaticCalibration, calibrate_static
from kinematics.fusion.imu_io import ImuRecording
from kinematics.fusion.orientation import PELVIS_PLACEMENTS, MahonyFilter, quat_to_up, tilt_obliquity_deg

__all__ = ["CausalPelvis", "PelvisBlock", "PelvisStream"]


@dataclass(frozen=True, eq=False)
class PelvisBlock:
    """What one block of IMU samples produced.

    Attributes
    ----------
    t_s
        ``(m,)`` the samples' times on the IMU clock.
    tilt_deg, obliquity_deg
        ``(m,)`` as :func:`~kinematics.fusion.pelvis_orientation` (> 0 anterior tilt; > 0 the
        LEFT side higher); NaN until the calibration stand has been found, and for samples
        before it.
    calibration
        The stand the stream calibrated on, None until it has one.
    """

    t_s: np.ndarray
    tilt_deg: np.ndarray
    obliquity_deg: np.ndarray
    calibration: StaticCalibration | None


@dataclass(frozen=True, kw_only=True)
class CausalPelvis:
    """The live form of :func:`~kinematics.fusion.pelvis_orientation`.

    Parameters
    ----------
    axes
        Declared sensor-to-body mapping.
    estimator
        The offline orientation filter, unchanged.
    calibration_window_s
        ``(start, end)`` of a still stand on the IMU clock, as offline; None: found live.
    search_s, length_s, max_gyro_sd_dps, posture_tilt_deg, posture_obliquity_deg
        As :func:`~kinematics.fusion.calibrate_static`.
    """

    axes: AxisMapping
    estimator: MahonyFilter = MahonyFilter()
    calibration_window_s: tuple[float, float] | None = None
    search_s: float = 10.0
    length_s: float = 1.0
    max_gyro_sd_dps: float = 2.0
    posture_tilt_deg: float = 0.0
    posture_obliquity_deg: float = 0.0

    def start(self, sampling_rate_hz: float, *, placement: str = "lower_back") -> PelvisStream:
        """A new stream of one pelvis IMU sampled at about ``sampling_rate_hz``."""
        if placement not in PELVIS_PLACEMENTS:
            raise InputError(
                f"pelvic angles need a sensor on the sacrum, lower back or pelvis; this one is on the {placement}"
            )
        if not sampling_rate_hz > 0:
            raise InputError(f"sampling_rate_hz must be > 0, got {sampling_rate_hz}")
        self.axes.body_from_sensor()  # refuses a mirrored mapping now, not at the stand
        return PelvisStream(self, float(sampling_rate_hz), placement)


class PelvisStream:
    """One IMU stream's calibration and filter state; :meth:`push` blocks in time order."""

    def __init__(self, config: CausalPelvis, fs: float, placement: str) -> None:
        self.config, self.sampling_rate_hz, self.placement = config, fs, placement
        self.calibration: StaticCalibration | None = None
        self._t: list[float] = []  # samples kept until the stand is found
        self._acc: list[np.ndarray] = []
        self._gyr: list[np.ndarray] = []
        self._rot: np.ndarray | None = None
        self._last: tuple[float, np.ndarray, np.ndarray] | None = None  # (t, acc_body, gyr_body)
        self._q = np.zeros(4)
        self._b = np.zeros(3)

    @property
    def latency_s(self) -> float:
        """Delay the filter adds: none beyond the sample itself (each step ends at the new sample)."""
        return 0.0

    def push(self, t_s: np.ndarray, acc_mps2: np.ndarray, gyr_rads: np.ndarray) -> PelvisBlock:
        """Sensor-axis acceleration ``(m, 3)`` m/s^2 and rate ``(m, 3)`` rad/s at ``t_s`` ``(m,)``."""
        t_s = np.asarray(t_s, dtype=float).reshape(-1)
        m = t_s.shape[0]
        acc, gyr = np.asarray(acc_mps2, dtype=float), np.asarray(gyr_rads, dtype=float)
        if acc.shape != (m, 3) or gyr.shape != (m, 3):
            raise InputError(f"acc and gyr must be ({m}, 3), got {acc.shape} and {gyr.shape}")
        if not (np.all(np.isfinite(acc)) and np.all(np.isfinite(gyr)) and np.all(np.isfinite(t_s))):
            raise InputError("IMU samples and their times must be finite numbers")
        previous = self._last[0] if self._last is not None else (self._t[-1] if self._t else -np.inf)
        if m and (np.any(np.diff(t_s) <= 0) or t_s[0] <= previous):
            raise InputError("IMU sample times must increase, within and across blocks")
        tilt, obliquity = np.full(m, np.nan), np.full(m, np.nan)
        if self.calibration is None:
            self._t += t_s.tolist()
            self._acc += list(acc)
            self._gyr += list(gyr)
            found = self._find_stand()
            if found is not None:
                t_all, a_all, g_all, i0, known = found
                first = len(self._t) - m  # index of this block's first sample in the kept samples
                q = self._run_from_stand(t_all, a_all, g_all, i0)
                t_deg, o_deg = tilt_obliquity_deg(quat_to_up(q))
                # angles from the sample at which the stand was known, whatever the blocks
                lo = max(first, known)
                tilt[lo - first :] = t_deg[lo - i0 :]
                obliquity[lo - first :] = o_deg[lo - i0 :]
                self._t, self._acc, self._gyr = [], [], []
        elif m:
            assert self._rot is not None and self._last is not None
            t0, a0, g0 = self._last
            a_body, g_body = acc @ self._rot.T, gyr @ self._rot.T
            q, b = self.config.estimator.resume(
                np.concatenate([[t0], t_s]),
                np.vstack([a0, a_body]),
                np.vstack([g0, g_body]),
                quaternion=self._q,
                bias_rads=self._b,
            )
            self._q, self._b = q[-1], b[-1]
            self._last = (float(t_s[-1]), a_body[-1], g_body[-1])
            tilt, obliquity = tilt_obliquity_deg(quat_to_up(q[1:]))
        return PelvisBlock(t_s, tilt, obliquity, self.calibration)

    # -- the stand -----------------------------------------------------------------------------------

    def _find_stand(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int] | None:
        """The kept samples, the stand's first index and the index of the sample at which the
        stand became known (sample by sample), once it is; calibrates."""
        cfg = self.config
        t = np.asarray(self._t)
        if t.shape[0] < 2:
            return None
        gyr = np.asarray(self._gyr)
        window: tuple[float, float] | None = None
        if cfg.calibration_window_s is not None:
            if t[-1] < cfg.calibration_window_s[1]:
                return None
            window = cfg.calibration_window_s
            known = int(np.searchsorted(t, window[1]))
        else:
            w = max(round(cfg.length_s * self.sampling_rate_hz), 2)
            if t.shape[0] < w:
                return None
            searched = t[-1] - t[0] >= cfg.search_s
            limit = int(np.searchsorted(t, t[0] + cfg.search_s)) if searched else t.shape[0]
            g = gyr[: max(limit, w)]
            c1 = np.cumsum(np.vstack([np.zeros((1, 3)), g]), axis=0)
            c2 = np.cumsum(np.vstack([np.zeros((1, 3)), g**2]), axis=0)
            var = (((c2[w:] - c2[:-w]) / w) - ((c1[w:] - c1[:-w]) / w) ** 2).sum(axis=1)
            still = np.flatnonzero(np.degrees(np.sqrt(np.clip(var, 0.0, None))) <= cfg.max_gyro_sd_dps)
            if still.size:
                start = int(still[0])
                known = start + w - 1
            elif searched:
                start = int(np.argmin(var))
                known = int(np.searchsorted(t, t[0] + cfg.search_s))
            else:
                return None
            window = (float(t[start]), float(t[start + w - 1]) + 0.5 / self.sampling_rate_hz)
        rec = ImuRecording(
            t_s=t,
            acc_mps2=np.asarray(self._acc),
            gyr_rads=gyr,
            placement=self.placement,  # type: ignore[arg-type]
            sampling_rate_hz=self.sampling_rate_hz,
            source="live",
            format="generic",
        )
        try:
            cal = calibrate_static(
                rec,
                cfg.axes,
                window_s=window,
                max_gyro_sd_dps=cfg.max_gyro_sd_dps,
                posture_tilt_deg=cfg.posture_tilt_deg,
                posture_obliquity_deg=cfg.posture_obliquity_deg,
            )
        except InsufficientDataError:
            if cfg.calibration_window_s is not None:
                raise
            return None
        self.calibration = cal
        self._rot = cal.body_from_sensor
        i0 = int(np.searchsorted(t, cal.window_s[0]))
        return t, rec.acc_mps2, gyr, i0, max(known, i0)

    def _run_from_stand(self, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray, i0: int) -> np.ndarray:
        """The offline forward pass from the stand over the kept samples; keeps the filter state."""
        assert self.calibration is not None and self._rot is not None
        cal, rot = self.calibration, self._rot
        acc_body, gyr_body = acc @ rot.T, gyr @ rot.T
        i1 = int(np.searchsorted(t, cal.window_s[1])) + 1
        start_up = acc_body[i0:i1].mean(axis=0)
        q, b = self.config.estimator.estimate(
            t[i0:], acc_body[i0:], gyr_body[i0:], bias_rads=rot @ cal.gyro_bias_rads, initial_up=start_up
        )
        self._q, self._b = q[-1], b[-1]
        self._last = (float(t[-1]), acc_body[-1], gyr_body[-1])
        return q

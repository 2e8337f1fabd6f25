"""One pelvic obliquity from video (drift-free, noisy, ~30 fps) and IMU (smooth, fast, drifting).

Method: a complementary Kalman filter in error-state form (Higgins 1975,
"A comparison of complementary and Kalman filtering", IEEE Trans. Aerosp.
Electron. Syst. 11(3):321-325), followed by a Rauch-Tung-Striebel smoother
(Rauch, Tung & Striebel 1965, AIAA J 3(8):1445-1450) because the analysis is
offline and a smoother has no lag. The IMU angle is taken as truth plus a
slowly wandering error ``d`` (gyroscope drift, the calibration stand's own
obliquity, acceleration leaking into the gravity reference); ``d`` is a
random walk with intensity ``drift_deg_per_sqrt_s``. Every valid video frame
measures ``imu(t_frame) - video(t_frame) = d + noise`` with variance
``video_sd_deg^2 / confidence``. The fused angle is ``imu - d_smoothed``: the
IMU's shape at the IMU's rate, anchored to the video's absolute level, with
the video's noise averaged over many frames. Video gaps just widen the
uncertainty; frames are never dropped or invented.

Confidence of each fused sample: ``imu confidence / (1 + var_d / confidence_scale_deg^2)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kinematics.errors import InputError, InsufficientDataError
from kinematics.fusion.sync import ClockOffset
from kinematics.series import Series

__all__ = ["FusedAngle", "ObliquityFusion"]


@dataclass(frozen=True, eq=False)
class FusedAngle:
    """The fused angle on the video clock, and what went into it."""

    angle: Series  # deg at the IMU's samples, times on the video clock
    sd_deg: np.ndarray  # (n,) posterior standard deviation of the correction
    imu_offset_deg: np.ndarray  # (n,) d: how far the IMU angle was from the video level
    frames_used: int
    normalised_innovation_rms: float  # ~1 when video_sd_deg and the drift model fit the data


def _kalman_rts(
    n: int,
    dt: np.ndarray,
    q: float,
    p0: float,
    idx: np.ndarray,
    z: np.ndarray,
    r: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Scalar random-walk Kalman filter + RTS smoother on ``n`` steps.

    ``idx`` (sorted) are the steps that carry measurements ``z`` with variances ``r``.
    Returns smoothed mean, smoothed variance and the RMS of normalised innovations.
    """
    xf = np.empty(n)
    pf = np.empty(n)
    pp = np.empty(n)
    x, p = 0.0, p0
    j = 0
    m = idx.shape[0]
    nis: list[float] = []
    idx_l, z_l, r_l, dt_l = idx.tolist(), z.tolist(), r.tolist(), dt.tolist()
    for k in range(n):
        if k > 0:
            p += q * dt_l[k - 1]
        pp[k] = p
        while j < m and idx_l[j] == k:
            s = p + r_l[j]
            innov = z_l[j] - x
            nis.append(innov * innov / s)
            gain = p / s
            x += gain * innov
            p *= 1.0 - gain
            j += 1
        xf[k], pf[k] = x, p
    xs, ps = xf.copy(), pf.copy()
    for k in range(n - 2, -1, -1):
        c = pf[k] / pp[k + 1]
        xs[k] = xf[k] + c * (xs[k + 1] - xf[k])  # random walk: the prediction of k+1 is xf[k]
        ps[k] = pf[k] + c * c * (ps[k + 1] - pp[k + 1])
    return xs, ps, math.sqrt(float(np.mean(nis))) if nis else math.nan


@dataclass(frozen=True, kw_only=True)
class ObliquityFusion:
    """Fuse IMU and video pelvic obliquity.

    Parameters
    ----------
    video_sd_deg
        Standard deviation of one video frame's angle at confidence 1.
        2 deg: BlazePose hips jitter ~1.7 px (docs/validation.md, synthetic
        ground truth) and frontal-plane camera angles carry a few degrees of
        view error (shared/notes/clinical.md).
    drift_deg_per_sqrt_s
        How fast the IMU angle's error may wander (random-walk intensity):
        0.3 deg/sqrt(s) allows ~1 deg in 10 s. Smaller trusts the IMU's shape
        for longer and averages more frames.
    initial_sd_deg
        Prior on the IMU's offset before any frame is seen.
    confidence_scale_deg
        Correction uncertainty at which the confidence is halved.
    min_confidence
        Video frames below this confidence are ignored.
    """

    video_sd_deg: float = 2.0
    drift_deg_per_sqrt_s: float = 0.3
    initial_sd_deg: float = 10.0
    confidence_scale_deg: float = 1.0
    min_confidence: float = 0.05

    def fuse(self, imu: Series, video: Series, *, offset: ClockOffset | float = 0.0) -> FusedAngle:
        """Combine the two.

        Parameters
        ----------
        imu
            Obliquity from the IMU (deg), on the IMU clock, e.g.
            :func:`~kinematics.fusion.orientation.pelvis_orientation`.
        video
            Obliquity from video (deg), on the video clock, NaN where not
            measured, with per-frame confidence.
        offset
            ``t_video = t_imu + offset_s`` (:class:`~kinematics.fusion.sync.ClockOffset`
            or seconds).

        Returns
        -------
        FusedAngle
            ``angle`` at every IMU sample, with ``t_s`` on the *video* clock.
        """
        for name, s in (("imu", imu), ("video", video)):
            if s.unit != "deg":
                raise InputError(f"{name} obliquity must be in deg, got {s.unit!r}")
        if min(self.video_sd_deg, self.drift_deg_per_sqrt_s, self.initial_sd_deg, self.confidence_scale_deg) <= 0:
            raise InputError("video_sd_deg, drift_deg_per_sqrt_s, initial_sd_deg and confidence_scale_deg must be > 0")
        offset_s = offset.offset_s if isinstance(offset, ClockOffset) else float(offset)
        t_imu = imu.t_s
        x_imu = imu.values.reshape(len(imu), -1)[:, 0]
        ok_imu = imu.valid & np.isfinite(x_imu)
        if ok_imu.sum() < 2:
            raise InsufficientDataError("the IMU obliquity has fewer than 2 valid samples")
        t_frames = video.t_s - offset_s  # onto the IMU clock
        y = video.values.reshape(len(video), -1)[:, 0]
        use = video.valid & (video.confidence >= self.min_confidence) & np.isfinite(y)
        use &= (t_frames >= t_imu[0]) & (t_frames <= t_imu[-1])
        t_frames, y, conf = t_frames[use], y[use], video.confidence[use]
        imu_at_frames = np.interp(t_frames, t_imu[ok_imu], x_imu[ok_imu])
        idx = np.clip(np.searchsorted(t_imu, t_frames), 0, len(imu) - 1)
        prev = np.clip(idx - 1, 0, None)
        idx = np.where(np.abs(t_imu[prev] - t_frames) < np.abs(t_imu[idx] - t_frames), prev, idx)
        order = np.argsort(idx, kind="stable")
        z = (imu_at_frames - y)[order]
        r = (self.video_sd_deg**2 / conf)[order]
        d, var, nis = _kalman_rts(
            len(imu),
            np.diff(t_imu),
            self.drift_deg_per_sqrt_s**2,
            self.initial_sd_deg**2,
            idx[order],
            z,
            r,
        )
        fused = np.where(ok_imu, x_imu - d, np.nan)
        confidence = np.where(ok_imu, imu.confidence / (1.0 + var / self.confidence_scale_deg**2), 0.0)
        sd = np.sqrt(var)
        for a in (sd, d):
            a.flags.writeable = False
        return FusedAngle(
            angle=Series(t_imu + offset_s, fused, "deg", confidence),
            sd_deg=sd,
            imu_offset_deg=d,
            frames_used=int(z.shape[0]),
            normalised_innovation_rms=nis,
        )

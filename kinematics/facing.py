"""Which way the subject faces the camera, frame by frame, with its uncertainty.

Body yaw is fused from several cues of one camera's landmarks, each a
likelihood over a grid of yaw angles, then smoothed over time by a hidden
Markov model whose state is the yaw (the person turns smoothly), run forwards
and backwards so the estimate has no lag.

Cues, in the trunk's own image frame (``up`` from the hip midpoint to the
shoulder midpoint, ``across`` = ``up`` turned a quarter clockwise on screen,
i.e. image ``+x`` for an upright subject), lengths divided by the trunk length:

===================================  ==========================  =================
cue                                  model                       depends on labels
===================================  ==========================  =================
shoulder line along ``across``       ``0.72 cos(yaw)``           yes
hip line along ``across``            ``0.45 cos(yaw)``           yes
depth of the left side minus right   same sign as ``sin(yaw)``   yes
toes ahead of heels along ``across`` ``0.35 sin(yaw)``           no
toes below heels (along ``-up``)     ``0.18 cos(yaw)``           no
nose ahead of the ears (``across``)  ``0.15 sin(yaw)``           no
nose depth minus ear depth           opposite sign to cos(yaw)   no
===================================  ==========================  =================

The widths give how far the body is turned, the toes and the nose which side
faces the camera and whether it is the front or the back. The left/right
labels of a pose model can swap (most often on a back view); a swap negates
every label-dependent cue at once, which is the same as turning the body by
180 deg, so the label-dependent cues enter as a mixture of the yaw and the yaw
plus 180 deg (:attr:`YawEstimator.label_swap_prob`), and only the
label-independent cues (feet, nose) tell front from back. Depth enters only
through signs: BlazePose's depth overstated rotation 2-7 times on the
pose2sim four-camera reference (docs/validation.md).

Conventions: yaw in deg, (-180, 180]; 0 facing the camera, +-180 back to it,
+90 side-on with the subject's right side toward the camera (facing image
``+x`` when upright), -90 with the left side toward it (facing image ``-x``);
this is :class:`kinematics.synth.Camera`'s ``yaw_deg``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from kinematics.series import LandmarkSeries, Series

__all__ = ["YawEstimator", "YawTrack"]


@dataclass(frozen=True, eq=False)
class YawTrack:
    """Body yaw per sample with its uncertainty; time on axis 0.

    Attributes
    ----------
    t_s
        ``(n,)`` seconds.
    yaw_deg
        ``(n,)`` posterior mode refined by the local mean, deg; NaN where the
        shoulders and hips were not all measured.
    yaw_sd_deg
        ``(n,)`` posterior standard deviation about ``yaw_deg`` combined with
        the cue models' own error (:attr:`YawEstimator.model_sd_deg`), deg; a
        front/back ambiguity shows as ~90 deg or more. NaN where ``yaw_deg`` is.
    front_prob
        ``(n,)`` posterior probability that the subject's front faces the
        camera (``|yaw| < 90``).
    confidence
        ``(n,)`` in [0, 1]: the lowest visibility of shoulders and hips, scaled
        down as ``yaw_sd_deg`` grows (1 at <= 10 deg, 0 at >= 45 deg).
    off_frontal_sd_deg
        ``(n,)`` posterior standard deviation of the folded yaw (0 facing the
        camera or back to it, 90 side-on), deg: what the view depends on. A
        front/back ambiguity, large in ``yaw_sd_deg``, does not enter it, since
        both readings are the same distance from a frontal view.
    label_swap_prob
        ``(n,)`` posterior probability that the sample's left/right labels are
        swapped: the labelled cues (which side is where) contradict the
        anatomical ones (face and feet). Throughout a recording this means a
        mirrored (selfie) picture or landmark file; NaN where unmeasured.
    """

    t_s: np.ndarray
    yaw_deg: np.ndarray
    yaw_sd_deg: np.ndarray
    front_prob: np.ndarray
    confidence: np.ndarray
    label_swap_prob: np.ndarray
    off_frontal_sd_deg: np.ndarray

    @property
    def series(self) -> Series:
        """``yaw_deg`` as a :class:`Series` in deg."""
        return Series(self.t_s, self.yaw_deg, "deg", self.confidence)


_CORE = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")


def _wrap_deg(a: np.ndarray) -> np.ndarray:
    return (np.asarray(a) + 180.0) % 360.0 - 180.0


def _gauss(obs: np.ndarray, pred: np.ndarray, sd: float) -> np.ndarray:
    """Log-likelihood ``(n, B)`` of ``obs`` ``(n,)`` under ``pred`` ``(B,)``; 0 where obs is NaN."""
    z = (obs[:, None] - pred[None, :]) / sd
    return np.where(np.isnan(obs)[:, None], 0.0, -0.5 * z * z)


def _sign_cue(obs: np.ndarray, pred_sign: np.ndarray, scale: float, floor: float) -> np.ndarray:
    """Log-likelihood that ``obs`` has the sign of ``pred_sign`` (B,), softly, never below ``floor``."""
    p = 1.0 / (1.0 + np.exp(-np.clip(obs[:, None] * pred_sign[None, :] / scale, -50, 50)))
    out = np.log(floor + (1.0 - 2.0 * floor) * p)
    return np.where(np.isnan(obs)[:, None], 0.0, out)


@dataclass(frozen=True, kw_only=True)
class YawEstimator:
    """Fuse 2D and depth cues into body yaw with a zero-lag temporal model.

    Parameters
    ----------
    bin_deg
        Resolution of the yaw grid.
    shoulder_width_ratio, hip_width_ratio
        Shoulder and hip-joint widths over the hip-to-shoulder trunk length of
        an adult as BlazePose places them (0.72 and about 0.45; the synthetic
        body has 0.73 and 0.58).
    width_sd
        Spread of the width cues, in trunk lengths (body shape, arm and
        shoulder motion, landmark jitter).
    label_swap_prob
        Prior probability that a frame's left/right labels are swapped.
    mirror_prob
        Prior probability that a frame's pose is the depth-mirrored reading
        of the picture (front and back exchanged, the side kept: yaw read as
        ``180 - yaw``), the classic ambiguity of a single view, which
        BlazePose falls into for a few frames at a time.
    evidence_interval_s
        Landmark errors are correlated over about this long, so samples closer
        than this count as less than independent evidence (each sample's
        log-likelihood is scaled by ``min(1, dt / evidence_interval_s)``);
        without this the posterior would be overconfident at high frame rates.
    trunk_window_s
        Lengths are divided by the 90th percentile of the trunk length within
        this window, not by each frame's own: a trunk leaning toward or away
        from the camera looks shorter, which would inflate every width.
    min_trunk_in_plane, end_on_sd_deg
        When the trunk's image length is below ``min_trunk_in_plane`` of its
        3D length (with depth), the trunk points at the camera and the width
        cues are meaningless; only the depth yaw ``atan2(dz, dx)`` of the
        hip and shoulder lines (:func:`kinematics.angles.body_yaw`) is used,
        with this spread.
    turn_rate_sd_deg_s
        Standard deviation of the yaw change per second between samples; a
        person turning on the spot reaches ~180 deg/s.
    jump_prob
        Per-sample probability of any yaw change at all (lets the model recover
        from a long stretch of misleading evidence).
    model_sd_deg
        Error of the cue models themselves (body proportions, toe-out, camera
        height), added in quadrature to the posterior spread: about the
        median yaw error on the pose2sim four-camera reference.

    Notes
    -----
    The model is a discrete hidden Markov model over ``360 / bin_deg`` yaw
    states; forward-backward gives each sample's posterior from the whole
    recording, so the result has no lag and a turn is placed where it happens.
    """

    bin_deg: float = 5.0
    shoulder_width_ratio: float = 0.72
    hip_width_ratio: float = 0.45
    width_sd: float = 0.10
    label_swap_prob: float = 0.1
    mirror_prob: float = 0.2
    evidence_interval_s: float = 0.1
    trunk_window_s: float = 2.0
    min_trunk_in_plane: float = 0.5
    end_on_sd_deg: float = 30.0
    turn_rate_sd_deg_s: float = 120.0
    jump_prob: float = 1e-5
    model_sd_deg: float = 8.0
    trunk_pose: bool = False
    trunk_width_ratio: float = 1.054
    min_cos_sd: float = 0.05
    camera_up: tuple[float, float, float] | None = None
    min_yaw_sd_deg: float = 5.0

    def estimate(self, lm: LandmarkSeries) -> YawTrack:
        """Yaw of every sample of ``lm`` (image or world landmarks)."""
        if not 0 < self.bin_deg <= 30 or 360.0 % self.bin_deg:
            raise ValueError(f"bin_deg must divide 360 and be in (0, 30], got {self.bin_deg}")
        if not 0 <= self.label_swap_prob < 0.5:
            raise ValueError(f"label_swap_prob must be in [0, 0.5), got {self.label_swap_prob}")
        grid = np.arange(-180.0, 180.0, self.bin_deg)
        loglik, swap_given_yaw = self._loglik(lm, np.radians(grid))
        measured = ~np.isnan(loglik).any(axis=1)
        loglik = np.nan_to_num(loglik)
        if self.mirror_prob > 0:
            mirrored = loglik[:, _reflect_index(grid)]
            loglik = np.logaddexp(np.log1p(-self.mirror_prob) + loglik, np.log(self.mirror_prob) + mirrored)
        if len(lm) > 1 and self.evidence_interval_s > 0:
            dt = np.diff(lm.t_s)
            dt = np.concatenate([dt[:1], 0.5 * (dt[1:] + dt[:-1]), dt[-1:]]) if len(dt) > 1 else np.repeat(dt, 2)
            loglik *= np.minimum(1.0, dt / self.evidence_interval_s)[:, None]
        post = _forward_backward(loglik, lm.t_s, grid, self.turn_rate_sd_deg_s, self.jump_prob)
        yaw, sd = _mode_and_spread(post, grid)
        sd = np.hypot(sd, self.model_sd_deg)
        conf = np.min(np.stack([lm.vis(n) for n in _CORE]), axis=0) * np.clip((45.0 - sd) / 35.0, 0.0, 1.0)
        front = post[:, np.abs(grid) < 90.0].sum(axis=1) + 0.5 * post[:, np.abs(grid) == 90.0].sum(axis=1)
        swap = (post * np.nan_to_num(swap_given_yaw)).sum(axis=1)
        folded = np.abs(grid)
        folded = np.where(folded > 90.0, 180.0 - folded, folded)
        off_mean = post @ folded
        off_sd = np.hypot(np.sqrt(np.maximum(post @ folded**2 - off_mean**2, 0.0)), self.model_sd_deg)
        yaw = np.where(measured, yaw, np.nan)
        sd = np.where(measured, sd, np.nan)
        return YawTrack(
            lm.t_s,
            yaw,
            sd,
            front,
            np.where(measured, conf, 0.0),
            np.where(measured, swap, np.nan),
            np.where(measured, off_sd, np.nan),
        )

    def _loglik(self, lm: LandmarkSeries, th: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(n, B)`` log-likelihood of each yaw, and the probability of swapped labels given each yaw.

        NaN rows where shoulders or hips are missing.
        """
        xyz = lm.metric_xyz()
        p = {name: xyz[:, i, :] for i, name in enumerate(lm.schema.names)}
        sh_mid = 0.5 * (p["left_shoulder"] + p["right_shoulder"])
        hip_mid = 0.5 * (p["left_hip"] + p["right_hip"])
        up2 = (sh_mid - hip_mid)[:, :2] * np.array([1.0, -1.0])  # y up
        own = np.linalg.norm(up2, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            up = up2 / own[:, None]
        trunk = _upright_length(own, lm.t_s, self.trunk_window_s)
        across = np.stack([up[:, 1], -up[:, 0]], axis=1)  # up turned clockwise: +x for an upright body

        def along(v: np.ndarray, axis: np.ndarray) -> np.ndarray:
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.einsum("ij,ij->i", v[:, :2] * np.array([1.0, -1.0]), axis) / trunk

        cos, sin = np.cos(th), np.sin(th)
        has_depth = bool(np.nanmax(np.abs(lm.xyz[..., 2]), initial=0.0) > 0)

        # Label-dependent: the model's left minus right.
        shoulders = p["left_shoulder"] - p["right_shoulder"]
        hips = p["left_hip"] - p["right_hip"]
        if self.trunk_pose and self.camera_up is not None:
            labelled = _trunk_pose_about_vertical(
                (shoulders + hips)[:, :2],
                (sh_mid - hip_mid)[:, :2],
                self.trunk_width_ratio,
                self.width_sd,
                np.asarray(self.camera_up, dtype=float),
                th,
                np.radians(self.min_yaw_sd_deg),
            )
        elif self.trunk_pose:
            c_hat, c_sd = _trunk_pose_cos(
                (shoulders + hips)[:, :2], (sh_mid - hip_mid)[:, :2], self.trunk_width_ratio, self.width_sd
            )
            z = (c_hat[:, None] - cos[None, :]) / np.hypot(c_sd, self.min_cos_sd)[:, None]
            labelled = np.where(np.isnan(c_hat)[:, None], 0.0, -0.5 * z * z)
        else:
            labelled = _gauss(along(shoulders, across), self.shoulder_width_ratio * cos, self.width_sd)
            labelled += _gauss(along(hips, across), self.hip_width_ratio * cos, 1.5 * self.width_sd)
        if has_depth:
            dz = (shoulders[:, 2] + hips[:, 2]) / trunk
            labelled += _sign_cue(dz, np.sign(sin), 0.05, 0.2)
        # A trunk pointing at the camera (lying end-on, bowing toward it) has no
        # image "up" to measure widths across: only the depth yaw is left there.
        if has_depth:
            trunk3 = np.linalg.norm(sh_mid - hip_mid, axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                end_on = own / trunk3 < self.min_trunk_in_plane
            v = shoulders + hips
            depth_yaw = np.arctan2(v[:, 2], v[:, 0])
            kappa = 1.0 / np.radians(self.end_on_sd_deg) ** 2
            labelled = np.where(end_on[:, None], kappa * np.cos(th[None, :] - depth_yaw[:, None]), labelled)
        else:
            end_on = np.zeros(len(own), dtype=bool)
        shift = int(round(180.0 / self.bin_deg))
        kept = np.log1p(-self.label_swap_prob) + labelled
        swapped = (
            np.log(self.label_swap_prob) + np.roll(labelled, shift, axis=1) if self.label_swap_prob > 0 else -np.inf
        )
        mixed = np.logaddexp(kept, swapped)
        swap_given_yaw = np.exp(swapped - mixed)

        # Label-independent: anatomy that looks the same whichever side is called left.
        toe = 0.5 * ((p["left_foot_index"] - p["left_heel"]) + (p["right_foot_index"] - p["right_heel"]))
        ears = 0.5 * (p["left_ear"] + p["right_ear"])
        nose = p["nose"] - ears
        anatomical = _gauss(along(toe, across), 0.35 * sin, 0.12)
        anatomical += _gauss(along(toe, -up), 0.18 * cos, 0.12)
        anatomical += _gauss(along(nose, across), 0.15 * sin, 0.08)
        if has_depth:
            anatomical += _sign_cue(nose[:, 2] / trunk, -np.sign(cos), 0.1, 0.1)

        out = mixed + np.where(end_on[:, None], 0.0, anatomical)
        core = np.stack([lm.vis(n) > 0 for n in _CORE], axis=0).all(axis=0) & np.isfinite(own) & (own > 0)
        out[~core] = np.nan
        swap_given_yaw[~core] = np.nan
        return out, swap_given_yaw


def _trunk_pose_cos(ml: np.ndarray, trunk: np.ndarray, width_ratio: float, sd: float) -> tuple[np.ndarray, np.ndarray]:
    """``cos(yaw)`` of a rigid planar trunk under weak perspective, and its spread, per sample.

    ``ml`` ``(n, 2)``: image vector from the right to the left side (shoulder
    line plus hip line), ``width_ratio`` trunk lengths long on the body;
    ``trunk`` ``(n, 2)``: image vector from the hip midpoint to the shoulder
    midpoint. With ``p = ml / width_ratio`` and ``q = trunk`` the first two rows
    of the trunk's rotation scaled by ``s``, orthonormality gives ``s^2`` as
    the larger root of ``s^4 - s^2 (|p|^2 + |q|^2) + (p x q)^2 = 0`` and the
    depth ``|p_z| = sqrt(s^2 - |p|^2)``: foreshortening along the shoulder
    line is turning, along the trunk bending toward or away from the camera
    (or a camera above the pelvis). Yaw is the rotation about the trunk's own
    axis: ``cos(yaw) = -n_z / |(r_x,z, n_z)|`` with ``n = r_x x r_y``. The
    depth signs are ambiguous (both flip together), which changes the sign of
    ``sin(yaw)`` only. The spread propagates ``sd`` (times the larger of
    ``|p|`` and ``|q|``, about ``s``) of error on each image component through the solution: large where the turn
    is ill-conditioned (near a frontal view the width changes little with yaw).
    """

    def solve(p: np.ndarray, q: np.ndarray) -> np.ndarray:
        pp, qq = (p * p).sum(axis=1), (q * q).sum(axis=1)
        cross = p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0]
        a = pp + qq
        s2 = 0.5 * (a + np.sqrt(np.maximum(a * a - 4.0 * cross * cross, 0.0)))
        with np.errstate(invalid="ignore", divide="ignore"):
            nz = cross / s2  # (r_x x r_y)_z, image y down
            rxz2 = np.maximum(s2 - pp, 0.0) / s2
            return np.clip(-nz / np.sqrt(nz * nz + rxz2), -1.0, 1.0)

    p = ml / width_ratio
    c = solve(p, trunk)
    scale = np.sqrt(np.maximum((p * p).sum(axis=1), (trunk * trunk).sum(axis=1)))
    var = np.zeros(len(c))
    for k in range(4):
        dp, dq = np.zeros_like(p), np.zeros_like(trunk)
        (dp if k < 2 else dq)[:, k % 2] = sd * scale
        var += (0.5 * (solve(p + dp, trunk + dq) - solve(p - dp, trunk - dq))) ** 2
    return c, np.sqrt(var)


def _trunk_axes(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit 3D ``r_x`` and ``r_y`` (camera frame, y down, z away) of the weak-perspective trunk, depth of r_x >= 0."""
    pp, qq = (p * p).sum(axis=1), (q * q).sum(axis=1)
    cross = p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0]
    a = pp + qq
    s2 = 0.5 * (a + np.sqrt(np.maximum(a * a - 4.0 * cross * cross, 0.0)))
    pz = np.sqrt(np.maximum(s2 - pp, 0.0))
    qz = -np.sign((p * q).sum(axis=1)) * np.sqrt(np.maximum(s2 - qq, 0.0))
    s = np.sqrt(s2)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.column_stack([p, pz]) / s, np.column_stack([q, qz]) / s


def _yaw_about(rx: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Yaw (rad, module conventions) of the left-pointing ``rx`` ``(n, 3)`` about the unit vertical ``up``."""
    d = np.array([0.0, 0.0, 1.0]) - up[2] * up
    d /= np.linalg.norm(d)
    right = np.cross(-up, d)
    h = rx - (rx @ up)[:, None] * up
    return np.arctan2(h @ d, h @ right)


def _trunk_pose_about_vertical(
    ml: np.ndarray, trunk: np.ndarray, width_ratio: float, sd: float, up: np.ndarray, th: np.ndarray, min_sd: float
) -> np.ndarray:
    """``(n, B)`` log-likelihood of yaw about a known vertical (``up``, camera frame, e.g. a phone's gravity).

    The trunk's depth signs are ambiguous; with a tilted vertical the two readings are two different
    yaws, so the likelihood is an equal mixture of a Gaussian about each; each one's spread propagates
    ``sd`` as in :func:`_trunk_pose_cos`, never below ``min_sd`` (rad).
    """
    up = up / np.linalg.norm(up)
    p = ml / width_ratio
    scale = np.sqrt(np.maximum((p * p).sum(axis=1), (trunk * trunk).sum(axis=1)))

    def yaws(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rx, _ = _trunk_axes(p, q)
        flipped = rx * np.array([1.0, 1.0, -1.0])
        return _yaw_about(rx, up), _yaw_about(flipped, up)

    centre = yaws(p, trunk)
    var = [np.zeros(len(p)), np.zeros(len(p))]
    for k in range(4):
        dp, dq = np.zeros_like(p), np.zeros_like(trunk)
        (dp if k < 2 else dq)[:, k % 2] = sd * scale
        hi, lo = yaws(p + dp, trunk + dq), yaws(p - dp, trunk - dq)
        for h in range(2):
            var[h] += (0.5 * np.angle(np.exp(1j * (hi[h] - lo[h])))) ** 2
    out = []
    for h in range(2):
        spread = np.hypot(np.sqrt(var[h]), min_sd)
        z = np.angle(np.exp(1j * (th[None, :] - centre[h][:, None]))) / spread[:, None]
        out.append(-0.5 * z * z - np.log(spread)[:, None])
    mixed = np.logaddexp(out[0], out[1]) - np.log(2.0)
    return np.where(np.isnan(centre[0])[:, None], 0.0, mixed)


def _reflect_index(grid: np.ndarray) -> np.ndarray:
    """Index of ``180 - yaw`` for each grid yaw (front and back exchanged, the side kept)."""
    step = grid[1] - grid[0]
    return np.round((_wrap_deg(180.0 - grid) - grid[0]) / step).astype(int) % grid.shape[0]


def _upright_length(length: np.ndarray, t_s: np.ndarray, window_s: float) -> np.ndarray:
    """Running 90th percentile of a length over ``window_s`` (NaN-tolerant)."""
    ok = np.isfinite(length) & (length > 0)
    if not ok.any():
        return length
    filled = np.interp(t_s, t_s[ok], length[ok])
    if len(t_s) < 3 or window_s <= 0:
        return np.maximum(filled, length)
    dt = float(np.median(np.diff(t_s)))
    size = max(1, int(round(window_s / dt)) | 1)
    return np.maximum(ndimage.percentile_filter(filled, 90, size=size, mode="nearest"), np.nan_to_num(length))


def _forward_backward(
    loglik: np.ndarray, t_s: np.ndarray, grid: np.ndarray, rate_sd_deg_s: float, jump_prob: float
) -> np.ndarray:
    """Posterior ``(n, B)`` of a yaw HMM with wrapped-Gaussian steps."""
    n, b = loglik.shape
    if n == 0:
        return np.zeros((0, b))
    lik = np.exp(loglik - loglik.max(axis=1, keepdims=True))
    diff = _wrap_deg(grid[:, None] - grid[None, :])
    dt = np.diff(t_s) if n > 1 else np.zeros(0)

    def kernel(step_s: float) -> np.ndarray:
        sd = max(rate_sd_deg_s * step_s, 1e-3)
        k = np.exp(-0.5 * (diff / sd) ** 2)
        k /= k.sum(axis=0, keepdims=True)
        return (1.0 - jump_prob) * k + jump_prob / b

    cache: dict[float, np.ndarray] = {}

    def trans(i: int) -> np.ndarray:  # from sample i to sample i + 1, column-stochastic
        key = round(float(dt[i]), 6)
        if key not in cache:
            cache[key] = kernel(key)
        return cache[key]

    alpha = np.empty((n, b))
    a = lik[0] / lik[0].sum()
    alpha[0] = a
    for i in range(1, n):
        a = (trans(i - 1) @ a) * lik[i]
        a /= a.sum()
        alpha[i] = a
    post = np.empty((n, b))
    beta = np.full(b, 1.0 / b)
    post[-1] = alpha[-1]
    for i in range(n - 2, -1, -1):
        beta = trans(i).T @ (beta * lik[i + 1])
        beta /= beta.sum()
        g = alpha[i] * beta
        post[i] = g / g.sum()
    return post


def _mode_and_spread(post: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mode refined by the circular mean within +-90 deg of it, and the spread about it."""
    mode = grid[np.argmax(post, axis=1)]
    rel = _wrap_deg(grid[None, :] - mode[:, None])
    near = np.abs(rel) < 90.0
    w = post * near
    with np.errstate(invalid="ignore", divide="ignore"):
        offset = np.degrees(
            np.arctan2((w * np.sin(np.radians(rel))).sum(axis=1), (w * np.cos(np.radians(rel))).sum(axis=1))
        )
    yaw = _wrap_deg(mode + offset)
    dev = _wrap_deg(grid[None, :] - yaw[:, None])
    sd = np.sqrt((post * dev * dev).sum(axis=1))
    return yaw, sd

"""Synthetic recordings for the kinematics tests, with BlazePose's measured jitter.

Noise levels
------------
Measured on 2026-11-24 by ``tests/kinematics/measure_jitter.py`` (run
``.venv/bin/python -m tests.kinematics.measure_jitter``) on
``tests/fixtures/video/pose2sim_cam01.mp4`` (1080x1920 portrait, 60 fps, 100
frames, one person moving; BlazePose Full, MediaPipe Tasks, VIDEO mode). The
model was run on every frame (60 fps) and on every second frame (30 fps, the
rate of these tests). Robust estimator: the median absolute deviation of
second differences x 1.4826 / sqrt(6) (``d2_mad``), per coordinate, over
both hips, knees and shoulders:

=============  ===============  ================  =================
d2_mad         image px (x, y)  world mm (x,y,z)  of which z (depth)
=============  ===============  ================  =================
60 fps median  1.79             5.5               12.2
60 fps max     3.29             14.9              14.9
30 fps median  1.82             5.9               11.0
30 fps max     5.63             16.5              16.5
=============  ===============  ================  =================

Other estimators agree (60 fps, image, median): standard deviation of the
residual after the pipeline's 6 Hz zero-lag low-pass 1.91 px (2.14 px after
correcting for the white-noise share below 6 Hz); standard deviation of
second differences / sqrt(6) 2.13 px. Hips are the steadiest landmarks
(1.3-1.9 px; 2-3 mm in every world axis); knee and shoulder depth the least
steady (11-16 mm); the largest image figure (left knee y at 30 fps) includes
the subject's own knee movement.

Those second differences of a *moving* subject mix in real acceleration
(the left knee's 5.6 px is mostly the step), so the model's own jitter was
also measured on a *still* subject: three frames of the same clip (0, 50, 99)
each fed to the model 90 times in VIDEO mode with sensor noise (SD 3 grey
levels) and hand shake (SD 0.5 px sub-pixel shifts); standard deviation of
each coordinate, median over the three frames and both sides:

=================  =================  ======================
landmark           image px (x / y)   world mm (x, y, z)
=================  =================  ======================
hips               1.7                1.6, 1.3, 3.2
knees              1.9                5.5, 4.4, 12.5
shoulders          1.8                4.3, 4.8, 12.0
=================  =================  ======================

The tests use: image 2.0 px on every landmark (the moving-clip median,
rounded up, above every still-subject median); world, rounded up from the
still subject: knees (6, 5, 13) mm, shoulders (4.5, 5, 12) mm, all others
(5.7, 5.7, 11) mm, and hips (3.6, 3.6, 7.2) mm *raw*: ``render`` subtracts the
noisy hip midpoint as MediaPipe's world origin does, which with the two hips'
measured noise correlation of 0.6 (``HIP_CORRELATION``; image second
differences of the hips correlate at 0.58-0.61, other landmark pairs at -0.1
to 0.5) leaves (1.6, 1.6, 3.2) mm.

``CAMERA_DISTANCE_M`` = 3.8 makes the synthetic subject as large in the
picture as the fixture's (thigh 182 px measured; 189 px synthetic), so that
pixel jitter turns into the same angular jitter.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from kinematics.series import BLAZEPOSE33, LandmarkSeries
from kinematics.synth import Camera, PoseAngles, render


def _per_landmark(default: tuple[float, ...], **groups: tuple[float, ...]) -> np.ndarray:
    table = np.tile(np.asarray(default, dtype=float), (33, 1))
    for group, value in groups.items():
        for side in ("left", "right"):
            table[BLAZEPOSE33.index(f"{side}_{group}")] = value
    return table


NOISE_PX = 2.0
NOISE_M = _per_landmark(
    (0.0057, 0.0057, 0.011), hip=(0.0036, 0.0036, 0.0072), knee=(0.006, 0.005, 0.013), shoulder=(0.0045, 0.005, 0.012)
)
HIP_CORRELATION = 0.6
CAMERA_DISTANCE_M = 3.8

Observe = Callable[..., tuple[LandmarkSeries, LandmarkSeries]]


def render_observed(
    pose: PoseAngles,
    t_s: np.ndarray,
    *,
    yaw_deg: float,
    rng: np.random.Generator,
    noisy: bool = True,
    visibility: np.ndarray | float = 0.99,
) -> tuple[LandmarkSeries, LandmarkSeries]:
    """Image and world landmarks of ``pose`` seen at ``yaw_deg``, with the measured jitter when ``noisy``."""
    camera = Camera(yaw_deg=yaw_deg, distance_m=CAMERA_DISTANCE_M)
    return render(
        pose,
        t_s,
        camera=camera,
        noise_px=NOISE_PX if noisy else 0.0,
        noise_m=NOISE_M if noisy else 0.0,
        hip_noise_correlation=HIP_CORRELATION,
        visibility=visibility,
        rng=rng,
    )


@pytest.fixture
def observe(rng: np.random.Generator) -> Observe:
    """``observe(pose, t_s, yaw_deg=..., noisy=True, visibility=0.99)`` -> ``(image, world)``.

    :func:`render_observed` drawing from the ``rng`` fixture.

    ``rng`` is ``np.random.default_rng(0)`` from ``tests/conftest.py``.
    """

    def _observe(pose: PoseAngles, t_s: np.ndarray, **kwargs: object) -> tuple[LandmarkSeries, LandmarkSeries]:
        return render_observed(pose, t_s, rng=rng, **kwargs)  # type: ignore[arg-type]

    return _observe

"""A mirrored picture or landmark file is told apart from a back view, and no exercise is scored on it.

Mirroring a frontal picture (a selfie camera, or an app that flips x) keeps the face toward
the camera but puts the subject's left on the image's left, as a back view would: every
left/right result would then name the wrong side. The face and feet say "front", the labels
say "back"; the pipeline warns and the protocols answer with coaching instead of findings.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from kinematics.pipeline import KinematicsPipeline
from kinematics.protocols import PROTOCOLS
from kinematics.series import LandmarkSeries
from kinematics.synth import PoseAngles
from tests.kinematics.truth import time_axis

T = time_axis()
POSE = PoseAngles(pelvic_obliquity_deg=4 * np.sin(2 * np.pi * 0.3 * T), hip_abduction_left_deg=15.0)


def _mirror_x(lm: LandmarkSeries) -> LandmarkSeries:
    """The same landmarks in a horizontally flipped picture, labels kept (what a selfie preview shows)."""
    xyz = lm.xyz.copy()
    xyz[..., 0] = 1.0 - xyz[..., 0]
    return replace(lm, xyz=xyz)


@pytest.mark.parametrize("yaw", [0.0, 20.0, 180.0])
def test_true_views_are_not_called_mirrored(observe, yaw):
    image, _ = observe(POSE, T, yaw_deg=yaw)
    codes = {q.code for q in KinematicsPipeline().run(image).issues}
    assert "labels_mirrored" not in codes


@pytest.mark.parametrize("yaw", [0.0, 20.0])
def test_a_mirrored_front_view_is_flagged_and_not_scored(observe, yaw):
    image, _ = observe(POSE, T, yaw_deg=yaw)
    mirrored = _mirror_x(image)
    result = KinematicsPipeline().run(mirrored)
    assert "labels_mirrored" in {q.code for q in result.issues}
    assert result.view.facing == "front"  # the face and feet still face the camera
    for name, protocol in PROTOCOLS.items():
        answer = protocol.assess(result, mirrored)
        assert "labels_mirrored" in {c.code for c in answer.coaching}, name
        assert not answer.findings, name

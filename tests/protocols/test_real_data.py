"""Every protocol on real BlazePose output: no exception, and a sane, documented answer.

Recordings (none of them shows the exercises; the point is that real landmarks,
with their gaps, jitter and odd views, give either coaching or plausible
metrics, never a crash and never a finding from the wrong view):

* KERAAL CTK, ELK, RTK: a seated subject facing the camera (frontal), landmarks
  computed by the dataset authors; hips only ~38 px apart (docs/validation.md).
* ``pose2sim_cam01.mp4`` (real model, once per session): a person filmed
  side-on (sagittal in image space; oblique in BlazePose's world space, whose
  depth is less steady), 1.65 s.
* ``sports2d_two_people.mp4``: a man on a box, a woman walking past; the whole
  clip, and its longest stretch facing the camera (0.6-1.8 s).

The outcomes pinned in ``EXPECTED`` are the ones documented in
docs/protocols/README.md; the model and its weights are pinned, so a change
here means the model or a protocol changed. ``not_detected``: the protocol's
movement is not in the recording (kinematics/protocols/presence.py).
tests/protocols/test_real_footage.py runs every fixture clip under every exercise.
"""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from kinematics.pipeline import KinematicsPipeline
from kinematics.protocols import PROTOCOLS, ProtocolResult
from kinematics.series import LandmarkSeries
from tests.protocols.conftest import frontal_phase

ACCEPTED_VIEWS = {
    "single_leg_stance": {"frontal"},
    "standing_hip_abduction": {"frontal"},
    "standing_hip_flexion": {"sagittal"},
    "bridge": {"sagittal"},
    "squat": {"frontal", "sagittal"},
    "sit_to_stand": {"frontal", "sagittal"},
    "gait": {"frontal", "sagittal"},
}

RECORDINGS = [
    "keraal_CTK",
    "keraal_ELK",
    "keraal_RTK",
    "pose2sim_image",
    "pose2sim_world",
    "sports2d_image",
    "sports2d_world",
    "sports2d_frontal_image",
    "sports2d_frontal_world",
]

_KERAAL = {  # seated, hips ~38 px apart: frontal protocols ask for a closer camera; side-on ones for a side view
    "bridge": "wrong_view",
    "standing_hip_flexion": "wrong_view",
    "gait": "pelvis_too_small",
    "single_leg_stance": "pelvis_too_small",
    "sit_to_stand": "pelvis_too_small",
    "squat": "pelvis_too_small",
    "standing_hip_abduction": "pelvis_too_small",
}
# First coaching code, or "scored" when the protocol answered with metrics and findings.
EXPECTED: dict[str, dict[str, str]] = {
    "keraal_CTK": _KERAAL,
    "keraal_ELK": _KERAAL,
    "keraal_RTK": _KERAAL,
    # cam01 films the subject front-oblique: 17-46 deg from facing it by the four-camera
    # reference (validation/multiview.py), read as ~40 deg: oblique, so every protocol
    # asks for another view instead of measuring a plane the camera does not see.
    "pose2sim_image": {name: "wrong_view" for name in PROTOCOLS},
    "pose2sim_world": {name: "wrong_view" for name in PROTOCOLS},  # oblique in world space
    "sports2d_image": {  # mostly side-on; the woman walking past hides parts of the man
        "bridge": "body_out_of_frame",
        # gait judges the body per pass: the man never walks a steady pass (the followed person switches)
        "gait": "not_detected",
        "single_leg_stance": "wrong_view",
        "sit_to_stand": "body_out_of_frame",
        "squat": "body_out_of_frame",
        "standing_hip_abduction": "wrong_view",
        "standing_hip_flexion": "body_out_of_frame",
    },
    "sports2d_world": {name: "wrong_view" for name in PROTOCOLS},
    "sports2d_frontal_image": {  # facing the camera but far away: too few pixels across the pelvis
        "bridge": "wrong_view",
        "gait": "pelvis_too_small",
        "single_leg_stance": "pelvis_too_small",
        "sit_to_stand": "pelvis_too_small",
        "squat": "pelvis_too_small",
        "standing_hip_abduction": "pelvis_too_small",
        "standing_hip_flexion": "wrong_view",
    },
    # world landmarks carry no pixel size. The stretch (2.0-3.0 s) is the man on the box closing his
    # second jumping jack and standing before he turns: his right leg comes in from a jump that began
    # before the stretch, never rising from its own rest, so it is no hip abduction (scored as one
    # until issue 13).
    "sports2d_frontal_world": {
        "bridge": "wrong_view",
        "gait": "not_detected",
        "single_leg_stance": "not_detected",
        "sit_to_stand": "not_detected",
        "squat": "not_detected",
        "standing_hip_abduction": "not_detected",
        "standing_hip_flexion": "wrong_view",
    },
}


@pytest.fixture(scope="module")
def recording(request, keraal_landmarks):
    cache: dict[str, LandmarkSeries] = {}

    def get(name: str) -> LandmarkSeries:
        if name not in cache:
            if name.startswith("keraal_"):
                cache[name] = keraal_landmarks[name.removeprefix("keraal_")]
            else:
                clip, space = name.rsplit("_", 1)
                ex = request.getfixturevalue(f"{clip.split('_')[0]}_extraction")
                lm = ex.image if space == "image" else ex.world
                cache[name] = frontal_phase(ex.image, lm) if "_frontal" in clip else lm
        return cache[name]

    return get


def outcome(result: ProtocolResult) -> str:
    return result.coaching[0].code if result.coaching else "scored"


def assert_sane(result: ProtocolResult, view: str, protocol: str) -> None:
    json.dumps(dataclasses.asdict(result), allow_nan=False)  # what the service stores must be plain JSON
    counts = [m for m in result.metrics if m.name == "rep_count" and m.side is None]
    assert len(counts) == 1, result.metrics
    for m in result.metrics:
        assert m.value is None or math.isfinite(m.value), m
        assert m.measurable or m.reason, m
    if result.coaching:
        assert result.findings == [], "coaching and clinical findings never go together"
        assert all(c.message for c in result.coaching)
    else:
        assert counts[0].value >= 1 and result.findings
        assert view in ACCEPTED_VIEWS[protocol]
    for f in result.findings:
        assert f.message and f.severity in ("normal", "attention", "inconclusive", "info")
        assert f.threshold is None or (f.threshold.source and f.source == f.threshold.source), f
    if view not in ACCEPTED_VIEWS[protocol]:
        assert outcome(result) == "wrong_view"


@pytest.mark.parametrize("name", RECORDINGS)
def test_every_protocol_gives_a_sane_documented_answer_on_real_landmarks(recording, name):
    lm = recording(name)
    kinematics = KinematicsPipeline().run(lm)
    got = {}
    for protocol, p in PROTOCOLS.items():
        result = p.assess(kinematics, lm)
        assert_sane(result, kinematics.view.view, protocol)
        got[protocol] = outcome(result)
    expected = EXPECTED[name]
    if name.startswith("sports2d_frontal") and _stretch_s(lm) < 0.9:
        # MediaPipe's AVX2 kernels (this clip's two people: tests/fingerprint) see the turn through facing
        # the camera as 0.77 s instead of ~1 s: too short to judge, which every protocol then says instead
        expected = {p: answer if answer == "wrong_view" else "too_short" for p, answer in expected.items()}
    assert got == expected


def _stretch_s(lm: LandmarkSeries) -> float:
    return float(lm.t_s[-1] - lm.t_s[0])


def test_the_frontal_stretch_of_the_real_clip_is_frontal(sports2d_extraction):
    lm = frontal_phase(sports2d_extraction.image)
    assert KinematicsPipeline().run(lm).view.view == "frontal"
    # the turn through facing the camera, about 1 s (0.77 s with AVX2 kernels, see above)
    assert 0.7 < _stretch_s(lm) < 1.5

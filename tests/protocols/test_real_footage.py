"""The real-footage behaviour suite: every fixture clip under every exercise name (and none).

Each clip is run once through the real pose model (session cache) and the public analysis
path (``service.analysis.prepare_input`` then ``analyze_landmarks``). Its expected behaviour
is written down below as data, with what the person in it actually does (watched frame by
frame; tests/fixtures/SOURCES.md). Outcomes:

* ``scored``: metrics and findings;
* ``not_detected``: the exercise's movement is not in the clip; the answer says what was seen;
* ``wrong_view``: filmed from a view the protocol cannot measure;
* ``capture``: another re-recording advice (body out of frame, too few pixels across the pelvis, ...).

Whatever the outcome, a protocol whose exercise is not performed in a clip never gives an
``attention`` finding, any finding at all, or an exercise suggestion.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from kinematics.exercises import suggest
from kinematics.protocols import PROTOCOL_NAMES
from service.analysis import analyze_landmarks, prepare_input

VIDEOS = Path(__file__).resolve().parents[1] / "fixtures" / "video"


@dataclass(frozen=True)
class Clip:
    """What the person in a clip does, and what each exercise should answer."""

    why: str
    answers: dict[str, str]  # exercise -> outcome (see the module docstring)
    performed: frozenset[str] = frozenset()  # exercises really done in the clip
    counts: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)  # (exercise, metric) -> range


_REACH = "stands, swings his right leg out sideways and back while leaning away and flinging his arms, stands again"
_NONE_SIDE_ON = {  # a side-on (sagittal) view of someone not doing any of the exercises
    "bridge": "not_detected",
    "gait": "not_detected",
    "single_leg_stance": "wrong_view",
    "sit_to_stand": "not_detected",
    "squat": "not_detected",
    "standing_hip_abduction": "wrong_view",
    "standing_hip_flexion": "not_detected",
}
_OBLIQUE = dict.fromkeys(PROTOCOL_NAMES, "wrong_view")

# The four-camera reference (validation/multiview.py) puts the lab cameras 17-60 deg off facing
# the subject: every lab clip reads oblique, and every protocol asks for another view. What the
# presence rules see in them regardless of the view is checked below.
CLIPS: dict[str, Clip] = {
    "pose2sim_cam01.mp4": Clip(f"lab, front-left, 1.7 s: one man {_REACH} (a balance reach)", _OBLIQUE),
    "pose2sim_cam02.mp4": Clip(f"lab, from the front at an angle: the same man {_REACH}", _OBLIQUE),
    "pose2sim_cam03.mp4": Clip(
        f"lab, from behind-left: the same man {_REACH}; his feet leave the bottom of the picture", _OBLIQUE
    ),
    "pose2sim_cam04.mp4": Clip(
        f"lab, from behind and above, camera rolled ~30 deg: the same man {_REACH}; he never lies down "
        "(issue 13: this clip was read as an active straight-leg raise lying down, with an attention finding)",
        _OBLIQUE,
    ),
    "pose2sim_multi_cam01.mp4": Clip(
        "lab, two people; followed: a woman standing still with her back to the camera, moving her arms "
        "(the man's balance reach beyond her)",
        _OBLIQUE,
    ),
    "pose2sim_multi_cam02.mp4": Clip(
        "lab, two people; followed: the woman, standing still at the left, turned away, moving her hands", _OBLIQUE
    ),
    "pose2sim_multi_cam03.mp4": Clip(
        f"lab, two people; followed: the man, from behind-left, who {_REACH} (until issue 13: scored as a walk, "
        "a sit-to-stand, a squat and hip flexion with attention findings)",
        _OBLIQUE,
    ),
    "pose2sim_multi_cam04.mp4": Clip(f"lab, two people, from behind and above: the man {_REACH}", _OBLIQUE),
    "sports2d_two_people.mp4": Clip(
        "outdoors, 7.7 s: a man on a box does jumping jacks, walks along it and jumps off, while a woman walks "
        "past in front; the followed person switches between them, so no steady walk is seen",
        {
            **dict.fromkeys(("bridge", "sit_to_stand", "squat", "standing_hip_flexion"), "capture"),
            "gait": "not_detected",
            "single_leg_stance": "wrong_view",
            "standing_hip_abduction": "wrong_view",
        },
    ),
    "sports2d_walker.mp4": Clip(
        "outdoors, 5.1 s: a woman walks side-on from right to left across the picture, entering from behind a "
        "tree and leaving at the left edge: one pass, about eight steps (counted on the frames)",
        {**_NONE_SIDE_ON, "gait": "scored"},
        performed=frozenset({"gait"}),
        counts={
            ("gait", "pass_count"): (1, 1),
            ("gait", "rep_count"): (6, 9),
            ("gait", "step_count"): (6, 9),
            ("gait", "cadence_steps_per_min"): (85, 115),
            ("gait", "step_time_s"): (0.5, 0.7),
            ("gait", "hip_flexion_coverage_pct"): (80, 100),
        },
    ),
    "sports2d_jumping_jacks.mp4": Clip(
        "outdoors, 2.8 s: the man on the box, facing the camera, does two jumping jacks; he is small in the "
        "picture (hips under 60 px apart)",
        {
            **dict.fromkeys(PROTOCOL_NAMES, "capture"),
            "bridge": "wrong_view",
            "standing_hip_flexion": "wrong_view",
        },
    ),
}


@cache
def _prepared(name: str):
    """The real pose model over one clip, once per session."""
    return prepare_input(VIDEOS / name)


@cache
def _assessment(name: str, exercise: str | None) -> dict:
    p = _prepared(name)
    doc = analyze_landmarks(
        p.landmarks, input_info=p.info, exercise=exercise, model=p.model, subject=p.subject, extra_issues=p.issues
    )
    return json.loads(doc.model_dump_json())


def _outcome(doc: dict) -> str:
    if not doc["coaching"]:
        return "scored"
    code = doc["coaching"][0]["code"]
    return code if code in ("not_detected", "wrong_view") else "capture"


def test_every_video_fixture_has_written_expectations():
    assert {p.name for p in VIDEOS.glob("*.mp4")} == set(CLIPS)
    for clip in CLIPS.values():
        assert set(clip.answers) == set(PROTOCOL_NAMES) and clip.why


@pytest.mark.slow
@pytest.mark.parametrize("exercise", [None, *PROTOCOL_NAMES], ids=["none", *PROTOCOL_NAMES])
@pytest.mark.parametrize("name", sorted(CLIPS))
def test_real_clip_gets_its_expected_answer(name, exercise):
    clip = CLIPS[name]
    doc = _assessment(name, exercise)
    if exercise is None:  # general kinematics only: never a finding, coaching or detection
        assert not doc["findings"] and not doc["coaching"] and doc["detected"] is None
        return
    got = _outcome(doc)
    assert got == clip.answers[exercise], f"{name} as {exercise}: {got} ({clip.why}); {doc['coaching'][:1]}"
    if exercise not in clip.performed:
        # the promise of issue 13: no finding (so no attention and no suggestion) where the exercise is not done
        assert not doc["findings"], doc["findings"]
        assert all(f["severity"] != "attention" for f in doc["findings"])
        assert not suggest(doc["findings"]).suggestions
        assert got != "scored"
    if got == "not_detected":
        det = doc["detected"]
        assert det is not None and det["detected"] is False and det["confidence"] == 0.0
        assert det["seen"] and det["rule"] and det["movement"]
        message = doc["coaching"][0]["message"]
        assert message.startswith("Not detected: ") and f"Seen instead: {det['seen']}" in message
        protocol = [m for m in doc["metrics"] if m["source"] == "protocol"]
        assert [m["name"] for m in protocol] == ["rep_count"] and protocol[0]["value"] is None
        assert not doc["events"] or all(e["type"] == "initial_contact" for e in doc["events"])
    if got == "scored":
        assert doc["detected"]["detected"] is True and doc["detected"]["confidence"] > 0
        assert doc["findings"]
    for (ex, metric), (lo, hi) in clip.counts.items():
        if ex != exercise:
            continue
        named = [m for m in doc["metrics"] if m["source"] == "protocol" and m["name"] == metric]
        overall = [m for m in named if m["side"] is None]
        values = [m["value"] for m in (overall or named)]  # totals when there are totals, else every side
        assert values, f"{metric} missing"
        assert all(v is not None and lo <= v <= hi for v in values), f"{metric}: {values} not in [{lo}, {hi}]"


@pytest.mark.slow
def test_the_side_on_walk_is_one_pass_right_to_left_with_its_steps_inside_it():
    doc = _assessment("sports2d_walker.mp4", "gait")
    passes = [e for e in doc["events"] if e["type"] == "pass"]
    assert [p["label"] for p in passes] == ["right_to_left"]
    contacts = [e for e in doc["events"] if e["type"] == "initial_contact"]
    assert all(passes[0]["start_s"] <= c["start_s"] <= passes[0]["end_s"] and c["pass_index"] == 0 for c in contacts)
    sides = [c["side"] for c in contacts]
    assert all(a != b for a, b in zip(sides, sides[1:], strict=False)), "steps alternate feet"
    per_pass = {(m["name"], m["side"]) for m in doc["metrics"] if m["pass_index"] == 0}
    for side in ("left", "right"):
        assert ("hip_flexion_range_deg", side) in per_pass and ("hip_flexion_coverage_pct", side) in per_pass


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CLIPS))
def test_no_summary_reports_an_angle_no_body_can_make(name):
    """sports2d_two_people once said hip_flexion_right_range 280.7 deg (samples -178..103: a wrap)."""
    from kinematics.plausibility import PLAUSIBLE

    doc = _assessment(name, None)
    for m in doc["metrics"]:
        band = PLAUSIBLE.get(f"{m['series']}")
        if m["source"] != "series" or band is None or m["value"] is None:
            continue
        if band.min_deg is None:
            assert -180 <= m["value"] <= (360 if m["name"].endswith("_range") else 180), m
        elif m["name"].endswith("_range"):
            assert 0 <= m["value"] <= band.max_deg - band.min_deg, m
        else:
            assert band.min_deg <= m["value"] <= band.max_deg, m
    for series, values in doc["series"].items():
        if series in PLAUSIBLE and PLAUSIBLE[series].min_deg is not None and values:
            measured = [v for v in values if v is not None]
            assert all(PLAUSIBLE[series].min_deg <= v <= PLAUSIBLE[series].max_deg for v in measured), series
    if name == "sports2d_two_people.mp4":  # the clip of the 280.7 deg range: the failure is said, not hidden
        issue = [q for q in doc["quality"] if q["code"] == "implausible_angle"]
        assert issue and "hip flexion right" in issue[0]["message"], doc["quality"]
        hip = {m["name"]: m for m in doc["metrics"] if m["series"] == "hip_flexion_right_deg"}
        # a range no hip makes is never given: a plausible one, or (AVX2 kernels: more frames withheld) none
        # with its reason
        rng = hip["hip_flexion_right_range"]
        assert (rng["value"] is not None and rng["value"] < 180) or (rng["value"] is None and rng["reason"]), rng


# What the presence rules see in each lab clip, whatever view the clip is read from: the answer a
# protocol would give once the view allows it. (name, posture, what was seen)
LAB = [
    ("pose2sim_cam01.mp4", "standing", "standing, moving the legs in place; no walking"),
    ("pose2sim_cam02.mp4", "standing", "standing, moving the legs in place; no walking"),
    ("pose2sim_cam03.mp4", "standing", "standing, moving the legs in place; no walking"),
    ("pose2sim_cam04.mp4", "standing", "standing, moving the legs in place; no walking"),
    ("pose2sim_multi_cam01.mp4", "standing", "standing still, moving the arms; no walking"),
    ("pose2sim_multi_cam02.mp4", "standing", "standing still, moving the arms; no walking"),
    ("pose2sim_multi_cam03.mp4", "standing", "standing, moving the legs in place; no walking"),
    ("pose2sim_multi_cam04.mp4", "standing", "standing, moving the legs in place; no walking"),
]


@pytest.mark.slow
@pytest.mark.parametrize("name, posture, seen", LAB, ids=[x[0] for x in LAB])
def test_the_lab_clips_show_a_standing_person_who_does_not_walk_lie_or_sit(name, posture, seen):
    from kinematics.pipeline import KinematicsPipeline
    from kinematics.protocols import presence

    lm = _prepared(name).landmarks
    result = KinematicsPipeline().run(lm)
    for need in ("walking", "lying", "sit_to_stand"):
        det = presence.gate(need, lm, result)  # type: ignore[arg-type]
        assert not det.detected, (need, det)
        assert det.posture == posture
        assert det.seen.startswith(seen), det.seen


# (clip, what the wrong-view advice asks first, how the oblique view is described): the body in
# cam02 is 32 deg from facing the camera, nearer the frontal band (30) than the side-on one (60);
# multi cam03 is 47 deg from square with his back to the camera, nearer side-on (48 deg with
# onnxruntime's AVX2 kernels: the multi-person clips read differently by CPU class, tests/fingerprint).
WRONG_VIEW_ADVICE = [
    ("pose2sim_cam02.mp4", "faces you squarely", r"at an angle \(turned 32 deg from facing the camera squarely\)"),
    (
        "pose2sim_multi_cam02.mp4",
        "faces you squarely",
        r"at an angle \(back to the camera, turned 31 deg from square\)",
    ),
    ("pose2sim_multi_cam03.mp4", "side-on", r"at an angle \(back to the camera, turned 4[78] deg from square\)"),
]


@pytest.mark.slow
@pytest.mark.parametrize("name, first, seen", WRONG_VIEW_ADVICE, ids=[x[0] for x in WRONG_VIEW_ADVICE])
@pytest.mark.parametrize("exercise", ["gait", "sit_to_stand", "squat"])
def test_an_oblique_clip_is_asked_for_the_nearer_of_the_two_views_first(name, first, seen, exercise):
    """Until this was read as a clinician would, every two-view protocol said "turn side-on" to a body
    2 deg past the frontal limit."""
    message = _assessment(name, exercise)["coaching"][0]["message"]
    advice = message.split(": ", 1)[1]
    other = "side-on" if first != "side-on" else "faces you squarely"
    assert re.search(seen, message) and advice.index(first) < advice.index(other), message


@pytest.mark.slow
def test_the_walker_stepping_out_from_behind_the_tree_is_not_measured_until_the_pose_settles():
    """The first two frames in which the woman appears put her right hip on her hand: they once gave
    the recording's left hip flexion minimum (-41 deg, range 76.6) and a trunk 37 deg backward
    (range 34) that no stride of this walk comes near (frame by frame: hip -30..+36, trunk -15..-3)."""
    doc = _assessment("sports2d_walker.mp4", None)
    m = {x["name"]: x["value"] for x in doc["metrics"] if x["source"] == "series"}
    assert m["hip_flexion_left_min"] > -32 and m["hip_flexion_left_range"] < 70, m
    assert m["trunk_lean_forward_min"] > -20 and m["trunk_lean_forward_range"] < 20, m
    settling = [q for q in doc["quality"] if q["code"] == "pose_settling"]
    assert settling and "(2 frames)" in settling[0]["message"]
    trunk = doc["series"]["trunk_lean_forward_deg"]
    assert next(i for i, v in enumerate(trunk) if v is not None) == 10  # she appears in frame 8
    # the gait protocol reads the landmarks through the same rule
    from kinematics.pipeline import KinematicsPipeline
    from kinematics.protocols._common import masked_points

    lm = _prepared("sports2d_walker.mp4").landmarks
    hip = masked_points(lm, KinematicsPipeline().run(lm))["right_hip"]
    assert np.isnan(hip[8:10]).all() and np.isfinite(hip[10]).all()


@pytest.mark.slow
def test_the_jumping_jacks_landing_is_a_pose_failure_not_a_tilted_pelvis():
    """At the landing (2.27-2.40 s) the model puts the hips on top of each other three times and swaps the
    shoulders: pelvic obliquity once read -29 deg (range 35) and right hip adduction 20 deg, in a man whose
    pelvis stays within +-3 deg and whose feet land together. Those frames are now not measured."""
    doc = _assessment("sports2d_jumping_jacks.mp4", None)
    m = {x["name"]: x["value"] for x in doc["metrics"] if x["source"] == "series"}
    assert m["pelvic_obliquity_range"] < 10 and m["pelvic_obliquity_min"] > -5, m
    assert m["hip_abduction_right_min"] > -5 and m["hip_abduction_left_min"] > -10, m
    collapsed = [q for q in doc["quality"] if q["code"] == "hips_collapsed"]
    assert collapsed and "in 5 frame(s)" in collapsed[0]["message"]
    t = doc["series"]["t_s"]
    gone = [t[i] for i, v in enumerate(doc["series"]["pelvic_obliquity_deg"]) if v is None]
    assert gone == pytest.approx([68 / 30, 69 / 30, 70 / 30, 71 / 30, 72 / 30], abs=1e-3)
    assert doc["view"]["view"] == "frontal"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["pose2sim_cam03.mp4", "pose2sim_cam04.mp4", "pose2sim_multi_cam01.mp4"])
def test_a_back_to_the_camera_is_said_so_not_read_as_nearly_facing_it(name):
    """The man seen from behind (yaw -145 / 142, the woman -138) was "turned 33 deg from facing the camera"
    in every withheld angle's reason and the oblique_view issue: he is turned 145 deg from facing it."""
    doc = _assessment(name, None)
    off = round(doc["view"]["off_frontal_deg"])
    assert doc["view"]["facing"] == "back"
    oblique = next(q for q in doc["quality"] if q["code"] == "oblique_view")
    assert oblique["message"].startswith(f"back to the camera, body turned {off} deg from square")
    assert all("from facing the camera)" not in why for why in doc["unavailable"].values())
    assert all(f"back to the camera, body turned {off} deg from square" in why for why in doc["unavailable"].values())

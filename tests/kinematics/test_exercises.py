"""The exercise catalogue: every attention finding the protocols can raise is covered, sides are right, doses valid."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import kinematics.protocols
from kinematics.exercises import (
    CONVENTION,
    EXERCISES,
    RULES,
    ExerciseError,
    suggest,
    with_overrides,
)

_PROTOCOLS = Path(kinematics.protocols.__file__).parent


def _attention_codes() -> set[str]:
    """Every code a protocol source can emit with severity ``attention``, placeholders expanded to both sides."""
    codes: set[str] = set()
    for path in _PROTOCOLS.glob("*.py"):
        text = path.read_text()
        if path.name == "_common.py":  # asymmetry_finding(code, ...) raises "<code>_asymmetry": found at the callers
            continue
        codes |= set(re.findall(r'Finding\(\s*f?"([^"]+)",\s*"attention"', text))
        codes |= {f"{c}_asymmetry" for c in re.findall(r'asymmetry_finding\(\s*"(\w+)"', text)}
    out = set()
    for code in codes:
        for side in ("left", "right"):
            out.add(re.sub(r"\{\w+\}", side, code))
    return out


def test_the_scan_finds_the_known_attention_findings():
    codes = _attention_codes()
    # a few that docs/protocols name, so the scan cannot silently find nothing
    assert {
        "pelvic_drop_left_stance",
        "hold_short_right",
        "bridge_short",
        "pelvic_hike_left_abduction",
        "knee_fppa_asymmetry",
        "step_time_asymmetry",
    } <= codes
    assert len(codes) >= 15


@pytest.mark.parametrize("code", sorted(_attention_codes()))
def test_every_attention_finding_gets_a_suggestion(code):
    out = suggest(
        [{"code": code, "severity": "attention", "evidence": {"left": 1.0, "right": 2.0, "lower_side": "left"}}]
    )
    assert out.suggestions and not out.notes
    assert {s.finding_index for s in out.suggestions} == {0} and {s.finding_code for s in out.suggestions} == {code}


def test_no_rule_waits_for_a_code_no_protocol_raises():
    codes = _attention_codes()
    for rule in RULES:
        assert any(rule.match(c)[0] for c in codes), rule.pattern


@pytest.mark.parametrize(
    ("code", "evidence", "side"),
    [
        ("pelvic_drop_right_stance", {}, "right"),  # standing on the right leg: its abductors
        ("pelvic_drop_left_abduction", {}, "right"),  # lifting the left leg: the right one stands
        ("pelvic_hike_left_abduction", {}, "left"),
        ("hold_short_left", {}, "left"),
        ("pelvic_tilt_at_depth", {"lower_side": "left"}, "left"),  # weight moved off the left leg: load it again
        ("pelvic_tilt_standing", {"lower_side": "right"}, "right"),
        ("knee_fppa_asymmetry", {"left": 12.0, "right": 4.0}, "left"),  # more inward angle on the left
        ("hip_flexion_asymmetry", {"left": 80.0, "right": 95.0}, "left"),  # the left flexed less
        ("pelvic_drop_asymmetry", {"left": 6.0, "right": 2.0}, "right"),  # left side free and dropping: right stance
        ("bridge_short", {}, None),
    ],
)
def test_the_worked_side_follows_from_the_finding(code, evidence, side):
    out = suggest([{"code": code, "severity": "attention", "evidence": evidence}]).suggestions
    assert {s.side for s in out} == {side}
    if side is not None:
        for s in out:
            assert side in s.exercise.name or any(side in c for c in s.exercise.cues)
    for s in out:
        assert "{" not in s.exercise.name + "".join(s.exercise.cues) + s.exercise.progression


def test_only_attention_findings_suggest_and_inconclusive_ones_say_why():
    findings = [
        {"code": "pelvis_level_left_stance", "severity": "normal"},
        {"code": "pelvic_drop_left_stance_inconclusive", "severity": "inconclusive"},
        {"code": "squat_depth", "severity": "info"},
        {"code": "hold_short_right", "severity": "attention"},
        {"code": "made_up_code", "severity": "attention"},
    ]
    out = suggest(findings)
    assert [s.finding_index for s in out.suggestions] == [3]
    assert [(n.finding_index, n.finding_code) for n in out.notes] == [(1, findings[1]["code"]), (4, "made_up_code")]
    assert "95 %" in out.notes[0].reason and "catalogue" in out.notes[1].reason


def test_suggestions_keep_finding_then_catalogue_order():
    out = suggest(
        [
            {"code": "bridge_short", "severity": "attention"},
            {"code": "pelvic_drop_left_stance", "severity": "attention"},
        ]
    )
    assert [(s.finding_index, s.exercise.key) for s in out.suggestions] == [
        (0, "bridge_hold"),
        (0, "hip_flexor_stretch"),
        (1, "hip_hike_step"),
        (1, "side_lying_abduction"),
        (1, "single_leg_bridge_hold"),
    ]


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_every_exercise_is_complete_and_sourced(key):
    ex = EXERCISES[key]
    assert ex.cues and ex.progression and ex.rationale
    assert "below the knee" in ex.stop_rule  # the sciatica stop rule
    assert CONVENTION in ex.source or re.search(r"\b(19|20)\d\d\b", ex.source), ex.source
    a, hold, c = (int(x) for x in ex.tempo.split("-"))
    assert hold == (ex.hold_s or 0) and a >= 0 and c >= 0


def test_overrides_change_the_dose_and_nothing_else():
    base = EXERCISES["single_leg_balance"]
    got = with_overrides(base, {"hold_s": 30, "sets": 2})
    assert (got.hold_s, got.sets, got.tempo) == (30, 2, "1-30-1")
    assert (got.reps, got.rest_s, got.cues, got.source) == (base.reps, base.rest_s, base.cues, base.source)
    assert base.hold_s == 20  # the catalogue entry is untouched


@pytest.mark.parametrize(
    ("overrides", "text"),
    [
        ({"sets": 0}, "sets: 0 is out of range; accepted 1 to 10"),
        ({"hold_s": 121}, "accepted 0 to 120"),
        ({"hold_s": 2.5}, "whole seconds"),
        ({"tempo": "3-1"}, "'A-B-C'"),
        ({"hold_s": 10, "tempo": "2-5-2"}, "must equal hold_s"),
        ({"cues": []}, "cannot be overridden"),
    ],
)
def test_bad_overrides_name_the_field_and_the_range(overrides, text):
    with pytest.raises(ExerciseError, match=re.escape(text)):
        with_overrides(EXERCISES["bridge_hold"], overrides)


def test_suggestions_from_a_recording_of_known_truth():
    """Single-leg stance held 6.8 s (right) and 5.8 s (left), both under the 30 s target: each short hold gets a
    balance exercise on its own leg, tied to its finding's index."""
    from tests.protocols.synthetic import SCENARIOS, observe

    findings = [
        {"code": f.code, "severity": f.severity, "evidence": f.evidence}
        for f in observe(SCENARIOS["single_leg_stance"], 0.0, "image").result.findings
    ]
    out = suggest(findings)
    balance = {s.side: s for s in out.suggestions if s.exercise.key == "single_leg_balance"}
    assert set(balance) == {"left", "right"}
    for side, s in balance.items():
        assert findings[s.finding_index]["code"] == f"hold_short_{side}"
    inconclusive = [i for i, f in enumerate(findings) if f["severity"] == "inconclusive"]
    assert [n.finding_index for n in out.notes] == inconclusive

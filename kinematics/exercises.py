"""Exercise suggestions from protocol findings: a small catalogue, pure data and one function.

Each :class:`Rule` maps a finding code (with ``{side}`` standing for ``left`` or
``right``) to one or more :class:`Exercise` entries and says which side the
exercise works. Only findings with severity ``attention`` produce suggestions;
an ``inconclusive`` finding produces a :class:`SuggestionNote` saying why no
exercise is proposed. Suggestions are proposals for a clinician to approve or
reject; they are never applied on their own, and they never diagnose.

Parameters
----------
Every exercise states ``sets``, ``reps``, ``hold_s`` (seconds held at the
working position in each repetition, ``None`` when there is no hold), ``tempo``
and ``rest_s`` (seconds between sets). ``tempo`` is ``"A-B-C"``: seconds moving
into the working position, seconds held there, seconds returning; its middle
number always equals ``hold_s`` (0 without a hold). The doses are clinical
convention unless the ``source`` says otherwise; the sources are EMG studies in
healthy adults (which exercise loads which muscle), not outcome trials.

Examples
--------
>>> out = suggest([{"code": "pelvic_drop_left_stance", "severity": "attention"}])
>>> [(s.finding_index, s.exercise.key, s.side) for s in out.suggestions][:1]
[(0, 'hip_hike_step', 'left')]
>>> suggest([{"code": "bridge_top_inconclusive", "severity": "inconclusive"}]).notes[0].finding_code
'bridge_top_inconclusive'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from kinematics.series import Side, other_side

__all__ = [
    "CATALOGUE",
    "CONVENTION",
    "EXERCISES",
    "OVERRIDE_LIMITS",
    "RULES",
    "Exercise",
    "ExerciseError",
    "Rule",
    "Suggestion",
    "SuggestionNote",
    "Suggestions",
    "suggest",
    "with_overrides",
]

CONVENTION = "clinical convention, no trial"

# Sources (full references; docs/review.md lists them too).
BOLGLA_2005 = (
    "Bolgla & Uhl, J Orthop Sports Phys Ther 2005;35(8):487-494 (gluteus medius EMG highest in "
    "weight-bearing pelvic drop and standing hip abduction; healthy adults)"
)
DISTEFANO_2009 = (
    "Distefano et al., J Orthop Sports Phys Ther 2009;39(7):532-540 (side-lying hip abduction: highest "
    "gluteus medius EMG of 12 exercises; healthy adults)"
)
EKSTROM_2007 = (
    "Ekstrom, Donatelli & Carp, J Orthop Sports Phys Ther 2007;37(12):754-762 (surface EMG, 30 healthy "
    "adults: bridge and single-leg bridge activate the gluteals below 45 % MVIC, a level for endurance "
    "and stabilisation rather than strength; side-bridge reached strengthening levels for gluteus medius)"
)
WILLY_2011 = (
    "Willy & Davis, J Orthop Sports Phys Ther 2011;41(9):625-632 (hip abductor and external rotator "
    "strengthening changed single-leg squat mechanics, not running)"
)
HARDCASTLE_1985 = "Hardcastle & Nade, J Bone Joint Surg Br 1985;67(5):741-6 (30 s single-leg stance target)"
MAY_2012 = "May & Aina, Man Ther 2012;17(6):497-506 (centralisation and peripheralisation of referred pain)"

# Stop rule shared by every exercise: sciatica pain that spreads further down the leg (peripheralises) is the
# sign clinicians use to stop a loading exercise (May & Aina 2012).
_STOP = (
    "Stop and tell your clinician if leg pain spreads further down the leg (below the knee or into the foot), "
    "if numbness or pins and needles start or grow, or if pain stays worse for more than 30 minutes afterwards."
)


class ExerciseError(ValueError):
    """A parameter override out of range or inconsistent (the message names the field and the accepted range)."""


@dataclass(frozen=True, kw_only=True)
class Exercise:
    """One exercise with its dose; ``{side}``/``{other}`` in the texts name the worked side and the other one."""

    key: str
    name: str
    sets: int
    reps: int
    hold_s: float | None
    tempo: str
    rest_s: float
    cues: tuple[str, ...]
    progression: str
    stop_rule: str
    rationale: str
    source: str

    def for_side(self, side: Side | None) -> Exercise:
        """The same exercise with ``{side}``/``{other}`` filled in (``"the weaker"``/``"the other"`` without a side)."""
        names = {"side": side or "affected", "other": other_side(side) if side else "other"}
        return replace(
            self,
            name=self.name.format(**names),
            cues=tuple(c.format(**names) for c in self.cues),
            progression=self.progression.format(**names),
        )

    def parameters(self) -> dict[str, object]:
        return {"sets": self.sets, "reps": self.reps, "hold_s": self.hold_s, "tempo": self.tempo, "rest_s": self.rest_s}


# Limits of an approved override: anything outside is refused (ExerciseError), with the range in the message.
OVERRIDE_LIMITS: dict[str, tuple[float, float]] = {
    "sets": (1, 10),
    "reps": (1, 50),
    "hold_s": (0, 120),
    "rest_s": (0, 600),
}
_TEMPO = re.compile(r"^(\d{1,3})-(\d{1,3})-(\d{1,3})$")


def _check(ex: Exercise) -> Exercise:
    for name, (low, high) in OVERRIDE_LIMITS.items():
        value = getattr(ex, name)
        if value is not None and not (low <= value <= high):
            raise ExerciseError(f"{name}: {value!r} is out of range; accepted {low:g} to {high:g}")
    if ex.hold_s is not None and float(ex.hold_s) != int(ex.hold_s):
        raise ExerciseError(f"hold_s: {ex.hold_s!r} is not whole seconds; accepted whole seconds 0 to 120")
    m = _TEMPO.match(ex.tempo)
    if m is None:
        raise ExerciseError(
            f"tempo: {ex.tempo!r} is not 'A-B-C' (whole seconds into, held at, and back from the "
            "working position, e.g. '3-1-3')"
        )
    if float(m.group(2)) != float(ex.hold_s or 0):
        raise ExerciseError(f"tempo: the middle number ({m.group(2)} s) must equal hold_s ({ex.hold_s or 0:g} s)")
    return ex


def with_overrides(exercise: Exercise, overrides: Mapping[str, object]) -> Exercise:
    """``exercise`` with a clinician's changes to ``sets``, ``reps``, ``hold_s``, ``tempo`` or ``rest_s``.

    Changing ``hold_s`` alone also changes the middle of ``tempo`` (they describe the same hold).

    Examples
    --------
    >>> with_overrides(EXERCISES["bridge_hold"], {"hold_s": 8}).tempo
    '2-8-3'
    """
    unknown = sorted(set(overrides) - {"sets", "reps", "hold_s", "tempo", "rest_s"})
    if unknown:
        raise ExerciseError(f"{unknown[0]}: cannot be overridden; accepted: sets, reps, hold_s, tempo, rest_s")
    changes = {k: v for k, v in overrides.items() if v is not None}
    if "hold_s" in changes and "tempo" not in changes:
        a, _, c = exercise.tempo.split("-")
        changes["tempo"] = f"{a}-{float(changes['hold_s']):g}-{c}"  # type: ignore[arg-type]
    return _check(replace(exercise, **changes))  # type: ignore[arg-type]


def _exercises(*items: Exercise) -> dict[str, Exercise]:
    return {e.key: _check(e) for e in items}


EXERCISES: dict[str, Exercise] = _exercises(
    Exercise(
        key="hip_hike_step",
        name="Hip hike on a step, standing on the {side} leg",
        sets=3,
        reps=10,
        hold_s=3,
        tempo="2-3-3",
        rest_s=60,
        cues=(
            "Stand on the {side} leg on the edge of a step, the {other} foot free beside it; hold a rail.",
            "Let the {other} side of the pelvis sink a little, then lift it level using the {side} hip and hold.",
            "Keep both knees straight and the trunk upright: the lift comes from the hip, not a side bend.",
        ),
        progression="Stand without holding the rail; then hold a light weight in the {other} hand.",
        stop_rule=_STOP,
        rationale="Works the standing-leg hip abductors that hold the pelvis level in single-leg stance.",
        source=BOLGLA_2005,
    ),
    Exercise(
        key="side_lying_abduction",
        name="Side-lying hip abduction, {side} leg",
        sets=3,
        reps=10,
        hold_s=2,
        tempo="2-2-3",
        rest_s=60,
        cues=(
            "Lie on the {other} side, the lower knee bent, the {side} leg straight and in line with the trunk.",
            "Lift the {side} leg to about 30 deg with the toes pointing forward, hold, then lower slowly.",
            "Keep the pelvis still: do not roll back or hitch the waist to lift the leg higher.",
        ),
        progression="Add an ankle weight of 0.5-1 kg, or a band above the knees.",
        stop_rule=_STOP,
        rationale="Isolates the hip abductors of one side without load through the spine.",
        source=DISTEFANO_2009,
    ),
    Exercise(
        key="single_leg_bridge_hold",
        name="Slow single-leg bridge (hip thrust) with holds, {side} leg",
        sets=3,
        reps=8,
        hold_s=5,
        tempo="3-5-3",
        rest_s=90,
        cues=(
            "Lie on the back, {side} foot flat, the {other} leg held straight or bent to the chest.",
            "Lift the hips slowly until shoulders, hips and knee are in line; hold with the pelvis level.",
            "If the {other} side of the pelvis drops, lower the height until it stays level.",
        ),
        progression="Lengthen the hold to 10 s; then place the shoulders on a bench (hip thrust).",
        stop_rule=_STOP,
        rationale="Isometric holds of the hip extensors and abductors of one leg with the pelvis kept level.",
        source=EKSTROM_2007,
    ),
    Exercise(
        key="controlled_abduction_mirror",
        name="Standing hip abduction without hitching, {side} leg",
        sets=2,
        reps=10,
        hold_s=2,
        tempo="2-2-2",
        rest_s=60,
        cues=(
            "Stand facing a mirror, hands on the pelvis, holding a chair with one hand if needed.",
            "Lift the {side} leg only as far as the pelvis stays level under your hands; hold, lower slowly.",
            "Keep the {side} waist long: the hip lifts the leg, not the side of the trunk.",
        ),
        progression="Increase the height only while the pelvis stays level; then add a light band.",
        stop_rule=_STOP,
        rationale="Retrains lifting the leg with the hip abductors instead of hitching the pelvis with the trunk.",
        source=BOLGLA_2005 + "; the no-hitching cue is " + CONVENTION,
    ),
    Exercise(
        key="single_leg_balance",
        name="Single-leg balance holds on the {side} leg",
        sets=3,
        reps=3,
        hold_s=20,
        tempo="1-20-1",
        rest_s=60,
        cues=(
            "Stand on the {side} leg beside a worktop you can touch if you wobble.",
            "Keep the pelvis level and the trunk upright; breathe normally.",
            "Put the foot down before you lose balance; record how long you held.",
        ),
        progression="Lengthen the holds toward 30 s (the test's target); then close the eyes or stand on a cushion.",
        stop_rule=_STOP,
        rationale="Builds single-leg stance time toward the 30 s of the Trendelenburg test; dose is convention.",
        source=CONVENTION + "; 30 s target from " + HARDCASTLE_1985,
    ),
    Exercise(
        key="even_weight_squat",
        name="Mirror squat to a chair with even weight",
        sets=3,
        reps=8,
        hold_s=1,
        tempo="3-1-2",
        rest_s=60,
        cues=(
            "Stand facing a mirror, feet hip-width, a chair behind you.",
            "Lower slowly until you touch the chair, keeping the belt line level in the mirror.",
            (
                "Push evenly through both feet to stand, the {side} foot as much as the {other}; do not lean toward "
                "the {other} side."
            ),
        ),
        progression="Lower the chair; then pause without sitting.",
        stop_rule=_STOP,
        rationale="Practises loading both legs evenly where the pelvis tilted toward one side at depth.",
        source=CONVENTION,
    ),
    Exercise(
        key="even_weight_sit_to_stand",
        name="Sit to stand with even weight",
        sets=3,
        reps=8,
        hold_s=0,
        tempo="2-0-3",
        rest_s=60,
        cues=(
            "Sit on the front of a firm chair, feet level and hip-width, facing a mirror.",
            "Lean forward and stand up pushing evenly through both feet, the {side} as much as the {other}.",
            "Sit down slowly; do not shift toward the {other} side.",
        ),
        progression="Stand up without the hands; then from a lower chair.",
        stop_rule=_STOP,
        rationale="Practises even weight bearing where the pelvis tilted toward one side when standing up.",
        source=CONVENTION,
    ),
    Exercise(
        key="bridge_hold",
        name="Bridge with holds at the top",
        sets=3,
        reps=8,
        hold_s=5,
        tempo="2-5-3",
        rest_s=60,
        cues=(
            "Lie on the back, knees bent, feet flat and hip-width.",
            "Squeeze the buttocks and lift the hips until shoulders, hips and knees are in line; hold.",
            "Lower slowly; stop short of the top if the low back arches or hurts.",
        ),
        progression="Lengthen the hold to 10 s; then the single-leg bridge.",
        stop_rule=_STOP,
        rationale="Works the hip extensors toward full hip extension at the top of the bridge.",
        source=EKSTROM_2007,
    ),
    Exercise(
        key="hip_flexor_stretch",
        name="Half-kneeling hip flexor stretch, {side} knee down",
        sets=2,
        reps=3,
        hold_s=30,
        tempo="3-30-3",
        rest_s=30,
        cues=(
            "Kneel on the {side} knee on a cushion, the {other} foot forward.",
            "Tuck the pelvis under and shift forward gently until you feel a stretch at the front of the {side} hip.",
            "Keep the trunk upright; do not arch the low back.",
        ),
        progression="Raise the {side} arm overhead during the hold.",
        stop_rule=_STOP,
        rationale="Stiff hip flexors can stop the hips short of a straight line at the top of a bridge.",
        source=CONVENTION,
    ),
    Exercise(
        key="clamshell",
        name="Clamshell, {side} leg on top",
        sets=3,
        reps=12,
        hold_s=2,
        tempo="2-2-2",
        rest_s=60,
        cues=(
            "Lie on the {other} side, hips and knees bent, heels together.",
            "Open the {side} knee without rolling the pelvis back; hold, then close slowly.",
        ),
        progression="Add a band above the knees.",
        stop_rule=_STOP,
        rationale="Hip abductor and external rotator work for a knee that moves inward on one side.",
        source=WILLY_2011,
    ),
    Exercise(
        key="active_assisted_hip_flexion",
        name="Lying knee-to-chest (bent knee), {side} hip",
        sets=2,
        reps=10,
        hold_s=5,
        tempo="3-5-3",
        rest_s=30,
        cues=(
            "Lie on the back; bring the {side} knee toward the chest, helping with the hands behind the thigh.",
            "Keep the knee bent: a straight-leg lift can pull on an irritated sciatic nerve.",
            "Hold where it is comfortable, lower slowly.",
        ),
        progression="Hold longer; then lift the bent leg without the hands.",
        stop_rule=_STOP,
        rationale="Works toward the same hip flexion on both sides where one side flexed less.",
        source=CONVENTION,
    ),
    Exercise(
        key="metronome_walking",
        name="Walking to a metronome",
        sets=3,
        reps=1,
        hold_s=120,
        tempo="0-120-0",
        rest_s=60,
        cues=(
            "Set a metronome to your comfortable walking cadence.",
            "Walk for 2 minutes placing each foot on a beat, with steps of equal length and time.",
        ),
        progression="Raise the cadence by 5 steps per minute once the steps feel even.",
        stop_rule=_STOP,
        rationale="Cues equal step timing where the two sides' steps differed.",
        source=CONVENTION,
    ),
)


def _larger(evidence: Mapping[str, object]) -> Side | None:
    left, right = evidence.get("left"), evidence.get("right")
    if not isinstance(left, int | float) or not isinstance(right, int | float) or left == right:
        return None
    return "left" if left > right else "right"


def _smaller(evidence: Mapping[str, object]) -> Side | None:
    side = _larger(evidence)
    return None if side is None else other_side(side)


def _lower_side(evidence: Mapping[str, object]) -> Side | None:
    low = evidence.get("lower_side")
    return low if low in ("left", "right") else None


@dataclass(frozen=True)
class Rule:
    """Finding code pattern -> exercises, and which side they work.

    ``target`` gets the side in the code (or ``None``) and the finding's evidence and
    returns the side the exercises work, or ``None`` when both sides are worked alike.
    """

    pattern: str
    exercises: tuple[str, ...]
    target: Callable[[Side | None, Mapping[str, object]], Side | None]
    why: str

    def match(self, code: str) -> tuple[bool, Side | None]:
        regex = "^" + re.escape(self.pattern).replace(r"\{side\}", "(left|right)") + "$"
        m = re.match(regex, code)
        if m is None:
            return False, None
        return True, (m.group(1) if m.groups() else None)  # type: ignore[return-value]


RULES: tuple[Rule, ...] = (
    Rule(
        "pelvic_drop_{side}_stance",
        ("hip_hike_step", "side_lying_abduction", "single_leg_bridge_hold"),
        lambda side, _: side,
        "the pelvis dropped on the free side in single-leg stance on this leg",
    ),
    Rule(
        "pelvic_drop_{side}_abduction",
        ("hip_hike_step", "side_lying_abduction", "single_leg_bridge_hold"),
        lambda side, _: other_side(side) if side else None,  # the standing leg's abductors hold the pelvis
        "the pelvis dropped while the other leg was lifted, so this standing leg's abductors are worked",
    ),
    Rule(
        "pelvic_hike_{side}_abduction",
        ("controlled_abduction_mirror", "side_lying_abduction"),
        lambda side, _: side,
        "the pelvis hitched as this leg was lifted",
    ),
    Rule(
        "hold_short_{side}",
        ("single_leg_balance",),
        lambda side, _: side,
        "single-leg stance on this leg was shorter than the 30 s target",
    ),
    # the lower side of the pelvis is the leg the weight moved off: that leg is the one to load again
    Rule(
        "pelvic_tilt_at_depth",
        ("even_weight_squat",),
        lambda _, ev: _lower_side(ev),
        "at the bottom of the squat this side of the pelvis was lower, the weight shifted onto the other leg",
    ),
    Rule(
        "pelvic_tilt_standing",
        ("even_weight_sit_to_stand",),
        lambda _, ev: _lower_side(ev),
        "standing up, this side of the pelvis was lower, the weight shifted onto the other leg",
    ),
    Rule(
        "bridge_short",
        ("bridge_hold", "hip_flexor_stretch"),
        lambda _side, _ev: None,
        "the hips stayed short of a straight line at the top of the bridge",
    ),
    Rule(
        "knee_fppa_asymmetry",
        ("clamshell", "side_lying_abduction"),
        lambda _, ev: _larger(ev),
        "the knee moved inward more on this side at the bottom of the squat",
    ),
    Rule(
        "hip_flexion_asymmetry",
        ("active_assisted_hip_flexion",),
        lambda _, ev: _smaller(ev),
        "this hip flexed less than the other",
    ),
    Rule(
        "pelvic_drop_asymmetry",
        ("hip_hike_step", "side_lying_abduction"),
        lambda _, ev: _smaller(ev),  # evidence is per free side: the stance leg under the larger drop is the other
        "in walking the pelvis dropped more when standing on this leg",
    ),
    Rule(
        "hip_range_asymmetry",
        ("metronome_walking",),
        lambda _side, _ev: None,
        "the two hips moved through different ranges per stride",
    ),
    Rule("step_time_asymmetry", ("metronome_walking",), lambda _side, _ev: None, "the two sides' step times differed"),
)

CATALOGUE: dict[str, tuple[Exercise, ...]] = {r.pattern: tuple(EXERCISES[k] for k in r.exercises) for r in RULES}


@dataclass(frozen=True)
class Suggestion:
    """A proposed exercise, tied to the finding (by its index in the assessment's list) that motivated it."""

    finding_index: int
    finding_code: str
    side: Side | None
    exercise: Exercise
    rationale: str


@dataclass(frozen=True)
class SuggestionNote:
    """Why a finding produced no suggestion."""

    finding_index: int
    finding_code: str
    reason: str


@dataclass(frozen=True)
class Suggestions:
    suggestions: list[Suggestion] = field(default_factory=list)
    notes: list[SuggestionNote] = field(default_factory=list)


_INCONCLUSIVE = (
    "the measurement's 95 % range includes the threshold, so this recording cannot tell whether there "
    "is a problem; no exercise is proposed on an uncertain finding. Record again as the finding says."
)
_NO_RULE = "no exercise in the catalogue targets this finding; the clinician decides."


def suggest(findings: Sequence[Mapping[str, object]]) -> Suggestions:
    """Suggestions for ``findings`` (the assessment's list, as stored; order is kept).

    Parameters
    ----------
    findings
        Mappings with at least ``code`` and ``severity``; ``evidence`` picks the side of
        asymmetry findings.

    Returns
    -------
    Suggestions
        One :class:`Suggestion` per exercise of each ``attention`` finding with a rule,
        in finding order then catalogue order, and one :class:`SuggestionNote` per
        ``inconclusive`` finding or ``attention`` finding without a rule.
    """
    out = Suggestions()
    for index, finding in enumerate(findings):
        code, severity = str(finding.get("code", "")), finding.get("severity")
        if severity == "inconclusive":
            out.notes.append(SuggestionNote(index, code, _INCONCLUSIVE))
            continue
        if severity != "attention":
            continue
        evidence = finding.get("evidence") or {}
        for rule in RULES:
            matched, side = rule.match(code)
            if matched:
                target = rule.target(side, evidence if isinstance(evidence, Mapping) else {})
                for key in rule.exercises:
                    ex = EXERCISES[key]
                    out.suggestions.append(
                        Suggestion(
                            index, code, target, ex.for_side(target), f"Proposed because {rule.why}. {ex.rationale}"
                        )
                    )
                break
        else:
            out.notes.append(SuggestionNote(index, code, _NO_RULE))
    return out

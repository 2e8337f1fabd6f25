"""One catalogue of what people read: labels and units for series, metrics, evidence, events, outcomes.

The reports (:mod:`service.reports`) and the clinician app (``GET /v1/catalogue``) both take their
words from here, so a measure is called the same everywhere and no raw ``snake_case`` name or
unit ``"1"`` reaches a page. A name the catalogue does not know is still readable: its unit suffix
is taken off and the underscores become spaces (:func:`label`).

Coaching (advice to whoever films) is written for the patient; :func:`clinician_note` gives the
clinician's version of the same fact for the clinician's pages and reports.

Quality issues (what limits the measurements of a recording) keep their sentence from the analysis;
:data:`QUALITY` gives each code the plain title both the reports and the pages print before it
(:func:`quality_notes`), so neither shows a code or a bare severity word. Those sentences and titles
are for clinicians: the patient's live page shows, for the same codes (:data:`QUALITY_WORDS`, one
table), :data:`PATIENT_ADVICE`: what to change while filming.

A finding's severity (``normal``, ``attention``, ``inconclusive``, ``info``) is a code in the JSON;
:data:`SEVERITY` gives each its plain title and one sentence of what it means, which the reports and
the clinician's page print instead of the code (:func:`severity_title`). The words say where a value
lies against a published reference, never what the patient has: findings support a clinician's
judgement, they never diagnose.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = [
    "BY_EXERCISE",
    "EVENTS",
    "EXERCISES",
    "METRICS",
    "OUTCOMES",
    "PATIENT_ADVICE",
    "QUALITY",
    "QUALITY_INTRO",
    "QUALITY_WORDS",
    "SERIES",
    "UNITS",
    "NEEDED",
    "SEEN",
    "SEVERITY",
    "Entry",
    "QualityNote",
    "QualityWords",
    "as_json",
    "as_reason",
    "clinician_note",
    "coverage_of",
    "fmt_interval",
    "fmt_value",
    "label",
    "quality_notes",
    "quality_title",
    "seen_key",
    "severity_key",
    "severity_meaning",
    "severity_title",
    "side_pair",
    "unit_text",
]


@dataclass(frozen=True)
class Entry:
    label: str  # sentence case, no unit: "Hip flexion"
    unit: str  # the stored unit ("deg", "s", "1" for a count)
    side: str | None = None  # the side a series name carries (hip_flexion_left_deg)
    digits: int = 1  # decimals to print


# Units as printed. A count ("1") has no unit; "deg" prints as a degree sign.
UNITS: dict[str, str] = {
    "deg": "°",
    "deg/s": "°/s",
    "1": "",
    "1/min": "steps/min",
    "s": "s",
    "m": "m",
    "m/s": "m/s",
    "mps": "m/s",
    "%": "%",
    "px": "px",
    "points": "points",
    "leg lengths": "leg lengths",
}

EXERCISES: dict[str | None, str] = {
    "bridge": "Bridge",
    "gait": "Walking",
    "single_leg_stance": "Single-leg stance",
    "sit_to_stand": "Sit to stand",
    "squat": "Squat",
    "standing_hip_abduction": "Standing hip abduction",
    "standing_hip_flexion": "Standing hip flexion",
    None: "No exercise protocol",
}

SERIES: dict[str, Entry] = {
    "pelvic_obliquity_deg": Entry("Pelvic obliquity", "deg"),
    "trunk_lean_lateral_deg": Entry("Trunk lean, sideways", "deg"),
    "trunk_lean_forward_deg": Entry("Trunk lean, forward", "deg"),
    "hip_flexion_left_deg": Entry("Hip flexion", "deg", "left"),
    "hip_flexion_right_deg": Entry("Hip flexion", "deg", "right"),
    "hip_abduction_left_deg": Entry("Hip abduction", "deg", "left"),
    "hip_abduction_right_deg": Entry("Hip abduction", "deg", "right"),
    "knee_flexion_left_deg": Entry("Knee flexion", "deg", "left"),
    "knee_flexion_right_deg": Entry("Knee flexion", "deg", "right"),
    "body_yaw_deg": Entry("Body turned from the camera", "deg"),
}

METRICS: dict[str, Entry] = {
    "cadence_steps_per_min": Entry("Cadence", "1/min", digits=0),
    "hip_abduction_range_deg": Entry("Hip abduction range", "deg"),
    "hip_extension_reached_deg": Entry("Hip extension reached", "deg"),
    "hip_flexion_coverage_pct": Entry("Hip flexion measured (share of the walk)", "%", digits=0),
    "hip_flexion_range_deg": Entry("Hip flexion range", "deg"),
    "hip_flexion_range_per_stride_deg": Entry("Hip flexion range per stride", "deg"),
    "hold_count": Entry("Holds", "1", digits=0),
    "hold_duration_s": Entry("Hold duration", "s"),
    "knee_fppa_at_depth_deg": Entry("Knee frontal-plane projection angle at depth", "deg"),
    "pass_count": Entry("Walking passes", "1", digits=0),
    "peak_hip_extension_velocity_deg_s": Entry("Peak hip extension velocity", "deg/s", digits=0),
    "peak_hip_flexion_deg": Entry("Peak hip flexion", "deg"),
    "pelvic_drop_deg": Entry("Pelvic drop", "deg"),
    "pelvic_hike_deg": Entry("Pelvic hike", "deg"),
    "pelvic_obliquity_peak_deg": Entry("Pelvic obliquity, peak", "deg"),
    "pelvic_obliquity_range_deg": Entry("Pelvic obliquity range", "deg"),
    "pelvic_obliquity_range_per_stride_deg": Entry("Pelvic obliquity range per stride", "deg"),
    "rep_count": Entry("Repetitions", "1", digits=0),
    "squat_depth_hip_flexion_deg": Entry("Squat depth (hip flexion)", "deg"),
    "squat_descent_leg_lengths": Entry("Squat descent", "leg lengths", digits=2),
    "stance_duration_s": Entry("Single-leg stance held", "s"),
    "step_count": Entry("Steps", "1", digits=0),
    "step_time_s": Entry("Step time", "s", digits=2),
    "stride_count": Entry("Strides", "1", digits=0),
    "stride_length_m": Entry("Stride length", "m", digits=2),
    "time_per_rep_s": Entry("Time per repetition", "s"),
    "total_time_s": Entry("Total time", "s"),
    "trunk_lean_forward_at_depth_deg": Entry("Forward trunk lean at depth", "deg"),
    "trunk_lean_lateral_change_deg": Entry("Sideways trunk lean, change", "deg"),
    "trunk_lean_toward_stance_deg": Entry("Trunk lean toward the stance leg", "deg"),
    "walking_bout_count": Entry("Walking bouts", "1", digits=0),
    "walking_speed_mps": Entry("Walking speed", "m/s", digits=2),
    "walking_time_s": Entry("Walking time", "s"),
}

# Keys of a finding's evidence that are not metrics.
EVIDENCE: dict[str, Entry] = {
    "left_minus_right_deg": Entry("Left minus right", "deg"),
    "left_minus_right_s": Entry("Left minus right", "s", digits=2),
    "left_minus_right_steps_per_min": Entry("Left minus right", "1/min", digits=0),
    "left_higher_deg": Entry("Left side higher by", "deg"),
    "right_higher_deg": Entry("Right side higher by", "deg"),
    "longest_hold_s": Entry("Longest hold", "s"),
    "movement_onset_s": Entry("Movement onset", "s", digits=2),
    "muscle_onset_s": Entry("Muscle onset", "s", digits=2),
    "delta_ms": Entry("Muscle onset before movement", "ms", digits=0),
    "repetitions": Entry("Repetitions", "1", digits=0),
    "steps": Entry("Steps", "1", digits=0),
    "passes": Entry("Walking passes", "1", digits=0),
    "bouts": Entry("Walking bouts", "1", digits=0),
    "stance_leg": Entry("Stance leg", ""),
    "moving_leg": Entry("Moving leg", ""),
    "lower_side": Entry("Lower side", ""),
    "frontal": Entry("Walked toward the camera", ""),
}

# A metric whose meaning depends on the exercise: a walk's "repetitions" are its foot contacts.
BY_EXERCISE: dict[str, dict[str, str]] = {
    "gait": {"rep_count": "Foot contacts"},
}

EVENTS: dict[str, str] = {
    "single_leg_stance": "single-leg stance",
    "hold": "hold",
    "rep": "repetition",
    "pass": "walking pass",
    "walking_bout": "walking bout",
    "initial_contact": "foot contact",
}

OUTCOMES: dict[str, Entry] = {
    # The ODI is a percentage of the maximum score (0-100); its changes and MCID are percentage points.
    "odi": Entry("Oswestry Disability Index (ODI)", "%", digits=0),
    "nrs": Entry("Pain (NRS 0-10)", "points", digits=0),
    "nrs_leg": Entry("Leg pain (NRS 0-10)", "points", digits=0),
    "nrs_back": Entry("Back pain (NRS 0-10)", "points", digits=0),
}

_SUFFIXES = (
    ("_steps_per_min", "1/min"),
    ("_deg_s", "deg/s"),
    ("_deg", "deg"),
    ("_mps", "m/s"),
    ("_pct", "%"),
    ("_px", "px"),
    ("_m", "m"),
    ("_s", "s"),
)


def _guess(name: str) -> Entry:
    side = None
    base, unit = name, ""
    for suffix, u in _SUFFIXES:
        if base.endswith(suffix):
            base, unit = base[: -len(suffix)], u
            break
    m = re.search(r"_(left|right)(?=_|$)", base)
    if m:
        side = m.group(1)
        base = base[: m.start()] + base[m.end() :]
    words = base.replace("_", " ").strip()
    return Entry(words[:1].upper() + words[1:], unit, side)


def entry(name: str) -> Entry:
    """The catalogue's entry for a series, metric, evidence key or outcome; a readable guess otherwise."""
    for table in (METRICS, SERIES, EVIDENCE, OUTCOMES):
        if name in table:
            return table[name]
    return _guess(name)


def label(name: str, *, side: bool = True, exercise: str | None = None) -> str:
    """``"Hip flexion (left)"`` for ``hip_flexion_left_deg``; ``side=False`` leaves the side out."""
    e = entry(name)
    text = BY_EXERCISE.get(exercise or "", {}).get(name, e.label)
    return f"{text} ({e.side})" if side and e.side else text


def side_pair(name: str) -> tuple[str, str] | None:
    """``("hip_flexion_{}_deg", "left")`` when ``name`` has a left/right twin, else None."""
    m = re.search(r"_(left|right)(?=_|$)", name)
    if not m:
        return None
    return name[: m.start()] + "_{}" + name[m.end() :], m.group(1)


def unit_text(unit: str) -> str:
    return UNITS.get(unit, unit)


def _number(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text.replace("-", "\u2212")  # a real minus sign


def fmt_value(value: float | int | None, unit: str, digits: int | None = 1) -> str:
    """``"6.1°"``, ``"0.62 s"``, ``"7"`` (a count); ``"–"`` for no value. ``digits=None``: as short as exact (4°)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    u = unit_text(unit)
    if digits is None:
        number = f"{float(value):g}".replace("-", "\u2212")
    else:
        number = _number(float(value), 0 if unit == "1" else digits)
    if not u:
        return number
    return f"{number}{u}" if u in ("°", "°/s", "%") else f"{number} {u}"


def fmt_interval(ci: tuple[float, float] | list[float] | None, unit: str, digits: int = 1) -> str:
    """``"95 % interval −1.8 to 14.0°"``: the same numbers the evidence holds, at the value's precision."""
    if not ci:
        return ""
    lo, hi = (_number(float(x), digits) for x in ci)
    u = unit_text(unit)
    tail = "" if not u else (u if u in ("°", "°/s", "%") else f" {u}")
    return f"95 % interval {lo} to {hi}{tail}"


# Coaching is addressed to whoever films; a clinician reads why the recording could not be scored.
_CLINICIAN: dict[str, str] = {
    "wrong_view": "Not scored: this exercise is measured {needed}; the recording shows the patient {seen}.",
    "labels_mirrored": "Not scored: the picture is mirrored, so left and right would be swapped.",
    "body_out_of_frame": "Not scored: parts of the body were out of the picture for much of the recording.",
    "frame_rate_low": "Not scored: the frame rate is too low to time the movement (30 frames per second needed).",
    "too_short": "Not scored: the recording is too short for the exercise.",
    "pelvis_too_small": "Not scored: the patient is too small in the picture to measure the pelvis reliably.",
    "no_baseline": "Not scored: there was no two-leg stance to compare the single-leg stance with.",
    "not_detected": "Not scored: the exercise's movement was not found in the recording.",
    "no_gait": "Not scored: no usable lower-back sensor recording of walking (at least 4 s needed).",
    "no_steps": "Not scored: no steps were found in the sensor recording.",
    "no_full_pass": "Not scored: no walking pass was fully in the picture.",
    "imu_axes": "Not scored: the sensor's axis mapping was not given, so pelvic obliquity cannot be computed.",
}


# The view a recording shows, in a clinician's words (``seen_key``); how far it is turned is in the quality block.
SEEN: dict[str, str] = {
    "frontal": "facing the camera",
    "frontal_back": "with the back to the camera",
    "sagittal": "side-on",
    "oblique": "at an angle",
    "oblique_back": "at an angle, back to the camera",
    "unknown": "without shoulders and hips in view",
}


def _measured_from() -> dict[str, str]:
    from kinematics.protocols.capture import VIEWS, measured_from  # the protocols' own list: one source

    return {name: measured_from(views) for name, views in VIEWS.items()}


NEEDED: dict[str, str] = _measured_from()  # exercise -> "side-on or facing the camera"


def seen_key(view: str | None, facing: str | None) -> str:
    """The :data:`SEEN` key of an assessment's ``view`` block (the clinician page computes it the same way)."""
    v = view or "unknown"
    return f"{v}_back" if facing == "back" and f"{v}_back" in SEEN else v


def clinician_note(code: str, *, exercise: str | None = None, view: dict | None = None) -> str:
    """What a coaching ``code`` means for the clinician reading a report (no advice to the patient).

    ``wrong_view`` names the views ``exercise`` is measured from and the one the recording's ``view``
    block shows (``"Not scored: this exercise is measured side-on or facing the camera; the recording
    shows the patient at an angle, back to the camera."``).
    """
    if code == "wrong_view":
        v = view or {}
        needed, seen = NEEDED.get(exercise or ""), SEEN.get(seen_key(v.get("view"), v.get("facing")))
        if needed is None or seen is None:
            return "Not scored: the recording was not filmed from a view this exercise can measure."
        return _CLINICIAN[code].format(needed=needed, seen=seen)
    return _CLINICIAN.get(code, f"Not scored: the recording could not answer this exercise's question ({code}).")


def as_reason(note: str) -> str:
    """A clinician note as the reason of an unmeasured value: ``"not measurable: this exercise is ..."``."""
    text = note.removeprefix("Not scored: ")
    return text[:1].lower() + text[1:]


QUALITY_INTRO = (
    "About the recording, not the patient: what limits these measurements and which frames or angles were "
    "left out. None of these is a finding."
)


@dataclass(frozen=True)
class QualityWords:
    """How one code reads: the clinician's title, and what the patient can change about it live."""

    title: str  # printed before the analysis's sentence, on the clinician's pages and the reports
    patient: str | None = None  # a patient's plain advice ("{needed}": the exercise's views); None: nothing to do


# Every quality issue's code, and every code of a withheld live sample (kinematics.withheld.NOT_MEASURED).
# Titles are the clinician's words: about the recording and what was left unmeasured, never about the patient
# (a quality issue is not a finding). The patient's words say what to change while filming; none where there is
# nothing a patient could change (the file, the app's skeleton, the analysis's own choices).
QUALITY_WORDS: dict[str, QualityWords] = {
    "oblique_view": QualityWords(
        "Filmed at an angle", "You are at an angle to the camera. Turn so that you are {needed}."
    ),
    "view_unknown": QualityWords(
        "Camera view not found",
        "The camera cannot see your shoulders and hips. Step back until your whole body, hips and feet included, "
        "is in the picture.",
    ),
    "view_uncertain": QualityWords(
        "Camera view uncertain", "The camera is not sure which way you face. Turn so that you are {needed}."
    ),
    "view_changes": QualityWords("Camera view changes", "You turned during the set. Face the same way throughout."),
    "hips_not_visible": QualityWords(
        "Hips not visible", "Your hips are not in the picture. Step back so your hips and feet are in the picture."
    ),
    "left_knee_not_visible": QualityWords(
        "Left knee often hidden",
        "Your left knee is often hidden. Step back so both legs are in the picture, and wear clothes that show "
        "your knees.",
    ),
    "right_knee_not_visible": QualityWords(
        "Right knee often hidden",
        "Your right knee is often hidden. Step back so both legs are in the picture, and wear clothes that show "
        "your knees.",
    ),
    "frames_without_pose": QualityWords(
        "Frames without the person",
        "The camera cannot see you. Step into the picture so your whole body, head to feet, is visible.",
    ),
    "implausible_angle": QualityWords(
        "Impossible angles left out",
        "The camera misread your position. Make sure only you are in the picture, with good light on you.",
    ),
    "implausible_protocol_angle": QualityWords(
        "Impossible exercise angles left out",
        "The camera misread your position. Make sure only you are in the picture, with good light on you.",
    ),
    "weak_protocol_evidence": QualityWords(
        "Exercise values left out for too little evidence",
        "Too little of the movement was seen clearly. Keep your whole body in the picture for the whole set.",
    ),
    "hips_collapsed": QualityWords(
        "Failed poses left out",
        "The camera lost track of your hips. Step back so your hips and feet are in the picture, and add light "
        "if the room is dim.",
    ),
    "pose_settling": QualityWords(
        "First frames of each appearance left out",
        "The camera has only just found you. Stay in the picture: this clears in a moment.",
    ),
    "several_people": QualityWords(
        "More than one person in view", "More than one person is in the picture. Ask others to step out of view."
    ),
    "labels_mirrored": QualityWords(
        "Left and right look mirrored",
        "Left and right look swapped, as in a mirror. Film yourself directly, not your reflection.",
    ),
    "labels_swapped_in_part": QualityWords(
        "Left and right swapped in some frames",
        "The camera mixed up your left and right at times. Keep your whole body in the picture, with good light.",
    ),
    "no_filtering": QualityWords("Angles not smoothed"),
    "blurred": QualityWords(
        "Blurred picture",
        "The picture is blurred. Add light, keep the phone still (lean it on something) and wipe the lens.",
    ),
    "truncated": QualityWords("File ends early"),
    "clock_gaps": QualityWords(
        "Gaps in the frame times",
        "Pictures are arriving with gaps. Move closer to your Wi-Fi, or close other apps on the phone.",
    ),
    "decode_note": QualityWords("About the video file"),
    "skeleton_limit": QualityWords("Limit of the landmark skeleton"),
    "no_visibility": QualityWords("No landmark visibility given"),
    "timestamps_from_fps": QualityWords("Frame times taken from the frame rate"),
    "no_camera": QualityWords("No camera"),
    "protocol_needs_camera": QualityWords("Exercise needs a camera"),
    "protocol_not_available": QualityWords("Exercise not scored from the sensors"),
    # codes only a withheld sample or series carries (kinematics.withheld)
    "plane_not_in_view": QualityWords(
        "Not seen from this view",
        "The camera cannot see this from where you stand. This exercise is measured {needed}; if you already "
        "stand that way, there is nothing to change.",
    ),
    "not_visible": QualityWords(
        "Landmark not visible",
        "Part of your body is hidden or outside the picture. Step back so your hips and feet are in the picture.",
    ),
    "landmarks_not_in_schema": QualityWords(
        "Landmark not in the skeleton", "The app does not send what this needs: there is nothing for you to change."
    ),
}

QUALITY: dict[str, str] = {code: w.title for code, w in QUALITY_WORDS.items()}
"""A code -> the title printed before its sentence (:data:`QUALITY_WORDS`)."""

PATIENT_ADVICE: dict[str, str] = {code: w.patient for code, w in QUALITY_WORDS.items() if w.patient}
"""A code -> what the patient can change, for the patient's live page (:data:`QUALITY_WORDS`)."""

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}

# A finding's severity code -> (title, what it means). Where the value lies against the published reference
# the finding names, and how sure the recording is of it; never a statement about the patient's condition.
SEVERITY: dict[str, tuple[str, str]] = {
    "attention": (
        "Beyond the reference",
        (
            "The measured value and its 95 % interval lie beyond the published reference value: worth weighing "
            "with your own examination; it is not a diagnosis."
        ),
    ),
    "inconclusive": (
        "Not settled by this recording",
        (
            "The 95 % interval reaches the reference value, so this recording cannot tell on which side of it "
            "the value lies."
        ),
    ),
    "normal": (
        "Within the reference",
        "The measured value and its 95 % interval lie on the usual side of the published reference value.",
    ),
    "info": (
        "For information",
        "A measured value given without a reference to compare it with.",
    ),
}


def coverage_of(input_kind: str | None) -> str:
    """What a protocol value's coverage is a fraction of, in words: a sensor-only assessment's valid
    samples (``input.kind`` ``"sensors"``), otherwise a camera's frames."""
    return "samples valid" if input_kind == "sensors" else "frames measured"


def severity_title(code: str) -> str:
    """A finding severity's plain title; an unknown code still reads as words (``"some_code"`` -> ``"Some code"``)."""
    if code in SEVERITY:
        return SEVERITY[code][0]
    words = code.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def severity_key(codes: list[str]) -> list[tuple[str, str]]:
    """``(title, meaning)`` of each severity among ``codes``, once each, in the catalogue's order: the key under
    a list of findings."""
    known = [c for c in SEVERITY if c in codes]
    return [(severity_title(c), severity_meaning(c)) for c in known]


def severity_meaning(code: str) -> str:
    """One sentence on what a finding severity means; empty for a code the catalogue does not know."""
    return SEVERITY[code][1] if code in SEVERITY else ""


def quality_title(code: str) -> str:
    """The plain title of a quality issue; an unknown code still reads as words (``"some_code"`` -> ``"Some code"``)."""
    if code in QUALITY:
        return QUALITY[code]
    words = code.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


@dataclass(frozen=True)
class QualityNote:
    code: str
    severity: str  # "error" | "warning" | "info": the order and the weight, never printed
    title: str  # "Impossible angles left out"
    text: str  # the analysis's sentence, first letter capitalised

    @property
    def is_note(self) -> bool:
        """An aside (``info``): printed below the issues that limit the measurements, and smaller."""
        return self.severity == "info"


def quality_notes(quality: list[dict]) -> tuple[QualityNote, ...]:
    """A stored assessment's ``quality`` as printed: errors, then warnings, then notes, each with its title."""
    notes = [
        QualityNote(q.get("code", ""), q.get("severity", "info"), quality_title(q.get("code", "")), _sentence(q))
        for q in quality
    ]
    return tuple(sorted(notes, key=lambda n: _SEVERITY_ORDER.get(n.severity, 3)))


def _sentence(q: dict) -> str:
    text = str(q.get("message") or "").strip()
    return text[:1].upper() + text[1:]


def as_json() -> dict:
    """The catalogue for the clinician app (``GET /v1/catalogue``)."""

    def table(t: dict[str, Entry]) -> dict:
        return {k: {"label": v.label, "unit": v.unit, "side": v.side, "digits": v.digits} for k, v in t.items()}

    return {
        "units": UNITS,
        "exercises": {k: v for k, v in EXERCISES.items() if k is not None},
        "series": table(SERIES),
        "metrics": table(METRICS),
        "evidence": table(EVIDENCE),
        "events": EVENTS,
        "by_exercise": BY_EXERCISE,
        "outcomes": table(OUTCOMES),
        "coaching": dict(_CLINICIAN),
        "views_needed": NEEDED,
        "seen": SEEN,
        "quality": dict(QUALITY),
        "patient_advice": dict(PATIENT_ADVICE),
        "quality_intro": QUALITY_INTRO,
        "severity": {k: {"title": t, "meaning": m} for k, (t, m) in SEVERITY.items()},
    }

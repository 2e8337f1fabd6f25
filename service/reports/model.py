"""What a session report shows, gathered from the database rows of one session.

:func:`load_session_data` reads the rows (the patient, the session, every earlier session,
their assessments and questionnaires); :func:`build_session_report` turns them into a
:class:`ReportModel` of plain values that both renderers draw. Nothing here renders.
Findings support a clinician's judgement; they never diagnose.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service import catalogue as K
from service.progress import motion_series, outcome_series  # the same verdicts as GET .../progress
from service.store.models import (
    ApiKey,
    AssessmentRow,
    Clinic,
    FindingReview,
    OutcomeRow,
    Patient,
    PatientSession,
    SessionAssessment,
    SuggestionDecision,
)

__all__ = [
    "ApprovedExercise",
    "AssessmentSection",
    "EventSpan",
    "FindingRow",
    "KeySeries",
    "MetricRow",
    "OutcomeEntry",
    "PlotGroup",
    "ProgressChart",
    "ProgressMark",
    "ReportModel",
    "ReviewInfo",
    "SessionData",
    "ThresholdLine",
    "build_session_report",
    "load_session_data",
]

DISCLAIMER = (
    "Findings support a clinician's judgement; they do not diagnose. Every number is a camera-based "
    "estimate with the uncertainty stated next to it."
)

# The series that answer each exercise's question, in plotting order (README "What it measures").
KEY_SERIES: dict[str | None, tuple[str, ...]] = {
    "single_leg_stance": ("pelvic_obliquity_deg", "trunk_lean_lateral_deg"),
    "standing_hip_abduction": ("hip_abduction_left_deg", "hip_abduction_right_deg", "pelvic_obliquity_deg"),
    "standing_hip_flexion": ("hip_flexion_left_deg", "hip_flexion_right_deg"),
    "squat": ("hip_flexion_left_deg", "hip_flexion_right_deg", "trunk_lean_forward_deg", "pelvic_obliquity_deg"),
    "sit_to_stand": ("hip_flexion_left_deg", "hip_flexion_right_deg", "trunk_lean_forward_deg"),
    "bridge": ("hip_flexion_left_deg", "hip_flexion_right_deg"),
    "gait": ("hip_flexion_left_deg", "hip_flexion_right_deg", "pelvic_obliquity_deg"),
}

# Finding thresholds that can be drawn on a series: (series, how). "relative": the threshold is a change
# from the subject's own baseline, drawn either side of the median outside the marked events; "absolute":
# a level of the series itself; "negative": a level on the negative side (hip extension is flexion < 0).
THRESHOLD_LINES: dict[str, tuple[tuple[str, ...], str]] = {
    "pelvic_drop_deg": (("pelvic_obliquity_deg",), "relative"),
    "pelvic_hike_or_drop_deg": (("pelvic_obliquity_deg",), "relative"),
    "hip_abduction_reference_deg": (("hip_abduction_left_deg", "hip_abduction_right_deg"), "absolute"),
    "hip_flexion_reference_deg": (("hip_flexion_left_deg", "hip_flexion_right_deg"), "absolute"),
    "hip_extension_reference_deg": (("hip_flexion_left_deg", "hip_flexion_right_deg"), "negative"),
}


# -- the rows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionData:
    """The rows one report is built from; everything already belongs to the caller's clinic."""

    patient: Patient
    session: PatientSession
    sessions: list[PatientSession]  # the patient's sessions up to and including this one, oldest first
    assessments: list[AssessmentRow]  # this session's assessments, any status, oldest first
    progress_assessments: list[tuple[AssessmentRow, str]]  # finished assessments up to this session + session id
    outcomes: list[OutcomeRow]  # questionnaires up to this session, oldest first
    clinic_name: str | None = None
    # assessment id -> finding index -> the latest review; (finding index, exercise key) -> the latest decision
    reviews: dict[str, dict[int, FindingReview]] = field(default_factory=dict)
    decisions: dict[str, dict[tuple[int, str], SuggestionDecision]] = field(default_factory=dict)
    people: dict[str, str] = field(default_factory=dict)  # actor id (key id) -> the name a reader sees


def _people(db: Session, ids: set[str]) -> dict[str, str]:
    """Who an actor id is, for reviews stored before names were (migration 0006): the key's label."""
    if not ids:
        return {}
    out = {}
    for k in db.scalars(select(ApiKey).where(ApiKey.id.in_(sorted(ids)))):
        out[k.id] = k.label or f"{k.role} key {k.prefix}"
    return out


def load_session_data(db: Session, patient: Patient, session: PatientSession) -> SessionData:
    """Read the rows of ``session`` and of every session of ``patient`` up to it (by date, then creation)."""
    from service.review import latest_decisions, latest_reviews

    sessions = list(
        db.scalars(
            select(PatientSession)
            .where(PatientSession.patient_id == patient.id)
            .order_by(PatientSession.session_date, PatientSession.created_at, PatientSession.id)
        )
    )
    upto = sessions[: [s.id for s in sessions].index(session.id) + 1]
    ids = [s.id for s in upto]
    linked = list(
        db.execute(
            select(AssessmentRow, SessionAssessment.session_id)
            .join(SessionAssessment, SessionAssessment.assessment_id == AssessmentRow.id)
            .where(SessionAssessment.session_id.in_(ids), AssessmentRow.clinic_id == patient.clinic_id)
            .order_by(AssessmentRow.created_at, AssessmentRow.id)
        ).all()
    )
    outcomes = [
        o
        for o in db.scalars(
            select(OutcomeRow)
            .where(OutcomeRow.patient_id == patient.id)
            .order_by(OutcomeRow.recorded_at, OutcomeRow.id)
        )
        if o.session_id in ids or (o.session_id is None and _utc(o.recorded_at).date() <= session.session_date)
    ]
    here = [a for a, sid in linked if sid == session.id]
    reviews = {a.id: latest_reviews(db, a.id) for a in here}
    decisions = {a.id: latest_decisions(db, a.id) for a in here}
    actors = {r.reviewer_key_id for by in reviews.values() for r in by.values()}
    actors |= {d.decided_by_key_id for by in decisions.values() for d in by.values()}
    return SessionData(
        patient=patient,
        session=session,
        sessions=upto,
        assessments=here,
        progress_assessments=[(a, sid) for a, sid in linked if a.status == "done"],
        outcomes=outcomes,
        clinic_name=db.scalar(select(Clinic.name).where(Clinic.id == patient.clinic_id)),
        reviews=reviews,
        decisions=decisions,
        people=_people(db, actors),
    )


# -- the report -------------------------------------------------------------------------


@dataclass(frozen=True)
class ThresholdLine:
    label: str  # in words, with its unit: "pelvic drop limit: 4° either side of the two-leg stance"
    levels: tuple[float, ...]  # y values to draw; for "relative" lines: baseline - value and baseline + value
    source: str


@dataclass(frozen=True)
class EventSpan:
    type: str
    start_s: float
    end_s: float | None  # None: an instant (a foot contact)
    side: str | None

    @property
    def label(self) -> str:
        words = K.EVENTS.get(self.type, self.type.replace("_", " "))
        return f"{words} ({self.side})" if self.side else words


@dataclass(frozen=True)
class KeySeries:
    name: str
    unit: str
    plane: str | None
    convention: str
    t_s: tuple[float, ...]
    values: tuple[float | None, ...] | None  # None: not measurable in this recording
    reason: str | None  # why not measurable
    thresholds: tuple[ThresholdLine, ...] = ()
    label: str = ""  # "Hip flexion (left)"
    side: str | None = None


@dataclass(frozen=True)
class PlotGroup:
    """One figure: a series, or the left and right of one angle overlaid."""

    key: str  # "pelvic_obliquity_deg"; "hip_flexion_deg" for a left/right pair
    title: str  # "Hip flexion, left and right"
    unit: str
    plane: str | None
    convention: str
    lines: tuple[KeySeries, ...]  # measured lines (values not None)
    missing: tuple[KeySeries, ...]  # lines of the group that could not be measured
    thresholds: tuple[ThresholdLine, ...]  # drawn: inside the plotted range
    off_scale: tuple[str, ...]  # thresholds left out of the figure, in words (far from every measured value)
    y_range: tuple[float, float] | None  # the axis limits


@dataclass(frozen=True)
class ReviewInfo:
    status: str  # signed_off | corrected | rejected
    who: str
    at: datetime
    note: str | None

    @property
    def text(self) -> str:
        words = {"signed_off": "Signed off", "corrected": "Corrected", "rejected": "Rejected"}[self.status]
        return f"{words} by {self.who}, {self.at.strftime('%Y-%m-%d %H:%M UTC')}" + (
            f": \u201c{self.note}\u201d" if self.note else ""
        )


@dataclass(frozen=True)
class FindingRow:
    code: str
    severity: str  # the clinician's corrected severity when there is one
    message: str  # the clinician's corrected wording when there is one
    evidence: str
    threshold: str | None
    source: str | None
    review: ReviewInfo | None = None
    original_severity: str | None = None  # set when a correction changed the severity
    original_message: str | None = None  # set when a correction changed the wording

    @property
    def severity_text(self) -> str:
        """The severity as printed: its plain title (the JSON keeps the code), and the original one a correction replaced."""
        was = f" (was {K.severity_title(self.original_severity)})" if self.original_severity else ""
        return K.severity_title(self.severity) + was

    @property
    def review_text(self) -> str:
        if self.review is None:
            return "Not reviewed"
        out = self.review.text
        if self.original_severity:
            out += (
                f". Severity corrected from {K.severity_title(self.original_severity)} to "
                f"{K.severity_title(self.severity)}"
            )
        if self.original_message:
            out += f". Original wording: {self.original_message}"
        return out


@dataclass(frozen=True)
class ApprovedExercise:
    name: str
    dose: str  # "3 sets x 10 reps, hold 5 s"
    status: str  # approved | rejected
    who: str
    at: datetime
    note: str | None
    because: str  # the finding it answers, in words

    @property
    def text(self) -> str:
        words = "Approved" if self.status == "approved" else "Rejected"
        return f"{words} by {self.who}, {self.at.strftime('%Y-%m-%d %H:%M UTC')}" + (
            f": \u201c{self.note}\u201d" if self.note else ""
        )


@dataclass(frozen=True)
class MetricRow:
    name: str  # the catalogue's label
    side: str | None
    value: str  # formatted with unit and 95 % interval, or "not measurable: <reason>"


@dataclass(frozen=True)
class AssessmentSection:
    id: str
    exercise: str | None
    status: str
    reason: str | None
    created_at: datetime
    view: str | None
    plots: tuple[PlotGroup, ...]
    events: tuple[EventSpan, ...]
    metrics: tuple[MetricRow, ...]
    findings: tuple[FindingRow, ...]
    not_scored: tuple[str, ...]  # why the recording could not answer the question, for a clinician
    quality: tuple[K.QualityNote, ...]  # errors, warnings, then notes (service.catalogue.quality_notes)
    exercises: tuple[ApprovedExercise, ...] = ()

    @property
    def title(self) -> str:
        return K.EXERCISES.get(self.exercise, (self.exercise or "").replace("_", " "))

    @property
    def severity_key(self) -> list[tuple[str, str]]:
        """``(title, meaning)`` of every severity its findings show, corrected ones' originals included: the key
        the HTML and PDF reports print under the findings."""
        return K.severity_key([f.severity for f in self.findings] + [f.original_severity or "" for f in self.findings])


@dataclass(frozen=True)
class OutcomeEntry:
    label: str  # "Oswestry Disability Index", "Pain NRS (leg)"
    score: float
    unit: str
    detail: str  # band, unanswered sections, "recovered"
    recorded_at: datetime


@dataclass(frozen=True)
class ProgressMark:
    label: str  # the day, YYYY-MM-DD
    value: float
    ci95: tuple[float, float] | None
    judgement: str | None  # against the baseline (first point); None for the baseline or when not judged
    current: bool  # recorded in the reported session


@dataclass(frozen=True)
class ProgressChart:
    measure: str
    label: str  # "Oswestry Disability Index (ODI)"; "Pelvic drop (left), single-leg stance"
    kind: str  # outcome | motion
    unit: str  # of the values
    change_unit: str  # of changes and of the threshold: percentage points for the ODI
    threshold_kind: str | None  # mcid | mdc
    threshold_points: float | None
    lower_is_better: bool
    source: str | None
    marks: tuple[ProgressMark, ...]
    summary: str  # the latest change in words

    @property
    def drawn(self) -> bool:
        """A chart needs two points to show a change; one point stays in the table."""
        return len(self.marks) >= 2


@dataclass(frozen=True)
class ReportModel:
    patient_code: str
    clinic: str | None
    session_id: str
    session_date: date
    session_notes: str | None
    session_number: int  # 1 for the first session
    generated_at: datetime
    assessments: tuple[AssessmentSection, ...]
    outcomes: tuple[OutcomeEntry, ...]
    progress: tuple[ProgressChart, ...]
    sources: tuple[str, ...]
    disclaimer: str = DISCLAIMER


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _num(v: object) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _evidence(evidence: dict, of: str = "frames measured") -> str:
    """The evidence in words: the measured value with its 95 % interval (the stored numbers), then the rest.

    ``left``/``right`` take the unit of the value they split; strings (a side) print as they are.
    """
    parts: list[str] = []
    unit, digits = "", 1
    primary_done = False
    for k, v in evidence.items():
        if k == "ci95":
            continue
        if k == "rests_on" and isinstance(v, list):  # kinematics.protocols.evidence: what the finding's values rest on
            for r in v:
                side = f" ({r['side']})" if r.get("side") else ""
                parts.append(f"{K.label(r['metric'], side=False).lower()}{side} rests on {_rests_on(r, of)[2:]}")
            continue
        if isinstance(v, bool):
            parts.append(f"{K.label(k).lower()}: {'yes' if v else 'no'}")
            continue
        if not isinstance(v, int | float):
            parts.append(f"{K.label(k).lower()}: {v}")
            continue
        if k in ("left", "right"):
            parts.append(f"{k} {K.fmt_value(v, unit, digits)}")
            continue
        e = K.entry(k)
        text = f"{K.label(k)} {K.fmt_value(v, e.unit, e.digits)}"
        if not primary_done and evidence.get("ci95"):
            text += f" ({K.fmt_interval(evidence['ci95'], e.unit, e.digits)})"
            unit, digits = e.unit, e.digits
        primary_done = True
        parts.append(text)
    return "; ".join(parts)


def _name(stored: str | None) -> str | None:
    """The person's name as stored with a review ("Name <email>"), without the email; a key's label as stored."""
    if not stored:
        return None
    return re.sub(r"\s*<[^>]*>\s*$", "", stored) or stored


def _threshold_text(t: dict) -> str:
    e = K.entry(t["name"])
    text = f"{e.label}: {K.fmt_value(float(t['value']), t.get('unit', e.unit), None)}"
    return text + (f" ({t['note']})" if t.get("note") else "")


def _finding(f: dict, review: FindingReview | None, people: dict[str, str], of: str = "frames measured") -> FindingRow:
    t = f.get("threshold")
    severity, message = f["severity"], f["message"]
    original_severity = original_message = None
    info = None
    if review is not None:
        info = ReviewInfo(
            status=review.status,
            who=_name(review.reviewer_name) or people.get(review.reviewer_key_id, "unknown reviewer"),
            at=_utc(review.reviewed_at),
            note=review.note,
        )
        c = review.correction or {}
        if review.status == "corrected" and c.get("severity") and c["severity"] != severity:
            original_severity, severity = severity, c["severity"]
        if review.status == "corrected" and c.get("message") and c["message"] != message:
            original_message, message = message, c["message"]
    return FindingRow(
        code=f["code"],
        severity=severity,
        message=message,
        evidence=_evidence(f.get("evidence") or {}, of),
        threshold=_threshold_text(t) if t else None,
        source=f.get("source"),
        review=info,
        original_severity=original_severity,
        original_message=original_message,
    )


def _rests_on(m: dict, of: str = "frames measured") -> str:
    """What a protocol value rests on, for the reader: ``"; 7 steps, 100 % of frames measured, confidence 0.92"``;
    ``of``: :func:`service.catalogue.coverage_of` the document's input."""
    if m.get("coverage") is None or m.get("confidence") is None:
        return ""
    n, kind = m.get("n_events"), m.get("event_kind")
    parts = []
    if n is not None and kind:
        parts.append(f"{n} {kind}" + ("" if n == 1 else "es" if kind.endswith("s") else "s"))
    parts += [f"{m['coverage']:.0%} of {of}", f"confidence {m['confidence']:.2f}"]
    return "; " + ", ".join(parts)


def _metric(m: dict, said: dict[str, str], exercise: str | None = None, of: str = "frames measured") -> MetricRow:
    """``said``: coaching messages (patient voice) -> the clinician's words, for reasons that repeat them."""
    e = K.entry(m["name"])
    if not m.get("measurable", True) or m.get("value") is None:
        reason = m.get("reason")
        value = "not measurable" + (f": {K.as_reason(said[reason]) if reason in said else reason}" if reason else "")
    else:
        unit = m.get("unit", e.unit)
        value = K.fmt_value(m["value"], unit, e.digits)
        if m.get("ci95"):
            value += f" ({K.fmt_interval(m['ci95'], unit, e.digits)})"
        value += _rests_on(m, of)
    name = K.label(m["name"], side=False, exercise=exercise)
    name += f", walking pass {m['pass_index'] + 1}" if m.get("pass_index") is not None else ""
    return MetricRow(name=name, side=m.get("side"), value=value)


def _baseline(t_s: list[float], values: list[float | None], events: list[EventSpan]) -> float | None:
    def inside(t: float) -> bool:
        return any(e.end_s is not None and e.start_s <= t <= e.end_s for e in events)

    rest = [v for t, v in zip(t_s, values, strict=True) if v is not None and not inside(t)]
    every = [v for v in values if v is not None]
    pool = rest or every
    return statistics.median(pool) if pool else None


_THRESHOLD_WORDS = {
    "pelvic_drop_deg": "pelvic drop limit",
    "pelvic_hike_or_drop_deg": "pelvic hike or drop limit",
    "hip_abduction_reference_deg": "reference hip abduction (passive range)",
    "hip_flexion_reference_deg": "reference hip flexion (passive range)",
    "hip_extension_reference_deg": "reference hip extension (passive range)",
}


def _threshold_lines(
    name: str, t_s: list[float], values: list[float | None], findings: list[dict], events: list[EventSpan]
) -> tuple[ThresholdLine, ...]:
    lines: dict[tuple, ThresholdLine] = {}
    for f in findings:
        t = f.get("threshold")
        if not t or t["name"] not in THRESHOLD_LINES or name not in THRESHOLD_LINES[t["name"]][0]:
            continue
        how, value = THRESHOLD_LINES[t["name"]][1], float(t["value"])
        words = _THRESHOLD_WORDS.get(t["name"], K.label(t["name"]).lower())
        if how == "relative":
            base = _baseline(t_s, values, events)
            if base is None:
                continue
            levels = (round(base - value, 3), round(base + value, 3))
            label = f"{words} {K.fmt_value(value, t['unit'], None)} either side of the median outside the marked events"
        else:
            levels = (-value,) if how == "negative" else (value,)
            label = f"{words} {K.fmt_value(levels[0], t['unit'], None)}"
        lines.setdefault((t["name"], levels), ThresholdLine(label=label, levels=levels, source=t["source"]))
    return tuple(lines.values())


def _axis(lines: tuple[KeySeries, ...], thresholds: tuple[ThresholdLine, ...]):
    """Axis limits from the measured values; a threshold far outside them is named, not drawn.

    A reference line 70° above curves that stay near 40° would squash them into a strip: a
    threshold is drawn when it lies within half the data's span (at least 5 units) of the data.
    """
    vals = [v for ks in lines for v in ks.values or () if v is not None]
    if not vals:
        return None, thresholds, ()
    lo, hi = min(vals), max(vals)
    reach = max(5.0, 0.5 * (hi - lo))
    drawn, off = [], []
    for t in thresholds:
        near = tuple(x for x in t.levels if lo - reach <= x <= hi + reach)
        if near:
            drawn.append(ThresholdLine(t.label, near, t.source))
        if len(near) < len(t.levels):
            where = "above" if max(t.levels) > hi else "below"
            off.append(f"{t.label} ({t.source}) is {where} the plotted range and not drawn")
    for t in drawn:
        lo, hi = min(lo, *t.levels), max(hi, *t.levels)
    pad = max(1.0, 0.08 * (hi - lo))
    return (lo - pad, hi + pad), tuple(drawn), tuple(off)


def _plots(series: list[KeySeries]) -> tuple[PlotGroup, ...]:
    """Left and right of one angle share a figure; every other series gets its own."""
    groups: dict[str, list[KeySeries]] = {}
    for ks in series:
        pair = K.side_pair(ks.name)
        key = pair[0].replace("_{}", "") if pair else ks.name
        groups.setdefault(key, []).append(ks)
    out = []
    for key, members in groups.items():
        lines = tuple(ks for ks in members if ks.values is not None)
        missing = tuple(ks for ks in members if ks.values is None)
        thresholds = tuple(dict.fromkeys(t for ks in lines for t in ks.thresholds))
        y_range, drawn, off = _axis(lines, thresholds)
        first = members[0]
        base = K.label(first.name, side=False)
        sided = len(members) > 1 or first.side is not None
        convention = first.convention
        if sided:  # the left and right conventions differ only in the side they name
            convention = re.sub(r"\b(left|right|LEFT|RIGHT)\b ?", "", convention).strip()
        out.append(
            PlotGroup(
                key=key,
                title=f"{base}, left and right" if len(members) > 1 else K.label(first.name),
                unit=first.unit,
                plane=first.plane,
                convention=convention,
                lines=lines,
                missing=missing,
                thresholds=drawn,
                off_scale=off,
                y_range=y_range,
            )
        )
    return tuple(out)


def _exercises(row: AssessmentRow, findings: list[dict], data: SessionData) -> tuple[ApprovedExercise, ...]:
    from kinematics.exercises import suggest, with_overrides

    decisions = data.decisions.get(row.id) or {}
    if not decisions:
        return ()
    out = []
    for s in suggest(findings).suggestions:
        d = decisions.get((s.finding_index, s.exercise.key))
        if d is None:
            continue
        ex = with_overrides(s.exercise, d.overrides or {}) if d.status == "approved" else s.exercise
        dose = f"{ex.sets} sets × {ex.reps} reps" + (f", hold {ex.hold_s:g} s" if ex.hold_s else "")
        dose += f", rest {ex.rest_s:g} s"
        f = findings[s.finding_index]
        out.append(
            ApprovedExercise(
                name=ex.name,
                dose=dose,
                status=d.status,
                who=_name(d.decided_by_name) or data.people.get(d.decided_by_key_id, "unknown clinician"),
                at=_utc(d.decided_at),
                note=d.note,
                because=f"{K.severity_title(f['severity'])}: {f['message'].split('. ')[0]}",
            )
        )
    return tuple(out)


def _section(a: AssessmentRow, data: SessionData) -> AssessmentSection:
    doc = a.result or {}
    exercise = a.exercise or doc.get("exercise")
    events = tuple(
        EventSpan(type=e["type"], start_s=e["start_s"], end_s=e.get("end_s"), side=e.get("side"))
        for e in doc.get("events") or []
    )
    series_doc = doc.get("series") or {}
    t_s = series_doc.get("t_s") or []
    conventions = doc.get("conventions") or {}
    unavailable = doc.get("unavailable") or {}
    findings = doc.get("findings") or []
    names = KEY_SERIES.get(exercise) or tuple(n for n in series_doc if n.endswith("_deg") and n != "body_yaw_deg")
    series = []
    if a.status == "done":
        for name in names:
            if name not in series_doc:
                continue
            values = series_doc[name]
            conv = conventions.get(name) or {}
            series.append(
                KeySeries(
                    name=name,
                    unit=conv.get("unit", K.entry(name).unit or name.rsplit("_", 1)[-1]),
                    plane=conv.get("plane"),
                    convention=conv.get("convention", ""),
                    t_s=tuple(t_s),
                    values=None if values is None else tuple(values),
                    reason=unavailable.get(name, "no sample could be measured") if values is None else None,
                    thresholds=() if values is None else _threshold_lines(name, t_s, values, findings, list(events)),
                    label=K.label(name),
                    side=K.entry(name).side,
                )
            )
    view = (doc.get("view") or {}).get("view")
    of = K.coverage_of((doc.get("input") or {}).get("kind"))  # a camera's frames, or a sensor's samples
    reviews = data.reviews.get(a.id) or {}
    said = {
        c["message"]: K.clinician_note(c.get("code", ""), exercise=exercise, view=doc.get("view"))
        for c in doc.get("coaching") or []
    }
    return AssessmentSection(
        id=a.id,
        exercise=exercise,
        status=a.status,
        reason=a.reason,
        created_at=_utc(a.created_at),
        view=view,
        plots=_plots(series),
        events=events,
        metrics=tuple(
            _metric(m, said, exercise, of) for m in doc.get("metrics") or [] if m.get("source") == "protocol"
        ),
        findings=tuple(_finding(f, reviews.get(i), data.people, of) for i, f in enumerate(findings)),
        not_scored=tuple(dict.fromkeys(said.values())),
        quality=K.quality_notes(doc.get("quality") or []),
        exercises=_exercises(a, findings, data) if a.status == "done" and findings else (),
    )


def _outcome(o: OutcomeRow) -> OutcomeEntry:
    from kinematics.outcomes import score_odi

    if o.instrument == "odi":
        scored = score_odi(o.answers)
        missing = ", ".join(m.replace("_", " ") for m in scored.missing)
        detail = f"band: {scored.band}" + (f"; unanswered: {missing}" if missing else "")
        return OutcomeEntry(K.OUTCOMES["odi"].label, o.score, "% (0-100)", detail, _utc(o.recorded_at))
    entry = K.OUTCOMES.get(f"nrs_{o.site}" if o.site else "nrs", K.OUTCOMES["nrs"])
    return OutcomeEntry(
        entry.label, o.score, "points (0-10)", "recovered (NRS 0)" if o.score == 0 else "", _utc(o.recorded_at)
    )


def _measure_label(s) -> str:
    if s.kind == "outcome":
        return K.OUTCOMES.get(s.measure, K.Entry(s.measure, s.unit)).label
    exercise = K.EXERCISES.get(s.exercise, s.exercise or "")
    return (
        K.label(s.metric, side=False, exercise=s.exercise)
        + (f" ({s.side})" if s.side else "")
        + f", {exercise.lower()}"
    )


def _change_unit(s) -> str:
    """The unit of a change: the ODI's score is a percentage, its changes are percentage points."""
    if s.kind == "outcome":
        return "points"
    return K.unit_text(s.unit) or ""


def _delta(delta: float, unit: str) -> str:
    text = re.sub(r"\.0$", "", f"{delta:+.1f}").replace("-", "\u2212")
    return f"{text}{unit}" if unit in ("°", "°/s") else f"{text} {unit}".rstrip()


_VERDICT = {
    "improved": "improved",
    "worse": "worse",
    "unchanged": "no real change",
    "inconclusive": "cannot tell",
}


def _summary(s, threshold_kind: str | None, threshold_points: float | None) -> str:
    last = s.points[-1]
    if len(s.points) < 2 or last.change is None:
        return "baseline only; no change to judge yet"
    c, unit = last.change, _change_unit(s)
    text = f"latest vs baseline {_delta(c.delta, unit)}"
    if c.delta_percent is not None:
        text += f" ({c.delta_percent:+.0f} % of baseline)".replace("-", "\u2212")
    if threshold_points is None or not threshold_kind:
        return text + "; not judged (no published threshold)"
    limit = f"{threshold_kind.upper()} {_delta(threshold_points, unit).lstrip('+')}"
    verdict = _VERDICT.get(c.judgement or "", c.judgement or "not judged")
    if c.judgement == "inconclusive" and c.ci95:
        lo, hi = (_delta(x, unit) for x in c.ci95)
        return f"{text}: {verdict} (the change's 95 % interval {lo} to {hi} contains the {limit})"
    return f"{text}: {verdict} ({limit})"


def _progress(data: SessionData) -> tuple[tuple[ProgressChart, ...], tuple[str, ...]]:
    from kinematics.outcomes import NRS_RECOVERED_SOURCE, ODI_SOURCE

    series = outcome_series(data.outcomes) + motion_series(data.progress_assessments)
    days = {x.id: x.session_date.isoformat() for x in data.sessions}  # a point is dated by its session
    charts = []
    for s in series:
        t = s.threshold
        charts.append(
            ProgressChart(
                measure=s.measure,
                label=_measure_label(s),
                kind=s.kind,
                unit=K.unit_text(s.unit) if s.kind == "motion" else s.unit,
                change_unit=_change_unit(s),
                threshold_kind=t.kind if t else None,
                threshold_points=t.points if t else None,
                lower_is_better=t.lower_is_better if t else True,
                source=t.source if t else None,
                marks=tuple(
                    ProgressMark(
                        label=days.get(p.session_id or "", _utc(p.at).date().isoformat()),
                        value=p.value,
                        ci95=p.ci95,
                        judgement=_VERDICT.get(p.change.judgement or "") if p.change else None,
                        current=p.session_id == data.session.id,
                    )
                    for p in s.points
                ),
                summary=_summary(s, t.kind if t else None, t.points if t else None),
            )
        )
    sources = [c.source for c in charts if c.source]
    if any(c.measure == "odi" for c in charts):
        sources.append(ODI_SOURCE + " (scoring and bands)")
    if any(c.measure.startswith("nrs") for c in charts):
        sources.append(NRS_RECOVERED_SOURCE)
    return tuple(charts), tuple(dict.fromkeys(sources))


def build_session_report(data: SessionData, *, generated_at: datetime | None = None) -> ReportModel:
    """Gather everything one session's report shows; pure, no rendering."""
    progress, sources = _progress(data)
    sections = tuple(_section(a, data) for a in data.assessments)
    finding_sources = [f.source for a in sections for f in a.findings if f.source]
    return ReportModel(
        patient_code=data.patient.code,
        clinic=data.clinic_name,
        session_id=data.session.id,
        session_date=data.session.session_date,
        session_notes=data.session.notes,
        session_number=len(data.sessions),
        generated_at=generated_at or datetime.now(UTC),
        assessments=sections,
        outcomes=tuple(_outcome(o) for o in data.outcomes if o.session_id == data.session.id),
        progress=progress,
        sources=tuple(dict.fromkeys([*finding_sources, *sources])),
    )

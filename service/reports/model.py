"""What a session report shows, gathered from the database rows of one session.

:func:`load_session_data` reads the rows (the patient, the session, every earlier session,
their assessments and questionnaires); :func:`build_session_report` turns them into a
:class:`ReportModel` of plain values that both renderers draw. Nothing here renders.
Findings support a clinician's judgement; they never diagnose.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.progress import motion_series, outcome_series  # the same verdicts as GET .../progress
from service.store.models import AssessmentRow, Clinic, OutcomeRow, Patient, PatientSession, SessionAssessment

__all__ = [
    "AssessmentSection",
    "EventSpan",
    "FindingRow",
    "KeySeries",
    "MetricRow",
    "OutcomeEntry",
    "ProgressChart",
    "ProgressMark",
    "ReportModel",
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


def load_session_data(db: Session, patient: Patient, session: PatientSession) -> SessionData:
    """Read the rows of ``session`` and of every session of ``patient`` up to it (by date, then creation)."""
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
    return SessionData(
        patient=patient,
        session=session,
        sessions=upto,
        assessments=[a for a, sid in linked if sid == session.id],
        progress_assessments=[(a, sid) for a, sid in linked if a.status == "done"],
        outcomes=outcomes,
        clinic_name=db.scalar(select(Clinic.name).where(Clinic.id == patient.clinic_id)),
    )


# -- the report -------------------------------------------------------------------------


@dataclass(frozen=True)
class ThresholdLine:
    label: str
    levels: tuple[float, ...]  # y values to draw; for "relative" lines: baseline - value and baseline + value
    source: str


@dataclass(frozen=True)
class EventSpan:
    type: str
    start_s: float
    end_s: float | None  # None: an instant (a foot contact)
    side: str | None


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


@dataclass(frozen=True)
class FindingRow:
    code: str
    severity: str
    message: str
    evidence: str
    threshold: str | None
    source: str | None
    review: str | None = None  # a clinician's review, when the stored finding carries one


@dataclass(frozen=True)
class MetricRow:
    name: str
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
    series: tuple[KeySeries, ...]
    events: tuple[EventSpan, ...]
    metrics: tuple[MetricRow, ...]
    findings: tuple[FindingRow, ...]
    coaching: tuple[str, ...]
    quality: tuple[str, ...]


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
    kind: str  # outcome | motion
    unit: str
    threshold_kind: str | None  # mcid | mdc
    threshold_points: float | None
    lower_is_better: bool
    source: str | None
    marks: tuple[ProgressMark, ...]
    summary: str  # the latest change in words


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


def _evidence(evidence: dict) -> str:
    parts = []
    for k, v in evidence.items():
        if isinstance(v, list | tuple) and len(v) == 2 and all(isinstance(x, int | float) for x in v):
            parts.append(f"{k}: {_num(v[0])} to {_num(v[1])}")
        else:
            parts.append(f"{k}: {_num(v)}")
    return "; ".join(parts)


def _review(f: dict) -> str | None:
    """Hook for clinician review: shown when the stored finding carries a ``review`` object or text."""
    review = f.get("review")
    if not review:
        return None
    if isinstance(review, dict):
        return "; ".join(f"{k}: {v}" for k, v in review.items() if v not in (None, ""))
    return str(review)


def _finding(f: dict) -> FindingRow:
    t = f.get("threshold")
    threshold = None
    if t:
        threshold = f"{t['name']} {_num(t['value'])} {t['unit']}" + (f" ({t['note']})" if t.get("note") else "")
    return FindingRow(
        code=f["code"],
        severity=f["severity"],
        message=f["message"],
        evidence=_evidence(f.get("evidence") or {}),
        threshold=threshold,
        source=f.get("source"),
        review=_review(f),
    )


def _metric(m: dict) -> MetricRow:
    if not m.get("measurable", True) or m.get("value") is None:
        value = "not measurable" + (f": {m['reason']}" if m.get("reason") else "")
    else:
        unit = "" if m["unit"] == "1" else m["unit"]  # "1": a count
        value = f"{_num(m['value'])} {unit}".strip()
        if m.get("ci95"):
            value += f" (95 % interval {_num(m['ci95'][0])} to {_num(m['ci95'][1])})"
    return MetricRow(name=m["name"], side=m.get("side"), value=value)


def _baseline(t_s: list[float], values: list[float | None], events: list[EventSpan]) -> float | None:
    def inside(t: float) -> bool:
        return any(e.end_s is not None and e.start_s <= t <= e.end_s for e in events)

    rest = [v for t, v in zip(t_s, values, strict=True) if v is not None and not inside(t)]
    every = [v for v in values if v is not None]
    pool = rest or every
    return statistics.median(pool) if pool else None


def _threshold_lines(
    name: str, t_s: list[float], values: list[float | None], findings: list[dict], events: list[EventSpan]
) -> tuple[ThresholdLine, ...]:
    lines: dict[tuple, ThresholdLine] = {}
    for f in findings:
        t = f.get("threshold")
        if not t or t["name"] not in THRESHOLD_LINES or name not in THRESHOLD_LINES[t["name"]][0]:
            continue
        how, value = THRESHOLD_LINES[t["name"]][1], float(t["value"])
        if how == "relative":
            base = _baseline(t_s, values, events)
            if base is None:
                continue
            levels = (round(base - value, 3), round(base + value, 3))
            label = f"{t['name']} {value:g} {t['unit']} either side of the median outside the marked events"
        else:
            levels = (-value,) if how == "negative" else (value,)
            label = f"{t['name']} {levels[0]:g} {t['unit']}"
        lines.setdefault((t["name"], levels), ThresholdLine(label=label, levels=levels, source=t["source"]))
    return tuple(lines.values())


def _section(a: AssessmentRow) -> AssessmentSection:
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
                    unit=conv.get("unit", name.rsplit("_", 1)[-1]),
                    plane=conv.get("plane"),
                    convention=conv.get("convention", ""),
                    t_s=tuple(t_s),
                    values=None if values is None else tuple(values),
                    reason=unavailable.get(name, "no sample could be measured") if values is None else None,
                    thresholds=() if values is None else _threshold_lines(name, t_s, values, findings, list(events)),
                )
            )
    return AssessmentSection(
        id=a.id,
        exercise=exercise,
        status=a.status,
        reason=a.reason,
        created_at=_utc(a.created_at),
        view=(doc.get("view") or {}).get("view"),
        series=tuple(series),
        events=events,
        metrics=tuple(_metric(m) for m in doc.get("metrics") or [] if m.get("source") == "protocol"),
        findings=tuple(_finding(f) for f in findings),
        coaching=tuple(c["message"] for c in doc.get("coaching") or []),
        quality=tuple(f"{q['severity']}: {q['message']}" for q in doc.get("quality") or []),
    )


_OUTCOME_LABELS = {"odi": "Oswestry Disability Index", "nrs": "Pain NRS"}


def _outcome(o: OutcomeRow) -> OutcomeEntry:
    from kinematics.outcomes import score_odi

    if o.instrument == "odi":
        scored = score_odi(o.answers)
        detail = f"band: {scored.band}" + (f"; unanswered: {', '.join(scored.missing)}" if scored.missing else "")
        return OutcomeEntry(_OUTCOME_LABELS["odi"], o.score, "%", detail, _utc(o.recorded_at))
    label = _OUTCOME_LABELS["nrs"] + (f" ({o.site})" if o.site else "")
    return OutcomeEntry(
        label, o.score, "points (0-10)", "recovered (NRS 0)" if o.score == 0 else "", _utc(o.recorded_at)
    )


def _summary(series) -> str:
    last = series.points[-1]
    if len(series.points) < 2 or last.change is None:
        return "baseline only; no change to judge yet"
    c = last.change
    verdict = c.judgement or "not judged"
    return f"latest vs baseline: {c.delta:+g} {series.unit} ({verdict}; {c.reason})"


def _progress(data: SessionData) -> tuple[tuple[ProgressChart, ...], tuple[str, ...]]:
    from kinematics.outcomes import NRS_RECOVERED_SOURCE, ODI_SOURCE

    series = outcome_series(data.outcomes) + motion_series(data.progress_assessments)
    charts = []
    for s in series:
        t = s.threshold
        charts.append(
            ProgressChart(
                measure=s.measure,
                kind=s.kind,
                unit=s.unit,
                threshold_kind=t.kind if t else None,
                threshold_points=t.points if t else None,
                lower_is_better=t.lower_is_better if t else True,
                source=t.source if t else None,
                marks=tuple(
                    ProgressMark(
                        label=_utc(p.at).date().isoformat(),
                        value=p.value,
                        ci95=p.ci95,
                        judgement=p.change.judgement if p.change else None,
                        current=p.session_id == data.session.id,
                    )
                    for p in s.points
                ),
                summary=_summary(s),
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
    sections = tuple(_section(a) for a in data.assessments)
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

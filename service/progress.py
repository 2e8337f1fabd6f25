"""Patients' records and progress, shared by the routes, the reports and the signature.

Lookups that turn another clinic's id into a 404 (ids are uuid4 strings: anything else
cannot exist and is not sent to the database, where PostgreSQL would refuse NUL bytes with
an error that must stay a 404), and the progress series with their change verdicts, so that
``GET /v1/patients/{id}/progress``, the session report and the motion signature judge the
same numbers the same way. Scoring and the thresholds live in :mod:`kinematics.outcomes`.
"""

from __future__ import annotations

import re
from collections import defaultdict

from kinematics.outcomes import (
    MOTION_MDC,
    NRS_MCID,
    ODI_MCID,
    Change,
    ChangeThreshold,
    judge_metric_change,
    judge_outcome_change,
    score_odi,
)
from service.auth import Principal
from service.domain_errors import NotFound
from service.schemas import ChangeOut, ChangeThresholdOut, ProgressPoint, ProgressSeries
from service.store.models import AssessmentRow, OutcomeRow, Patient, PatientSession

__all__ = [
    "change_out",
    "get_by_id",
    "motion_series",
    "outcome_series",
    "patient_or_404",
    "session_or_404",
    "threshold_out",
]

_ID = re.compile(r"^[0-9a-fA-F-]{1,36}$")


def get_by_id(session, model, ident: str):
    return session.get(model, ident) if _ID.match(ident) else None


def patient_or_404(session, principal: Principal, patient_id: str) -> Patient:
    row = get_by_id(session, Patient, patient_id)
    if row is None or row.clinic_id != principal.clinic_id:  # another clinic's id is simply not found
        raise NotFound(f"no patient {patient_id}")
    if principal.patient_id is not None and row.id != principal.patient_id:  # a patient link: its own patient only
        raise NotFound(f"no patient {patient_id}")
    return row


def session_or_404(session, patient: Patient, session_id: str) -> PatientSession:
    row = get_by_id(session, PatientSession, session_id)
    if row is None or row.patient_id != patient.id:
        raise NotFound(f"no session {session_id} for patient {patient.id}")
    return row


_NOT_JUDGED = "no published minimal detectable change for this metric; the change is not judged"


def threshold_out(t: ChangeThreshold) -> ChangeThresholdOut:
    return ChangeThresholdOut(
        name=t.name,
        kind=t.kind,
        points=t.points,
        percent=t.percent,
        unit=t.unit,
        lower_is_better=t.lower_is_better,
        source=t.source,
    )


def change_out(c: Change) -> ChangeOut:
    return ChangeOut(delta=c.delta, delta_percent=c.delta_percent, ci95=c.ci95, judgement=c.judgement, reason=c.reason)


def outcome_series(rows: list[OutcomeRow]) -> list[ProgressSeries]:
    groups: dict[str, list[OutcomeRow]] = defaultdict(list)
    for o in rows:
        groups[o.instrument if o.site is None else f"{o.instrument}_{o.site}"].append(o)
    out = []
    for measure, group in groups.items():
        threshold = ODI_MCID if group[0].instrument == "odi" else NRS_MCID
        base = group[0]
        points = [
            ProgressPoint(
                at=o.recorded_at,
                session_id=o.session_id,
                source_id=o.id,
                value=o.score,  # type: ignore[arg-type]
                band=score_odi(o.answers).band if o.instrument == "odi" else None,
                change=None if i == 0 else change_out(judge_outcome_change(base.score, o.score, threshold)),
            )
            for i, o in enumerate(group)
        ]
        out.append(
            ProgressSeries(
                measure=measure,
                kind="outcome",
                unit="%" if threshold is ODI_MCID else "points",
                threshold=threshold_out(threshold),
                points=points,
            )
        )
    return out


def motion_series(rows: list[tuple[AssessmentRow, str]]) -> list[ProgressSeries]:
    groups: dict[tuple, list[tuple[AssessmentRow, str, dict]]] = defaultdict(list)
    for a, sid in rows:
        exercise = a.exercise or (a.result or {}).get("exercise")
        # One value per assessment and measure: a walk's whole-walk value, else its first pass's (a gait
        # metric is given for the whole walk and per pass; the passes of one walk are not sessions).
        mine: dict[tuple, dict] = {}
        for m in (a.result or {}).get("metrics") or []:
            if m.get("source") == "protocol" and m.get("measurable", True) and m.get("value") is not None:
                k = (exercise, m["name"], m.get("side"), m.get("unit", ""))
                if k not in mine or (mine[k].get("pass_index") is not None and m.get("pass_index") is None):
                    mine[k] = m
        for k, m in mine.items():
            groups[k].append((a, sid, m))
    out = []
    for (exercise, name, side, unit), group in groups.items():
        threshold = MOTION_MDC.get(name)
        base = group[0][2]
        points = []
        for i, (a, sid, m) in enumerate(group):
            ci = tuple(m["ci95"]) if m.get("ci95") else None
            change = None
            if i > 0 and threshold is not None:
                change = change_out(
                    judge_metric_change(
                        base["value"],
                        m["value"],
                        threshold,
                        baseline_ci95=tuple(base["ci95"]) if base.get("ci95") else None,
                        current_ci95=ci,
                    )
                )  # type: ignore[arg-type]
            elif i > 0:
                delta = m["value"] - base["value"]
                change = ChangeOut(
                    delta=round(delta, 3),
                    judgement=None,
                    reason=_NOT_JUDGED,
                    delta_percent=None if base["value"] == 0 else round(delta / base["value"] * 100, 1),
                )
            points.append(
                ProgressPoint(
                    at=a.created_at,
                    session_id=sid,
                    source_id=a.id,
                    value=m["value"],  # type: ignore[arg-type]
                    ci95=ci,
                    change=change,
                )
            )  # type: ignore[arg-type]
        measure = "/".join(str(x) for x in (exercise or "none", name, side) if x is not None)
        out.append(
            ProgressSeries(
                measure=measure,
                kind="motion",
                exercise=exercise,
                metric=name,
                side=side,
                unit=unit,
                threshold=None if threshold is None else threshold_out(threshold),
                points=points,
            )
        )
    return out

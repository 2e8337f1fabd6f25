"""Clinician review of findings, exercise suggestion decisions and the clinic's feedback policy.

Findings are identified by their index in the stored assessment's ``findings``
list (results never change once stored); suggestions by their position ``n`` in
the list :func:`kinematics.exercises.suggest` derives from those findings.
Reviews and decisions are only ever added: the latest one counts, and each is
audited in the same transaction (:mod:`service.audit`).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kinematics.exercises import ExerciseError, Suggestion, suggest, with_overrides
from service import audit
from service.auth import Principal
from service.domain_errors import Conflict, Invalid
from service.schemas import (
    ExercisePublic,
    FindingItem,
    ReviewCreate,
    ReviewPublic,
    SuggestionDecisionCreate,
    SuggestionDecisionPublic,
    SuggestionList,
    SuggestionNoteOut,
    SuggestionPublic,
)
from service.store.db import now
from service.store.models import AssessmentRow, Clinic, FindingReview, SuggestionDecision

__all__ = [
    "add_decision",
    "add_review",
    "app_view",
    "decision_public",
    "findings",
    "list_findings",
    "list_suggestions",
    "review_public",
]

_STATUS = {"sign_off": "signed_off", "correct": "corrected", "reject": "rejected"}


def findings(row: AssessmentRow) -> list[dict]:
    """The stored findings; 409 while the assessment is not done."""
    if row.status != "done" or not row.result:
        raise Conflict("not-done", f"assessment {row.id} is {row.status}; findings exist once it is done")
    return list(row.result.get("findings") or [])


def _check_index(field: str, i: int, n: int, what: str) -> None:
    """422 naming the valid range when ``i`` is not an index into ``n`` items (n >= 1)."""
    if not 0 <= i < n:
        raise Invalid(
            f"{field}: {i} is out of range; this assessment's {what} are 0 to {n - 1}",
            accepted=[0, n - 1],
        )


def _finding(row: AssessmentRow, index: int) -> dict:
    items = findings(row)
    if not items:
        raise Invalid(
            f"index: assessment {row.id} has no findings to review (it had no exercise, "
            "or the recording could only be answered with coaching)",
        )
    _check_index("index", index, len(items), "findings")
    return items[index]


def _latest(rows) -> dict:
    out: dict = {}
    for r in rows:  # ordered oldest first: later rows replace earlier ones
        out[r[0]] = r[1]
    return out


def latest_reviews(session: Session, assessment_id: str) -> dict[int, FindingReview]:
    rows = session.scalars(
        select(FindingReview)
        .where(FindingReview.assessment_id == assessment_id)
        .order_by(FindingReview.reviewed_at, FindingReview.id)
    )
    return _latest((r.finding_index, r) for r in rows)


def latest_decisions(session: Session, assessment_id: str) -> dict[tuple[int, str], SuggestionDecision]:
    rows = session.scalars(
        select(SuggestionDecision)
        .where(SuggestionDecision.assessment_id == assessment_id)
        .order_by(SuggestionDecision.decided_at, SuggestionDecision.id)
    )
    return _latest(((r.finding_index, r.exercise_key), r) for r in rows)


def review_public(r: FindingReview) -> ReviewPublic:
    return ReviewPublic.model_validate(r)


def list_findings(session: Session, row: AssessmentRow) -> list[FindingItem]:
    reviews = latest_reviews(session, row.id)
    return [
        FindingItem(
            index=i,
            code=f["code"],
            severity=f["severity"],
            message=f["message"],
            evidence=f.get("evidence") or {},
            threshold=f.get("threshold"),
            source=f.get("source"),
            review=review_public(reviews[i]) if i in reviews else None,
        )
        for i, f in enumerate(findings(row))
    ]


def _later_than(previous, at):
    """Strictly after ``previous`` (two reviews in the same microsecond must still have an order)."""
    if previous is None:
        return at
    prev = previous if previous.tzinfo else previous.replace(tzinfo=at.tzinfo)
    return at if at > prev else prev + timedelta(microseconds=1)


def add_review(
    session: Session, principal: Principal, row: AssessmentRow, index: int, body: ReviewCreate
) -> FindingReview:
    """Validate, store and audit one review; the caller commits."""
    finding = _finding(row, index)
    if body.action in ("correct", "reject") and not body.note:
        raise Invalid(f"note: required to {body.action} a finding; say why (no names)")
    if body.action == "correct":
        if body.correction is None or not body.correction.model_dump(exclude_none=True):
            raise Invalid(
                "correction: required to correct a finding; give 'severity' "
                "(normal, attention, inconclusive, info) and/or 'message'",
            )
    elif body.correction is not None:
        raise Invalid(f"correction: only accepted with action 'correct', not {body.action!r}")
    previous = latest_reviews(session, row.id).get(index)
    review = FindingReview(
        id=str(uuid.uuid4()),
        clinic_id=principal.clinic_id,
        assessment_id=row.id,
        finding_index=index,
        finding_code=finding["code"],
        status=_STATUS[body.action],
        note=body.note,
        correction=body.correction.model_dump(exclude_none=True) if body.correction else None,
        reviewer_key_id=principal.key_id,
        reviewer_name=principal.actor_name,
        reviewed_at=_later_than(previous.reviewed_at if previous else None, now()),
    )
    session.add(review)
    fields = ("id", "finding_index", "finding_code", "status", "note", "correction", "reviewed_at")
    audit.record(
        session,
        principal,
        f"finding.{body.action}",
        "assessment",
        row.id,
        before=audit.snapshot(previous, fields) if previous else {"finding_index": index, "status": None},
        after=audit.snapshot(review, fields),
    )
    return review


# -- what a patient's app sees --------------------------------------------------------------------


def app_view(session: Session, principal: Principal, row: AssessmentRow, out: dict) -> dict:
    """Apply the clinic's feedback policy to ``out`` (an assessment as served) for an ``app`` key."""
    if principal.role != "app" or "findings" not in out:
        return out
    clinic = session.get(Clinic, principal.clinic_id)
    if clinic is None or clinic.patient_feedback != "signed_off_only":
        return out
    reviews = latest_reviews(session, row.id)
    shown = []
    for i, f in enumerate(out.get("findings") or []):
        r = reviews.get(i)
        if r is None or r.status == "rejected":
            continue
        shown.append({**f, **(r.correction or {})} if r.status == "corrected" else f)
    return {**out, "findings": shown, "findings_filter": "signed_off_only"}


def _visible_to_app(session: Session, principal: Principal, review: FindingReview | None) -> bool:
    if review is not None and review.status == "rejected":
        return False
    clinic = session.get(Clinic, principal.clinic_id)
    return not (clinic is not None and clinic.patient_feedback == "signed_off_only" and review is None)


# -- exercise suggestions ------------------------------------------------------------------------


def decision_public(d: SuggestionDecision, n: int) -> SuggestionDecisionPublic:
    return SuggestionDecisionPublic(
        id=d.id,
        assessment_id=d.assessment_id,
        n=n,
        finding_index=d.finding_index,
        exercise_key=d.exercise_key,
        status=d.status,
        note=d.note,  # type: ignore[arg-type]
        overrides=d.overrides,
        decided_by_key_id=d.decided_by_key_id,
        decided_by_name=d.decided_by_name,
        decided_at=d.decided_at,
    )


def _suggestion_public(
    n: int, s: Suggestion, decision: SuggestionDecision | None, review: FindingReview | None
) -> SuggestionPublic:
    ex = s.exercise
    if decision is not None and decision.status == "approved" and decision.overrides:
        ex = with_overrides(ex, decision.overrides)
    return SuggestionPublic(
        n=n,
        finding_index=s.finding_index,
        finding_code=s.finding_code,
        side=s.side,
        status="proposed" if decision is None else decision.status,  # type: ignore[arg-type]
        exercise=ExercisePublic(
            key=ex.key,
            name=ex.name,
            sets=ex.sets,
            reps=ex.reps,
            hold_s=ex.hold_s,
            tempo=ex.tempo,
            rest_s=ex.rest_s,
            cues=list(ex.cues),
            progression=ex.progression,
            stop_rule=ex.stop_rule,
        ),
        proposed=s.exercise.parameters(),
        rationale=s.rationale,
        source=s.exercise.source,
        decision=None if decision is None else decision_public(decision, n),
        finding_review=None if review is None else review.status,
    )  # type: ignore[arg-type]


def list_suggestions(session: Session, principal: Principal, row: AssessmentRow) -> SuggestionList:
    """Every suggestion with its state; an app key gets approved ones only (and the clinic's policy applies)."""
    derived = suggest(findings(row))
    decisions, reviews = latest_decisions(session, row.id), latest_reviews(session, row.id)
    items = [
        _suggestion_public(n, s, decisions.get((s.finding_index, s.exercise.key)), reviews.get(s.finding_index))
        for n, s in enumerate(derived.suggestions)
    ]
    notes = [
        SuggestionNoteOut(finding_index=x.finding_index, finding_code=x.finding_code, reason=x.reason)
        for x in derived.notes
    ]
    if principal.role != "app":
        return SuggestionList(items=items, notes=notes, filtered=False)
    items = [
        s for s in items if s.status == "approved" and _visible_to_app(session, principal, reviews.get(s.finding_index))
    ]
    return SuggestionList(items=items, notes=[], filtered=True)


def add_decision(
    session: Session, principal: Principal, row: AssessmentRow, n: int, body: SuggestionDecisionCreate
) -> SuggestionDecision:
    """Validate, store and audit one approval or rejection; the caller commits."""
    derived = suggest(findings(row)).suggestions
    if not derived:
        raise Invalid(
            f"n: assessment {row.id} has no suggestions (no finding with severity "
            "'attention' that the catalogue covers)",
        )
    _check_index("n", n, len(derived), "suggestions")
    s = derived[n]
    overrides = body.overrides.model_dump(exclude_none=True) if body.overrides else None
    if body.action == "reject":
        if not body.note:
            raise Invalid("note: required to reject a suggestion; say why (no names)")
        if body.overrides is not None:
            raise Invalid("overrides: only accepted with action 'approve'")
    else:
        review = latest_reviews(session, row.id).get(s.finding_index)
        if review is not None and review.status == "rejected":
            raise Conflict(
                "finding-rejected",
                f"n: suggestion {n} comes from finding {s.finding_index}, which "
                "a clinician rejected; review the finding again before approving exercises for it",
            )
        try:
            with_overrides(s.exercise, overrides or {})
        except ExerciseError as exc:
            raise Invalid(f"overrides.{exc}") from None
    key = (s.finding_index, s.exercise.key)
    previous = latest_decisions(session, row.id).get(key)
    decision = SuggestionDecision(
        id=str(uuid.uuid4()),
        clinic_id=principal.clinic_id,
        assessment_id=row.id,
        finding_index=s.finding_index,
        exercise_key=s.exercise.key,
        status="approved" if body.action == "approve" else "rejected",
        note=body.note,
        overrides=overrides or None,
        decided_by_key_id=principal.key_id,
        decided_by_name=principal.actor_name,
        decided_at=_later_than(previous.decided_at if previous else None, now()),
    )
    session.add(decision)
    fields = ("id", "finding_index", "exercise_key", "status", "note", "overrides", "decided_at")
    audit.record(
        session,
        principal,
        f"suggestion.{body.action}",
        "assessment",
        row.id,
        before=audit.snapshot(previous, fields)
        if previous
        else {"n": n, "finding_index": s.finding_index, "exercise_key": s.exercise.key, "status": "proposed"},
        after={"n": n, **audit.snapshot(decision, fields)},
    )
    return decision

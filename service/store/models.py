"""Database tables. Every row that holds patient-related data carries its clinic."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ApiKey",
    "AssessmentLandmarks",
    "AssessmentRow",
    "AuditEvent",
    "Base",
    "Clinic",
    "FindingReview",
    "LoginLink",
    "OutcomeRow",
    "Patient",
    "PatientSession",
    "SessionAssessment",
    "SuggestionDecision",
    "User",
    "UserSession",
    "WebhookDelivery",
]


class Base(DeclarativeBase):
    pass


class Clinic(Base):
    __tablename__ = "clinics"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    webhook_secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # What a key with role "app" sees of the findings: all | signed_off_only (migration 0004, docs/review.md).
    # New clinics show patients signed-off findings only (migration 0006); older clinics keep their setting.
    patient_feedback: Mapped[str] = mapped_column(
        String(20), default="signed_off_only", server_default="signed_off_only"
    )
    # HMAC key of the clinic's patient links (service/accounts.py); set on first use (migration 0006)
    link_secret: Mapped[str | None] = mapped_column(String(64))


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)  # public part, for lookup
    key_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the whole key
    role: Mapped[str] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AssessmentRow(Base):
    """An assessment and the durable state of the job that computes it."""

    __tablename__ = "assessments"
    __table_args__ = (
        UniqueConstraint("clinic_id", "idempotency_key", name="uq_assessment_idempotency"),
        Index("ix_assessments_clinic_created", "clinic_id", "created_at"),
        Index("ix_assessments_status_lease", "status", "lease_until"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"))
    patient_id: Mapped[str | None] = mapped_column(String(100), index=True)
    exercise: Mapped[str | None] = mapped_column(String(50))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    # sha256 of what the request asked for (input, fields, sensor files), set with an Idempotency-Key
    # (migration 0007): the same key with another request is refused. NULL for rows made before it.
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    callback_url: Mapped[str | None] = mapped_column(Text)

    input_kind: Mapped[str] = mapped_column(String(20))  # video | image | landmarks | sensors
    input_sha256: Mapped[str | None] = mapped_column(String(64))
    input_bytes: Mapped[int | None] = mapped_column(Integer)
    input_path: Mapped[str | None] = mapped_column(Text)  # relative to the uploads dir; NULL once deleted
    # {"imu": {"path", "sha256", "bytes"}, "emg": {...}, "request": WearablesRequest fields}; NULL without wearables
    wearables: Mapped[dict | None] = mapped_column(JSON)

    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued | running | done | failed
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # also the fencing token of a run
    worker_id: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[dict | None] = mapped_column(JSON)

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AssessmentLandmarks(Base):
    """Every landmark of every frame of a video's assessment (migration 0005): what its annotated video is drawn from.

    ``data`` is :func:`vision.overlay.pack_landmarks`' compressed npz (quarter pixels in int16, visibility
    in uint8: a few kB per second of video). Kept apart from the row so that listing assessments never loads it.
    """

    __tablename__ = "assessment_landmarks"

    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"), primary_key=True)
    format: Mapped[str] = mapped_column(String(20))  # "npz-q4-v1"
    frames: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# -- Patients, sessions and patient-reported outcomes (migration 0003) ------------------


class Patient(Base):
    """A pseudonymous patient: a clinic's own code, never a name."""

    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("clinic_id", "code", name="uq_patient_code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(100))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    sex: Mapped[str | None] = mapped_column(String(10))  # female | male | other
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PatientSession(Base):
    """One visit or day: groups assessments, questionnaires and a clinician's note."""

    __tablename__ = "patient_sessions"
    __table_args__ = (Index("ix_patient_sessions_patient_date", "patient_id", "session_date"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"), index=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    session_date: Mapped[date] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SessionAssessment(Base):
    """An assessment belongs to at most one session."""

    __tablename__ = "session_assessments"

    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("patient_sessions.id", ondelete="CASCADE"), index=True)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"))


class OutcomeRow(Base):
    """A patient-reported outcome: the answers as given and the score computed from them."""

    __tablename__ = "patient_outcomes"
    __table_args__ = (Index("ix_patient_outcomes_patient_recorded", "patient_id", "recorded_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"), index=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    session_id: Mapped[str | None] = mapped_column(ForeignKey("patient_sessions.id", ondelete="SET NULL"), index=True)
    instrument: Mapped[str] = mapped_column(String(10))  # odi | nrs
    site: Mapped[str | None] = mapped_column(String(10))  # nrs: leg | back
    answers: Mapped[dict] = mapped_column(JSON)
    score: Mapped[float] = mapped_column(Float)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# -- Clinician review, exercise suggestion decisions, audit log (migration 0004) ---------


class FindingReview(Base):
    """A clinician's sign-off, correction or rejection of one finding; the latest one counts."""

    __tablename__ = "finding_reviews"
    __table_args__ = (Index("ix_finding_reviews_assessment_finding", "assessment_id", "finding_index", "reviewed_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"), index=True)
    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"))
    finding_index: Mapped[int] = mapped_column(Integer)
    finding_code: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(12))  # signed_off | corrected | rejected
    note: Mapped[str | None] = mapped_column(Text)
    correction: Mapped[dict | None] = mapped_column(JSON)  # {"severity"?, "message"?}
    reviewer_key_id: Mapped[str] = mapped_column(String(36))  # the key's id, or the user's id for a person
    reviewer_name: Mapped[str | None] = mapped_column(String(300))  # "Name <email>" or "API key 'label'" (0006)
    reviewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SuggestionDecision(Base):
    """A clinician's approval (with parameter overrides) or rejection of one suggested exercise; the latest counts."""

    __tablename__ = "exercise_suggestion_decisions"
    __table_args__ = (
        Index("ix_suggestion_decisions_assessment", "assessment_id", "finding_index", "exercise_key", "decided_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"), index=True)
    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"))
    finding_index: Mapped[int] = mapped_column(Integer)
    exercise_key: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(10))  # approved | rejected
    note: Mapped[str | None] = mapped_column(Text)
    overrides: Mapped[dict | None] = mapped_column(JSON)
    decided_by_key_id: Mapped[str] = mapped_column(String(36))
    decided_by_name: Mapped[str | None] = mapped_column(String(300))  # as reviewer_name (migration 0006)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """Who changed what, when: written in the same transaction as the change; never updated or deleted by the API."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_clinic_at", "clinic_id", "at"),
        Index("ix_audit_events_entity", "clinic_id", "entity_type", "entity_id", "at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_key_id: Mapped[str] = mapped_column(String(36))  # no foreign key: the trail outlives a revoked key
    actor_role: Mapped[str] = mapped_column(String(16))
    # key | user | patient_link | cli, and the person or key as written then (migration 0006; NULL before)
    actor_type: Mapped[str | None] = mapped_column(String(16))
    actor_name: Mapped[str | None] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(50))
    entity_type: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str] = mapped_column(String(80))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)


# -- People and browser sessions (migration 0006, service/accounts.py) -----------------------


class User(Base):
    """A person of a clinic who logs in (admin or clinician); apps use API keys."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # lower case; the login name
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(200))  # Argon2id; NULL: login links only
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class UserSession(Base):
    """A browser session: the cookie's sha256, its CSRF token, and when it ends."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie value
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(10))  # password | link
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginLink(Base):
    """A one-time login link printed by the CLI: the token's sha256, until used or expired."""

    __tablename__ = "login_links"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the token
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

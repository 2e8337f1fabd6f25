"""API keys per clinic, stored hashed, and the roles they carry.

A key looks like ``ms_<prefix>_<secret>``. Only its sha256 is stored, with the
prefix in clear for lookup; a leaked database does not leak usable keys.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.store.db import now
from service.store.models import ApiKey, Clinic

__all__ = ["ROLES", "Principal", "Role", "authenticate", "create_key", "permits"]

Role = Literal["admin", "clinician", "app"]
ROLES: tuple[Role, ...] = ("admin", "clinician", "app")

# What each role may do. "app" is a patient-facing or telehealth app: it submits
# recordings and reads the assessments it is given the ids of, but cannot browse
# or delete a clinic's records.
_PERMISSIONS: dict[str, set[Role]] = {
    "assessments:create": {"admin", "clinician", "app"},
    "assessments:read": {"admin", "clinician", "app"},
    "assessments:list": {"admin", "clinician"},
    "assessments:delete": {"admin", "clinician"},
    "assessments:input": {"admin", "clinician"},  # the uploaded recording itself (it shows the patient)
    "frames:analyze": {"admin", "clinician", "app"},
    # Patients: a patient-facing app may submit a questionnaire for a patient id it was
    # given, but cannot list, read or change a clinic's patients (docs/outcomes.md).
    "patients:create": {"admin", "clinician"},
    "patients:read": {"admin", "clinician"},
    "patients:list": {"admin", "clinician"},
    "sessions:write": {"admin", "clinician"},
    "outcomes:create": {"admin", "clinician", "app"},
    "reports:read": {"admin", "clinician"},  # session reports (docs/reports.md)
    "patients:update": {"admin", "clinician"},
    "patients:delete": {"admin", "clinician"},
    # Clinician review, exercise suggestions, audit log, clinic settings (docs/review.md). An app sees
    # approved suggestions only, and (when the clinic asks) only signed-off findings.
    "findings:read": {"admin", "clinician"},
    "findings:review": {"admin", "clinician"},
    "suggestions:read": {"admin", "clinician", "app"},
    "suggestions:decide": {"admin", "clinician"},
    "audit:read": {"admin", "clinician"},
    "clinic:read": {"admin"},
    "clinic:update": {"admin"},
}


@dataclass(frozen=True)
class Principal:
    clinic_id: str
    key_id: str
    role: Role


def permits(role: str, action: str) -> bool:
    return role in _PERMISSIONS[action]


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    session: Session, clinic_name: str, role: Role = "admin", label: str | None = None
) -> tuple[str, Clinic]:
    """Create (or reuse) the clinic and return a new key; the key is shown once."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    clinic = session.scalar(select(Clinic).where(Clinic.name == clinic_name))
    if clinic is None:
        clinic = Clinic(id=str(uuid.uuid4()), name=clinic_name, webhook_secret=secrets.token_hex(32), created_at=now())
        session.add(clinic)
        session.flush()
    prefix = secrets.token_hex(6)
    key = f"ms_{prefix}_{secrets.token_urlsafe(32)}"
    session.add(
        ApiKey(
            id=str(uuid.uuid4()),
            clinic_id=clinic.id,
            prefix=prefix,
            key_hash=_hash(key),
            role=role,
            label=label,
            created_at=now(),
        )
    )
    session.flush()
    return key, clinic


def authenticate(session: Session, key: str) -> Principal | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "ms":
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1], ApiKey.revoked_at.is_(None)))
    if row is None or not hmac.compare_digest(row.key_hash, _hash(key)):
        return None
    return Principal(clinic_id=row.clinic_id, key_id=row.id, role=row.role)  # type: ignore[arg-type]

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

__all__ = [
    "ROLES",
    "ActorType",
    "Principal",
    "Role",
    "authenticate",
    "create_key",
    "list_keys",
    "permits",
    "pinned_to",
    "revoke_key",
    "rotate_key",
]

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
    "patients:link": {"admin", "clinician"},  # a signed patient link for the patient page (docs/web.md)
    "clinic:webhook_secret": {"admin"},  # read or rotate the secret that signs webhooks
}


ActorType = Literal["key", "user", "patient_link", "cli", "system"]  # system: the retention sweeper


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API key, a person logged in (service/accounts.py) or a patient link.

    ``key_id`` is the key's id, or the user's (patient's) id for a person (patient link);
    ``actor_name`` is what the audit log and the reviews print ("Name <email>", "API key 'label'").
    A patient link's principal is pinned to ``patient_id`` / ``patient_code``.
    """

    clinic_id: str
    key_id: str
    role: Role
    kind: ActorType = "key"
    actor_name: str | None = None
    user_id: str | None = None
    patient_id: str | None = None
    patient_code: str | None = None


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
    name = f"API key {row.label!r}" if row.label else f"API key {row.prefix} ({row.role})"
    return Principal(clinic_id=row.clinic_id, key_id=row.id, role=row.role, actor_name=name)  # type: ignore[arg-type]


def _find_key(session: Session, clinic_id: str, ref: str) -> ApiKey:
    """A clinic's key by id or by prefix (the public part ``motionscript keys list`` prints)."""
    ref = ref.strip()
    if ref.startswith("ms_"):
        ref = ref.split("_", 2)[1] if ref.count("_") >= 2 else ref
    row = session.scalar(
        select(ApiKey).where(ApiKey.clinic_id == clinic_id, (ApiKey.id == ref) | (ApiKey.prefix == ref))
    )
    if row is None:
        raise ValueError(f"no key {ref!r} in this clinic (see `motionscript keys list`)")
    return row


def list_keys(session: Session, clinic_id: str) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.clinic_id == clinic_id).order_by(ApiKey.created_at)))


def revoke_key(session: Session, clinic_id: str, ref: str) -> ApiKey:
    """Revoke a key by id or prefix; it is refused at its next request. Revoking twice keeps the first time."""
    row = _find_key(session, clinic_id, ref)
    if row.revoked_at is None:
        row.revoked_at = now()
    return row


def rotate_key(session: Session, clinic_id: str, ref: str) -> tuple[str, ApiKey, ApiKey]:
    """A new key with the old one's role and label; the old key is revoked. Returns (new key, new row, old row)."""
    old = _find_key(session, clinic_id, ref)
    if old.revoked_at is not None:
        raise ValueError(f"key {old.prefix} is already revoked; create a new one with `motionscript keys create`")
    clinic = session.get(Clinic, clinic_id)
    assert clinic is not None
    key, _ = create_key(session, clinic.name, old.role, old.label)  # type: ignore[arg-type]
    old.revoked_at = now()
    new = session.scalar(select(ApiKey).where(ApiKey.prefix == key.split("_", 2)[1]))
    assert new is not None
    return key, new, old


def pinned_to(principal: Principal, patient_code: str | None) -> bool:
    """Whether ``principal`` may see a record of ``patient_code``: a patient link sees only its own patient."""
    return principal.patient_code is None or principal.patient_code == patient_code

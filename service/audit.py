"""The audit log: who (the person or the API key, by name, id and role) did what (action, entity, before/after) and when.

:func:`record` adds the event to the caller's session, so it commits (or rolls
back) in the same transaction as the change it describes: there is never a
change without its event, nor an event for a change that did not happen. Rows
are only ever inserted; the API has no route that updates or deletes them.

Entities (``entity_type`` / ``entity_id``, docs/review.md):
``assessment`` / assessment id (finding reviews and suggestion decisions, with
``finding_index`` in ``after``), ``patient`` / patient id, ``session`` / session
id, ``clinic`` / clinic id, ``user`` / user id (logins, logouts, password changes; account changes by
the CLI).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from service.auth import Principal
from service.store.db import now
from service.store.models import AuditEvent

__all__ = ["ENTITY_TYPES", "list_events", "record", "snapshot"]

ENTITY_TYPES = ("assessment", "clinic", "patient", "session", "user")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):  # every stored time is UTC; SQLite hands them back naive
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def snapshot(row: object, fields: tuple[str, ...]) -> dict[str, Any]:
    """The named attributes of ``row`` as JSON-ready values (dates as ISO strings)."""
    return {f: _plain(getattr(row, f)) for f in fields}


def record(
    session: Session,
    principal: Principal,
    action: str,
    entity_type: str,
    entity_id: str,
    *,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """Add one event to ``session`` (committed with the caller's change, never on its own)."""
    if entity_type not in ENTITY_TYPES:
        raise ValueError(f"entity_type must be one of {', '.join(ENTITY_TYPES)}, got {entity_type!r}")
    event = AuditEvent(
        id=str(uuid.uuid4()),
        clinic_id=principal.clinic_id,
        at=now(),
        actor_key_id=principal.key_id,
        actor_role=principal.role,
        actor_type=principal.kind,
        actor_name=principal.actor_name,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=_plain(before),
        after=_plain(after),
    )
    session.add(event)
    return event


def list_events(
    session: Session,
    clinic_id: str,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    limit: int = 50,
    after: tuple[datetime, str] | None = None,
) -> list[AuditEvent]:
    """The clinic's events newest first (``limit + 1`` rows, so the caller can tell whether more follow)."""
    q = select(AuditEvent).where(AuditEvent.clinic_id == clinic_id)
    if entity_type:
        q = q.where(AuditEvent.entity_type == entity_type)
    if entity_id:
        q = q.where(AuditEvent.entity_id == entity_id)
    if after is not None:
        at, eid = after
        q = q.where(or_(AuditEvent.at < at, and_(AuditEvent.at == at, AuditEvent.id < eid)))
    return list(session.scalars(q.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit + 1)))

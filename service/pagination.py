"""Opaque keyset cursors for lists ordered newest first by (created_at, id)."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from service.domain_errors import Invalid

__all__ = ["decode_cursor", "encode_cursor", "valid_id"]


def encode_cursor(created_at: datetime, row_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, rid = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(created, str) or not isinstance(rid, str) or not valid_id(rid) or not rid.isprintable():
            raise ValueError("not an id")  # a NUL here reached PostgreSQL, which refused it with a 500
        return datetime.fromisoformat(created), rid
    except Exception:
        raise Invalid("cursor: not a cursor this service issued") from None


def valid_id(ident: str) -> bool:
    """Ids are UUID strings; anything longer or with a NUL byte cannot name a row
    (and PostgreSQL refuses NUL in text with an error, which must stay a 404)."""
    return len(ident) <= 64 and "\x00" not in ident

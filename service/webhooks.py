"""Signed webhook deliveries with retries and exponential backoff.

Each POST carries ``Motionscript-Signature: t=<unix seconds>,v1=<hex>`` where
``v1 = HMAC-SHA256(clinic webhook secret, f"{t}.{body}")``. Receivers recompute
it and reject stale ``t`` to stop replays. The body names the assessment and
its status only; the assessment itself is fetched with the API key.

Before each attempt the URL is checked again by :mod:`service.egress` (its host
is resolved anew, so a name that now points inside is refused: DNS rebinding)
and the request goes to the address that was checked. Any error of an attempt,
whatever its kind, is a failed attempt counted against ``webhook_max_attempts``;
none ends the worker.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from datetime import UTC, timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from service import egress
from service.settings import Settings
from service.store.db import now, session_scope
from service.store.models import AssessmentRow, Clinic, WebhookDelivery

__all__ = ["deliver_due", "sign", "verify"]

log = logging.getLogger("motionscript.webhooks")


def sign(secret: str, body: str, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, body: str, header: str, tolerance_s: float = 300.0) -> bool:
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - t) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, body, t), f"t={t},v1={parts.get('v1', '')}")


def deliver_due(factory: sessionmaker[Session], settings: Settings, client: httpx.Client | None = None) -> int:
    """Attempt every delivery that is due; returns how many were attempted."""
    with session_scope(factory) as s:
        due = list(
            s.scalars(
                select(WebhookDelivery.id)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now())
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(20)
            )
        )
    attempted = 0
    own_client = client is None
    client = client or httpx.Client(timeout=settings.webhook_timeout_s, follow_redirects=False)
    try:
        for delivery_id in due:
            attempted += _attempt(factory, settings, client, delivery_id)
    finally:
        if own_client:
            client.close()
    return attempted


def _attempt(factory: sessionmaker[Session], settings: Settings, client: httpx.Client, delivery_id: str) -> int:
    # Reserve it (push next_attempt_at past the timeout) so no other worker sends it concurrently.
    with session_scope(factory) as s:
        d = s.get(WebhookDelivery, delivery_id)
        if d is None or d.status != "pending":
            return 0
        due = (
            d.next_attempt_at if d.next_attempt_at.tzinfo else d.next_attempt_at.replace(tzinfo=UTC)
        )  # SQLite: naive UTC
        if due > now():
            return 0
        if d.attempts >= settings.webhook_max_attempts:  # e.g. left pending by a crash in an older version
            d.status = "failed"
            d.last_error = d.last_error or "no attempts left"
            return 0
        attempt, url, body = d.attempts + 1, d.url, d.body  # read before the UPDATE refreshes `d`
        res = s.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.attempts == attempt - 1)
            .values(attempts=attempt, next_attempt_at=now() + timedelta(seconds=settings.webhook_timeout_s * 2))
        )
        if res.rowcount != 1:
            return 0
        secret = s.scalar(
            select(Clinic.webhook_secret)
            .join(AssessmentRow, AssessmentRow.clinic_id == Clinic.id)
            .where(AssessmentRow.id == d.assessment_id)
        )
    error = None
    try:
        target = egress.check_url(url, settings.webhook_allow_networks)  # resolved now, not at submission
        pinned, host, extensions = egress.pinned_request(target)
        r = client.post(
            pinned,
            content=body,
            headers={
                **host,
                "Content-Type": "application/json",
                "Motionscript-Signature": sign(secret or "", body, int(time.time())),
                "Motionscript-Delivery": delivery_id,
                "Motionscript-Attempt": str(attempt),
            },
            extensions=extensions,
            follow_redirects=False,
        )
        if 200 <= r.status_code < 300:
            with session_scope(factory) as s:
                s.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id == delivery_id)
                    .values(status="delivered", delivered_at=now(), last_error=None)
                )
            return 1
        error = f"HTTP {r.status_code}"
    except egress.EgressRefused as exc:
        error = f"refused: {exc}"[:500]
    except Exception as exc:  # httpx.InvalidURL is no httpx.HTTPError: any error is a failed attempt, not a crash
        error = f"{type(exc).__name__}"
    backoff = settings.webhook_backoff_s * 2 ** (attempt - 1)
    final = attempt >= settings.webhook_max_attempts
    with session_scope(factory) as s:
        s.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(
                status="failed" if final else "pending",
                last_error=error,
                next_attempt_at=now() + timedelta(seconds=backoff),
            )
        )
    log.info(
        "webhook attempt failed", extra={"delivery_id": delivery_id, "attempt": attempt, "error": error, "final": final}
    )
    return 1

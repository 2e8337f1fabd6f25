"""The job table's guarantees: fenced results, bounded retries, signed webhooks with backoff."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from service.jobs.runner import _finish, claim
from service.store.db import make_engine, now
from service.store.models import AssessmentRow, Clinic, WebhookDelivery
from service.webhooks import deliver_due, sign, verify
from tests.service.conftest import run_worker_once
from tests.service.test_api import post_landmarks


@pytest.fixture
def factory(client, settings):
    engine = make_engine(settings.sqlalchemy_url)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


def _expire_lease(factory, aid: str) -> None:
    with factory() as s:
        s.execute(update(AssessmentRow).where(AssessmentRow.id == aid).values(lease_until=now() - timedelta(seconds=1)))
        s.commit()


def test_a_stale_run_cannot_overwrite_the_result(client, auth, settings, factory):
    aid = post_landmarks(client, auth).json()["id"]
    first = claim(factory, aid, settings, "worker-a")
    assert first is not None and first.token == 1
    assert claim(factory, aid, settings, "worker-b") is None  # lease still live
    _expire_lease(factory, aid)  # worker-a went silent
    second = claim(factory, aid, settings, "worker-b")
    assert second is not None and second.token == 2
    assert _finish(factory, second, status="done", result={"by": "b"}, reason=None)
    assert not _finish(factory, first, status="done", result={"by": "a"}, reason=None)  # the zombie wakes up
    with factory() as s:
        row = s.get(AssessmentRow, aid)
        assert (row.status, row.result, row.attempts, row.worker_id) == ("done", {"by": "b"}, 2, "worker-b")


def test_a_job_that_keeps_killing_workers_is_given_up(client, auth, settings, factory):
    aid = post_landmarks(client, auth).json()["id"]
    for attempt in range(1, settings.job_max_attempts + 1):
        c = claim(factory, aid, settings, f"w{attempt}")
        assert c is not None and c.token == attempt
        _expire_lease(factory, aid)
    assert claim(factory, aid, settings, "w-last") is None
    r = client.get(f"/v1/assessments/{aid}", headers=auth).json()
    assert r["status"] == "failed" and "stopped unexpectedly 3 times" in r["reason"]


def test_unusable_input_fails_with_a_reason_and_is_not_retried(client, auth, settings, factory):
    doc = {
        "schema": "blazepose33",
        "space": "image",
        "image_size": [640, 480],
        "frames": [{"t_s": i / 30, "landmarks": None} for i in range(10)],
    }  # valid, but nobody in it
    aid = post_landmarks(client, auth, doc=doc).json()["id"]
    run_worker_once(settings)
    r = client.get(f"/v1/assessments/{aid}", headers=auth).json()
    assert r["status"] == "failed" and "no person" in r["reason"] and r["attempts"] == 1


class _Receiver(BaseHTTPRequestHandler):
    responses: list[int] = []
    received: list[tuple[dict, str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        type(self).received.append((dict(self.headers), body))
        self.send_response(type(self).responses.pop(0) if type(self).responses else 200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver():
    _Receiver.responses, _Receiver.received = [503, 500], []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver
    server.shutdown()
    server.server_close()


def test_webhook_is_signed_and_retried_with_backoff(client, auth, settings, factory, receiver):
    url, rec = receiver
    aid = post_landmarks(client, auth, callback_url=url).json()["id"]
    run_worker_once(settings)  # analyses, then makes the first delivery attempt (503)
    assert len(rec.received) == 1
    assert deliver_due(factory, settings) == 0  # not due before the backoff
    deadline = time.monotonic() + 10
    while len(rec.received) < 3 and time.monotonic() < deadline:
        deliver_due(factory, settings)
        time.sleep(0.05)
    assert len(rec.received) == 3  # 503, 500, then 200
    with factory() as s:
        d = s.scalar(select(WebhookDelivery).where(WebhookDelivery.assessment_id == aid))
        secret = s.scalar(select(Clinic.webhook_secret))
        assert (d.status, d.attempts) == ("delivered", 3)
    headers, body = rec.received[-1]
    assert json.loads(body) == {
        "event": "assessment.finished",
        "id": aid,
        "status": "done",
        "reason": None,
        "url": f"/v1/assessments/{aid}",
    }
    assert verify(secret, body, headers["Motionscript-Signature"])
    assert not verify(secret, body.replace("done", "failed"), headers["Motionscript-Signature"])
    assert headers["Motionscript-Attempt"] == "3"


def test_signature_rejects_stale_timestamps():
    old = int(time.time()) - 3600
    assert not verify("secret", "{}", sign("secret", "{}", old))
    assert verify("secret", "{}", sign("secret", "{}", int(time.time())))

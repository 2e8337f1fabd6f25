"""What an integrator needs besides the analysis: the OpenAPI security scheme and the webhook secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from service.webhooks import deliver_due
from tests.service.conftest import make_key, run_worker_once
from tests.service.test_api import post_landmarks
from tests.service.test_jobs import factory, receiver  # noqa: F401 (fixtures)


def test_openapi_declares_bearer_keys_on_every_route_that_needs_one(client):
    doc = client.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "ms_<prefix>_<secret>",
        "description": doc["components"]["securitySchemes"]["bearer"]["description"],
    }
    # logging in and out needs no key (the browser session cookie, docs/web.md)
    open_routes = {"/healthz", "/readyz", "/metrics", "/v1/auth/login", "/v1/auth/link", "/v1/auth/logout"}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if path in open_routes or not path.startswith("/v1/"):
                assert "security" not in op, (method, path)
            else:
                assert op.get("security") == [{"bearer": []}], (method, path)


def _verify(secret: str, body: str, header: str) -> bool:
    """A receiver's check, written from docs/sdk.md alone (not service.webhooks)."""
    parts = dict(p.split("=", 1) for p in header.split(","))
    want = hmac.new(secret.encode(), f"{parts['t']}.{body}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, parts["v1"]) and abs(time.time() - int(parts["t"])) < 300


def test_admins_read_and_rotate_the_webhook_secret_and_deliveries_use_the_new_one(
    client,
    auth,
    settings,
    factory,  # noqa: F811
    receiver,  # noqa: F811
):
    for role in ("clinician", "app"):
        other = {"Authorization": f"Bearer {make_key(settings, role=role)}"}
        assert client.get("/v1/clinic/webhook-secret", headers=other).status_code == 403
        assert client.post("/v1/clinic/webhook-secret", headers=other).status_code == 403
    r = client.get("/v1/clinic/webhook-secret", headers=auth)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    old = r.json()
    assert len(old["secret"]) == 64 and old["header"] == "Motionscript-Signature"
    assert old["fingerprint"] == hashlib.sha256(old["secret"].encode()).hexdigest()[:12]

    rotated = client.post("/v1/clinic/webhook-secret", headers=auth).json()
    assert rotated["secret"] != old["secret"]
    assert client.get("/v1/clinic/webhook-secret", headers=auth).json() == rotated
    events = client.get("/v1/audit", headers=auth).json()["items"]
    event = next(e for e in events if e["action"] == "clinic.webhook_secret_rotated")
    assert event["before"] == {"fingerprint": old["fingerprint"]} and event["after"] == {
        "fingerprint": rotated["fingerprint"]
    }
    assert old["secret"] not in json.dumps(events) and rotated["secret"] not in json.dumps(events)

    url, rec = receiver
    rec.responses = []
    post_landmarks(client, auth, callback_url=url)
    run_worker_once(settings)
    deadline = time.monotonic() + 10
    while not rec.received and time.monotonic() < deadline:
        deliver_due(factory, settings)
        time.sleep(0.05)
    headers, body = rec.received[-1]
    assert _verify(rotated["secret"], body, headers["Motionscript-Signature"])
    assert not _verify(old["secret"], body, headers["Motionscript-Signature"])

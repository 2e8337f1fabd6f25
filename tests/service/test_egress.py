"""Issue 14, breaks 2 and 3: callback URLs cannot crash a worker or reach inside.

Everything here stays on this machine: names are answered by the stub resolver
(tests/service/conftest.py), connections go to loopback listeners, and the one
public address used (example.com's) is only ever checked, never contacted.
"""

from __future__ import annotations

import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from service import egress
from service.store.db import make_engine, now
from service.store.models import AssessmentRow, WebhookDelivery
from service.webhooks import deliver_due
from tests.service.conftest import run_worker_once
from tests.service.test_api import post_landmarks

PUBLIC = "93.184.215.14"  # example.com: public, so it passes the checks; no test connects to it

# -- the URL's form --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url,why",
    [
        ("http://127.0.0.1:abc/hook", "not a valid URL"),  # httpx.InvalidURL, which used to kill the worker
        ("http://[::1/", "not a valid URL"),
        ("http://example.org:0/hook", "port 0"),
        ("http://example.org:70000/hook", "port 70000 is outside 1-65535"),
        ("ftp://example.org/hook", "scheme 'ftp'"),
        ("javascript:alert(1)", "scheme"),
        ("//example.org/hook", "scheme"),
        ("http:///hook", "no host"),
        ("http://evil@127.0.0.1/hook", "credentials"),
        ("https://user:secret@example.org/hook", "credentials"),
        ("http://example.org/ho ok", "whitespace"),
        ("http://example.org/\x00hook", "control"),
        ("http://example.org/\nhook", "control"),
        ("http://example.org/hook#frag", "fragment"),
        ("https://example.org/" + "a" * 2100, "longer than 2048"),
    ],
)
def test_malformed_callback_urls_are_refused_with_the_reason(url, why):
    with pytest.raises(egress.EgressRefused, match=why):
        egress.check_url(url)


# -- where it leads ---------------------------------------------------------------------------------------------------

INSIDE = [
    ("http://127.0.0.1/", "loopback"),
    ("http://127.0.0.1:6379/", "loopback"),  # Redis
    ("http://2130706433/", "loopback"),  # 127.0.0.1 as one decimal number
    ("http://0x7f000001/", "loopback"),
    ("http://0x7f.1/", "loopback"),
    ("http://0177.0.0.1/", "not a valid URL"),  # octal: httpx's parser refuses it outright
    ("http://127.1/", "loopback"),
    ("http://127.0.0.1./", "loopback"),
    ("http://localhost/", "loopback"),  # via the resolver
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback \\(IPv4 127.0.0.1 inside IPv6"),  # IPv4-mapped IPv6
    ("http://[::ffff:7f00:1]/", "loopback"),
    ("http://[::ffff:a00:1]/", "private"),  # 10.0.0.1
    ("http://[64:ff9b::7f00:1]/", "loopback"),  # NAT64
    ("http://[::127.0.0.1]/", "loopback"),  # IPv4-compatible (deprecated)
    ("http://[2002:7f00:1::]/", "IPv4 127.0.0.1 inside IPv6"),  # 6to4
    ("http://169.254.169.254/latest/meta-data/", "link-local"),  # cloud metadata
    ("http://[fe80::1]/", "link-local"),
    ("http://10.0.0.1/", "private"),
    ("http://172.16.5.4/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://3232235777/", "private"),  # 192.168.1.1
    ("http://[fc00::1]/", "private"),
    ("http://[fd12:3456::1]/", "private"),
    ("http://100.64.0.1/", "not globally reachable"),  # shared address space (CGNAT)
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://240.0.0.1/", "reserved"),
    ("http://255.255.255.255/", "reserved"),
    ("http://[fec0::1]/", "site-local"),
    ("http://hooks.example.test/", "loopback"),  # a name that points inside
    ("http://mixed.example.test/", "private"),  # one of its addresses is inside
]


@pytest.mark.parametrize("url,why", INSIDE)
def test_every_spelling_of_an_inside_address_is_refused(url, why, resolver):
    resolver.table.update(
        {
            "localhost": ["127.0.0.1", "::1"],
            "hooks.example.test": ["127.0.0.1"],
            "mixed.example.test": [PUBLIC, "10.1.2.3"],
        }
    )
    with pytest.raises(egress.EgressRefused, match=why):
        egress.check_url(url)


def test_public_addresses_and_names_pass(resolver):
    resolver.table["hooks.example.test"] = [PUBLIC, "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    for url in (f"https://{PUBLIC}/hook", "https://hooks.example.test:8443/hook?x=1", "http://[2606:4700::1111]/"):
        target = egress.check_url(url)
        assert str(target.address) in (PUBLIC, "2606:4700::1111")


def test_an_unresolvable_name_is_refused(resolver):
    with pytest.raises(egress.EgressRefused, match="does not resolve"):
        egress.check_url("https://nowhere.example.test/hook")


def test_the_allow_list_admits_only_the_networks_it_names(resolver):
    allow = ["127.0.0.0/8", "fd00::/8"]
    assert str(egress.check_url("http://127.0.0.1:9/hook", allow).address) == "127.0.0.1"
    assert str(egress.check_url("http://2130706433/hook", allow).address) == "127.0.0.1"
    assert str(egress.check_url("http://[fd00::5]/hook", allow).address) == "fd00::5"
    for url in ("http://10.0.0.1/", "http://169.254.169.254/", "http://[::1]/"):
        with pytest.raises(egress.EgressRefused):
            egress.check_url(url, allow)


def test_the_allow_list_setting_must_name_networks():
    from pydantic import ValidationError

    from service.settings import Settings

    assert Settings(webhook_allow_networks=["10.0.0.0/8"]).webhook_allow_networks == ["10.0.0.0/8"]
    with pytest.raises(ValidationError):
        Settings(webhook_allow_networks=["not-a-network"])


# -- at submission: 422 naming what is wrong, nothing stored -----------------------------------------------------------


@pytest.fixture
def strict(settings):
    """The service as deployed: no networks allowed beyond public addresses."""
    from fastapi.testclient import TestClient

    from service.app import create_app
    from tests.service.conftest import make_key

    s = settings.model_copy(update={"webhook_allow_networks": []})
    with TestClient(create_app(s, start_workers=False)) as c:
        yield c, {"Authorization": f"Bearer {make_key(s, role='app')}"}, s


@pytest.mark.parametrize(
    "url,why",
    [
        ("http://127.0.0.1:abc/hook", "not a valid URL"),
        ("http://[::1/", "not a valid URL"),
        ("https://example.org/" + "a" * 1_000_000, "longer than 2048"),  # was accepted (any length)
        ("http://127.0.0.1:6379/", "loopback"),
        ("http://2130706433/", "loopback"),
        ("http://evil@127.0.0.1/", "credentials"),
        ("http://169.254.169.254/", "link-local"),
        ("http://192.168.0.10/hook", "private"),
        ("http://hooks.example.test/hook", "loopback"),
        ("http://example.org/\thook", "control"),  # a NUL is refused earlier, for any field (test_input_limits)
    ],
    ids=lambda v: v[:40] if isinstance(v, str) else v,
)
def test_submission_refuses_callbacks_that_are_malformed_or_lead_inside(strict, resolver, url, why):
    client, auth, settings = strict
    resolver.table["hooks.example.test"] = ["127.0.0.1"]
    r = post_landmarks(client, auth, callback_url=url)
    assert r.status_code == 422, r.text[:300]
    body = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert body["detail"].startswith("callback_url: ") and why in body["detail"]
    engine = make_engine(settings.sqlalchemy_url)
    with sessionmaker(engine)() as s:
        assert s.scalar(select(AssessmentRow.id)) is None  # refused before anything was stored
    engine.dispose()


def test_submission_accepts_a_public_callback(strict, resolver):
    client, auth, _ = strict
    resolver.table["hooks.example.test"] = [PUBLIC]
    r = post_landmarks(client, auth, callback_url="https://hooks.example.test/motionscript")
    assert r.status_code == 202, r.text


# -- at delivery: checked again, pinned, and no error ends the worker -------------------------------------------------


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(dict(self.headers))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def hook():
    _Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], _Hook
    server.shutdown()
    server.server_close()


@pytest.fixture
def factory(client, settings):
    engine = make_engine(settings.sqlalchemy_url)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


def _delivery(factory, aid: str):
    with factory() as s:
        return s.scalar(select(WebhookDelivery).where(WebhookDelivery.assessment_id == aid))


def test_delivery_goes_to_the_checked_address_with_the_name_kept(client, auth, settings, factory, hook, resolver):
    """The name resolves (stub) to the loopback listener; the system resolver has never heard of it, so
    the delivery arriving proves the connection went to the checked address, not to a fresh lookup."""
    port, rec = hook
    resolver.table["hooks.example.test"] = ["127.0.0.1"]
    aid = post_landmarks(client, auth, callback_url=f"http://hooks.example.test:{port}/hook").json()["id"]
    run_worker_once(settings)
    assert len(rec.received) == 1
    assert rec.received[0]["Host"] == f"hooks.example.test:{port}"
    d = _delivery(factory, aid)
    assert (d.status, d.attempts) == ("delivered", 1)


def test_dns_rebinding_is_caught_at_delivery(client, auth, settings, factory, hook, resolver):
    """Public when submitted, loopback when delivered: the second check refuses it."""
    port, rec = hook
    strict = settings.model_copy(update={"webhook_allow_networks": [], "webhook_max_attempts": 2})
    resolver.table["rebind.example.test"] = [[PUBLIC], ["127.0.0.1"]]  # first answer, then every later one
    from service.intake import check_callback

    url = f"http://rebind.example.test:{port}/hook"
    check_callback(url, strict.webhook_allow_networks)  # what submission saw: a public address
    aid = post_landmarks(client, auth).json()["id"]
    run_worker_once(settings)
    with factory() as s:
        s.add(WebhookDelivery(id=str(uuid.uuid4()), assessment_id=aid, url=url, body="{}", next_attempt_at=now()))
        s.commit()
    for _ in range(2):
        deliver_due(factory, strict)
        with factory() as s:  # make the retry due now
            d = s.scalar(select(WebhookDelivery).where(WebhookDelivery.assessment_id == aid))
            d.next_attempt_at = now()
            s.commit()
    d = _delivery(factory, aid)
    assert rec.received == []  # nothing reached the loopback listener
    assert (d.status, d.attempts) == ("failed", 2)
    assert "refused" in d.last_error and "loopback" in d.last_error


def _legacy_delivery(factory, client, auth, url: str, attempts: int = 0) -> tuple[str, str]:
    """A delivery row as an older version stored it (its URL passed the old regex)."""
    aid = post_landmarks(client, auth).json()["id"]
    did = str(uuid.uuid4())
    with factory() as s:
        s.add(WebhookDelivery(id=did, assessment_id=aid, url=url, body="{}", attempts=attempts, next_attempt_at=now()))
        s.commit()
    return aid, did


@pytest.mark.parametrize("url", ["http://127.0.0.1:abc/hook", "http://[::1/", "http://evil@127.0.0.1/"])
def test_an_unusable_stored_url_is_a_failed_attempt_not_a_dead_worker(client, auth, settings, factory, url):
    s6 = settings.model_copy(update={"webhook_backoff_s": 0.001})
    aid, _ = _legacy_delivery(factory, client, auth, url)
    deadline = time.monotonic() + 20
    while _delivery(factory, aid).status == "pending" and time.monotonic() < deadline:
        deliver_due(factory, s6)  # used to raise httpx.InvalidURL, every 20 s, forever
        time.sleep(0.01)
    d = _delivery(factory, aid)
    assert (d.status, d.attempts) == ("failed", s6.webhook_max_attempts)  # 6, never more
    assert d.last_error


def test_any_exception_from_the_http_client_is_a_failed_attempt(client, auth, settings, factory, hook):
    port, _ = hook

    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("something no one expected")

    aid, _ = _legacy_delivery(factory, client, auth, f"http://127.0.0.1:{port}/hook")
    with httpx.Client(transport=httpx.MockTransport(explode)) as broken:
        assert deliver_due(factory, settings, client=broken) == 1
    d = _delivery(factory, aid)
    assert (d.status, d.attempts, d.last_error) == ("pending", 1, "RuntimeError")


def test_a_delivery_left_past_the_maximum_is_closed_as_failed(client, auth, settings, factory, hook):
    port, rec = hook
    aid, _ = _legacy_delivery(factory, client, auth, f"http://127.0.0.1:{port}/hook", attempts=9)
    deliver_due(factory, settings)
    d = _delivery(factory, aid)
    assert (d.status, d.attempts) == ("failed", 9) and rec.received == []

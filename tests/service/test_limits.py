"""Slow and busy clients against a real ``motionscript serve`` on loopback (issue 14, break 1; docs/limits.md).

Before the fix the authentication query held a pooled connection for the whole upload: 16 clients
that sent upload headers and 1 KB of a large body, then waited, made every clinic's GET answer 500
after 30 s, and 60 concurrent small uploads got 500s. Each test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import POSE2SIM
from tests.service._servers import Processes, free_port, service_env, wait_ready
from tests.service.conftest import make_key

CLIP = POSE2SIM.read_bytes()
BOUNDARY = "msboundary"


@pytest.fixture(autouse=True)
def quiet_test_client() -> Iterator[None]:
    """This process's httpx is the test's client, not the service: its request lines (URLs) are not service logs."""
    lg = logging.getLogger("httpx")
    old = lg.level
    lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        lg.setLevel(old)


def start(tmp_path, procs: Processes, database_url: str, clinics: dict[str, int], **settings) -> tuple[str, dict]:
    """A server with no analysis workers; ``clinics`` maps a clinic name to how many keys it gets."""
    from service.settings import Settings
    from service.store.db import migrate

    env = service_env(data_dir=tmp_path / "var", database_url=database_url, **settings)
    migrate(database_url)  # in this process: quicker than `motionscript keys create` once per key
    keys = {
        name: [make_key(Settings(database_url=database_url), name) for _ in range(n)] for name, n in clinics.items()
    }
    port = free_port()
    server = procs.serve("serve", port, "--workers", "0", env=env, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, server)
    return base, keys


def stall(base: str, key: str, declared: int = 100 * 1024 * 1024) -> socket.socket:
    """Send upload headers declaring ``declared`` bytes and 1 KB of the body, then nothing more."""
    host, port = base.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=5)
    head = (
        f"POST /v1/assessments HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {declared}\r\n\r\n"
    )
    part = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="video"; filename="a.mp4"\r\n\r\n'.encode()
    s.sendall(head.encode() + part + CLIP[: 1024 - len(part)])
    return s


def response_of(s: socket.socket, timeout_s: float) -> tuple[int, dict[str, str], bytes]:
    """The status, headers and body the server sent before closing the connection."""
    s.settimeout(timeout_s)
    data = b""
    try:
        while chunk := s.recv(65536):
            data += chunk
    except TimeoutError:
        pass
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


def upload(base: str, key: str, **kw) -> httpx.Response:
    return httpx.post(
        f"{base}/v1/assessments",
        files={"video": ("clip.mp4", CLIP, "video/mp4")},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
        **kw,
    )


def test_stalled_uploads_hold_no_database_connection(tmp_path, database_url, procs):
    # 20 stalled uploads against a pool of 2 connections (the old code's 15 were not enough either);
    # the upload caps are raised so that every one of them is past authentication and reading its body.
    base, keys = start(
        tmp_path,
        procs,
        database_url,
        {"Attacker": 1, "Other": 1},
        db_pool_size=2,
        db_max_overflow=0,
        db_pool_timeout_s=5,
        max_uploads_per_key=50,
        max_uploads_per_clinic=50,
        body_timeout_s=6,
    )
    (attacker,), (other,) = keys["Attacker"], keys["Other"]
    aid = upload(base, other).json()["id"]
    stalled = [stall(base, attacker) for _ in range(20)]
    t_stalled = time.monotonic()
    time.sleep(1.0)  # every one of them is now waiting for the rest of its body

    took = []
    for _ in range(10):
        t0 = time.perf_counter()
        r = httpx.get(f"{base}/v1/assessments/{aid}", headers={"Authorization": f"Bearer {other}"}, timeout=4)
        took.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.text
    assert max(took) < 1.0, took
    assert httpx.get(f"{base}/healthz", timeout=4).status_code == 200
    assert upload(base, other).status_code == 202  # another clinic still uploads

    # The stalled clients are answered 408 (problem+json) once body_timeout_s has passed, and disconnected.
    for s in stalled:
        status, headers, body = response_of(s, timeout_s=15)
        assert status == 408, (status, body[:300])
        assert headers["content-type"] == "application/problem+json"
        assert b"body-timeout" in body and b"stopped arriving" in body
    waited = time.monotonic() - t_stalled
    assert 6 <= waited < 20, waited
    tmp_left = list((tmp_path / "var" / "uploads").rglob("tmp/upload-*"))
    assert tmp_left == []  # the partial files were removed


def test_uploads_beyond_the_key_and_clinic_caps_get_429_with_retry_after(tmp_path, database_url, procs):
    base, keys = start(
        tmp_path,
        procs,
        database_url,
        {"Busy": 2, "Other": 1},
        max_uploads_per_key=2,
        max_uploads_per_clinic=3,
        body_timeout_s=4,
        upload_retry_after_s=3,
    )
    (k1, k2), (other,) = keys["Busy"], keys["Other"]
    stalled = [stall(base, k1), stall(base, k1)]
    time.sleep(0.5)
    r = upload(base, k1)
    assert r.status_code == 429 and r.headers["content-type"] == "application/problem+json"
    assert r.headers["retry-after"] == "3"
    p = r.json()
    assert p["type"].endswith("/too-many-uploads") and p["scope"] == "key" and p["limit"] == 2
    assert "this API key is already sending 2 uploads at once" in p["detail"]

    stalled.append(stall(base, k2))  # the clinic's third
    time.sleep(0.5)
    r = upload(base, k2)
    assert r.status_code == 429 and r.json()["scope"] == "clinic" and r.headers["retry-after"] == "3"
    assert upload(base, other).status_code == 202  # another clinic is not affected

    for s in stalled:
        assert response_of(s, timeout_s=15)[0] == 408
    assert upload(base, k1).status_code == 202  # the slots are free again


def test_sixty_concurrent_small_uploads_get_no_5xx(tmp_path, database_url, procs):
    # Caps above 60 so that every upload streams at once; a modest thread count because the PostgreSQL
    # server is shared (the pool is derived from it: 8 + 4 connections).
    base, keys = start(
        tmp_path,
        procs,
        database_url,
        {"Busy": 1},
        api_threads=8,
        max_uploads_per_key=100,
        max_uploads_per_clinic=100,
        max_uploads_total=100,
    )
    (key,) = keys["Busy"]

    async def run() -> list[int]:
        limits = httpx.Limits(max_connections=100)
        # a generous timeout: on a loaded machine the 60 queue for the video checks (2 at a time)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=300) as client:

            async def one(i: int) -> int:
                r = await client.post(
                    "/v1/assessments",
                    files={"video": (f"clip{i}.mp4", CLIP, "video/mp4")},
                    headers={"Authorization": f"Bearer {key}", "Idempotency-Key": f"k-{i}"},
                )
                return r.status_code

            return await asyncio.gather(*(one(i) for i in range(60)))

    statuses = asyncio.run(run())
    assert statuses.count(202) == 60, sorted(statuses)
    listed = httpx.get(
        f"{base}/v1/assessments", params={"limit": 100}, headers={"Authorization": f"Bearer {key}"}, timeout=10
    ).json()
    assert len(listed["items"]) == 60

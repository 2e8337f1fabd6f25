"""Load benchmark: busy and stalled clients against a real ``motionscript serve`` (loopback only, bounded).

    python -m bench load [--uploads 100] [--stalled 50] [--workers 0] [--readers 4]

At once, against one server with its default limits (docs/limits.md):

- ``--uploads`` concurrent uploads of the real 388 KB clip from 10 clinics (one key each); a 429 is
  retried after its ``Retry-After`` for up to 5 minutes;
- ``--stalled`` clients from 5 other clinics (2 keys each) that send upload headers declaring 100 MB
  and 1 KB of the body, then nothing (slowloris): each must get 408 (or 429 when its key or clinic is
  at its cap);
- ``--readers`` loops of another clinic reading ``GET /v1/assessments/{id}`` the whole time.

The readers are measured idle (1 s), with only the stalled clients waiting (5 s), and during the
whole load. Reports every response by status, the readers' latency (p50/p95/max) per phase and the
server's CPU time. Fails (exit 1) on any 5xx
or transport error, an upload never accepted, or a reader p95 of 200 ms or more. Analysis workers
are off by default (``--workers 0``): the benchmark measures the API, not the pose model.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime

import httpx

from bench._server import REPO, ServerProcess, cpu_seconds

__all__ = ["main"]

CLIP = (REPO / "tests" / "fixtures" / "video" / "pose2sim_cam01.mp4").read_bytes()
UPLOAD_CLINICS = 10
STALL_CLINICS, STALL_KEYS_PER_CLINIC = 5, 2
P95_BUDGET_MS = 200.0
RETRY_FOR_S = 300.0  # an upload answered 429 is retried after Retry-After until this long has passed
STALL_PHASE_S = 5.0


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


async def _stall(host: str, port: int, key: str, statuses: Counter) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    boundary = "benchboundary"
    part = f'--{boundary}\r\nContent-Disposition: form-data; name="video"; filename="a.mp4"\r\n\r\n'.encode()
    writer.write(
        (
            f"POST /v1/assessments HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {100 * 1024 * 1024}\r\n\r\n"
        ).encode()
        + part
        + CLIP[: 1024 - len(part)]
    )
    await writer.drain()
    try:
        line = await asyncio.wait_for(reader.readline(), timeout=120)
        statuses[f"stalled {int(line.split()[1])}" if line.startswith(b"HTTP/") else "stalled no answer"] += 1
    except (TimeoutError, ConnectionError, IndexError, ValueError):
        statuses["stalled no answer"] += 1
    finally:
        writer.close()


async def _upload(client: httpx.AsyncClient, key: str, i: int, statuses: Counter, accepted: list[int]) -> None:
    deadline = time.monotonic() + RETRY_FOR_S
    while time.monotonic() < deadline:
        try:
            r = await client.post(
                "/v1/assessments",
                files={"video": (f"clip{i}.mp4", CLIP, "video/mp4")},
                headers={"Authorization": f"Bearer {key}", "Idempotency-Key": f"load-{i}"},
            )
        except httpx.TransportError as exc:
            # e.g. a pooled keep-alive connection the server closed just then; the same Idempotency-Key
            # makes the retry safe. Counted, reported, not a failure by itself.
            statuses[f"upload transport error, retried ({type(exc).__name__})"] += 1
            await asyncio.sleep(1.0)
            continue
        statuses[f"upload {r.status_code}"] += 1
        if r.status_code != 429:
            if r.status_code == 202:
                accepted.append(i)
            return
        await asyncio.sleep(float(r.headers.get("retry-after", "1")))


async def _read(client: httpx.AsyncClient, key: str, aid: str, stop: asyncio.Event, lat: list, statuses: Counter):
    while not stop.is_set():
        t0 = time.perf_counter()
        try:
            r = await client.get(f"/v1/assessments/{aid}", headers={"Authorization": f"Bearer {key}"})
            statuses[f"read {r.status_code}"] += 1
        except httpx.HTTPError as exc:
            statuses[f"read {type(exc).__name__}"] += 1
        lat.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0.02)


async def _run(server: ServerProcess, args, statuses: Counter) -> tuple[list[float], list[int], float, list[float]]:
    host, port = "127.0.0.1", server.port
    limits = httpx.Limits(max_connections=args.uploads + args.readers + 10)
    async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=120) as client:
        reader_key = server.keys["Reader"]
        r = await client.post(
            "/v1/assessments",
            files={"video": ("clip.mp4", CLIP, "video/mp4")},
            headers={"Authorization": f"Bearer {reader_key}"},
        )
        r.raise_for_status()
        aid = r.json()["id"]
        stop, latencies, accepted = asyncio.Event(), [], []
        readers = [
            asyncio.create_task(_read(client, reader_key, aid, stop, latencies, statuses)) for _ in range(args.readers)
        ]
        await asyncio.sleep(1.0)  # an idle baseline for the readers
        baseline = list(latencies)
        stall_keys = [server.keys[f"Stall {c}#{k}"] for c in range(STALL_CLINICS) for k in range(STALL_KEYS_PER_CLINIC)]
        stalled = [
            asyncio.create_task(_stall(host, port, stall_keys[i % len(stall_keys)], statuses))
            for i in range(args.stalled)
        ]
        await asyncio.sleep(1.0)  # they are all waiting for their bodies now
        latencies.clear()
        await asyncio.sleep(STALL_PHASE_S)
        stalled_only = list(latencies)
        upload_keys = [server.keys[f"Clinic {c}"] for c in range(UPLOAD_CLINICS)]
        latencies.clear()
        t0 = time.perf_counter()
        await asyncio.gather(
            *(_upload(client, upload_keys[i % UPLOAD_CLINICS], i, statuses, accepted) for i in range(args.uploads))
        )
        await asyncio.gather(*stalled)
        elapsed = time.perf_counter() - t0
        stop.set()
        await asyncio.gather(*readers)
    return {
        "idle": baseline,
        "stalled only": stalled_only,
        "under load": latencies,
        "accepted": sorted(accepted),
        "elapsed": elapsed,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench load", description=__doc__.splitlines()[0])
    p.add_argument("--uploads", type=int, default=100, help="concurrent uploads (default 100)")
    p.add_argument("--stalled", type=int, default=50, help="stalled (slowloris) clients (default 50)")
    p.add_argument("--readers", type=int, default=4, help="reader loops of another clinic (default 4)")
    p.add_argument("--workers", type=int, default=0, help="analysis processes (default 0)")
    p.add_argument("--body-timeout-s", type=float, default=30.0, help="MOTIONSCRIPT_BODY_TIMEOUT_S (default 30)")
    args = p.parse_args(argv)
    clinics = (
        "Reader",
        *(f"Clinic {c}" for c in range(UPLOAD_CLINICS)),
        *(f"Stall {c}#{k}" for c in range(STALL_CLINICS) for k in range(STALL_KEYS_PER_CLINIC)),
    )
    print(
        f"load: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()} {os.cpu_count()} cores "
        f"({platform.processor() or platform.platform()}), load average {os.getloadavg()[0]:.2f} at start; "
        f"{args.uploads} uploads, {args.stalled} stalled, {args.readers} readers, {args.workers} workers, "
        f"body timeout {args.body_timeout_s:g} s"
    )
    statuses: Counter = Counter()
    env = {"MOTIONSCRIPT_BODY_TIMEOUT_S": str(args.body_timeout_s)}
    with ServerProcess(workers=args.workers, clinics=clinics, env=env, keys_in_process=True) as server:
        cpu0 = cpu_seconds(server.pid)
        out = asyncio.run(_run(server, args, statuses))
        cpu = cpu_seconds(server.pid) - cpu0
        log = server.log_text()
    accepted, elapsed, latencies = out["accepted"], out["elapsed"], out["under load"]
    failures: list[str] = []
    for name in sorted(statuses):
        print(f"  {name}: {statuses[name]}")
    five = sum(
        n
        for name, n in statuses.items()
        if name.split()[-1].startswith("5") or ("retried" not in name and not name.split()[-1].isdigit())
    )
    for phase in ("idle", "stalled only", "under load"):
        lat = out[phase]
        print(
            f"  reader GET, {phase}: n={len(lat)}, p50 {_pct(lat, 50):.1f} ms, p95 {_pct(lat, 95):.1f} ms, "
            f"max {max(lat):.1f} ms"
        )
    p95 = _pct(latencies, 95)
    print(
        f"  {len(accepted)}/{args.uploads} uploads accepted in {elapsed:.1f} s (stalled clients answered by then); "
        f"server CPU {cpu:.1f} s"
    )
    if five:
        failures.append(f"{five} responses were 5xx or transport errors (not retried)")
    if len(accepted) != args.uploads:
        failures.append(f"only {len(accepted)} of {args.uploads} uploads were accepted")
    if p95 >= P95_BUDGET_MS:
        failures.append(f"reader p95 {p95:.0f} ms >= {P95_BUDGET_MS:.0f} ms")
    if "Traceback" in log or '"level": "error"' in log:
        failures.append("the server logged an error")
    print(
        f"load: {'FAILED: ' + '; '.join(failures) if failures else 'all checks passed'} "
        f"(load average {os.getloadavg()[0]:.2f} at the end)"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

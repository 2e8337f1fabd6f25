"""Upload benchmark against a real ``motionscript serve`` process (embedded SQLite, local workers).

    python -m bench uploads [--uploads 50] [--big-mib 1024] [--workers 2]

1. ``--uploads`` concurrent POSTs of the real 388 KB clip, all sent at once,
   each with its own Idempotency-Key; waits until every analysis has finished
   and checks that none was lost or run twice. Baseline: the same POST, and
   the same analysis, on an idle server in the same run.
2. One ``--big-mib`` upload streamed as multipart (the real clip followed by
   filler) to a server allowing 2 GB; the server's RSS increase while the body
   streams must stay within 50 MB. Baseline: writing the same bytes to a local
   file in the same run.

Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench._server import REPO, RssSampler, ServerProcess, cpu_seconds, rss_bytes, tree_rss_bytes

__all__ = ["main"]

CLIP = REPO / "tests" / "fixtures" / "video" / "pose2sim_cam01.mp4"
MIB = 1 << 20
MB = 1_000_000
RSS_BUDGET = 50 * MB
CHUNK = MIB
BASELINE_RUNS = 3


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _check(ok: bool, what: str, failures: list[str]) -> None:
    print(f"  [{'ok' if ok else 'FAIL'}] {what}")
    if not ok:
        failures.append(what)


async def _post_clip(client: httpx.AsyncClient, clip: bytes) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    r = await client.post(
        "/v1/assessments",
        files={"video": ("clip.mp4", clip, "video/mp4")},
        headers={"Idempotency-Key": f"bench-{uuid.uuid4()}"},
    )
    return time.perf_counter() - started, r


async def _wait_finished(client: httpx.AsyncClient, timeout_s: float) -> bool:
    """Poll until nothing is queued or running."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        busy = 0
        for status in ("queued", "running"):
            r = await client.get("/v1/assessments", params={"status": status, "limit": 1})
            r.raise_for_status()
            busy += len(r.json()["items"])
        if not busy:
            return True
        await asyncio.sleep(0.25)
    return False


async def _list_all(client: httpx.AsyncClient) -> list[dict]:
    items, cursor = [], None
    while True:
        page = (
            await client.get("/v1/assessments", params={"limit": 100, **({"cursor": cursor} if cursor else {})})
        ).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def _baseline(server: ServerProcess, clip: bytes) -> tuple[float, float]:
    """Median POST latency and median analysis time, one upload at a time on an idle server."""
    latencies, analyses = [], []
    headers = {"Authorization": f"Bearer {server.keys['baseline']}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=300) as client:
        for _ in range(BASELINE_RUNS):
            latency, r = await _post_clip(client, clip)
            r.raise_for_status()
            if not await _wait_finished(client, 300):
                raise RuntimeError("a baseline analysis did not finish within 300 s")
            done = (await client.get(r.headers["location"])).json()
            if done["status"] != "done":
                raise RuntimeError(f"baseline analysis {done['status']}: {done.get('reason')}")
            latencies.append(latency)
            analyses.append((_when(done["finished_at"]) - _when(done["started_at"])).total_seconds())
    return statistics.median(latencies), statistics.median(analyses)


async def _concurrent(server: ServerProcess, clip: bytes, n: int, failures: list[str]) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {server.keys['bench']}"}
    limits = httpx.Limits(max_connections=n + 5, max_keepalive_connections=n + 5)
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=600, limits=limits) as client:
        idle_rss, idle_main = tree_rss_bytes(server.pid), rss_bytes(server.pid)
        with RssSampler(server.pid, tree=True) as rss, RssSampler(server.pid, tree=False) as rss_main:
            t0_utc, t0 = datetime.now(UTC), time.perf_counter()
            results = await asyncio.gather(*(_post_clip(client, clip) for _ in range(n)))
            accepted_s = time.perf_counter() - t0
            finished = await _wait_finished(client, timeout_s=60 + 30 * n)
            wall_s = time.perf_counter() - t0
        latencies = [t for t, _ in results]
        codes = sorted({r.status_code for _, r in results})
        ids = [r.json().get("id") for _, r in results if r.status_code == 202]
        listed = [item["id"] for item in await _list_all(client)]
        docs = [(await client.get(f"/v1/assessments/{i}")).json() for i in ids]

    done = [d for d in docs if d.get("status") == "done"]
    attempts = [d.get("attempts") for d in docs]
    last_finish = max((_when(d["finished_at"]) for d in done), default=t0_utc)
    restarts = server.log_text().count("worker died")

    _check(codes == [202], f"every POST answered 202 (got {codes})", failures)
    _check(finished, "all analyses finished before the timeout", failures)
    _check(len(set(ids)) == n, f"{n} distinct assessment ids (got {len(set(ids))})", failures)
    _check(
        len(done) == n,
        f"all {n} done (got {len(done)}; others: "
        f"{sorted({(d.get('status'), d.get('reason')) for d in docs if d.get('status') != 'done'})})",
        failures,
    )
    _check(
        len(listed) == n and set(listed) == set(ids),
        f"none lost: the list shows exactly {n} (got {len(listed)})",
        failures,
    )
    _check(
        all(a == 1 for a in attempts) or restarts > 0,
        f"none run twice: attempts == 1 for all (got {sorted(set(attempts))}; {restarts} worker restarts)",
        failures,
    )

    process_s = (last_finish - t0_utc).total_seconds()
    print(
        f"  POST latency (acceptance): p50 {_pct(latencies, 50):.3f} s, p95 {_pct(latencies, 95):.3f} s, "
        f"max {max(latencies):.3f} s; all {n} accepted after {accepted_s:.2f} s"
    )
    print(f"  all {n} processed {process_s:.1f} s after the first POST (poll saw it at {wall_s:.1f} s)")
    print(
        f"  server RSS (process + workers): idle {idle_rss / MIB:.0f} MiB, peak {rss.peak / MIB:.0f} MiB; "
        f"API process alone: idle {idle_main / MIB:.0f} MiB, peak {rss_main.peak / MIB:.0f} MiB"
    )
    return {"p95": _pct(latencies, 95), "process_s": process_s, "peak": rss.peak, "idle": idle_rss}


def run_concurrent(n: int, workers: int, failures: list[str]) -> None:
    clip = CLIP.read_bytes()
    print(f"uploads: {n} concurrent POSTs of {CLIP.name} ({len(clip) / 1000:.0f} kB), {workers} workers")
    with ServerProcess(workers=workers, clinics=("baseline", "bench")) as server:
        base_latency, base_analysis = asyncio.run(_baseline(server, clip))
        print(
            f"  baseline, idle server, median of {BASELINE_RUNS}: POST {base_latency:.3f} s, "
            f"one analysis {base_analysis:.2f} s"
        )
        f = asyncio.run(_concurrent(server, clip, n, failures))
    serial_s = n * base_analysis
    print(f"  ratio: POST p95 under load / idle POST = {f['p95'] / base_latency:.1f}x")
    print(
        f"  ratio: time for {n} / ({n} x one idle analysis = {serial_s:.0f} s) = {f['process_s'] / serial_s:.2f}x "
        f"({1 / workers:.2f}x would be perfect scaling over {workers} workers)"
    )
    print(f"  ratio: peak RSS / idle RSS = {f['peak'] / f['idle']:.2f}x")


def _multipart_body(clip: bytes, size: int) -> tuple[str, int, AsyncIterator[bytes]]:
    """A multipart body with one ``video`` part of ``size`` bytes, generated as it is sent."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="video"; filename="big.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    async def body():
        yield head
        yield clip
        for n in _filler_sizes(size - len(clip)):
            yield _ZEROS if n == CHUNK else bytes(n)
        yield tail

    return f"multipart/form-data; boundary={boundary}", len(head) + size + len(tail), body()


_ZEROS = bytes(CHUNK)


def _filler_sizes(total: int) -> Iterator[int]:
    while total > 0:
        yield min(CHUNK, total)
        total -= CHUNK


def _write_baseline(path: Path, clip: bytes, size: int) -> float:
    """Seconds to write the same bytes to a local file (no fsync; the server doesn't either)."""
    started = time.perf_counter()
    with open(path, "wb") as f:
        f.write(clip)
        f.writelines(_ZEROS if n == CHUNK else bytes(n) for n in _filler_sizes(size - len(clip)))
    elapsed = time.perf_counter() - started
    path.unlink()
    return elapsed


async def _big_upload(server: ServerProcess, clip: bytes, size: int) -> tuple[httpx.Response, float, float, int, int]:
    headers = {"Authorization": f"Bearer {server.keys['bench']}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=600) as client:
        warm = await client.post("/v1/assessments", files={"video": ("clip.mp4", clip, "video/mp4")})
        warm.raise_for_status()  # the first upload imports the decoder: not a cost of streaming
        await asyncio.sleep(0.5)
        baseline = tree_rss_bytes(server.pid)
        ctype, length, body = _multipart_body(clip, size)
        with RssSampler(server.pid, tree=True) as rss:
            started, cpu0 = time.perf_counter(), cpu_seconds(server.pid)
            r = await client.post(
                "/v1/assessments", content=body, headers={"Content-Type": ctype, "Content-Length": str(length)}
            )
            elapsed, cpu = time.perf_counter() - started, cpu_seconds(server.pid) - cpu0
    return r, elapsed, cpu, baseline, rss.peak


def run_big(size_mib: int, failures: list[str]) -> None:
    clip = CLIP.read_bytes()
    size = size_mib * MIB
    print(f"uploads: one {size_mib} MiB upload streamed as multipart (MOTIONSCRIPT_MAX_UPLOAD_MB=2048, no workers)")
    with ServerProcess(workers=0, env={"MOTIONSCRIPT_MAX_UPLOAD_MB": "2048"}) as server:
        disk_s = _write_baseline(server.data_dir / "baseline.bin", clip, size)
        r, elapsed, server_cpu, baseline, peak = asyncio.run(_big_upload(server, clip, size))
    increase = peak - baseline
    upload_rate, disk_rate = size / MB / elapsed, size / MB / disk_s
    detail = r.json().get("detail") if r.status_code >= 400 else r.json().get("status")
    print(
        f"  answer: {r.status_code} ({detail}) after {elapsed:.1f} s: {upload_rate:.0f} MB/s; "
        f"server CPU {server_cpu:.1f} s ({server_cpu / elapsed:.0%} of one core)"
    )
    print(f"  baseline, local file write of the same bytes: {disk_s:.1f} s, {disk_rate:.0f} MB/s")
    print(f"  ratio: upload throughput / local write = {upload_rate / disk_rate:.2f}x")
    print(
        f"  server RSS: {baseline / MB:.0f} MB before, peak {peak / MB:.0f} MB during, increase {increase / MB:.1f} MB"
    )
    _check(
        r.status_code in (202, 415, 422), f"the whole body was streamed and answered (got {r.status_code})", failures
    )
    _check(
        increase <= RSS_BUDGET,
        f"RSS increase while streaming <= {RSS_BUDGET / MB:.0f} MB: {increase / MB:.1f} MB",
        failures,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench uploads", description=__doc__.splitlines()[0])
    p.add_argument("--uploads", type=int, default=50, help="concurrent uploads (default 50)")
    p.add_argument("--workers", type=int, default=2, help="analysis processes (default 2)")
    p.add_argument("--big-mib", type=int, default=1024, help="size of the large upload in MiB (default 1024)")
    args = p.parse_args(argv)
    failures: list[str] = []
    started = time.perf_counter()
    print(
        f"uploads: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    if args.uploads:
        run_concurrent(args.uploads, args.workers, failures)
    if args.big_mib:
        run_big(args.big_mib, failures)
    print(
        f"uploads: {'FAILED: ' + '; '.join(failures) if failures else 'all checks passed'} "
        f"({time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.2f} at the end)"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

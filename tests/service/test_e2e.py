"""The service as it is deployed: real ``motionscript`` processes talking HTTP, the real pose model, real videos.

* the embedded default (SQLite, two local workers started by ``serve``);
* PostgreSQL with Celery workers on Redis;
* a worker SIGKILLed in the middle of a job, in both set-ups: the job is run
  again and exactly one result is stored.

The claim/lease/fencing rules those rely on are also checked in-process, on
SQLite and PostgreSQL, at the end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.settings import Settings
from tests.conftest import POSE2SIM, SPORTS2D
from tests.service._servers import Db, Processes, WebhookReceiver, cli, free_port, service_env, wait_ready, wait_until
from tests.service.conftest import decrypted

JOB_TIMEOUT_S = 180.0  # a liveness budget, not a speed target: a loaded 2-core machine took 66 s
LEASE_S = 4  # short, so a killed run is taken over within seconds; renewed every LEASE_S / 3


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def webhooks() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver()
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def db_handles() -> Iterator[list[Db]]:
    handles: list[Db] = []
    try:
        yield handles
    finally:
        for d in handles:
            d.close()


# --------------------------------------------------------------------------- helpers


def open_db(handles: list[Db], url: str) -> Db:
    d = Db(url)
    handles.append(d)
    return d


def upload(base: str, key: str, video: Path, **fields: str) -> str:
    with open(video, "rb") as f:
        r = httpx.post(
            f"{base}/v1/assessments",
            headers={"Authorization": f"Bearer {key}"},
            files={"video": (video.name, f, "video/mp4")},
            data=fields,
            timeout=60,
        )
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "queued" and r.headers["location"] == f"/v1/assessments/{body['id']}"
    return body["id"]


def get(base: str, key: str, assessment_id: str) -> dict:
    r = httpx.get(f"{base}/v1/assessments/{assessment_id}", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def wait_finished(base: str, key: str, assessment_id: str, alive=None, timeout_s: float = JOB_TIMEOUT_S) -> dict:
    def finished():
        a = get(base, key, assessment_id)
        return a if a["status"] in ("done", "failed") else None

    a = wait_until(f"assessment {assessment_id} to finish", finished, timeout_s, interval_s=0.3, alive=alive)
    assert a["status"] == "done", a.get("reason")
    return a


def all_alive(*procs):
    def check() -> None:
        for p in procs:
            assert p.alive(), f"{p.name} exited with {p.popen.returncode}:\n{p.tail()}"

    return check


def worker_pid(worker_id: str) -> int:
    host, _, pid = worker_id.rpartition(":")
    assert host == socket.gethostname(), worker_id
    return int(pid)


def log_records(proc) -> list[dict]:
    out = []
    for line in proc.log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def finished_runs(assessment_id: str, *procs) -> list[dict]:
    """The "job finished" log records of the assessment, from every process."""
    return [
        r
        for p in procs
        for r in log_records(p)
        if r.get("msg") == "job finished" and r.get("assessment_id") == assessment_id
    ]


def assert_one_stored_result(db: Db, base: str, key: str, assessment_id: str, webhooks: WebhookReceiver) -> None:
    """One assessment row, its result set, one webhook delivery row, one webhook received."""
    assert db.count("assessments") == 1
    row = db.assessment(assessment_id)
    assert row["status"] == "done" and row["has_result"] and row["lease_until"] is None
    assert db.count("webhook_deliveries") == 1  # written in the same transaction as the result, by the winner only
    listing = httpx.get(f"{base}/v1/assessments", headers={"Authorization": f"Bearer {key}"}, timeout=30).json()
    assert [i["id"] for i in listing["items"]] == [assessment_id]
    bodies = wait_until("the webhook", webhooks.bodies, 20)
    time.sleep(1.0)  # a duplicate would arrive right after
    bodies = webhooks.bodies()
    assert len(bodies) == 1, bodies
    assert bodies[0]["id"] == assessment_id and bodies[0]["status"] == "done"


def kill_mid_job(db: Db, assessment_id: str, alive) -> tuple[int, str]:
    """Wait for the first run to start, SIGKILL its worker process, and check it left nothing behind."""
    row = wait_until(
        "the job to be running",
        lambda: (r := db.assessment(assessment_id))["status"] == "running" and r,
        JOB_TIMEOUT_S,
        interval_s=0.1,
        alive=alive,
    )
    assert row["attempts"] == 1 and row["worker_id"], row
    pid = worker_pid(row["worker_id"])
    os.kill(pid, signal.SIGKILL)
    print(f"SIGKILLed worker {row['worker_id']} at {time.time():.3f}")  # to match the logs' "ts"
    after = db.assessment(assessment_id)
    # Killed mid-run: the first attempt stored nothing.
    assert after["status"] == "running" and after["attempts"] == 1 and not after["has_result"], after
    assert after["finished_at"] is None
    wait_until(f"pid {pid} to be gone", lambda: not _exists(pid), 10)
    return pid, row["worker_id"]


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a killed child of a live parent is a zombie until reaped
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def check_pose2sim_result(a: dict) -> None:
    assert a["input"]["kind"] == "video" and a["input"]["frames_read"] == 100
    assert a["input"]["frames_with_pose"] >= 95
    # filmed 30 deg from his front (the four-camera reference, docs/validation.md): oblique, so the
    # planar angles are withheld with their reason, while the hip trajectories are measured
    assert a["view"]["view"] == "oblique" and a["view"]["facing"] == "front"
    assert a["series"]["t_s"] and len(a["series"]["t_s"]) == 100
    assert sum(v is not None for v in a["series"]["hip_centre_mid_x_px"]) >= 95
    assert "oblique" in a["unavailable"]["pelvic_obliquity_deg"]
    assert a["input"]["filename"] is None  # uploaded names may carry a patient's name


# --------------------------------------------------------------------------- tests


@pytest.mark.slow
def test_embedded_default_analyses_a_real_video(tmp_path, webhooks, db_handles, procs):
    data = tmp_path / "var"
    env = service_env(data_dir=data)  # nothing else: SQLite, two local workers
    key = cli("keys", "create", "--clinic", "E2E Clinic", env=env, cwd=tmp_path).strip()
    assert key and "\n" not in key
    port = free_port()
    server = procs.serve("serve", port, env=env, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    ready = wait_ready(base, server)
    assert ready["checks"] == {"database": "ok", "queue": "ok", "uploads": "ok", "model": "ok"}

    aid = upload(base, key, POSE2SIM, exercise="squat", patient_id="e2e-001", callback_url=webhooks.url)
    a = wait_finished(base, key, aid, alive=all_alive(server))
    check_pose2sim_result(a)
    assert a["attempts"] == 1 and a["exercise"] == "squat" and a["patient_id"] == "e2e-001"

    db = open_db(db_handles, f"sqlite:///{data / 'motionscript.db'}")
    assert_one_stored_result(db, base, key, aid, webhooks)
    row = db.assessment(aid)
    assert os.getpgid(worker_pid(row["worker_id"])) == server.pid  # a worker process of `serve`
    uploads = [p for p in (data / "uploads").rglob("*") if p.is_file()]
    assert len(uploads) == 1 and uploads[0].read_bytes()[:6] == b"MSENC1"  # sealed with the generated key
    assert (data / "storage.keys").stat().st_mode & 0o077 == 0  # the key file is the owner's alone
    assert decrypted(Settings(data_dir=data), uploads[0]) == POSE2SIM.read_bytes()

    # SIGTERM (what an init system sends) stops the server and its workers promptly. uvicorn
    # re-raises the signal after its graceful shutdown, so the exit status says SIGTERM.
    assert procs.stop(server) in (0, -signal.SIGTERM)


def start_celery_stack(tmp_path, procs: Processes, env: dict[str, str], n_workers: int = 2):
    port = free_port()
    server = procs.serve("serve", port, "--workers", "0", env=env, cwd=tmp_path)
    workers = [
        procs.start(f"worker{i + 1}", "worker", "--pool", "solo", env=env, cwd=tmp_path) for i in range(n_workers)
    ]
    base = f"http://127.0.0.1:{port}"
    ready = wait_ready(base, server)
    assert ready["checks"]["queue"] == "ok" and ready["checks"]["database"] == "ok"
    return base, server, workers


@pytest.mark.slow
def test_postgresql_and_celery_workers_analyse_a_real_video(tmp_path, webhooks, pg_url, redis_db, db_handles, procs):
    env = service_env(data_dir=tmp_path / "var", job_backend="celery", database_url=pg_url, redis_url=redis_db)
    key = cli("keys", "create", "--clinic", "E2E Clinic", env=env, cwd=tmp_path).strip()
    base, server, workers = start_celery_stack(tmp_path, procs, env)

    aid = upload(base, key, POSE2SIM, exercise="squat", callback_url=webhooks.url)
    a = wait_finished(base, key, aid, alive=all_alive(server, *workers))
    check_pose2sim_result(a)
    assert a["attempts"] == 1

    db = open_db(db_handles, pg_url)
    assert_one_stored_result(db, base, key, aid, webhooks)
    assert worker_pid(db.assessment(aid)["worker_id"]) in {w.pid for w in workers}  # solo pool: the worker itself


@pytest.mark.slow
def test_local_worker_sigkilled_mid_job_is_restarted_and_the_job_rerun_once(tmp_path, webhooks, db_handles, procs):
    data = tmp_path / "var"
    env = service_env(data_dir=data, job_lease_s=LEASE_S)
    key = cli("keys", "create", "--clinic", "E2E Clinic", env=env, cwd=tmp_path).strip()
    port = free_port()
    server = procs.serve("serve", port, env=env, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, server)
    db = open_db(db_handles, f"sqlite:///{data / 'motionscript.db'}")

    aid = upload(base, key, SPORTS2D, callback_url=webhooks.url)
    pid, killed = kill_mid_job(db, aid, all_alive(server))
    a = wait_finished(base, key, aid, alive=all_alive(server))

    runs = finished_runs(aid, server)
    assert a["attempts"] == 2, runs  # 3 would mean the re-run lost its lease while alive
    assert [(r["attempt"], r["stored"]) for r in runs] == [(2, True)]
    assert a["input"]["frames_read"] == 230
    assert db.assessment(aid)["worker_id"] != killed
    assert_one_stored_result(db, base, key, aid, webhooks)
    restarts = [r for r in log_records(server) if r["msg"] == "worker died; restarting"]
    assert [r["pid"] for r in restarts] == [pid], restarts


@pytest.mark.slow
def test_celery_worker_sigkilled_mid_job_the_survivor_reruns_it_once(
    tmp_path, webhooks, pg_url, redis_db, db_handles, procs
):
    env = service_env(
        data_dir=tmp_path / "var",
        job_backend="celery",
        database_url=pg_url,
        redis_url=redis_db,
        job_lease_s=LEASE_S,
        celery_visibility_timeout_s=5,
    )
    key = cli("keys", "create", "--clinic", "E2E Clinic", env=env, cwd=tmp_path).strip()
    base, server, workers = start_celery_stack(tmp_path, procs, env)
    db = open_db(db_handles, pg_url)

    aid = upload(base, key, SPORTS2D, callback_url=webhooks.url)
    pid, _ = kill_mid_job(db, aid, all_alive(server, *workers))
    (victim,) = [w for w in workers if w.pid == pid]
    (survivor,) = [w for w in workers if w is not victim]
    a = wait_finished(base, key, aid, alive=all_alive(server, survivor))

    runs = finished_runs(aid, *workers)
    assert a["attempts"] == 2, runs  # 3 would mean the re-run lost its lease while alive
    assert [(r["attempt"], r["stored"]) for r in runs] == [(2, True)]
    assert a["input"]["frames_read"] == 230
    assert worker_pid(db.assessment(aid)["worker_id"]) == survivor.pid
    assert_one_stored_result(db, base, key, aid, webhooks)
    assert victim.popen.wait(5) == -signal.SIGKILL


# --------------------------------------------------------------------------- the claim rules, in-process


@pytest.fixture
def factory(client, settings):  # `client` has migrated the database
    from sqlalchemy.orm import sessionmaker

    from service.store.db import make_engine

    engine = make_engine(settings.sqlalchemy_url)
    try:
        yield sessionmaker(engine, expire_on_commit=False)
    finally:
        engine.dispose()


def _queued_job(client, auth) -> str:
    from tests.service.test_api import post_landmarks

    r = post_landmarks(client, auth)
    assert r.status_code == 202, r.text
    return r.json()["id"]


def _expire_lease(factory, assessment_id: str) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from service.store.db import now, session_scope
    from service.store.models import AssessmentRow

    with session_scope(factory) as s:
        s.execute(
            update(AssessmentRow)
            .where(AssessmentRow.id == assessment_id)
            .values(lease_until=now() - timedelta(seconds=1))
        )


def _row(factory, assessment_id: str):
    from service.store.db import session_scope
    from service.store.models import AssessmentRow

    with session_scope(factory) as s:
        return s.get(AssessmentRow, assessment_id)


def test_a_job_whose_lease_ran_out_is_claimed_again_and_only_the_new_run_stores(client, auth, settings, factory):
    from service.jobs.runner import claim, run_job

    aid = _queued_job(client, auth)
    first = claim(factory, aid, settings, "host:1")
    assert first is not None and first.token == 1
    assert claim(factory, aid, settings, "host:2") is None  # the lease is live
    _expire_lease(factory, aid)  # as if host:1 had been killed
    second = claim(factory, aid, settings, "host:2")  # on SQLite this raised TypeError (naive vs aware datetimes)
    assert second is not None and second.token == 2
    assert run_job(factory, settings, first) == "superseded"  # the first run, finishing late, stores nothing
    assert _row(factory, aid).result is None
    assert run_job(factory, settings, second) == "done"
    row = _row(factory, aid)
    assert row.status == "done" and row.attempts == 2 and row.worker_id == "host:2" and row.result is not None


def test_a_duplicate_delivery_never_fails_a_live_run_at_the_attempt_limit(client, auth, settings, factory):
    from service.jobs.runner import claim

    aid = _queued_job(client, auth)
    for token in range(1, settings.job_max_attempts + 1):
        c = claim(factory, aid, settings, f"host:{token}")
        assert c is not None and c.token == token
        if token < settings.job_max_attempts:
            _expire_lease(factory, aid)
    # The last allowed run is alive: a redelivered message must leave it alone.
    assert claim(factory, aid, settings, "host:dup") is None
    row = _row(factory, aid)
    assert row.status == "running" and row.attempts == settings.job_max_attempts
    # Only once that run is lost too is the job given up.
    _expire_lease(factory, aid)
    assert claim(factory, aid, settings, "host:dup") is None
    row = _row(factory, aid)
    assert row.status == "failed" and "stopped unexpectedly" in row.reason

"""Retention (issue 14, break 8): MOTIONSCRIPT_RETENTION_DAYS deletes recordings and their derived landmarks,
audited; orphaned partial uploads are swept at start-up and on every interval. Real files, SQLite and PostgreSQL."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.orm import sessionmaker

from tests.conftest import POSE2SIM
from tests.service._servers import free_port, service_env, wait_ready
from tests.service.conftest import make_key
from tests.service.test_limits import quiet_test_client  # noqa: F401 - a fixture (procs is in conftest)

CLIP = POSE2SIM.read_bytes()


def _factory(settings):
    from service.store.db import make_engine

    engine = make_engine(settings.sqlalchemy_url)
    return engine, sessionmaker(engine, expire_on_commit=False)


def _upload(client, key: str, data: bytes = CLIP) -> str:
    r = client.post(
        "/v1/assessments", files={"video": ("clip.mp4", data, "video/mp4")}, headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == 202, r.text
    return r.json()["id"]


def _age(factory, assessment_id: str, days: float, status: str = "done") -> None:
    from service.store.db import now
    from service.store.models import AssessmentRow

    with factory() as s:
        s.execute(
            update(AssessmentRow)
            .where(AssessmentRow.id == assessment_id)
            .values(created_at=now() - timedelta(days=days), status=status)
        )
        s.commit()


def _row(factory, assessment_id: str):
    from service.store.models import AssessmentRow

    with factory() as s:
        return s.get(AssessmentRow, assessment_id)


def test_expired_recordings_and_landmarks_are_deleted_audited_and_shared_files_kept(settings, tmp_path):
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.retention import sweep_expired
    from service.store.models import AssessmentLandmarks, AuditEvent
    from service.store.uploads import UploadStore

    settings = settings.model_copy(update={"retention_days": 30.0, "max_upload_mb": 5})
    with TestClient(create_app(settings, start_workers=False)) as client:
        key = make_key(settings)
        other = make_key(settings, "Clinic B")
        old = _upload(client, key)  # 40 days old, done, with landmarks
        twin = _upload(client, key)  # the same content: one stored file for both
        lone = _upload(client, key, CLIP + b"\0" * 10)  # 40 days old, its own file
        waiting = _upload(client, key, CLIP + b"\0" * 20)  # 40 days old but still queued: kept
        theirs = _upload(client, other)  # another clinic's copy of the same content
        engine, factory = _factory(settings)
        try:
            for aid in (old, lone, theirs):
                _age(factory, aid, 40)
            _age(factory, twin, 10)
            _age(factory, waiting, 40, status="queued")
            with factory() as s:
                s.add(AssessmentLandmarks(assessment_id=old, format="npz-q4-v1", frames=3, data=b"x" * 100))
                s.commit()
            store = UploadStore.from_settings(settings)
            paths = {aid: _row(factory, aid).input_path for aid in (old, twin, lone, waiting, theirs)}
            assert paths[old] == paths[twin] and paths[old] != paths[theirs]
            assert all(store.exists(p) for p in paths.values())

            report = sweep_expired(factory, store, settings)
            assert (report.assessments, report.files, report.errors) == (3, 2, [])  # old, lone, theirs
            assert _row(factory, old).input_path is None and _row(factory, lone).input_path is None
            assert store.exists(paths[twin])  # still the recording of a 10-day-old assessment
            assert not store.exists(paths[lone]) and not store.exists(paths[theirs])
            assert store.exists(paths[waiting]) and _row(factory, waiting).input_path == paths[waiting]
            with factory() as s:
                assert s.get(AssessmentLandmarks, old) is None
                events = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "retention.delete_inputs")))
            assert sorted(e.entity_id for e in events) == sorted([old, lone, theirs])
            ev = next(e for e in events if e.entity_id == old)
            assert ev.actor_type == "system" and ev.actor_key_id == "system:retention"
            assert ev.before["landmark_frames"] == 3 and ev.before["input_bytes"] == len(CLIP)
            assert ev.after == {"inputs": "deleted", "retention_days": 30.0}

            # The clinic sees it: the audit log names the sweeper; the recording is gone, the result stays readable.
            auth = {"Authorization": f"Bearer {key}"}
            listed = client.get("/v1/audit", params={"entity_id": old}, headers=auth).json()["items"]
            assert [e["action"] for e in listed] == ["retention.delete_inputs"]
            assert listed[0]["actor_type"] == "system"
            assert client.get(f"/v1/assessments/{old}/input", headers=auth).status_code == 409
            assert client.get(f"/v1/assessments/{old}", headers=auth).status_code == 200

            assert sweep_expired(factory, store, settings).assessments == 0  # nothing twice
            _age(factory, twin, 31)
            again = sweep_expired(factory, store, settings)
            assert (again.assessments, again.files) == (1, 1) and not store.exists(paths[twin])
            assert client.delete(f"/v1/assessments/{old}", headers=auth).status_code == 204
        finally:
            engine.dispose()


def test_sensor_files_past_retention_are_deleted_and_the_assessment_can_still_be_deleted(settings):
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.retention import sweep_expired
    from service.store.uploads import UploadStore
    from tests.fusion.data import MOBILISED_CSV

    settings = settings.model_copy(update={"retention_days": 1.0, "max_upload_mb": 20})
    with TestClient(create_app(settings, start_workers=False)) as client:
        key = make_key(settings)
        auth = {"Authorization": f"Bearer {key}"}
        r = client.post(
            "/v1/assessments",
            files={"imu": ("imu.csv", MOBILISED_CSV.read_bytes(), "text/csv")},
            data={"imu_placement": "lower_back", "imu_axes": "mobilised", "imu_sampling_rate_hz": "100"},
            headers=auth,
        )
        assert r.status_code == 202, r.text
        aid = r.json()["id"]
        engine, factory = _factory(settings)
        try:
            imu_path = _row(factory, aid).wearables["imu"]["path"]
            store = UploadStore.from_settings(settings)
            assert store.exists(imu_path)
            _age(factory, aid, 2, status="failed")
            assert sweep_expired(factory, store, settings).files == 1
            row = _row(factory, aid)
            assert not store.exists(imu_path) and row.input_path is None
            assert row.wearables["imu"]["path"] is None and row.wearables["imu"]["sha256"]
            assert client.delete(f"/v1/assessments/{aid}", headers=auth).status_code == 204
        finally:
            engine.dispose()


def test_orphaned_partial_uploads_are_swept_at_start_up_and_then_on_every_interval(settings):
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.retention import partial_max_age_s

    settings = settings.model_copy(update={"sweep_interval_s": 0.3})
    tmp = settings.uploads_path / "clinic-x" / "tmp"
    tmp.mkdir(parents=True)
    stale = time.time() - partial_max_age_s(settings) - 60
    files = {name: tmp / name for name in ("upload-crashed", "overlay-crashed.mp4", "upload-live", "keep.txt")}
    for name, p in files.items():
        p.write_bytes(b"x" * 1000)
        if name != "upload-live":
            os.utime(p, (stale, stale))
    with TestClient(create_app(settings, start_workers=False)) as client:
        sweeper = client.app.state.sweeper
        deadline = time.monotonic() + 10
        while files["upload-crashed"].exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not files["upload-crashed"].exists() and not files["overlay-crashed.mp4"].exists()
        assert files["upload-live"].exists()  # written recently: may belong to a live upload
        assert files["keep.txt"].exists()  # not ours
        # later, hourly in production: a file left after start-up goes at the next interval
        later = tmp / "upload-later"
        later.write_bytes(b"y")
        os.utime(later, (stale, stale))
        runs = sweeper.runs
        deadline = time.monotonic() + 10
        while later.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not later.exists() and sweeper.runs > runs


def test_start_up_sweep_of_many_expired_recordings_never_locks_sqlite(tmp_path, procs):
    """300 expired recordings swept while the server starts, a worker polls and clients upload: no
    'database is locked', every upload accepted, every recording gone, one audit event each."""
    from service.settings import Settings
    from service.store.db import migrate, now
    from service.store.models import AssessmentRow, AuditEvent
    from service.store.uploads import UploadStore

    url = f"sqlite:///{tmp_path / 'var' / 'motionscript.db'}"
    settings = Settings(data_dir=tmp_path / "var", database_url=url, retention_days=7)
    (tmp_path / "var").mkdir()
    migrate(url)
    key = make_key(settings)
    engine, factory = _factory(settings)
    store = UploadStore.from_settings(settings)
    with factory() as s:
        clinic_id = _clinic_of(s)
        for i in range(300):
            f = store.save_bytes(clinic_id, f"recording {i}".encode() * 50)
            s.add(
                AssessmentRow(
                    id=f"00000000-0000-4000-8000-{i:012d}",
                    clinic_id=clinic_id,
                    input_kind="video",
                    input_sha256=f.sha256,
                    input_bytes=f.size,
                    input_path=f.relpath,
                    status="done",
                    attempts=1,
                    created_at=now() - timedelta(days=8 + i / 100),
                )
            )
        s.commit()
    engine.dispose()

    env = service_env(data_dir=tmp_path / "var", database_url=url, retention_days=7, workers=1)
    port = free_port()
    server = procs.serve("serve", port, env=env, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    statuses: list[int] = []

    def uploads() -> None:
        with httpx.Client(base_url=base, timeout=30) as c:
            for i in range(15):
                r = c.post(
                    "/v1/assessments",
                    files={"video": ("clip.mp4", CLIP + bytes([i]), "video/mp4")},
                    headers={"Authorization": f"Bearer {key}"},
                )
                statuses.append(r.status_code)

    wait_ready(base, server)
    t = threading.Thread(target=uploads)
    t.start()
    t.join(120)
    engine, factory = _factory(settings)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with factory() as s:
                left = s.scalar(
                    select(func.count())
                    .select_from(AssessmentRow)
                    .where(AssessmentRow.created_at < now() - timedelta(days=7), AssessmentRow.input_path.is_not(None))
                )
            if not left:
                break
            time.sleep(0.5)
        with factory() as s:
            audited = s.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "retention.delete_inputs")
            )
    finally:
        engine.dispose()
    log = server.tail(2000)
    assert "locked" not in log.lower(), log
    assert statuses == [202] * 15, statuses
    assert left == 0 and audited == 300
    assert len(list(store.files())) == 15  # only the new uploads remain


def _clinic_of(s) -> str:
    from service.store.models import Clinic

    return s.scalar(select(Clinic.id).limit(1))

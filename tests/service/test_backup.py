"""``motionscript backup`` / ``restore`` (SQLite and PostgreSQL): a restore into an empty database and empty
storage reproduces every row, every assessment and every stored upload byte for byte."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile

import pytest
from sqlalchemy import MetaData, select

from service.store.crypto import new_key_entry
from service.store.db import make_engine
from tests.conftest import POSE2SIM
from tests.fusion.data import MOBILISED_CSV
from tests.service._servers import cli, service_env
from tests.service.conftest import fresh_pg_database, make_key, run_worker_once, stored_files
from tests.service.test_reviews import analysed

KEYS = f"{new_key_entry('k1')},{new_key_entry('k0')}"


def tables(url: str) -> dict[str, list[dict]]:
    """Every row of every table, in primary-key order, as the database gives them back."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            meta = MetaData()
            meta.reflect(conn)
            return {
                t.name: [dict(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns)).mappings()]
                for t in meta.sorted_tables
            }
    finally:
        engine.dispose()


def env_for(settings) -> dict[str, str]:
    return service_env(
        data_dir=settings.data_dir, database_url=settings.sqlalchemy_url, storage_keys=KEYS, log_level="WARNING"
    )


@pytest.fixture
def target(database_url, tmp_path, request):
    """An empty database of the same kind, with no tables at all, and an empty data folder."""
    from service.settings import Settings

    if database_url.startswith("sqlite"):
        url, drop = f"sqlite:///{tmp_path / 'restored' / 'db.sqlite'}", None
    else:
        url, drop = fresh_pg_database(request.getfixturevalue("pg_server"))
    yield Settings(data_dir=tmp_path / "restored", database_url=url, storage_keys=KEYS, workers=0)
    if drop:
        drop()


@pytest.mark.slow
def test_restore_reproduces_every_assessment_and_upload(settings, target, tmp_path):
    from fastapi.testclient import TestClient

    from service.app import create_app

    settings = settings.model_copy(update={"storage_keys": target.storage_keys})
    with TestClient(create_app(settings, start_workers=False)) as c:  # the source service, on the keyring
        auth = {"Authorization": f"Bearer {make_key(settings)}"}
        with open(POSE2SIM, "rb") as f:
            video = c.post(
                "/v1/assessments",
                headers=auth,
                files={"video": ("clip.mp4", f, "video/mp4")},
                data={"exercise": "squat", "patient_id": "p-7"},
            ).json()["id"]
        sensors = c.post(
            "/v1/assessments",
            headers=auth,
            files={"imu": ("imu.csv", MOBILISED_CSV.read_bytes(), "text/csv")},
            data={"imu_sampling_rate_hz": "100", "exercise": "gait"},
        )
        assert sensors.status_code == 202, sensors.text
        run_worker_once(settings)
        stance = analysed(c, auth, settings, patient_id="p-7")
        pid = c.post("/v1/patients", json={"code": "p-7", "birth_year": 1970}, headers=auth).json()["id"]
        sid = c.post(
            f"/v1/patients/{pid}/sessions", json={"date": "2026-11-02", "assessment_ids": [video, stance]}, headers=auth
        ).json()["id"]
        assert (
            c.post(
                f"/v1/patients/{pid}/outcomes",
                json={"instrument": "nrs", "value": 6, "site": "leg", "session_id": sid},
                headers=auth,
            ).status_code
            == 201
        )
        assert (
            c.post(f"/v1/assessments/{stance}/findings/0/review", json={"action": "sign_off"}, headers=auth).status_code
            == 201
        )
        ids = [a["id"] for a in c.get("/v1/assessments?limit=100", headers=auth).json()["items"]]
        before = {aid: c.get(f"/v1/assessments/{aid}", headers=auth).json() for aid in ids}
        original_input = c.get(f"/v1/assessments/{video}/input", headers=auth).content
    assert {a["status"] for a in before.values()} == {"done"} and len(before) == 3
    files_before = {p.relative_to(settings.uploads_path): p.read_bytes() for p in stored_files(settings)}
    rows_before = tables(settings.sqlalchemy_url)
    assert len(files_before) == 3  # the video, the IMU file and the landmark JSON

    archive = tmp_path / "backup.tar.gz"
    cli("backup", str(archive), env=env_for(settings), cwd=tmp_path)
    with tarfile.open(archive) as tar:  # the keys are not in it, the files are as stored (sealed)
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        assert not any("storage.keys" in n for n in names)
        for rel, raw in files_before.items():
            assert tar.extractfile(f"uploads/{rel.as_posix()}").read() == raw  # type: ignore[union-attr]
    assert manifest["uploads"]["key_ids"] == ["k1"] and manifest["database"]["tables"]["assessments"] == 3

    cli("restore", str(archive), env=env_for(target), cwd=tmp_path)

    # every upload byte for byte (still sealed, and readable with the keyring)
    assert {p.relative_to(target.uploads_path): p.read_bytes() for p in stored_files(target)} == files_before
    # every row of every table, compared as the databases give them back
    assert tables(target.sqlalchemy_url) == rows_before
    # and what the API answers: every assessment, and the recording itself
    with TestClient(create_app(target, start_workers=False)) as c:
        auth = {"Authorization": f"Bearer {make_key(target, clinic='Clinic A')}"}
        after = {aid: c.get(f"/v1/assessments/{aid}", headers=auth).json() for aid in ids}
        assert after == before
        assert c.get(f"/v1/assessments/{video}/input", headers=auth).content == original_input == POSE2SIM.read_bytes()
        assert c.get(f"/v1/patients/{pid}", headers=auth).json()["sessions"][0]["id"] == sid

    # a second restore onto the now full database and storage is refused, naming why
    proc = subprocess.run(
        [sys.executable, "-m", "service.cli", "restore", str(archive)],
        env=env_for(target),
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "not empty" in proc.stderr, proc.stderr


def test_restore_without_the_storage_key_names_it_and_writes_nothing(settings, client, target, tmp_path):
    from service.store.uploads import UploadStore

    UploadStore.from_settings(settings).save_bytes("c", b"landmarks of someone")  # sealed with the generated key
    archive = tmp_path / "b.tar"
    cli(
        "backup",
        str(archive),
        env=service_env(data_dir=settings.data_dir, database_url=settings.sqlalchemy_url),
        cwd=tmp_path,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "service.cli", "restore", str(archive)],
        env=env_for(target),  # another keyring
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "storage key(s)" in proc.stderr and "lacks" in proc.stderr, proc.stderr
    assert stored_files(target) == []
    assert not any(tables(target.sqlalchemy_url).values())  # nothing written, not even the schema's rows


def test_a_sqlite_backup_restores_into_postgresql(tmp_path, pg_server):
    """Moving from the embedded default to the compose stack: the rows are portable JSON."""
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    source = Settings(
        data_dir=tmp_path / "src", database_url=f"sqlite:///{tmp_path / 'src.db'}", storage_keys=KEYS, workers=0
    )
    with TestClient(create_app(source, start_workers=False)) as c:
        auth = {"Authorization": f"Bearer {make_key(source)}"}
        aid = analysed(c, auth, source, patient_id="p-9")
        pid = c.post("/v1/patients", json={"code": "p-9", "sex": "female"}, headers=auth).json()["id"]
        c.post(f"/v1/patients/{pid}/sessions", json={"date": "2026-10-01", "assessment_ids": [aid]}, headers=auth)
        before = (
            c.get(f"/v1/assessments/{aid}", headers=auth).json(),
            c.get(f"/v1/patients/{pid}", headers=auth).json(),
        )
    archive = tmp_path / "move.tar"
    cli("backup", str(archive), env=env_for(source), cwd=tmp_path)

    url, drop = fresh_pg_database(pg_server)
    try:
        target = Settings(data_dir=tmp_path / "dst", database_url=url, storage_keys=KEYS, workers=0)
        cli("restore", str(archive), env=env_for(target), cwd=tmp_path)
        with TestClient(create_app(target, start_workers=False)) as c:
            auth = {"Authorization": f"Bearer {make_key(target, clinic='Clinic A')}"}
            after = (
                c.get(f"/v1/assessments/{aid}", headers=auth).json(),
                c.get(f"/v1/patients/{pid}", headers=auth).json(),
            )
        assert after == before
        assert [p.read_bytes() for p in stored_files(target)] == [p.read_bytes() for p in stored_files(source)]
    finally:
        drop()


def test_an_older_backup_restores_into_a_database_a_newer_version_already_created(tmp_path):
    """A first start of the service creates empty tables at its own revision; the backup's revision is older."""
    from service.settings import Settings
    from service.store.db import migrate

    old = Settings(data_dir=tmp_path / "old", database_url=f"sqlite:///{tmp_path / 'old.db'}", storage_keys=KEYS)
    migrate(old.sqlalchemy_url, "0004")  # a database of an earlier version
    engine = make_engine(old.sqlalchemy_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO clinics (id, name, webhook_secret, created_at, patient_feedback) "
            "VALUES ('c1', 'Old clinic', 's', '2026-01-02 03:04:05.000000', 'all')"
        )
    engine.dispose()
    archive = tmp_path / "old.tar"
    cli("backup", str(archive), env=env_for(old), cwd=tmp_path)
    with tarfile.open(archive) as tar:
        assert json.load(tar.extractfile("manifest.json"))["database"]["revision"] == "0004"  # type: ignore[arg-type]

    new = Settings(data_dir=tmp_path / "new", database_url=f"sqlite:///{tmp_path / 'new.db'}", storage_keys=KEYS)
    migrate(new.sqlalchemy_url)  # empty, at this version's head
    cli("restore", str(archive), env=env_for(new), cwd=tmp_path)
    rows = tables(new.sqlalchemy_url)
    assert [(c["id"], c["name"]) for c in rows["clinics"]] == [("c1", "Old clinic")]
    assert rows["alembic_version"] != [{"version_num": "0004"}]  # upgraded after the rows went in

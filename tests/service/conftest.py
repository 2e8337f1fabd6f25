"""Service fixtures: the same tests run on SQLite and on the PostgreSQL server on loopback."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ADMIN_URL = os.environ.get("MOTIONSCRIPT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_TEST_URL = os.environ.get("MOTIONSCRIPT_TEST_REDIS", "redis://127.0.0.1:6379/11")


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), connect_timeout=3):
            return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_server() -> str:
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but not reachable at {PG_ADMIN_URL}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
    return PG_ADMIN_URL


def fresh_pg_database(admin_url: str) -> tuple[str, callable]:
    import psycopg

    name = f"motionscript_test_{uuid.uuid4().hex[:10]}"
    plain = admin_url.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return admin_url.rsplit("/", 1)[0] + f"/{name}", drop


# -- logs without PHI: every log line of the service suites is checked ----------------------------------------------

import logging  # noqa: E402
import re  # noqa: E402

_KEY = re.compile(r"ms_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}")
_URL = re.compile(r"https?://(?!sqlalche\.me/)")  # SQLAlchemy links its error docs


def _patient_codes() -> set[str]:
    """Every patient code and id the service tests send, read from their source (4+ characters)."""
    found: set[str] = set()
    pattern = re.compile(r"""(?:patient_id|"patient_id"|code|"code")\s*[=:]\s*["']([^"'{}\\\n]{4,})["']""")
    for path in Path(__file__).parent.glob("test_*.py"):
        found.update(pattern.findall(path.read_text()))
    return found


class LogLines(logging.Handler):
    """Every record any logger emits while the service tests run, formatted as the service writes it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        from service.logs import JsonFormatter

        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a record that cannot be formatted is still looked at
            self.lines.append(repr(vars(record)))


@pytest.fixture(scope="session")
def log_lines() -> Iterator[LogLines]:
    handler = LogLines()
    loggers = [logging.getLogger(), logging.getLogger("motionscript")]  # "motionscript" does not propagate
    for lg in loggers:
        lg.addHandler(handler)
    # As the service configures itself (service/logs.py): INFO, and httpx/httpcore, which log every
    # request's URL, at WARNING; the tests' own httpx clients are then as quiet as the service's.
    levels = {name: logging.getLogger(name).level for name in ("", "httpx", "httpcore")}
    logging.getLogger().setLevel(logging.INFO)
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        yield handler
    finally:
        for lg in loggers:
            lg.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture(autouse=True)
def no_phi_in_logs(log_lines: LogLines) -> Iterator[None]:
    """Fails the test whose log lines carry an API key, a URL (callbacks) or a patient code of the tests."""
    start = len(log_lines.lines)
    yield
    if not _CODES:
        _CODES.update(_patient_codes())
    codes = _CODES
    leaks = []
    for line in log_lines.lines[start:]:
        why = [
            *(["an API key"] if _KEY.search(line) else []),
            *(["a URL"] if _URL.search(line) else []),
            *[f"patient code {c!r}" for c in codes if c in line],
        ]
        if why:
            leaks.append(f"{', '.join(why)} in: {line[:300]}")
    assert not leaks, "log lines carry PHI or secrets:\n" + "\n".join(leaks)


_CODES: set[str] = set()


# Callback URLs in tests go to loopback listeners only; names are answered from this table, never by DNS.
LOOPBACK_NETWORKS = ["127.0.0.0/8", "::1/128"]


class StubResolver:
    """``service.egress``'s resolver in tests: names from ``table`` (a name may map to a list, or to a
    list of lists to answer differently on each call), anything else is refused like NXDOMAIN."""

    def __init__(self) -> None:
        self.table: dict[str, list] = {}
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        answers = self.table.get(host.lower().rstrip("."))
        if not answers:
            raise OSError(f"{host}: not in the test resolver's table (tests never ask real DNS)")
        if isinstance(answers[0], list):
            return answers.pop(0) if len(answers) > 1 else answers[0]
        return answers


@pytest.fixture(autouse=True)
def resolver() -> Iterator[StubResolver]:
    from service import egress

    stub = StubResolver()
    before = egress.set_resolver(stub)
    try:
        yield stub
    finally:
        egress.set_resolver(before)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db.sqlite'}"
        return
    url, drop = fresh_pg_database(request.getfixturevalue("pg_server"))
    try:
        yield url
    finally:
        drop()


@pytest.fixture
def settings(database_url, tmp_path):
    from service.settings import Settings

    return Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        workers=0,
        job_lease_s=5.0,
        webhook_backoff_s=0.2,
        webhook_timeout_s=2.0,
        max_upload_mb=2,
        webhook_allow_networks=LOOPBACK_NETWORKS,  # the tests' webhook receivers listen on loopback
    )


@pytest.fixture
def client(settings):
    from fastapi.testclient import TestClient

    from service.app import create_app

    with TestClient(create_app(settings, start_workers=False)) as c:
        yield c


def make_key(settings, clinic: str = "Clinic A", role: str = "admin") -> str:
    from sqlalchemy.orm import Session

    from service.auth import create_key
    from service.store.db import make_engine

    engine = make_engine(settings.sqlalchemy_url)
    with Session(engine) as s:
        key, _ = create_key(s, clinic, role)  # type: ignore[arg-type]
        s.commit()
    engine.dispose()
    return key


@pytest.fixture
def auth(client, settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_key(settings)}"}


def run_worker_once(settings) -> None:
    """Run the real worker loop in this process until the queue is empty."""
    from service.jobs.local import work_loop

    stop = threading.Event()
    for _ in range(20):
        work_loop(settings, stop, once=True)
        from sqlalchemy import func, select
        from sqlalchemy.orm import Session

        from service.store.db import make_engine
        from service.store.models import AssessmentRow

        engine = make_engine(settings.sqlalchemy_url)
        with Session(engine) as s:
            left = s.scalar(
                select(func.count()).select_from(AssessmentRow).where(AssessmentRow.status.in_(["queued", "running"]))
            )
        engine.dispose()
        if not left:
            return


def stored_files(settings) -> list[Path]:
    root = settings.uploads_path
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def decrypted(settings, path: Path) -> bytes:
    """A stored file's plaintext, read with the service's keyring (the files themselves are sealed)."""
    from service.store.uploads import UploadStore

    store = UploadStore.from_settings(settings, create_key=False)
    with store.open(path.relative_to(settings.uploads_path).as_posix()) as f:
        return f.read()


# -- real processes: the end-to-end, deployment and limits suites -------------------------------------------------


from tests.service._servers import Processes  # noqa: E402


@pytest.fixture
def procs(tmp_path) -> Iterator[Processes]:
    """Name it last among a test's fixtures: it is then torn down first, before the database it uses is dropped."""
    logs = tmp_path / "logs"
    logs.mkdir()
    p = Processes(logs)
    try:
        yield p
    finally:
        p.close()
        p.dump_logs()  # pytest shows teardown output only when the test failed


@pytest.fixture
def redis_db() -> str:
    """The test Redis database, emptied."""
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError:
        client.close()
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required in CI but not reachable at {REDIS_TEST_URL}")
        pytest.skip(f"Redis not reachable at {REDIS_TEST_URL}")
    try:
        client.flushdb()
    finally:
        client.close()
    return REDIS_TEST_URL


@pytest.fixture
def pg_url(pg_server) -> Iterator[str]:
    url, drop = fresh_pg_database(pg_server)
    try:
        yield url
    finally:
        drop()

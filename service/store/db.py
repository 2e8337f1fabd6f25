"""Engine and sessions. Nothing connects until :func:`make_engine` is called."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["make_engine", "migrate", "now", "session_scope"]

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def now() -> datetime:
    return datetime.now(UTC)


# A worker process uses one connection for its loop and one for its job's lease renewal.
WORKER_POOL: dict[str, Any] = {"pool_size": 2, "max_overflow": 2, "pool_timeout": 30.0}


def make_engine(url: str, *, pool_size: int = 5, max_overflow: int = 10, pool_timeout: float = 30.0) -> Engine:
    """An engine whose pool holds ``pool_size`` connections (+ ``max_overflow``); waiting longer than
    ``pool_timeout`` for one raises :class:`sqlalchemy.exc.TimeoutError` (the API answers 503).

    The API sizes its pool from its thread count (:attr:`Settings.api_pool_size`), workers use
    :data:`WORKER_POOL`; docs/limits.md adds them up against PostgreSQL's ``max_connections``.
    """
    pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True, **pool
        )  # hide_parameters: an error's message (logged) never carries patient ids or URLs

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # WAL: readers don't block the writer
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    engine = create_engine(url, pool_pre_ping=True, hide_parameters=True, **pool)
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _utc(dbapi_conn, _record) -> None:
            # Timestamps come back in the session's time zone, which is the server's unless set. Make
            # it UTC, like now() and SQLite's values, so Python-side comparisons and API output agree.
            cur = dbapi_conn.cursor()
            cur.execute("SET TIME ZONE 'UTC'")
            cur.close()
            dbapi_conn.commit()

    return engine


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database to the newest schema (or to ``revision``) with Alembic."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, revision)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()

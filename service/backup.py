"""``motionscript backup OUT`` / ``motionscript restore IN``: the database and the stored uploads in one archive.

The archive is a tar file (``.tar.gz`` / ``.tgz`` compressed) holding::

    manifest.json         format, software version, schema revision, tables and row counts,
                          every stored file with its size and sha256 as stored, the storage key ids
    db/<table>.jsonl      every row of every table, one JSON object per line, ordered by primary key
    uploads/<relpath>     the stored files exactly as they are on disk (still encrypted)

The rows are written as portable JSON (datetimes ISO 8601, binary as base64), so a backup of an
SQLite database restores into PostgreSQL and the other way round. The database is read as one
snapshot (SQLite's online backup; a REPEATABLE READ transaction on PostgreSQL) and the files are
copied after it, so every file a row refers to is in the archive. Everything streams: memory does
not grow with the size of the videos or of the tables.

The storage keys are **not** in the archive: a backup is as unreadable as the uploads folder
without them. Restore checks that the keyring holds every key id the archive's files need before
it writes anything.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import sqlite3
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection, Date, DateTime, Engine, LargeBinary, MetaData, inspect, select, text

from service.settings import Settings
from service.store.crypto import read_header
from service.store.db import make_engine, migrate
from service.store.uploads import UploadStore, load_keyring
from service.version import __version__

__all__ = ["BackupError", "BackupSummary", "backup", "restore"]

FORMAT = "motionscript-backup/1"
_BLOCK = 1 << 16
_VERSION_TABLE = "alembic_version"


class BackupError(Exception):
    """The backup or restore cannot go on; the message says why and what to do."""


@dataclass
class BackupSummary:
    tables: dict[str, int] = field(default_factory=dict)
    files: int = 0
    bytes: int = 0
    revision: str | None = None
    key_ids: list[str] = field(default_factory=list)


def _encode(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot back up a value of type {type(value).__name__}")


def _decode(value, column):
    if value is None:
        return None
    t = column.type
    if isinstance(t, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(t, Date):
        return date.fromisoformat(value)
    if isinstance(t, LargeBinary):
        return base64.b64decode(value)
    return value


def _tables(conn: Connection) -> MetaData:
    meta = MetaData()
    meta.reflect(conn)
    return meta


def _revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table(_VERSION_TABLE):
        return None
    return conn.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalar()


@contextmanager
def _snapshot(settings: Settings) -> Iterator[Connection]:
    """A connection that sees one consistent state of the database while the service runs."""
    url = settings.sqlalchemy_url
    if url.startswith("sqlite:///"):
        with tempfile.TemporaryDirectory(prefix="motionscript-backup-") as tmp:
            copy = Path(tmp) / "snapshot.db"
            src = sqlite3.connect(url.removeprefix("sqlite:///"))
            dst = sqlite3.connect(copy)
            try:
                src.backup(dst)  # SQLite's online backup: a consistent copy, writers are not stopped
            finally:
                dst.close()
                src.close()
            engine = make_engine(f"sqlite:///{copy}")
            try:
                with engine.connect() as conn:
                    yield conn
            finally:
                engine.dispose()
        return
    engine = make_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            yield conn
    finally:
        engine.dispose()


def _add(tar: tarfile.TarFile, name: str, f, size: int, mtime: float | None = None) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o600, int(mtime if mtime is not None else time.time())
    tar.addfile(info, f)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


def backup(settings: Settings, out: Path) -> BackupSummary:
    """Write the database and the stored uploads to ``out`` (a tar, gzip-compressed if it ends in .gz/.tgz)."""
    out = Path(out)
    mode = "w:gz" if out.name.endswith((".gz", ".tgz")) else "w"
    store = UploadStore(settings.uploads_path, keyring=None)  # copied as stored: no key needed
    summary = BackupSummary()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_name(f".{out.name}.partial")
    try:
        with tarfile.open(tmp_out, mode, format=tarfile.PAX_FORMAT) as tar:
            dumps: list[tuple[str, Path]] = []
            with tempfile.TemporaryDirectory(prefix="motionscript-backup-") as tmp, _snapshot(settings) as conn:
                summary.revision = _revision(conn)
                meta = _tables(conn)
                for table in meta.sorted_tables:
                    if table.name == _VERSION_TABLE:
                        continue
                    path = Path(tmp) / f"{table.name}.jsonl"
                    n = 0
                    order = list(table.primary_key.columns) or list(table.columns)
                    with open(path, "w", encoding="utf-8") as f:
                        for row in conn.execute(select(table).order_by(*order)).mappings():
                            f.write(json.dumps(dict(row), default=_encode, sort_keys=True, ensure_ascii=False) + "\n")
                            n += 1
                    summary.tables[table.name] = n
                    dumps.append((table.name, path))
                # The files after the snapshot: every file a row refers to was stored before the row.
                files = []
                key_ids: set[str] = set()
                for rel in store.files():
                    p = store.location(rel)
                    try:
                        with open(p, "rb") as f:
                            header = read_header(f)
                    except FileNotFoundError:  # deleted since the snapshot
                        continue
                    kid = header.kid if header is not None else None
                    if kid:
                        key_ids.add(kid)
                    files.append({"path": rel, "bytes": p.stat().st_size, "sha256": _sha256(p), "key_id": kid})
                summary.files = len(files)
                summary.bytes = sum(f["bytes"] for f in files)
                summary.key_ids = sorted(key_ids)
                manifest = {
                    "format": FORMAT,
                    "software": __version__,
                    "created_at": datetime.now().astimezone().isoformat(),
                    "database": {"dialect": conn.dialect.name, "revision": summary.revision, "tables": summary.tables},
                    "uploads": {"files": files, "key_ids": summary.key_ids},
                }
                body = json.dumps(manifest, indent=1).encode()
                _add(tar, "manifest.json", io.BytesIO(body), len(body))
                for name, path in dumps:
                    with open(path, "rb") as f:
                        _add(tar, f"db/{name}.jsonl", f, path.stat().st_size)
            for entry in files:
                p = store.location(entry["path"])
                with open(p, "rb") as f:
                    _add(tar, f"uploads/{entry['path']}", f, entry["bytes"], p.stat().st_mtime)
        os.replace(tmp_out, out)
    except BaseException:
        tmp_out.unlink(missing_ok=True)
        raise
    return summary


def _read_manifest(tar: tarfile.TarFile) -> dict:
    try:
        member = tar.getmember("manifest.json")
    except KeyError:
        raise BackupError("not a Motionscript backup: no manifest.json in the archive") from None
    f = tar.extractfile(member)
    assert f is not None
    manifest = json.loads(f.read())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}; this version reads {FORMAT}")
    return manifest


def _prepare_empty_database(engine: Engine, revision: str | None) -> None:
    """Refuse a database with rows; an empty one at another schema revision (say, created by a first start
    of a newer version) has its empty tables dropped so that the backup's revision can be built."""
    with engine.begin() as conn:
        current = _revision(conn)
        meta = _tables(conn)
        for table in meta.sorted_tables:
            if table.name != _VERSION_TABLE and conn.execute(select(table).limit(1)).first() is not None:
                raise BackupError(
                    f"the database is not empty (table {table.name} has rows): restore into an empty database"
                )
        if current is not None and current != revision:
            meta.drop_all(conn)  # every table is empty: nothing is lost


def restore(settings: Settings, archive: Path) -> BackupSummary:
    """Restore an archive written by :func:`backup` into an empty database and an empty uploads folder."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"{archive}: no such file")
    try:
        tar = tarfile.open(archive, "r:*")
    except tarfile.TarError as exc:
        raise BackupError(f"{archive}: not a backup archive ({exc})") from None
    with tar:
        manifest = _read_manifest(tar)
        revision = manifest["database"]["revision"]
        files = manifest["uploads"]["files"]
        needed = set(manifest["uploads"]["key_ids"])
        if needed:
            have = set(load_keyring(settings, create=False).keys) if _has_keys(settings) else set()
            missing = sorted(needed - have)
            if missing:
                raise BackupError(
                    f"the backup's files are encrypted with storage key(s) {', '.join(missing)}, which the keyring "
                    "lacks: set MOTIONSCRIPT_STORAGE_KEYS (or the key file) to the keys in use when the backup "
                    "was made (docs/deploy.md#backups)"
                )
        uploads = settings.uploads_path
        if uploads.exists() and any(p.is_file() for p in uploads.rglob("*")):
            raise BackupError(f"the uploads folder {uploads} is not empty: restore into an empty one")

        url = settings.sqlalchemy_url
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = make_engine(url)
        written: list[Path] = []
        try:
            _prepare_empty_database(engine, revision)
            if revision is not None:
                migrate(url, revision)  # the backup's schema, so its rows fit as they are

            # The files first, each checked against the manifest, then the rows in one transaction.
            for entry in files:
                member = tar.extractfile(f"uploads/{entry['path']}")
                if member is None:
                    raise BackupError(f"the archive lacks uploads/{entry['path']}")
                dest = (uploads / entry["path"]).resolve()
                if uploads.resolve() not in dest.parents:
                    raise BackupError(f"the archive names a file outside the uploads folder: {entry['path']}")
                dest.parent.mkdir(parents=True, exist_ok=True)
                h = hashlib.sha256()
                fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".restore-")
                with os.fdopen(fd, "wb") as out:
                    while block := member.read(_BLOCK):
                        h.update(block)
                        out.write(block)
                if h.hexdigest() != entry["sha256"]:
                    os.unlink(tmp)
                    raise BackupError(f"uploads/{entry['path']} in the archive is damaged (sha256 differs)")
                os.replace(tmp, dest)
                written.append(dest)

            summary = BackupSummary(revision=revision, files=len(files), key_ids=sorted(needed))
            summary.bytes = sum(e["bytes"] for e in files)
            with engine.begin() as conn:
                meta = _tables(conn)
                by_name = {t.name: t for t in meta.sorted_tables}
                for name in [t.name for t in meta.sorted_tables if t.name in manifest["database"]["tables"]]:
                    table = by_name[name]
                    member = tar.extractfile(f"db/{name}.jsonl")
                    if member is None:
                        raise BackupError(f"the archive lacks db/{name}.jsonl")
                    n, batch = 0, []
                    for line in io.TextIOWrapper(member, encoding="utf-8"):
                        row = json.loads(line)
                        batch.append({k: _decode(v, table.c[k]) for k, v in row.items() if k in table.c})
                        if len(batch) == 500:
                            conn.execute(table.insert(), batch)
                            n, batch = n + len(batch), []
                    if batch:
                        conn.execute(table.insert(), batch)
                        n += len(batch)
                    if n != manifest["database"]["tables"][name]:
                        raise BackupError(
                            f"db/{name}.jsonl holds {n} rows, the manifest says {manifest['database']['tables'][name]}"
                        )
                    summary.tables[name] = n
        except BaseException:
            for p in written:
                p.unlink(missing_ok=True)
            raise
        finally:
            engine.dispose()
    migrate(url)  # then up to this version's schema
    return summary


def _has_keys(settings: Settings) -> bool:
    return settings.storage_keys is not None or settings.storage_key_path.exists()

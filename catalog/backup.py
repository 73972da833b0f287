"""Backups of the catalog's database while it serves, and restoring one.

SQLite: sqlite3's online backup API copies the database file page by page. The copy
reads inside one read transaction, so it is the database as of one instant (a write that
commits meanwhile is not half in it, and the copy never restarts); in WAL mode readers do
not block writers, so ingestion goes on during the backup. huey's SQLite queue in the
data dir is copied beside it the same way.

PostgreSQL: ``pg_dump -Fc`` (one consistent snapshot, writers not blocked) and
``pg_restore --clean --if-exists``, connecting with the settings of ``DATABASE_URL``;
the password goes through ``PGPASSWORD`` in the environment, never on a command line.

A restore replaces the database: the caller stops the web server and the worker first,
and rebuilds the search index afterwards (the index is derived from the database).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connections
from django.db.backends.postgresql.client import DatabaseClient

SQLITE_SUFFIX = ".sqlite3"
HUEY_SUFFIX = ".huey.sqlite3"
PG_SUFFIX = ".dump"
SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"
# Pages copied per backup step (4 MiB at SQLite's default page size).
STEP_PAGES = 1024
# Rows that migrations themselves create: a database holding only these is empty.
_BOOKKEEPING = {"lineage.graphgeneration"}
_CONTENT_APPS = ("catalog", "lineage", "governance")

Progress = Callable[[int, int], object]  # (pages copied so far, pages in all)


class BackupError(Exception):
    """The backup or restore cannot be done; the message says why and what to do."""


@dataclass
class BackupReport:
    files: list[Path] = field(default_factory=list)
    bytes: int = 0
    seconds: float = 0.0


# --- where --------------------------------------------------------------------------------


def _vendor(using: str) -> str:
    vendor = connections[using].vendor
    if vendor not in ("sqlite", "postgresql"):
        raise BackupError(f"backups of a {vendor} database are not supported")
    return vendor


def backup_path(target: Path, *, vendor: str, now: datetime | None = None) -> Path:
    """The file a backup goes to: ``target`` itself, or a timestamped file in it when it
    is a directory."""
    if not target.is_dir():
        return target
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    suffix = SQLITE_SUFFIX if vendor == "sqlite" else PG_SUFFIX
    return target / f"meshport-{stamp}{suffix}"


def huey_path_beside(backup: Path) -> Path:
    """Where the copy of huey's queue sits next to a SQLite backup."""
    name = backup.name.removesuffix(SQLITE_SUFFIX)
    return backup.with_name(name + HUEY_SUFFIX)


def latest_backup(folder: Path, *, vendor: str) -> Path:
    """The newest backup in ``folder`` (by its timestamped name)."""
    suffix = SQLITE_SUFFIX if vendor == "sqlite" else PG_SUFFIX
    found = sorted(
        p for p in folder.glob(f"meshport-*{suffix}") if not p.name.endswith(HUEY_SUFFIX)
    )
    if not found:
        raise BackupError(f"no meshport-*{suffix} backup in {folder}")
    return found[-1]


def _huey_file() -> Path | None:
    """huey's SQLite queue when it is a file in the data dir (not Redis)."""
    filename = settings.HUEY.get("filename")
    if not filename:
        return None
    path = Path(str(filename)).resolve()
    return path if path.is_relative_to(settings.DATA_DIR) else None


# --- backup -------------------------------------------------------------------------------


def database_backup(
    *, target: Path, using: str = "default", progress: Progress | None = None
) -> BackupReport:
    """Back the database up to ``target`` (a file, or a directory for a timestamped
    file) while the catalog keeps serving."""
    vendor = _vendor(using)
    path = backup_path(target, vendor=vendor)
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent} is not a directory")
    started = time.perf_counter()
    if vendor == "sqlite":
        files = _sqlite_backup(str(connections[using].settings_dict["NAME"]), path, progress)
    else:
        _pg_run("pg_dump", connections[using].settings_dict, ["-Fc", "-f", str(path)])
        files = [path]
    return BackupReport(
        files=files,
        bytes=sum(f.stat().st_size for f in files),
        seconds=time.perf_counter() - started,
    )


def _sqlite_backup(database: str, path: Path, progress: Progress | None) -> list[Path]:
    sqlite_copy(Path(database), path, snapshot=True, progress=progress)
    files = [path]
    huey = _huey_file()
    if huey is not None and huey.exists():
        companion = huey_path_beside(path)
        sqlite_copy(huey, companion, snapshot=True)
        files.append(companion)
    return files


def sqlite_copy(
    source: Path, target: Path, *, snapshot: bool, progress: Progress | None = None
) -> None:
    """Copy the SQLite database ``source`` onto ``target`` with the online backup API.

    With ``snapshot``, every step reads inside one read transaction of the source: in WAL
    mode this blocks no writer, and writes committed meanwhile neither land half in the
    copy nor make it start over (as they would between unprotected steps). A new target
    is written beside it first and moved into place whole.
    """
    fresh = not target.exists()
    writing = target.with_name(target.name + ".partial") if fresh else target
    src = sqlite3.connect(source, isolation_level=None, timeout=30)
    dst = sqlite3.connect(writing, timeout=30)
    try:
        if snapshot:
            src.execute("BEGIN")
            src.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts
        src.backup(dst, pages=STEP_PAGES, progress=_step_reporter(progress))
        if snapshot:
            src.execute("COMMIT")
    finally:
        dst.close()
        src.close()
    if fresh:
        writing.replace(target)


def _step_reporter(progress: Progress | None) -> Callable[[int, int, int], object] | None:
    if progress is None:
        return None
    return lambda status, remaining, total: progress(total - remaining, total)


def _pg_run(program: str, settings_dict: dict[str, Any], arguments: list[str]) -> None:
    """Run a PostgreSQL client tool against the database of ``settings_dict``."""
    executable = shutil.which(program)
    if executable is None:
        raise BackupError(
            f"{program} is not installed: install the PostgreSQL client tools of the "
            "server's major version (e.g. apt install postgresql-client)"
        )
    argv = [executable, *_pg_connection_args(settings_dict), *arguments]
    _, env = DatabaseClient.settings_to_cmd_args_env(settings_dict, [])
    done = subprocess.run(
        argv, env={**os.environ, **(env or {})}, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BackupError(f"{program} failed (exit {done.returncode}): {done.stderr.strip()}")


def _pg_connection_args(settings_dict: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for flag, key in (("-U", "USER"), ("-h", "HOST"), ("-p", "PORT")):
        if settings_dict.get(key):
            args += [flag, str(settings_dict[key])]
    if settings_dict.get("NAME"):
        args += ["-d", str(settings_dict["NAME"])]
    return args


# --- restore ------------------------------------------------------------------------------


def database_is_empty(using: str = "default") -> bool:
    """No user and no catalog, lineage or governance row (a fresh or migrated database)."""
    connection = connections[using]
    tables = set(connection.introspection.table_names())
    for model in apps.get_models():
        meta = model._meta
        content = meta.app_label in _CONTENT_APPS or meta.label_lower == "auth.user"
        if not content or meta.label_lower in _BOOKKEEPING or meta.db_table not in tables:
            continue
        if model._default_manager.using(using).exists():
            return False
    return True


def database_restore(*, source: Path, using: str = "default") -> BackupReport:
    """Replace the database with the backup ``source`` (a file, or the newest backup in
    a directory). The caller has checked that replacing it is wanted."""
    vendor = _vendor(using)
    path = latest_backup(source, vendor=vendor) if source.is_dir() else source
    _check_backup_file(path, vendor=vendor)
    started = time.perf_counter()
    connection = connections[using]
    connection.close()
    files = [path]
    if vendor == "sqlite":
        files += _sqlite_restore(path, Path(connection.settings_dict["NAME"]))
    else:
        _pg_run(
            "pg_restore",
            connection.settings_dict,
            ["--clean", "--if-exists", "--no-owner", "--single-transaction", str(path)],
        )
    return BackupReport(
        files=files,
        bytes=sum(f.stat().st_size for f in files),
        seconds=time.perf_counter() - started,
    )


def _sqlite_restore(path: Path, database: Path) -> list[Path]:
    """Copy the backup (and huey's queue beside it) back; the companions restored."""
    huey, companion = _huey_file(), huey_path_beside(path)
    try:
        sqlite_copy(path, database, snapshot=False)
        if huey is not None and companion.exists():
            sqlite_copy(companion, huey, snapshot=False)
            return [companion]
    except sqlite3.OperationalError as exc:
        raise BackupError(
            f"{exc}: another process is using the database; stop the web server and the "
            "worker, then restore again"
        ) from exc
    return []


def _check_backup_file(path: Path, *, vendor: str) -> None:
    if not path.is_file():
        raise BackupError(f"no backup at {path}")
    with path.open("rb") as handle:
        head = handle.read(len(SQLITE_MAGIC))
    if head.startswith(PG_MAGIC) and vendor == "sqlite":
        raise BackupError(f"{path} is a PostgreSQL dump; this database is SQLite")
    if head == SQLITE_MAGIC and vendor == "postgresql":
        raise BackupError(f"{path} is a SQLite backup; this database is PostgreSQL")
    if head != SQLITE_MAGIC and not head.startswith(PG_MAGIC):
        raise BackupError(f"{path} is neither a SQLite backup nor a pg_dump -Fc archive")
    if vendor == "sqlite":
        _check_sqlite_backup(path)


def _check_sqlite_backup(path: Path) -> None:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (verdict,) = db.execute("PRAGMA quick_check").fetchone()
        migrated = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'django_migrations'"
        ).fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a readable SQLite database: {exc}") from exc
    finally:
        db.close()
    if verdict != "ok":
        raise BackupError(f"{path} is damaged: {verdict}")
    if migrated is None:
        raise BackupError(f"{path} is not a Meshport database (no django_migrations table)")

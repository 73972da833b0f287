"""``manage.py backup`` while events keep arriving, and ``manage.py restore`` into a fresh
data dir (SQLite) or a fresh database (PostgreSQL): the same rows, one consistent instant,
and a search index that agrees with them."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from psycopg.sql import SQL, Identifier

from catalog import backup
from lineage.services import lineage_events_ingest
from tests.conftest import run_event

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent
# Queues that a restore drains (the search outbox) or that the ingesting thread fills.
QUEUES = {"catalog_searchoutbox"}
GROWING = {"lineage_lineageevent", "lineage_run", "lineage_changeoutbox"}
HALF_PROJECTED = """
    SELECT count(*) FROM lineage_lineageevent e
    WHERE e.kind = 'run' AND NOT EXISTS (SELECT 1 FROM lineage_run r WHERE r.uuid = e.run_uuid)
"""
RUNS_AND_EVENTS_OF_THE_THREAD = """
    SELECT (SELECT count(*) FROM lineage_run r JOIN lineage_job j ON j.id = r.job_id
            WHERE j.name = 'online'),
           (SELECT count(*) FROM lineage_lineageevent WHERE job_name = 'online')
"""


class Ingesting(threading.Thread):
    """Posts batches of run events (one new run each) until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.batches = 0
        self.committed = threading.Condition()
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                events = [run_event("COMPLETE", job=("tests", "online")) for _ in range(5)]
                assert lineage_events_ingest(payloads=events, token_name="tests").accepted == 5
                with self.committed:
                    self.batches += 1
                    self.committed.notify_all()
        except BaseException as exc:
            self.error = exc
        finally:
            connection.close()

    def wait_for_more(self, than: int, timeout: float = 10) -> bool:
        with self.committed:
            return self.committed.wait_for(lambda: self.batches > than, timeout=timeout)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)
        assert self.error is None, self.error


def content_tables() -> list[str]:
    labels = ("catalog", "lineage", "governance")
    return sorted(
        m._meta.db_table
        for m in apps.get_models()
        if m._meta.app_label in labels or m._meta.label_lower == "auth.user"
    )


def counts(query: Callable[[str], Any]) -> dict[str, int]:
    return {table: query(f"SELECT count(*) FROM {table}")[0] for table in content_tables()}


def live(sql: str) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()


@pytest.fixture
def fresh_target(tmp_path: Path) -> Iterator[tuple[dict[str, str], Callable[[str], Any]]]:
    """The environment of a fresh Meshport (an empty data dir, and on PostgreSQL an empty
    scratch database) and a way to query its database."""
    env = {
        **os.environ,
        "MESHPORT_DATA_DIR": str(tmp_path / "fresh"),
        "MESHPORT_SEARCH_BACKEND": "catalog.search.whoosh_backend.WhooshBackend",
        "MESHPORT_LOG_LEVEL": "WARNING",
    }
    env.pop("MESHPORT_SEARCH_PATH", None)
    if connection.vendor == "sqlite":
        env["DATABASE_URL"] = ""

        def query(sql: str) -> Any:
            import sqlite3

            db = sqlite3.connect(tmp_path / "fresh" / "meshport.sqlite3")
            try:
                return db.execute(sql).fetchone()
            finally:
                db.close()

        yield env, query
        return
    options = connection.settings_dict
    scratch = f"{options['NAME']}_restore_{os.getpid()}"
    credentials = {
        "user": options["USER"],
        "password": options["PASSWORD"],
        "host": options["HOST"],
        "port": options["PORT"] or 5432,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **credentials) as admin:
        admin.execute(SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(Identifier(scratch)))
        admin.execute(SQL("CREATE DATABASE {}").format(Identifier(scratch)))
    user, password = quote(options["USER"]), quote(options["PASSWORD"])
    env["DATABASE_URL"] = (
        f"postgres://{user}:{password}@{credentials['host']}:{credentials['port']}/{scratch}"
    )

    def pg_query(sql: str) -> Any:
        with psycopg.connect(dbname=scratch, **credentials) as db:
            return db.execute(sql).fetchone()  # type: ignore[arg-type]

    try:
        yield env, pg_query
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **credentials) as admin:
            admin.execute(
                SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(Identifier(scratch))
            )


def manage(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_online_backup_restores_into_a_fresh_catalog_with_the_same_rows(
    tmp_path: Path, fresh_target: tuple[dict[str, str], Callable[[str], Any]]
) -> None:
    call_command("load_demo", "--no-progress", stdout=StringIO())
    lineage_events_ingest(payloads=[run_event(job=("tests", "online"))], token_name="tests")
    before = counts(live)
    ingesting = Ingesting()
    ingesting.start()
    assert ingesting.wait_for_more(0)
    written_during: list[bool] = []

    def halfway(done: int, total: int) -> None:
        # Between two steps of the copy, a writer still gets its transaction through.
        if not written_during:
            written_during.append(ingesting.wait_for_more(ingesting.batches, timeout=10))

    started_at = ingesting.batches
    try:
        report = backup.database_backup(target=tmp_path, progress=halfway)
        assert ingesting.wait_for_more(ingesting.batches)
    finally:
        ingesting.stop()
    after = counts(live)
    if connection.vendor == "sqlite":
        assert written_during == [True]
    assert ingesting.batches > started_at

    env, query = fresh_target
    restored = manage(env, "restore", str(report.files[0]), "--yes")
    assert restored.returncode == 0, restored.stderr[-2000:]
    checked = manage(env, "search_check", "--dry-run")
    assert checked.returncode == 0, checked.stdout + checked.stderr[-2000:]
    assert "The index agrees with the database." in checked.stdout

    got = counts(query)
    for table in content_tables():
        if table in GROWING:
            assert before[table] <= got[table] <= after[table], table
        elif table not in QUEUES:
            assert got[table] == before[table] == after[table], table
    assert got["lineage_lineageevent"] < after["lineage_lineageevent"]  # a true snapshot
    assert query(HALF_PROJECTED) == (0,)
    runs, events = query(RUNS_AND_EVENTS_OF_THE_THREAD)
    assert runs == events  # each of the thread's events made its run, no more, no less


@pytest.mark.skipif(os.environ.get("DATABASE_URL", "") != "", reason="SQLite data dir layout")
def test_a_backup_into_a_directory_is_timestamped_and_takes_hueys_queue(tmp_path: Path) -> None:
    out = StringIO()
    call_command("backup", str(tmp_path), "--no-progress", stdout=out)

    names = sorted(p.name for p in tmp_path.iterdir())
    assert names[0].startswith("meshport-") and names[-1].endswith(".sqlite3")
    huey = backup._huey_file()
    if huey is not None and huey.exists():
        assert [n for n in names if n.endswith(".huey.sqlite3")]
    assert "Backed up" in out.getvalue() and " s to " in out.getvalue()


def test_restore_asks_for_yes(tmp_path: Path) -> None:
    call_command("backup", str(tmp_path), "--no-progress", stdout=StringIO())

    with pytest.raises(CommandError, match="--yes"):
        call_command("restore", str(tmp_path))


def test_restore_refuses_a_database_that_is_not_empty_without_force(tmp_path: Path) -> None:
    call_command("backup", str(tmp_path), "--no-progress", stdout=StringIO())
    User.objects.create_user("someone")

    with pytest.raises(CommandError, match="--force"):
        call_command("restore", str(tmp_path), "--yes")
    assert User.objects.filter(username="someone").exists()


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.sqlite3"
    bogus.write_text("hello")

    with pytest.raises(CommandError, match="neither a SQLite backup nor a pg_dump"):
        call_command("restore", str(bogus), "--yes")
    with pytest.raises(CommandError, match="no backup at"):
        call_command("restore", str(tmp_path / "nothing-here"), "--yes", "--force")


def test_a_missing_pg_dump_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backup.shutil, "which", lambda name: None)

    with pytest.raises(backup.BackupError, match="pg_dump is not installed"):
        backup._pg_run("pg_dump", {"NAME": "meshport", "OPTIONS": {}}, ["-Fc"])


def test_the_password_goes_through_the_environment_not_the_command_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, Any] = {}

    def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        seen.update(argv=argv, env=kwargs["env"])
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(backup.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(backup.subprocess, "run", run)
    settings_dict = {
        "NAME": "meshport",
        "USER": "mesh",
        "PASSWORD": "s3cret",
        "HOST": "db",
        "PORT": 5433,
        "OPTIONS": {"sslmode": "require"},
    }
    backup._pg_run("pg_dump", settings_dict, ["-Fc", "-f", "/tmp/x.dump"])

    assert seen["argv"] == [
        "/usr/bin/pg_dump", "-U", "mesh", "-h", "db", "-p", "5433", "-d", "meshport",
        "-Fc", "-f", "/tmp/x.dump",
    ]  # fmt: skip
    assert "s3cret" not in " ".join(seen["argv"])
    assert seen["env"]["PGPASSWORD"] == "s3cret" and seen["env"]["PGSSLMODE"] == "require"

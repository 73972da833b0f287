"""The project as a new user meets it: settings, a fresh data dir, schema and docs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def _django(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MESHPORT_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "meshport.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_refuses_to_start_without_a_secret_key_outside_debug(tmp_path):
    result = _django("", MESHPORT_DEBUG="0", MESHPORT_DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "MESHPORT_SECRET_KEY must be set" in result.stderr


def test_it_refuses_a_wildcard_host_outside_debug(tmp_path):
    result = _django(
        "",
        MESHPORT_DEBUG="0",
        MESHPORT_SECRET_KEY="x" * 50,
        MESHPORT_ALLOWED_HOSTS="*",
        MESHPORT_DATA_DIR=str(tmp_path),
    )
    assert result.returncode != 0
    assert "MESHPORT_ALLOWED_HOSTS='*'" in result.stderr


def test_it_rejects_a_boolean_it_cannot_read(tmp_path):
    result = _django("", MESHPORT_DEBUG="maybe", MESHPORT_DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "MESHPORT_DEBUG='maybe' is not a boolean" in result.stderr


def test_it_starts_with_safe_production_settings(tmp_path):
    result = _django(
        "from django.conf import settings; print(settings.DEBUG, settings.ALLOWED_HOSTS)",
        MESHPORT_DEBUG="0",
        MESHPORT_SECRET_KEY="s" * 50,
        MESHPORT_ALLOWED_HOSTS="catalog.example.com",
        MESHPORT_DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False ['catalog.example.com']"


@pytest.mark.live
def test_a_fresh_data_dir_needs_only_migrate_then_runserver(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESHPORT_", "DATABASE_"))}
    env.update(MESHPORT_DEBUG="1", MESHPORT_DATA_DIR=str(tmp_path / "data"))
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)
    assert (tmp_path / "data" / "meshport.sqlite3").exists()
    server = subprocess.Popen(
        [*manage, "runserver", "127.0.0.1:8765", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        body = ""
        for _ in range(50):
            try:
                with urllib.request.urlopen("http://127.0.0.1:8765/", timeout=2) as response:
                    body = response.read().decode()
                    break
            except OSError:
                time.sleep(0.2)
        assert "Meshport" in body
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.django_db
def test_sqlite_runs_in_wal_mode_with_a_busy_timeout():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] >= 5000
    assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


@pytest.mark.django_db(transaction=True)
def test_a_thread_copies_the_wal_back_so_that_commits_do_not(settings):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    from catalog.models import Namespace
    from meshport.db import WalCheckpointer

    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == settings.SQLITE_AUTOCHECKPOINT_PAGES > 1000
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    Namespace.objects.bulk_create(Namespace(name=f"wal-{i}") for i in range(500))

    checkpointer = WalCheckpointer(poll_seconds=0.05)
    checkpointer.start()
    try:
        for _ in range(200):
            if checkpointer.last_result is not None:
                break
            time.sleep(0.02)
    finally:
        checkpointer.stopping.set()
        checkpointer.join(timeout=10)
    assert checkpointer.last_result is not None
    busy, frames, copied = checkpointer.last_result
    assert busy == 0 and frames > 0 and copied == frames


@pytest.mark.django_db
def test_the_openapi_schema_and_its_docs_render(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/lineage/batch" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content


@pytest.mark.django_db
def test_the_admin_login_page_sends_people_to_the_portal_login(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"] == "/login/?next=/admin/"


def test_a_production_web_process_serves_the_portals_static_files(settings):
    """gunicorn has no static file handler: the web process serves them (whitenoise)."""
    from django.test import Client

    settings.DEBUG = False
    response = Client().get("/static/css/meshport.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert b"--accent" in b"".join(response.streaming_content)

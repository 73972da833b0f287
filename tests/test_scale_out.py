"""Scaled out as the README describes it: PostgreSQL, huey on Redis, two web processes
(two gunicorn instances, as on two hosts) and two workers, the search index in
PostgreSQL. Events posted to either web process are all stored once, the workers drain
the search outbox so both web processes find the same things, and a scheduled scorecard
slot runs once although both workers tick.

Runs when the test database is PostgreSQL and Debian's ``redis-server`` is installed
(``.ci/run`` installs it); skipped otherwise, saying which is missing."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.utils import timezone

from catalog.models import ApiToken, Dataset, SearchOutbox
from governance.models import Scorecard, ScorecardRun
from governance.scorecard_services import scorecard_save
from governance.scorecards import definition_from_dict
from lineage.models import LineageEvent
from tests.conftest import run_event

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
PG_SEARCH = "catalog.search.postgres_backend.PostgresBackend"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


@dataclass
class Cluster:
    web: list[str]  # base URLs of the two web processes
    token: str


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (.ci/run installs Debian's)")
    port = _free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait(lambda: _answers(port), 10, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def cluster(redis_url: str, tmp_path: Path) -> Iterator[Cluster]:
    if connection.vendor != "postgresql":
        pytest.skip("scale-out needs PostgreSQL (DATABASE_URL)")
    db = connection.settings_dict
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{host}:{port}/{db['NAME']}"
    _, secret = ApiToken.issue(name="pipelines", scopes=["lineage:write"])
    processes: list[subprocess.Popen[bytes]] = []
    web = []
    try:
        for host in ("a", "b"):  # each "host" has its own data dir: nothing shared on disk
            env = _environment(url, redis_url, tmp_path / host)
            port = _free_port()
            processes.append(_start(_gunicorn(port), env, tmp_path / f"web-{host}.log"))
            processes.append(_start(_worker(), env, tmp_path / f"worker-{host}.log"))
            web.append(f"http://127.0.0.1:{port}")
        for base in web:
            _wait(lambda base=base: _up(base), 60, f"the web process at {base}")
        yield Cluster(web, secret)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in sorted(tmp_path.glob("*.log")):
            sys.stderr.write(f"--- {log.name}\n{log.read_text()[-3000:]}\n")


def _environment(database_url: str, redis_url: str, data_dir: Path) -> dict[str, str]:
    data_dir.mkdir()
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "MESHPORT_REDIS_URL": redis_url,
        "MESHPORT_SEARCH_BACKEND": PG_SEARCH,
        "MESHPORT_DATA_DIR": str(data_dir),
        "MESHPORT_DEBUG": "0",
        "MESHPORT_SECRET_KEY": "scale-out-" + uuid.uuid4().hex * 2,
        "MESHPORT_ALLOWED_HOSTS": "127.0.0.1",
        "MESHPORT_ANONYMOUS_READ": "1",
        "MESHPORT_INSECURE_COOKIES": "1",
    }


def _gunicorn(port: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "meshport.wsgi", "--bind", f"127.0.0.1:{port}",
        "--workers", "2", "--threads", "4", "--worker-class", "gthread",
    ]  # fmt: skip


def _worker() -> list[str]:
    return [sys.executable, "manage.py", "run_huey", "--workers", "2"]


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def _up(base: str) -> bool:
    try:
        return requests.get(f"{base}/api/v1/namespaces", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_two_web_processes_and_two_workers_share_the_load_on_redis(cluster: Cluster) -> None:
    assert settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    events = [
        run_event(
            run_id=str(uuid.uuid4()),
            job=("scale", f"job_{i % 20}"),
            outputs=[
                {"namespace": "postgres://warehouse:5432", "name": f"scale.public.table_{i % 40}"}
            ],
        )
        for i in range(400)
    ]
    headers = {"Authorization": f"Bearer {cluster.token}"}

    def post(indexed: tuple[int, dict]) -> int:
        index, event = indexed
        base = cluster.web[index % 2]
        return requests.post(
            f"{base}/api/v1/lineage", json=event, headers=headers, timeout=30
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(post, enumerate(events)))
    assert statuses.count(201) == len(events), sorted(set(statuses))
    assert LineageEvent.objects.count() == len(events)
    assert Dataset.objects.filter(name__startswith="scale.public.table_").count() == 40

    # The workers drain the outbox into the shared index: both web processes find it.
    _wait(lambda: not SearchOutbox.objects.exists(), 60, "the search outbox to drain")
    for base in cluster.web:
        found = requests.get(f"{base}/api/v1/search", params={"q": "table_39"}, timeout=10)
        assert found.status_code == 200
        names = [hit["name"] for hit in found.json()["results"]]
        assert "scale.public.table_39" in names, names


def test_a_scheduled_slot_runs_once_although_both_workers_tick(cluster: Cluster) -> None:
    definition = definition_from_dict(
        {"name": "Every minute", "schedule": "* * * * *", "checks": ["has_owner"]}
    )
    scorecard = scorecard_save(definition=definition, actor="tests", via="api")
    Scorecard.objects.filter(pk=scorecard.pk).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    # Both workers tick at the start of each minute; wait for two ticks.
    _wait(
        lambda: ScorecardRun.objects.filter(scorecard=scorecard, slot__isnull=False).count() >= 2,
        150,
        "two scheduled slots",
    )
    time.sleep(3)  # let the slower worker's tick of the same minute come and go
    slots = list(
        ScorecardRun.objects.filter(scorecard=scorecard, slot__isnull=False).values_list(
            "slot", flat=True
        )
    )
    assert len(slots) == len(set(slots)), slots
    _wait(
        lambda: (
            not ScorecardRun.objects.filter(
                scorecard=scorecard, status__in=["pending", "running"]
            ).exists()
        ),
        60,
        "the runs to finish",
    )
    done = ScorecardRun.objects.filter(scorecard=scorecard)
    assert set(done.values_list("status", flat=True)) == {"done"}

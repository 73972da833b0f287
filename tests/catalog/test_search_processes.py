"""The index across processes, as deployed: a running worker keeps it fresh, a writer killed
mid-batch leaves a gap that ``search_check`` repairs, and concurrent writers lose nothing.

Each test runs ``manage.py`` in subprocesses on a data dir of its own (or, under
``DATABASE_URL``, on that database, flushed first) with the whoosh index on disk, and
reads the index from here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from catalog.search import SearchQuery
from catalog.search.whoosh_backend import WhooshBackend
from tests.conftest import run_event

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MESHPORT_")}
        self.env.update(
            MESHPORT_DEBUG="1",
            MESHPORT_DATA_DIR=str(path),
            MESHPORT_SEARCH_BACKEND="catalog.search.whoosh_backend.WhooshBackend",
            MESHPORT_SEARCH_PATH=str(path / "search"),
            MESHPORT_LOG_LEVEL="WARNING",
        )
        self.manage("migrate", "-v0")
        if "DATABASE_URL" in self.env:
            self.manage("flush", "--noinput")
        self._engine: WhooshBackend | None = None

    def command(self, *args: str) -> list[str]:
        return [sys.executable, str(ROOT / "manage.py"), *args]

    def manage(
        self, *args: str, check: bool = True, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            cwd=ROOT,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=300,
            check=check,
        )

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args),
            cwd=ROOT,
            env={**self.env, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def ingest(self, events: list[dict[str, Any]]) -> None:
        path = self.path / f"events-{uuid.uuid4().hex}.json"
        path.write_text(json.dumps(events))
        self.manage("ingest_events", str(path), "--no-progress")

    @property
    def engine(self) -> WhooshBackend:
        if self._engine is None:
            self._engine = WhooshBackend("probe", {"PATH": str(self.path / "search")})
        return self._engine

    def found(self, text: str) -> list[str]:
        return [hit.name for hit in self.engine.search(SearchQuery(text=text, facets=False)).hits]

    def documents(self) -> int:
        return int(self.engine.stats()["documents"])


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path)


def events(prefix: str, count: int, outputs: int = 1) -> list[dict[str, Any]]:
    return [
        run_event(
            job=("tests", f"{prefix}_job_{i}"),
            outputs=[
                {"namespace": "postgres://db:5432", "name": f"{prefix}.table_{i}_{k}"}
                for k in range(outputs)
            ],
        )
        for i in range(count)
    ]


def wait_for(condition: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout} s")


@pytest.fixture
def worker(store: Store) -> Iterator[subprocess.Popen[str]]:
    process = store.start("run_huey")
    yield process
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def test_the_running_worker_makes_ingested_and_registered_things_searchable(
    store: Store, worker: subprocess.Popen[str]
) -> None:
    store.ingest(events("fresh", 1))
    elapsed = wait_for(lambda: "fresh.table_0_0" in store.found("fresh.table_0_0"), timeout=30)
    print(f"searchable {elapsed:.2f} s after the ingest command returned")
    store.manage("register_products", str(ROOT / "catalog/demo_products/sales/shop-orders"))
    wait_for(lambda: "Shop orders" in store.found("shop-orders"), timeout=30)


def test_a_writer_killed_mid_batch_leaves_a_gap_that_the_check_repairs(store: Store) -> None:
    store.ingest(events("bulk", 200, outputs=5))  # 200 jobs, 1,000 datasets, 1,200 documents
    writer = store.start("search_drain", MESHPORT_SEARCH_BATCH="25")
    wait_for(lambda: store.documents() >= 100, timeout=60)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert 0 < store.documents() < 1200
    gap = store.manage("search_check", "--dry-run", check=False)
    assert gap.returncode == 1
    assert "missing" in gap.stdout
    repaired = store.manage("search_check")
    assert "Repaired" in repaired.stdout
    clean = store.manage("search_check", "--dry-run")
    assert "The index agrees with the database." in clean.stdout
    assert store.documents() == 1200
    assert store.found("bulk.table_199_4") == ["bulk.table_199_4"]
    store.manage("search_drain")  # what was still queued applies cleanly on top


WRITER = """
import json, sys
from catalog.search.outbox import search_outbox_drain
from lineage.services import lineage_events_ingest
for chunk in json.load(open(sys.argv[-1])):
    lineage_events_ingest(payloads=chunk)
    search_outbox_drain()  # skips its turn while another process writes
search_outbox_drain(wait=True)
"""


def test_four_processes_writing_at_once_lose_nothing(store: Store) -> None:
    processes = []
    for p in range(4):
        chunks = [events(f"p{p}_{c}", 5, outputs=2) for c in range(8)]
        path = store.path / f"chunks-{p}.json"
        path.write_text(json.dumps(chunks))
        script = store.path / "writer.py"
        script.write_text(WRITER)
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", _bootstrap(script), str(path)],
                cwd=ROOT,
                env=store.env,
            )
        )
    assert [p.wait(timeout=300) for p in processes] == [0, 0, 0, 0]
    store.manage("search_drain")
    clean = store.manage("search_check", "--dry-run")
    assert "The index agrees with the database." in clean.stdout
    assert store.documents() == 4 * 8 * 5 * 3  # a job and two datasets per event
    assert store.found("p3_7.table_4_1") == ["p3_7.table_4_1"]


def _bootstrap(script: Path) -> str:
    return (
        "import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'meshport.settings');"
        f"django.setup(); exec(open({str(script)!r}).read())"
    )

"""Single events posted at the same time share one transaction (group commit)."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from lineage import services
from lineage.models import LineageEvent, Run
from lineage.services import GroupCommit, IngestResult
from tests.conftest import run_event

pytestmark = pytest.mark.django_db(transaction=True)


def _post_concurrently(group: GroupCommit, events: list[dict[str, Any]]) -> list[Any]:
    """Each event through ``group`` from its own thread; returns results or exceptions."""
    outcomes: list[Any] = [None] * len(events)

    def post(index: int) -> None:
        facts = services.read_event(services.parse_event(events[index]))
        try:
            outcomes[index] = group.submit((facts, "tests"))
        except Exception as exc:
            outcomes[index] = exc
        finally:
            connection.close()  # each thread has its own; PostgreSQL counts them

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(events))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def _first_write_waits_for(
    monkeypatch: pytest.MonkeyPatch, group: GroupCommit, total: int
) -> list[int]:
    """Hold the first transaction until all ``total`` events are submitted (the others
    queue behind it); record the size of each group written."""
    sizes: list[int] = []
    real: Callable[[Sequence[services.Item]], list[IngestResult]] = services._store_and_project

    def store(items: Sequence[services.Item]) -> list[IngestResult]:
        if not sizes:
            for _ in range(2000):
                if len(group._queue) + len(items) >= total:
                    break
                threading.Event().wait(0.005)
        sizes.append(len(items))
        return real(items)

    monkeypatch.setattr(services, "_store_and_project", store)
    return sizes


def test_events_that_arrive_together_are_written_in_one_transaction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    group = GroupCommit()
    sizes = _first_write_waits_for(monkeypatch, group, total=8)
    outcomes = _post_concurrently(group, [run_event("START") for _ in range(8)])

    # Whatever the first transaction took, everything that queued behind it went together.
    assert len(sizes) == 2 and sum(sizes) == 8
    assert all(isinstance(o, IngestResult) and o.status == "created" for o in outcomes)
    assert LineageEvent.objects.count() == 8 and Run.objects.count() == 8
    assert len({o.event_id for o in outcomes}) == 8


@pytest.mark.skipif(connection.vendor != "sqlite", reason="writers take turns on SQLite only")
def test_events_queued_while_another_process_writes_join_the_next_group(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """The leader takes its group once it has the writer's turn, not before waiting for
    it: what queued while another process was writing goes in the same transaction."""
    sizes: list[int] = []
    real = services._store_and_project

    def store(items: Sequence[services.Item]) -> list[IngestResult]:
        sizes.append(len(items))
        return real(items)

    monkeypatch.setattr(services, "_store_and_project", store)
    group = GroupCommit()
    # Another process's writer: its own open file, so its flock excludes ours.
    fd = os.open(Path(settings.DATA_DIR) / "ingest.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    outcomes: list[Any] = []
    poster = threading.Thread(
        target=lambda: outcomes.extend(
            _post_concurrently(group, [run_event("START") for _ in range(6)])
        )
    )
    try:
        poster.start()
        for _ in range(2000):
            if len(group._queue) == 6:
                break
            threading.Event().wait(0.005)
        assert len(group._queue) == 6 and not sizes
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        poster.join(timeout=30)

    assert sizes == [6]
    assert all(isinstance(o, IngestResult) and o.status == "created" for o in outcomes)
    assert LineageEvent.objects.count() == 6


def test_a_group_never_exceeds_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    group = GroupCommit(limit=3)
    sizes = _first_write_waits_for(monkeypatch, group, total=8)
    outcomes = _post_concurrently(group, [run_event("START") for _ in range(8)])

    assert sum(sizes) == 8 and max(sizes) <= 3
    assert len(sizes) == 1 + -(-(8 - sizes[0]) // 3)
    assert all(isinstance(o, IngestResult) for o in outcomes)
    assert LineageEvent.objects.count() == 8


def test_a_duplicate_in_the_same_group_is_counted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    group = GroupCommit()
    _first_write_waits_for(monkeypatch, group, total=4)
    twice = run_event("COMPLETE")
    outcomes = _post_concurrently(group, [run_event("START"), twice, twice, run_event()])

    assert sorted(o.status for o in outcomes) == ["created", "created", "created", "duplicate"]
    assert outcomes[1].event_id == outcomes[2].event_id
    assert LineageEvent.objects.get(pk=outcomes[1].event_id).duplicates == 1
    assert LineageEvent.objects.count() == 3


def test_an_event_that_breaks_its_group_fails_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    group = GroupCommit()
    _first_write_waits_for(monkeypatch, group, total=4)
    poison = run_event("START", job=("tests", "poison"))
    real_project = services.Projector.project

    def project(self: services.Projector, batch: Sequence[Any]) -> None:
        if any(f.job and f.job.name == "poison" for f in batch):
            raise RuntimeError("projection bug")
        real_project(self, batch)

    monkeypatch.setattr(services.Projector, "project", project)
    outcomes = _post_concurrently(
        group, [run_event("START"), run_event("START"), poison, run_event("START")]
    )

    assert isinstance(outcomes[2], RuntimeError)
    assert [isinstance(o, IngestResult) for o in outcomes] == [True, True, False, True]
    assert LineageEvent.objects.count() == 3
    assert not LineageEvent.objects.filter(job_name="poison").exists()

"""Lineage writes: ingest OpenLineage events into the raw log and project them."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from lineage.events import EventInvalid, parse_event
from lineage.facets import EventFacts, read_event
from lineage.models import LineageEvent
from lineage.projection import Projector
from meshport.db import busy_cause
from meshport.prepared import JsonText, insert_returning

logger = logging.getLogger(__name__)
T = TypeVar("T")


class IngestBusy(Exception):
    """The write was not taken, and nothing of it is stored; the client should retry.

    ``cause`` names why: a database refusal (:func:`meshport.db.busy_cause`), or this
    process's own backpressure (``ingest_queue_full``, ``ingest_wait_timeout``).
    """

    retry_after = 2

    def __init__(self, cause: str, detail: str = "") -> None:
        super().__init__(f"{cause}: {detail}" if detail else cause)
        self.cause = cause


@dataclass
class IngestResult:
    status: str  # "created" | "duplicate"
    event_id: int
    warnings: list[dict[str, str]]


@dataclass
class BatchResult:
    received: int
    accepted: int = 0
    duplicates: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        if not self.failed:
            return "success"
        return "failure" if len(self.failed) == self.received else "partial_success"

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "received": self.received,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "failed": len(self.failed),
            "failed_events": self.failed,
            "warnings": self.warnings,
        }


# Causes worth retrying at once in this process: the other transaction is gone by then.
# A lock wait already spent the whole busy or lock timeout, and a refused connection will
# not be back in milliseconds: those go back to the client as 503.
_RETRY_HERE = frozenset({"deadlock", "serialization_failure"})


def _with_retries(work: Callable[[], T], attempts: int = 6) -> T:
    """Run a write transaction, retrying the races that concurrent writers cause.

    A second writer inserting the same event hash (IntegrityError) or a PostgreSQL
    deadlock or serialization failure is retried: the next attempt sees the committed
    rows. Every other lock, timeout or connection failure — and a race still lost after
    ``attempts`` — becomes :class:`IngestBusy`, which the API answers with 503 +
    Retry-After. The transaction has rolled back by then, so nothing is half-written.
    """
    for attempt in range(attempts):
        try:
            return work()
        except IntegrityError:
            if attempt == attempts - 1:
                raise
        except (OperationalError, InterfaceError) as exc:
            cause = busy_cause(exc)
            if cause is None:
                raise
            if cause not in _RETRY_HERE or attempt == attempts - 1:
                raise IngestBusy(cause, str(exc)) from exc
        time.sleep(0.01 * (2**attempt))
    raise AssertionError("unreachable")


class _WriterQueue:
    """Ingestion writers of every process on this machine take turns through a file lock.

    SQLite lets one writer in at a time and makes the others poll with growing sleeps (its
    busy handler waits up to 100 ms between tries), so two web processes writing at once
    spend most of their time asleep. Waiting on ``flock`` instead hands the turn over the
    moment it is released. Only SQLite needs this; the database's own locking still
    guarantees correctness, this only schedules the waiting.
    """

    def __init__(self) -> None:
        # flock is per process: threads queue here first. Re-entrant, so that a caller
        # holding the turn (group commit) can write through code that takes it too.
        self._thread_lock = threading.RLock()
        self._held = False  # whether the thread holding _thread_lock holds the flock
        self._fd: int | None = None

    @contextmanager
    def turn(self) -> Iterator[None]:
        if connection.vendor != "sqlite":
            yield
            return
        with self._thread_lock:
            if self._held:  # this thread has the turn already, further up its stack
                yield
                return
            if self._fd is None:
                path = Path(settings.DATA_DIR) / "ingest.lock"
                self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._held = True
            try:
                yield
            finally:
                self._held = False
                fcntl.flock(self._fd, fcntl.LOCK_UN)


_writer_turn = _WriterQueue().turn


Item = tuple[EventFacts, str]  # an event and the name of the token that posted it


def _store_and_project(items: Sequence[Item]) -> list[IngestResult]:
    """Append the raw events and project the new ones, all in one transaction.

    The identical event seen again (same canonical hash, in this call or before) is a
    duplicate: counted on the stored row, not projected twice.
    """
    facts_list = [facts for facts, _ in items]
    hashes = [f.event.hash for f in facts_list]
    first: dict[str, Item] = {}
    for item in items:
        first.setdefault(item[0].event.hash, item)
    with _writer_turn(), transaction.atomic():
        ids = dict(
            insert_returning(
                LineageEvent,
                [raw_event_row(facts, token_name) for facts, token_name in first.values()],
                unique=["event_time", "hash"],
                returning=["hash", "id"],
            )
        )
        inserted = set(ids)
        Projector().project([item[0] for digest, item in first.items() if digest in inserted])
        repeats = Counter(hashes)
        for digest in ids:
            repeats[digest] -= 1
        if +repeats:
            _count_duplicates(+repeats, ids, {d: first[d][0].event.event_time for d in repeats})
    seen: set[str] = set()
    results = []
    for facts in facts_list:
        digest = facts.event.hash
        is_new = digest in inserted and digest not in seen
        seen.add(digest)
        results.append(
            IngestResult(
                status="created" if is_new else "duplicate",
                event_id=ids[digest],
                warnings=facts.event.warnings,
            )
        )
    return results


def _count_duplicates(
    repeats: Counter[str], ids: dict[str, int], times: dict[str, datetime]
) -> None:
    """Bump ``duplicates`` of events already stored and fill ``ids`` with their ids.

    ``times`` gives each hash's event time, the leading column of the dedupe key: a hash
    determines its time, so matching both sets never pairs one event's time with
    another's hash.
    """
    for digest, count in repeats.items():
        LineageEvent.objects.filter(event_time=times[digest], hash=digest).update(
            duplicates=F("duplicates") + count
        )
    missing = repeats.keys() - ids.keys()
    ids.update(
        LineageEvent.objects.filter(
            event_time__in={times[d] for d in missing}, hash__in=list(missing)
        )
        .order_by()
        .values_list("hash", "id")
    )


def raw_event_row(facts: EventFacts, token_name: str) -> dict[str, Any]:
    event = facts.event
    return {
        "hash": event.hash,
        "kind": event.kind,
        "event_type": event.event_type,
        "event_time": event.event_time,
        "received_at": timezone.now(),
        "producer": event.producer[:2048],
        "schema_url": event.schema_url[:2048],
        "run_uuid": event.run_id,
        "job_namespace": event.job_namespace[:1024],
        "job_name": event.job_name[:1024],
        "token_name": token_name,
        "payload": JsonText(event.canonical),
        "warnings": event.warnings,
        "duplicates": 0,
    }


class _Pending:
    def __init__(self, item: Item) -> None:
        self.item = item
        self.wake = threading.Event()
        self.lead = False
        self.result: IngestResult | None = None
        self.error: BaseException | None = None


class GroupCommit:
    """Single events posted at the same time share one transaction.

    Each request thread queues its validated event and waits. One thread at a time leads:
    it takes what is queued (its own event included, up to ``limit``), writes it in one
    transaction, wakes the others with their results and hands the lead to the next
    waiting thread. Nothing waits for a timer: a group is whatever arrived while the
    previous one was being written, so a lone event pays no extra latency, and under load
    the fixed cost of a transaction (a dozen statements, the commit) is shared. Every
    caller still answers only after its own event is committed.
    """

    def __init__(self, limit: int = 100) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._leading = False

    def submit(
        self, item: Item, *, max_pending: int | None = None, max_wait: float | None = None
    ) -> IngestResult:
        """Write ``item`` with whatever else is queued; its result once committed.

        Backpressure: with ``max_pending`` events already queued, raise
        :class:`IngestBusy` at once; an event not taken into a transaction within
        ``max_wait`` seconds is withdrawn from the queue and raises it too. Either way the
        event is not written. Once taken it waits for the outcome, which the database's
        own busy or lock timeout bounds.
        """
        pending = _Pending(item)
        with self._lock:
            if max_pending is not None and len(self._queue) >= max_pending:
                raise IngestBusy("ingest_queue_full", f"{len(self._queue)} events are queued")
            self._queue.append(pending)
            if not self._leading:
                self._leading = pending.lead = True
        if not pending.lead:
            self._wait(pending, max_wait)
        if pending.lead and pending.result is None and pending.error is None:
            self._lead()
        if pending.error is not None:
            raise pending.error
        assert pending.result is not None
        return pending.result

    def _wait(self, pending: _Pending, max_wait: float | None) -> None:
        """Until ``pending`` leads or has its outcome; withdraw it past ``max_wait``."""
        deadline = None if max_wait is None else time.monotonic() + max_wait
        while True:
            left = 60.0 if deadline is None else max(deadline - time.monotonic(), 0.0)
            if pending.wake.wait(timeout=left):
                return
            if deadline is None:
                continue  # keep waiting: the leader always answers or hands over
            with self._lock:
                if pending.lead:
                    return
                if any(p is pending for p in self._queue):
                    self._queue.remove(pending)
                    raise IngestBusy(
                        "ingest_wait_timeout", f"not written within {max_wait} s; withdrawn"
                    )
            deadline = None  # already in a transaction: its outcome is on the way

    def _lead(self) -> None:
        group: list[_Pending] = []
        try:
            # The group is what is queued once this process has its turn to write (on
            # SQLite, after the other processes' writers): what arrived during that
            # wait shares this transaction instead of waiting for the next.
            with _writer_turn():
                with self._lock:
                    group, self._queue = self._queue[: self.limit], self._queue[self.limit :]
                self._write(group)
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].lead = True
                    self._queue[0].wake.set()
                else:
                    self._leading = False
            for pending in group:
                pending.wake.set()

    @staticmethod
    def _write(group: list[_Pending]) -> None:
        try:
            results = _with_retries(lambda: _store_and_project([p.item for p in group]))
        except IngestBusy as exc:
            for pending in group:
                pending.error = exc
            return
        except Exception:
            if len(group) == 1:
                raise
            # Something in the group broke the transaction: write each alone, so that
            # only the event at fault fails.
            for pending in group:
                try:
                    pending.result = _write_one(pending.item)
                except Exception as exc:
                    pending.error = exc
            return
        for pending, result in zip(group, results, strict=True):
            pending.result = result


def _write_one(item: Item) -> IngestResult:
    return _with_retries(lambda: _store_and_project([item]))[0]


_group = GroupCommit()


def lineage_event_ingest(*, payload: Any, token_name: str = "") -> IngestResult:
    """Validate, store and project one OpenLineage event.

    Raises :class:`EventInvalid` (nothing stored) or :class:`IngestBusy`.
    """
    facts = read_event(parse_event(payload))
    config = settings.MESHPORT_LINEAGE
    if connection.in_atomic_block or not config["GROUP_COMMIT"]:
        return _write_one((facts, token_name))
    return _group.submit(
        (facts, token_name),
        max_pending=config.get("MAX_PENDING"),
        max_wait=config.get("MAX_WAIT_SECONDS"),
    )


def lineage_events_ingest(*, payloads: Sequence[Any], token_name: str = "") -> BatchResult:
    """Ingest a batch: the valid events are stored and projected together, the invalid
    ones are reported by index (OpenLineage batch semantics)."""
    result = BatchResult(received=len(payloads))
    valid: list[EventFacts] = []
    positions: list[int] = []
    for index, payload in enumerate(payloads):
        try:
            valid.append(read_event(parse_event(payload)))
            positions.append(index)
        except EventInvalid as exc:
            result.failed.append({"index": index, "errors": exc.errors})
    if valid:
        items = [(facts, token_name) for facts in valid]
        outcomes = _with_retries(lambda: _store_and_project(items))
        for index, outcome in zip(positions, outcomes, strict=True):
            if outcome.status == "created":
                result.accepted += 1
            else:
                result.duplicates += 1
            if outcome.warnings:
                result.warnings.append({"index": index, "warnings": outcome.warnings})
    return result


# --- retention ----------------------------------------------------------------------------


@dataclass
class PurgeReport:
    matched: int = 0  # raw events received before the cutoff when the purge began
    deleted: int = 0
    batches: int = 0
    seconds: float = 0.0


def lineage_events_purge(
    *,
    before: datetime,
    batch_size: int = 5000,
    dry_run: bool = False,
    progress: Callable[[int], object] | None = None,
) -> PurgeReport:
    """Delete the raw events received before ``before``; keep everything projected.

    Jobs, runs, datasets, versions, edges, column lineage, statistics and assertions
    are projections that hold what the pages need: nothing references a raw event, so
    they stay as they are. Each batch is its own short transaction, taken in turn with
    ingestion (:func:`_writer_turn`), so posts keep being written between batches and a
    purge can run beside the server; stopped halfway, it resumes where it was.

    The trade-off: the dedupe key lives on the raw row, so an event older than the
    cutoff that a client posts again after the purge is stored and projected again (the
    run's state machine and the edges absorb it; its ``events_count`` grows by one).
    """
    started = time.perf_counter()
    report = PurgeReport(matched=LineageEvent.objects.filter(received_at__lt=before).count())
    if not dry_run:
        while deleted := _with_retries(lambda: _purge_batch(before, batch_size)):
            report.deleted += deleted
            report.batches += 1
            if progress is not None:
                progress(deleted)
    report.seconds = time.perf_counter() - started
    return report


def _purge_batch(before: datetime, size: int) -> int:
    oldest = (
        LineageEvent.objects.filter(received_at__lt=before)
        .order_by("received_at", "id")
        .values("id")[:size]
    )
    with _writer_turn(), transaction.atomic():
        deleted, _ = LineageEvent.objects.filter(id__in=oldest).delete()
    return deleted

"""Lineage writes: ingest OpenLineage events into the raw log and project them."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F

from lineage.events import EventInvalid, parse_event
from lineage.facets import EventFacts, read_event
from lineage.models import LineageEvent
from lineage.projection import Projector, insert_rows

logger = logging.getLogger(__name__)
T = TypeVar("T")


class IngestBusy(Exception):
    """The database could not take the write in time; the client should retry."""

    retry_after = 2


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


def _is_lock_error(exc: OperationalError) -> bool:
    return "locked" in str(exc).lower() or "busy" in str(exc).lower()


def _is_retryable_pg(exc: Exception) -> bool:
    cause = getattr(exc, "__cause__", None)
    code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    # 40P01 deadlock, 40001 serialization failure.
    return code in {"40P01", "40001"}


def _with_retries(work: Callable[[], T], attempts: int = 6) -> T:
    """Run a write transaction, retrying the races that concurrent writers cause.

    A second writer inserting the same event hash (IntegrityError) or a PostgreSQL
    deadlock is retried: the next attempt sees the committed rows. SQLite lock timeouts
    become :class:`IngestBusy`, which the API answers with 503 + Retry-After.
    """
    for attempt in range(attempts):
        try:
            return work()
        except IntegrityError:
            if attempt == attempts - 1:
                raise
        except OperationalError as exc:
            if connection.vendor == "sqlite" and _is_lock_error(exc):
                raise IngestBusy(str(exc)) from exc
            if not _is_retryable_pg(exc) or attempt == attempts - 1:
                raise
        time.sleep(0.01 * (2**attempt))
    raise AssertionError("unreachable")


def _store_and_project(facts_list: Sequence[EventFacts], token_name: str) -> list[IngestResult]:
    """Append the raw events and project the new ones, all in one transaction.

    The identical event seen again (same canonical hash, in this call or before) is a
    duplicate: counted on the stored row, not projected twice.
    """
    hashes = [f.event.hash for f in facts_list]
    with transaction.atomic():
        existing = set(
            LineageEvent.objects.filter(hash__in=set(hashes)).values_list("hash", flat=True)
        )
        fresh: dict[str, EventFacts] = {}
        for facts in facts_list:
            if facts.event.hash not in existing and facts.event.hash not in fresh:
                fresh[facts.event.hash] = facts
        insert_rows(LineageEvent, [_raw_row(facts, token_name) for facts in fresh.values()])
        Projector().project(list(fresh.values()))
        duplicate_counts = Counter(hashes)
        for digest in fresh:
            duplicate_counts[digest] -= 1
        for digest, count in duplicate_counts.items():
            if count > 0:
                LineageEvent.objects.filter(hash=digest).update(duplicates=F("duplicates") + count)
        ids = dict(LineageEvent.objects.filter(hash__in=set(hashes)).values_list("hash", "id"))
    seen: set[str] = set()
    results = []
    for facts in facts_list:
        digest = facts.event.hash
        is_new = digest in fresh and digest not in seen
        seen.add(digest)
        results.append(
            IngestResult(
                status="created" if is_new else "duplicate",
                event_id=ids[digest],
                warnings=facts.event.warnings,
            )
        )
    return results


def _raw_row(facts: EventFacts, token_name: str) -> LineageEvent:
    event = facts.event
    return LineageEvent(
        hash=event.hash,
        kind=event.kind,
        event_type=event.event_type,
        event_time=event.event_time,
        producer=event.producer[:2048],
        schema_url=event.schema_url[:2048],
        run_uuid=event.run_id,
        job_namespace=event.job_namespace[:1024],
        job_name=event.job_name[:1024],
        token_name=token_name,
        payload=event.payload,
        warnings=event.warnings,
    )


def lineage_event_ingest(*, payload: Any, token_name: str = "") -> IngestResult:
    """Validate, store and project one OpenLineage event.

    Raises :class:`EventInvalid` (nothing stored) or :class:`IngestBusy`.
    """
    facts = read_event(parse_event(payload))
    return _with_retries(lambda: _store_and_project([facts], token_name))[0]


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
        outcomes = _with_retries(lambda: _store_and_project(valid, token_name))
        for index, outcome in zip(positions, outcomes, strict=True):
            if outcome.status == "created":
                result.accepted += 1
            else:
                result.duplicates += 1
            if outcome.warnings:
                result.warnings.append({"index": index, "warnings": outcome.warnings})
    return result

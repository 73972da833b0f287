"""Keeping the index in step with the database: an outbox, and the one writer that drains it.

Every change to something searchable calls :func:`search_outbox_add` inside the
transaction that makes the change, so the queued row commits or rolls back with it.
:func:`search_outbox_drain` takes the oldest rows, rebuilds those documents (and the ones
that show something of them) from the database, commits them to the index, and deletes
the rows only then: a writer killed halfway leaves its rows for the next one, and a
document applied twice is the same document.

One writer at a time, across processes, holds the backend's writer lock; others skip
their turn. The worker (``manage.py run_huey``) runs :class:`OutboxWriter` in a thread,
which looks at the outbox every ``POLL_SECONDS``; ``manage.py search_check`` repairs what
the outbox could not know about (an index restored from an old backup, a lost disk).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone

from catalog.models import SearchOutbox
from catalog.polling import PollingThread
from catalog.search import backend
from catalog.search.base import SearchBackend, SearchDocument
from catalog.search.documents import all_documents, documents_for, expand
from meshport.prepared import insert_rows, new_row

log = logging.getLogger(__name__)


def search_outbox_add(doc_ids: Iterable[str]) -> int:
    """Queue documents for the writer; call inside the transaction that changed them."""
    now = timezone.now()
    rows = [new_row(SearchOutbox, doc_id=doc_id, created_at=now) for doc_id in sorted(set(doc_ids))]
    insert_rows(SearchOutbox, rows)
    return len(rows)


@dataclass
class DrainReport:
    rows: int = 0
    indexed: int = 0
    removed: int = 0
    batches: int = 0
    skipped: bool = False  # another writer holds the lock

    def __iadd__(self, other: DrainReport) -> DrainReport:
        self.rows += other.rows
        self.indexed += other.indexed
        self.removed += other.removed
        self.batches += other.batches
        self.skipped = self.skipped or other.skipped
        return self


def search_outbox_drain(
    *,
    engine: SearchBackend | None = None,
    batch: int | None = None,
    wait: bool = False,
) -> DrainReport:
    """Apply queued changes until the outbox is empty.

    Without ``wait``, returns at once (``skipped``) when another writer is at work.
    """
    engine = engine or backend()
    size = int(batch or settings.MESHPORT_SEARCH[engine.alias].get("BATCH", 500))
    report = DrainReport()
    with engine.writer_lock(blocking=wait) as got:
        if not got:
            report.skipped = True
            return report
        while (done := _drain_batch(engine, size)).rows:
            report += done
    return report


def _drain_batch(engine: SearchBackend, batch: int) -> DrainReport:
    rows = list(SearchOutbox.objects.order_by("id").values_list("id", "doc_id")[:batch])
    if not rows:
        return DrainReport()
    documents, removed = documents_for(expand(doc_id for _, doc_id in rows))
    documents += _new_tags(engine, documents)
    engine.apply(documents, removed)
    SearchOutbox.objects.filter(id__in=[pk for pk, _ in rows]).delete()
    return DrainReport(rows=len(rows), indexed=len(documents), removed=len(removed), batches=1)


def _new_tags(engine: SearchBackend, documents: list[SearchDocument]) -> list[SearchDocument]:
    """Tag documents for tags and classifications that appear for the first time."""
    words = {
        f"tag:{word}"
        for doc in documents
        if doc.type != "tag"
        for name in ("tag", "classification")
        for word in doc.facets.get(name, [])
    }
    new = words - {doc.id for doc in documents} - engine.existing(words)
    return documents_for(new)[0] if new else []


def search_upgrade(engine: SearchBackend | None = None) -> bool:
    """Rebuild an index written in an older format; ``False`` when it is current.

    Searches keep answering from the old index until the new one is swapped in, and
    changes queued meanwhile wait in the outbox.
    """
    engine = engine or backend()
    if not engine.outdated():
        return False
    with engine.writer_lock():
        if not engine.outdated():  # another process rebuilt it while this one waited
            return False
        log.warning("The search index is in an older format: rebuilding it from the database.")
        count = engine.rebuild(all_documents())
    log.warning("The search index is rebuilt: %d documents.", count)
    return True


def search_status(engine: SearchBackend | None = None) -> dict[str, Any]:
    """How far the index is behind the database: queued rows and the oldest one's age."""
    engine = engine or backend()
    queued = SearchOutbox.objects.aggregate(oldest=Min("created_at"), count=Count("id"))
    oldest: datetime | None = queued["oldest"]
    return {
        "lag": {
            "queued": queued["count"],
            "oldest_queued_at": oldest.isoformat() if oldest else None,
            "seconds": round((timezone.now() - oldest).total_seconds(), 3) if oldest else 0.0,
        },
        "index": engine.stats(),
        "writer": OutboxWriter.state(),
    }


class OutboxWriter(PollingThread):
    """Drains the outbox whenever it has rows; one per process, idle otherwise. An index
    in an older format is rebuilt first (:func:`search_upgrade`)."""

    thread_name = "search-outbox-writer"

    @classmethod
    def default_poll_seconds(cls) -> float:
        return float(settings.MESHPORT_SEARCH["default"].get("POLL_SECONDS", 0.2))

    def setup(self) -> None:
        search_upgrade()

    def step(self) -> bool:
        return bool(search_outbox_drain().rows)

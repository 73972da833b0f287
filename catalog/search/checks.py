"""Does the index agree with the database? The comparison behind ``manage.py search_check``."""

from __future__ import annotations

from dataclasses import dataclass, field

from catalog.search import backend
from catalog.search.base import SearchBackend
from catalog.search.documents import all_documents, documents_for


@dataclass
class IndexDiff:
    database: int = 0
    indexed: int = 0
    missing: set[str] = field(default_factory=set)
    extra: set[str] = field(default_factory=set)
    stale: set[str] = field(default_factory=set)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.stale)


def search_index_compare(*, engine: SearchBackend | None = None) -> IndexDiff:
    engine = engine or backend()
    expected = {doc.id: doc.fingerprint() for doc in all_documents()}
    found = dict(engine.fingerprints())
    return IndexDiff(
        database=len(expected),
        indexed=len(found),
        missing=expected.keys() - found.keys(),
        extra=found.keys() - expected.keys(),
        stale={i for i in expected.keys() & found.keys() if expected[i] != found[i]},
    )


def search_index_repair(diff: IndexDiff, *, engine: SearchBackend | None = None) -> int:
    """Index the missing and stale documents as the database has them now; drop extras."""
    engine = engine or backend()
    documents, gone = documents_for(diff.missing | diff.stale | diff.extra)
    with engine.writer_lock():
        return engine.apply(documents, removed=gone)

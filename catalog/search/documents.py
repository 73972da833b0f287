"""What is searchable: document sources, one per type, that build documents from the database.

A source knows one type (``dataset``) and answers three questions in a fixed number of
queries per batch: which keys exist (:meth:`DocumentSource.keys`), what the documents of
some keys are (:meth:`DocumentSource.build`; a key without a row is a deleted document),
and which other documents show something of these (:meth:`DocumentSource.related`: a
dataset shows its product's domain, so a product change refreshes its datasets).

Catalog registers its own sources below; lineage registers jobs, and adds popularity to
datasets and products through :func:`register_enricher`, so that catalog never imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice

from catalog.search.base import SearchDocument

Enricher = Callable[[dict[str, SearchDocument]], None]

_sources: dict[str, DocumentSource] = {}
_enrichers: dict[str, list[Enricher]] = {}


class DocumentSource:
    type: str = ""

    def keys(self) -> Iterator[str]:
        """Every key that should have a document, in a stable order."""
        raise NotImplementedError

    def count(self) -> int:
        raise NotImplementedError

    def build(self, keys: Sequence[str]) -> list[SearchDocument]:
        """The documents of the keys that exist; a missing key is a document to remove."""
        raise NotImplementedError

    def related(self, keys: Sequence[str]) -> set[str]:
        """Ids of other documents that show something of these and must be rebuilt too."""
        return set()

    def build_all(self, batch: int) -> Iterator[SearchDocument]:
        keys = self.keys()
        while chunk := list(islice(keys, batch)):
            yield from self.build(chunk)


def register_source(source: DocumentSource) -> DocumentSource:
    _sources[source.type] = source
    return source


def register_enricher(doc_type: str, enricher: Enricher) -> Enricher:
    """``enricher(documents by key)`` adds to documents of ``doc_type`` as they are built."""
    found = _enrichers.setdefault(doc_type, [])
    if enricher not in found:
        found.append(enricher)
    return enricher


def split_id(doc_id: str) -> tuple[str, str]:
    doc_type, _, key = doc_id.partition(":")
    return doc_type, key


def _keys_by_type(doc_ids: Iterable[str]) -> dict[str, list[str]]:
    by_type: dict[str, list[str]] = {}
    for doc_id in doc_ids:
        doc_type, key = split_id(doc_id)
        by_type.setdefault(doc_type, []).append(key)
    return by_type


def _enrich(doc_type: str, documents: list[SearchDocument]) -> list[SearchDocument]:
    if documents and _enrichers.get(doc_type):
        by_key = {split_id(doc.id)[1]: doc for doc in documents}
        for enricher in _enrichers[doc_type]:
            enricher(by_key)
    return documents


def expand(doc_ids: Iterable[str]) -> set[str]:
    """The ids and the ids of what shows something of them (one level: enough, as
    ``related`` already names everything that shows a document)."""
    wanted = set(doc_ids)
    for doc_type, keys in _keys_by_type(wanted).items():
        if source := _sources.get(doc_type):
            wanted |= source.related(sorted(keys))
    return wanted


def documents_for(doc_ids: Iterable[str]) -> tuple[list[SearchDocument], list[str]]:
    """The documents to index and the ids to remove, for some document ids."""
    documents: list[SearchDocument] = []
    removed: list[str] = []
    for doc_type, keys in sorted(_keys_by_type(doc_ids).items()):
        source = _sources.get(doc_type)
        built = _enrich(doc_type, source.build(sorted(keys))) if source else []
        documents += built
        present = {doc.id for doc in built}
        removed += [f"{doc_type}:{key}" for key in keys if f"{doc_type}:{key}" not in present]
    return documents, removed


def all_documents(batch: int = 500) -> Iterator[SearchDocument]:
    """Every document, type by type, in batches that each take a fixed number of queries."""
    for doc_type, source in _sources.items():
        pending: list[SearchDocument] = []
        for document in source.build_all(batch):
            pending.append(document)
            if len(pending) == batch:
                yield from _enrich(doc_type, pending)
                pending = []
        yield from _enrich(doc_type, pending)


def total() -> int:
    return sum(source.count() for source in _sources.values())

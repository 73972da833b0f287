"""Searches evaluated over whole posting lists, with numpy.

Every search needs *all* its matches: to count facets, and because the document rank
multiplies the text score, so no match can be skipped as unable to reach the top.
whoosh's matchers walk those matches one document at a time, clause by clause, in
Python: a common word matches ~10k of 100k documents through a dozen clauses, ~100 ms.

Here a term's postings are read a block at a time into arrays, BM25F is computed over the
arrays, and clauses combine as per-document arrays the way whoosh's matchers combine them
(a document matches an OR if it matches any clause and an AND if it matches all, and its
score is the sum of its matching clauses' scores). Facet counts, the top N by score times
rank, and the order by name or date come from the same arrays. Queries are made of terms
(phrases are pair terms, ``catalog.search.analysis``) joined by OR, AND, AND NOT and AND
MAYBE; nothing needs positions.

:class:`Snapshot` is one searcher's view: its documents in whoosh's global docnum order.
Everything that belongs to one segment (ranks, field lengths, facet values, sort keys) is
read once and cached in :class:`~catalog.search.whoosh_backend.SegmentCache`: segments
never change, so a new commit only reads its own, small segment.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt
from whoosh import query as wq
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, _lenfield
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length

Mask = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
SegmentFacets = dict[str, tuple[list[str], Ints, Ints]]

K1 = 1.2  # BM25 term-frequency saturation and
B = 0.75  # length normalisation, as whoosh's BM25F defaults (``field_b`` per field)
_LENGTH_OF_BYTE = np.array([byte_to_length(b) or 0 for b in range(256)], dtype=np.float64)
_NO_PAIRS: tuple[list[str], Ints, Ints] = ([], np.zeros(0, np.int64), np.zeros(0, np.int64))
NAME_SORT_IN_PYTHON = 4096  # fewer matches than this: sort their names directly
TERM_CACHE = 32  # postings kept per snapshot: a relaxed search and as-you-type repeat terms


class Matches:
    """Which documents match (``mask``) and their text scores (0 where they do not)."""

    __slots__ = ("mask", "scores")

    def __init__(self, mask: Mask, scores: Floats) -> None:
        self.mask = mask
        self.scores = scores


class FacetIndex:
    """One facet over a snapshot: the distinct values, and (doc, value) pairs as arrays."""

    __slots__ = ("docs", "value_ids", "values")

    def __init__(self, values: list[str], docs: Ints, value_ids: Ints) -> None:
        self.values = values
        self.docs = docs
        self.value_ids = value_ids

    def count(self, mask: Mask) -> dict[str, int]:
        if not self.values:
            return {}
        counts = np.bincount(self.value_ids[mask[self.docs]], minlength=len(self.values))
        return {self.values[i]: int(counts[i]) for i in np.flatnonzero(counts)}


class Snapshot:
    """Arrays over one searcher's documents, built when first needed."""

    def __init__(
        self, searcher: Searcher, cache: Any, field_b: Mapping[str, float] | None = None
    ) -> None:
        self.searcher = searcher
        self.cache = cache
        self.field_b = field_b or {}
        self.leaves = [
            (leaf, offset)
            for leaf, offset in searcher.reader().leaf_readers()
            if leaf.segment() is not None  # an empty index has a reader without segments
        ]
        self.n = sum(leaf.doc_count_all() for leaf, _ in self.leaves)
        self.live = np.ones(self.n, dtype=bool)
        for leaf, offset in self.leaves:
            if leaf.has_deletions():
                deleted = np.fromiter(leaf.deleted_docs_set, dtype=np.int64)
                self.live[deleted + offset] = False
        self._arrays: dict[str, Floats] = {}  # by their name in the segment cache
        self._averages: dict[str, float] = {}
        self._facets: dict[str, FacetIndex] = {}
        self._terms: dict[tuple[str, str], tuple[Ints, Floats]] = {}

    # --- per-document arrays ------------------------------------------------------------

    def _joined(self, name: str, read: Callable[[Any], Floats]) -> Floats:
        """Per-segment arrays (cached under ``name``) end to end, in docnum order."""
        if name not in self._arrays:
            parts = [
                self.cache.derived(leaf, name, lambda leaf=leaf: read(leaf))
                for leaf, _ in self.leaves
            ]
            self._arrays[name] = np.concatenate(parts) if parts else np.zeros(0)
        return self._arrays[name]

    def numbers(self, column: str, default: float) -> Floats:
        """A numeric column's value for every document (``default`` where it has none)."""
        return self._joined(f"a:{column}", lambda leaf: _numbers(leaf, column, default))

    @property
    def ranks(self) -> Floats:
        return self.numbers("rank", 1.0)

    @property
    def updated(self) -> Floats:
        return self.numbers("updated", 0.0)

    def lengths(self, field: str) -> Floats:
        return self._joined(f"a:len:{field}", lambda leaf: _lengths(leaf, field))

    def average_length(self, field: str) -> float:
        """The mean length of ``field`` over the documents that have it: most fields are
        empty in most documents (jobs have no columns), and averaging over every document
        would make any text look long."""
        if field not in self._averages:
            lengths = self.lengths(field)
            present = lengths[self.live & (lengths > 0)]
            self._averages[field] = float(present.mean()) if len(present) else 1.0
        return self._averages[field]

    def facet(self, name: str, segment_facets: Callable[[Any], SegmentFacets]) -> FacetIndex:
        """One facet over the snapshot, from ``segment_facets(leaf)`` of each segment."""
        if name not in self._facets:
            vocabulary: dict[str, int] = {}
            docs, value_ids = [], []
            for leaf, offset in self.leaves:
                values, local_docs, local_ids = segment_facets(leaf).get(name, _NO_PAIRS)
                remap = [vocabulary.setdefault(v, len(vocabulary)) for v in values]
                docs.append(local_docs + offset)
                value_ids.append(np.array(remap, dtype=np.int64)[local_ids] if remap else local_ids)
            self._facets[name] = FacetIndex(
                list(vocabulary),
                np.concatenate(docs) if docs else np.zeros(0, np.int64),
                np.concatenate(value_ids) if value_ids else np.zeros(0, np.int64),
            )
        return self._facets[name]

    # --- queries ------------------------------------------------------------------------

    def evaluate(self, query: wq.Query, *, scored: bool = True) -> Matches:
        """The documents matching ``query`` (deleted ones excluded), with text scores."""
        found = self._evaluate(query, scored)
        found.mask &= self.live
        return found

    def _evaluate(self, query: wq.Query, scored: bool) -> Matches:
        if isinstance(query, wq.Term):
            return self._dense(*self._term(query, scored))
        if isinstance(query, wq.Or):
            return self._union(query.subqueries, scored, query.boost)
        if isinstance(query, wq.And):
            return self._intersection(query.subqueries, scored, query.boost)
        if isinstance(query, wq.AndMaybe):  # the first's matches, scored by both
            found = self._evaluate(query.a, scored)
            found.scores += np.where(found.mask, self._evaluate(query.b, scored).scores, 0.0)
            return found
        if isinstance(query, wq.AndNot):
            found = self._evaluate(query.a, scored)
            found.mask &= ~self._evaluate(query.b, False).mask
            found.scores[~found.mask] = 0.0
            return found
        if isinstance(query, wq.Every):
            return Matches(np.ones(self.n, dtype=bool), np.zeros(self.n))
        raise TypeError(f"No array evaluation for {type(query).__name__} queries.")

    def _union(self, queries: Sequence[wq.Query], scored: bool, boost: float) -> Matches:
        mask = np.zeros(self.n, dtype=bool)
        scores = np.zeros(self.n)
        for sub in queries:
            if isinstance(sub, wq.Term):  # sparse: a term's documents are distinct
                ids, term_scores = self._term(sub, scored)
                mask[ids] = True
                scores[ids] += term_scores
            else:
                found = self._evaluate(sub, scored)
                mask |= found.mask
                scores += found.scores
        if boost != 1.0:
            scores *= boost
        return Matches(mask, scores)

    def _intersection(self, queries: Sequence[wq.Query], scored: bool, boost: float) -> Matches:
        if not queries:
            return Matches(np.zeros(self.n, dtype=bool), np.zeros(self.n))
        first, *rest = queries
        found = self._evaluate(first, scored)
        for sub in rest:
            if not found.mask.any():  # nothing left to match: the rest need not be read
                break
            other = self._evaluate(sub, scored)
            found.mask &= other.mask
            found.scores += other.scores
        found.scores[~found.mask] = 0.0
        if boost != 1.0:
            found.scores *= boost
        return found

    def _dense(self, ids: Ints, scores: Floats) -> Matches:
        mask = np.zeros(self.n, dtype=bool)
        mask[ids] = True
        dense = np.zeros(self.n)
        dense[ids] = scores
        return Matches(mask, dense)

    def _term(self, query: wq.Term, scored: bool) -> tuple[Ints, Floats]:
        field, text = query.fieldname, query.text
        ids, weights = self.postings(field, text)
        if not scored or not len(ids):
            return ids, np.zeros(len(ids))
        schema_field = self.searcher.schema[field]
        if not schema_field.scorable:
            return ids, weights * query.boost
        idf = self.searcher.idf(field, schema_field.to_bytes(text))
        avgfl = self.average_length(field)
        lengths = self.lengths(field)[ids]
        b = self.field_b.get(field, B)
        scores = idf * (weights * (K1 + 1)) / (weights + K1 * ((1 - b) + b * lengths / avgfl))
        return ids, scores * query.boost

    def postings(self, field: str, text: str) -> tuple[Ints, Floats]:
        """Global docnums and weights of a term, deleted documents included."""
        key = (field, text)
        if key in self._terms:
            return self._terms[key]
        ids: list[Ints] = []
        weights: list[Floats] = []
        if field in self.searcher.schema:
            schema_field = self.searcher.schema[field]
            try:
                btext = schema_field.to_bytes(text)
            except ValueError:
                btext = None
            for leaf, offset in self.leaves:
                if btext is not None and (field, btext) in leaf:
                    local_ids, local_weights = _leaf_postings(
                        leaf, field, btext, schema_field.format
                    )
                    ids.append(local_ids + offset)
                    weights.append(local_weights)
        found = (
            np.concatenate(ids) if ids else np.zeros(0, np.int64),
            np.concatenate(weights) if weights else np.zeros(0),
        )
        if len(self._terms) >= TERM_CACHE:
            self._terms.pop(next(iter(self._terms)))
        self._terms[key] = found
        return found

    # --- ordering -----------------------------------------------------------------------

    def top(self, mask: Mask, key: Floats, count: int) -> list[int]:
        """The ``count`` matching docnums with the highest ``key``; ties by docnum."""
        ids = np.flatnonzero(mask)
        values = key[ids]
        if len(ids) > count > 0:
            threshold = np.partition(values, len(values) - count)[len(values) - count]
            keep = values >= threshold
            ids, values = ids[keep], values[keep]
        order = np.lexsort((ids, -values))[:count]
        return [int(i) for i in ids[order]]

    def first_by_name(
        self, mask: Mask, count: int, names_of: Callable[[Any], list[bytes]]
    ) -> list[int]:
        """The ``count`` matching docnums first by name (``names_of(leaf)``), then docnum."""
        ids = np.flatnonzero(mask)
        found: list[tuple[bytes, int]] = []
        for leaf, offset in self.leaves:
            size = leaf.doc_count_all()
            local = ids[(ids >= offset) & (ids < offset + size)] - offset
            if not len(local):
                continue
            names = names_of(leaf)
            if len(local) > NAME_SORT_IN_PYTHON:
                # The segment's own name order, computed once, picks its first few.
                order = self.cache.derived(
                    leaf, "a:name-order", lambda names=names: _order_of(names)
                )
                positions = order[local]
                if len(local) > count:
                    local = local[np.argpartition(positions, count - 1)[:count]]
            found.extend((names[i], int(i) + offset) for i in local)
        return [docnum for _, docnum in heapq.nsmallest(count, found)]


def _order_of(names: list[bytes]) -> Ints:
    order = np.empty(len(names), dtype=np.int64)
    order[sorted(range(len(names)), key=names.__getitem__)] = np.arange(len(names))
    return order


def _leaf_postings(leaf: Any, field: str, btext: bytes, format_: Any) -> tuple[Ints, Floats]:
    """A term's postings in one segment as arrays, read block by block, no deletions
    applied (the snapshot's ``live`` mask does that for every term at once)."""
    matcher = leaf._terms.matcher(field, btext, format_)
    if isinstance(matcher, W3LeafMatcher):
        id_blocks: list[Any] = []
        weight_blocks: list[Any] = []
        while matcher.is_active():
            matcher._read_ids()
            matcher._read_weights()
            id_blocks.append(matcher._ids)
            weight_blocks.append(matcher._weights)
            matcher._next_block()
        return (
            np.fromiter(chain.from_iterable(id_blocks), dtype=np.int64),
            np.fromiter(chain.from_iterable(weight_blocks), dtype=np.float64),
        )
    ids, weights = [], []  # a term with one posting, kept in the term index
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(matcher.weight())
        matcher.next()
    return np.array(ids, dtype=np.int64), np.array(weights, dtype=np.float64)


def _numbers(leaf: Any, name: str, default: float) -> Floats:
    """A numeric column of a segment as an array (``default`` where it has none)."""
    size = leaf.doc_count_all()
    if not leaf.has_column(name):
        return np.full(size, default, dtype=np.float64)
    return _column_array(leaf.column_reader(name), size, default)


def _lengths(leaf: Any, field: str) -> Floats:
    """Each document's length of ``field`` in a segment, as BM25 reads it."""
    perdoc = leaf._perdoc
    size = leaf.doc_count_all()
    if not perdoc.has_column(_lenfield(field)):
        return np.zeros(size)
    codes = _column_array(perdoc.column_reader(_lenfield(field), LENGTHS_COLUMN), size, 0)
    return _LENGTH_OF_BYTE[codes.astype(np.int64)]


def _column_array(reader: Any, size: int, default: float) -> Floats:
    """A fixed-width numeric column read in one piece rather than a value at a time."""
    typecode = getattr(reader, "_typecode", None)
    if typecode is None:  # not a plain numeric column: read it value by value
        return np.fromiter(
            (default if v is None else v for v in reader), dtype=np.float64, count=size
        )
    count = min(reader._count, size)
    raw = reader._dbfile.get(reader._basepos, count * reader._fixedlen) if count else b""
    values = np.frombuffer(raw, dtype=np.dtype(typecode).newbyteorder(">")).astype(np.float64)
    if count < size:
        values = np.concatenate([values, np.full(size - count, default, dtype=np.float64)])
    return values


def facet_arrays(rows: Iterable[Iterable[tuple[str, str]]]) -> SegmentFacets:
    """A segment's ``(facet, value)`` pairs of each document, by facet, as arrays: the
    distinct values, the document of each pair and the value of each pair."""
    vocabularies: dict[str, dict[str, int]] = {}
    docs: dict[str, list[int]] = {}
    value_ids: dict[str, list[int]] = {}
    for doc, pairs in enumerate(rows):
        for name, value in pairs:
            if name not in vocabularies:
                vocabularies[name], docs[name], value_ids[name] = {}, [], []
            vocabulary = vocabularies[name]
            docs[name].append(doc)
            value_ids[name].append(vocabulary.setdefault(value, len(vocabulary)))
    return {
        name: (
            list(vocabulary),
            np.array(docs[name], dtype=np.int64),
            np.array(value_ids[name], dtype=np.int64),
        )
        for name, vocabulary in vocabularies.items()
    }

"""The default search engine: whoosh, on disk (:class:`WhooshBackend`) or in RAM for tests.

On disk, ``PATH`` holds one or two complete indexes (``index-<time>/``) and a file
``CURRENT`` naming the one in use. A rebuild writes a new index beside the old one and
replaces ``CURRENT`` atomically, so searches never see a half-built index; every search
checks ``CURRENT`` and moves to the new index at once. ``writer.lock`` (an ``flock``, which
the kernel releases if the writer dies) admits one writer across processes: whoosh's own
lock makes a second writer fail, and its ``AsyncWriter`` loses documents across processes.

Searchers are kept per thread and refreshed when the index has a new commit. Facet values
and document ranks are read from whoosh columns once per *segment* and cached: segments
never change, so a commit only costs reading its own new, small segment.
"""

from __future__ import annotations

import bisect
import fcntl
import os
import shutil
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from itertools import chain
from pathlib import Path
from typing import Any

from whoosh import collectors, highlight
from whoosh import query as wq
from whoosh.filedb.filestore import FileStorage, RamStorage
from whoosh.index import FileIndex
from whoosh.searching import Results, Searcher

from catalog.search.analysis import PREFIX_MAX, identifier_forms, identifier_parts
from catalog.search.base import (
    FACETS,
    SORTS,
    TYPES,
    FacetValue,
    Hit,
    QueryError,
    SearchBackend,
    SearchDocument,
    SearchQuery,
    SearchResults,
    Suggestion,
)
from catalog.search.query import ParsedText, parse, validate_filters
from catalog.search.whoosh_query import (
    KV,
    SEP,
    RankedBM25F,
    TextQuery,
    document_fields,
    filter_query,
    schema,
)

SNIPPET_CHARS = 220
MAX_MATCHED_COLUMNS = 8
WRITER_MB = 256


class SegmentCache:
    """Per-segment lists read from whoosh columns: value of a column for each local doc."""

    def __init__(self, size: int = 256) -> None:
        self._lists: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._lock = threading.Lock()
        self.size = size

    def column(self, reader: Any, name: str, convert: Callable[[Any], Any]) -> Any:
        if not reader.has_column(name):  # an empty index
            return []
        return self.derived(reader, name, lambda: [convert(v) for v in reader.column_reader(name)])

    def facet(self, reader: Any, facet: str) -> list[tuple[str, ...]]:
        """One facet's values for each doc of a segment, split out of ``c_facets``."""

        def split() -> list[tuple[str, ...]]:
            rows = self.column(reader, "c_facets", _pairs)
            return [row.get(facet, ()) for row in rows]

        return self.derived(reader, f"facet:{facet}", split)  # type: ignore[no-any-return]

    def totals(self, reader: Any, facet: str) -> Counter[str]:
        """Value counts over every document of a segment, deleted ones included."""
        return self.derived(  # type: ignore[no-any-return]
            reader,
            f"totals:{facet}",
            lambda: Counter(chain.from_iterable(self.facet(reader, facet))),
        )

    def labels(self, reader: Any) -> dict[str, str]:
        def merge() -> dict[str, str]:
            found: dict[str, str] = {}
            for pairs in self.column(reader, "c_labels", _split):
                found.update(pair.split(KV, 1) for pair in pairs if KV in pair)
            return found

        return self.derived(reader, "labels", merge)  # type: ignore[no-any-return]

    def derived(self, reader: Any, name: str, make: Callable[[], Any]) -> Any:
        segment = reader.segment()
        if segment is None:  # an empty index has a reader without segments
            return make()
        key = (segment.segment_id(), name)
        with self._lock:
            if key in self._lists:
                self._lists.move_to_end(key)
                return self._lists[key]
        values = make()
        with self._lock:
            self._lists[key] = values
            while len(self._lists) > self.size:
                self._lists.popitem(last=False)
        return values


def _split(value: bytes) -> tuple[str, ...]:
    return tuple(value.decode().split(SEP)) if value else ()


def _pairs(value: bytes) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for term in _split(value):
        name, _, facet_value = term.partition(KV)
        found.setdefault(name, []).append(facet_value)
    return {name: tuple(values) for name, values in found.items()}


class _Leaves:
    """A searcher's segments with their doc offsets, for per-segment column lookups."""

    def __init__(self, searcher: Searcher, cache: SegmentCache) -> None:
        self.leaves = list(searcher.reader().leaf_readers())
        self.offsets = [offset for _, offset in self.leaves]
        self.cache = cache

    def ranks(self) -> list[float]:
        return list(
            chain.from_iterable(
                self.cache.column(reader, "rank", float) for reader, _ in self.leaves
            )
        )

    def count(self, docnums: Sequence[int], facet: str) -> Counter[str]:
        """How many of ``docnums`` (sorted, global) have each value of ``facet``.

        Where the matches are most of a segment (browsing, broad filters), the segment's
        cached totals minus the non-matching documents are counted instead: the work is
        bounded by the smaller side.
        """
        counter: Counter[str] = Counter()
        for index, (reader, offset) in enumerate(self.leaves):
            end = self.offsets[index + 1] if index + 1 < len(self.leaves) else None
            lo = bisect.bisect_left(docnums, offset)
            hi = len(docnums) if end is None else bisect.bisect_left(docnums, end)
            if lo == hi:
                continue
            values = self.cache.facet(reader, facet)
            local = [d - offset for d in docnums[lo:hi]]
            if len(local) * 2 < len(values):
                counter.update(chain.from_iterable(map(values.__getitem__, local)))
                continue
            rest = set(range(len(values))).difference(local)
            counter.update(self.cache.totals(reader, facet))
            counter.subtract(chain.from_iterable(map(values.__getitem__, rest)))
        return +counter

    def labels(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for reader, _ in self.leaves:
            found.update(self.cache.labels(reader))
        return found


class WhooshBackend(SearchBackend):
    """whoosh on disk under ``OPTIONS["PATH"]`` (default ``<MESHPORT_DATA_DIR>/search``)."""

    name = "whoosh"

    def __init__(self, alias: str, options: Mapping[str, Any]) -> None:
        super().__init__(alias, options)
        self.cache = SegmentCache()
        self._local = threading.local()
        self._thread_lock = threading.Lock()
        self._schema = schema()
        self._index: tuple[str, FileIndex] | None = None
        self._setup()

    # --- storage (overridden in RAM) --------------------------------------------------

    def _setup(self) -> None:
        self.path = Path(self.options["PATH"])
        self.path.mkdir(parents=True, exist_ok=True)
        with self.writer_lock():
            if self._current_name() is None:
                self._switch_to(self._create())

    def _current_name(self) -> str | None:
        try:
            name = (self.path / "CURRENT").read_text().strip()
        except FileNotFoundError:
            return None
        return name if name and (self.path / name).is_dir() else None

    def _create(self) -> str:
        name = f"index-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
        FileStorage(str(self.path / name)).create().create_index(self._schema)
        return name

    def _switch_to(self, name: str) -> None:
        pointer = self.path / f"CURRENT.{os.getpid()}.tmp"
        pointer.write_text(name + "\n")
        os.replace(pointer, self.path / "CURRENT")
        for old in sorted(self.path.glob("index-*"))[:-2]:
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)

    def _open(self) -> tuple[str, FileIndex]:
        name = self._current_name()
        if name is None:
            raise RuntimeError(f"The search index at {self.path} has no CURRENT index.")
        if self._index is None or self._index[0] != name:
            # One index object per directory: it reads its latest commit when asked, so
            # a search needs only CURRENT and the directory listing, not a reopen.
            index = FileStorage(str(self.path / name)).open_index(schema=self._schema)
            self._index = (name, index)
        return self._index

    @contextmanager
    def writer_lock(self, blocking: bool = True) -> Iterator[bool]:
        with self._thread_lock if blocking else _try(self._thread_lock) as got_thread:
            if not got_thread:
                yield False
                return
            with open(self.path / "writer.lock", "a+") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
                except BlockingIOError:
                    yield False
                    return
                try:
                    yield True
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    # --- writing ------------------------------------------------------------------------

    def apply(self, documents: Iterable[SearchDocument], removed: Iterable[str] = ()) -> int:
        _, ix = self._open()
        changed = 0
        writer = ix.writer(limitmb=64)
        try:
            for doc_id in removed:
                changed += writer.delete_by_term("id", doc_id) or 0
            # One document per id: whoosh's update only replaces what was committed before,
            # so the same id twice in one commit would be indexed twice.
            for doc in {doc.id: doc for doc in documents}.values():
                writer.update_document(**document_fields(doc))
                changed += 1
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        return changed

    def clear(self) -> None:
        with self.writer_lock():
            self._switch_to(self._create())

    def rebuild(
        self,
        documents: Iterable[SearchDocument],
        progress: Callable[[int], None] | None = None,
    ) -> int:
        name = self._create()
        ix = FileStorage(str(self.path / name)).open_index(schema=self._schema)
        procs = int(self.options.get("REBUILD_PROCS") or min(4, os.cpu_count() or 1))
        count = _write_all(ix, documents, progress, procs)
        self._switch_to(name)
        return count

    # --- reading ------------------------------------------------------------------------

    def _searcher(self) -> Searcher:
        """This thread's searcher on the latest commit of the current index.

        A new commit gets a new searcher rather than ``Searcher.refresh()``, which reuses
        segment readers by generation and so keeps showing documents deleted since.
        """
        name, ix = self._open()
        generation = ix.latest_generation()
        held = getattr(self._local, "held", None)
        if held is not None and held[:2] == (name, generation):
            return held[2]
        if held is not None:
            held[2].close()
        searcher = ix.searcher(weighting=RankedBM25F())
        # The documents' ranks, in docnum order, for as long as this searcher lives.
        searcher.weighting.ranks = _Leaves(searcher, self.cache).ranks()
        self._local.held = (name, generation, searcher)
        return searcher

    def search(self, query: SearchQuery) -> SearchResults:
        parsed = parse(query.text)
        filters = validate_filters(
            {k: list(v) for k, v in query.filters.items()}
            | {k: [*query.filters.get(k, []), *v] for k, v in parsed.filters.items()}
        )
        searcher = self._searcher()
        return _Search(searcher, self.cache, query, parsed, filters).run()

    def suggest(self, text: str, limit: int = 8) -> list[Suggestion]:
        words = [w for w in parse(text).words if w]
        if not words:
            return []
        searcher = self._searcher()
        *first, last = words
        if len(last) < 2 and first:  # one letter is no prefix yet: suggest for the rest
            *first, last = first
        reader = searcher.reader()
        clauses: list[wq.Query] = [TextQuery(ParsedText(words=[w]), reader).build() for w in first]  # type: ignore[misc]
        clauses.append(
            wq.Or(
                [
                    wq.Term("prefix", last.lower()[:PREFIX_MAX]),
                    wq.Term("exact", " ".join(words).lower(), boost=60.0),
                ]
            )
        )
        results = _top(searcher, wq.And(clauses), limit)
        if results.is_empty() and len(last) >= 5:
            # Nothing starts so: the word may be misspelt; ask as a search would.
            query = TextQuery(ParsedText(words=words), reader).build()
            results = _top(searcher, query, limit) if query is not None else results
        return [
            Suggestion(hit["name"], hit["type"], hit["url"], hit.get("subtitle", ""))
            for hit in results
        ]

    def existing(self, ids: Iterable[str]) -> set[str]:
        searcher = self._searcher()
        return {i for i in ids if searcher.document_number(id=i) is not None}

    def fingerprints(self) -> Iterator[tuple[str, str]]:
        searcher = self._searcher()
        for fields in searcher.all_stored_fields():
            yield fields["id"], fields.get("fp", "")

    def stats(self) -> dict[str, Any]:
        searcher = self._searcher()
        by_type = {
            t: n
            for t in TYPES
            if (n := sum(1 for _ in searcher.docs_for_query(wq.Term("type", t))))
        }
        return {
            "backend": self.name,
            "documents": searcher.doc_count(),
            "by_type": by_type,
            "segments": len(list(searcher.reader().leaf_readers())),
            **self._storage_stats(),
        }

    def _storage_stats(self) -> dict[str, Any]:
        name = self._current_name() or ""
        directory = self.path / name
        files = list(directory.iterdir()) if name else []
        last = max((f.stat().st_mtime for f in files if f.suffix == ".toc"), default=None)
        return {
            "path": str(directory),
            "size_bytes": sum(f.stat().st_size for f in files if f.is_file()),
            "last_commit": datetime.fromtimestamp(last).astimezone().isoformat() if last else None,
        }


class MemoryBackend(WhooshBackend):
    """The same engine in RAM: for tests, and nothing else (it lives and dies with a process)."""

    name = "memory"

    def _setup(self) -> None:
        self._ix = RamStorage().create_index(self._schema)
        self._generation = 0

    def _current_name(self) -> str | None:
        return str(self._generation)

    def _open(self) -> tuple[str, FileIndex]:
        return str(self._generation), self._ix

    @contextmanager
    def writer_lock(self, blocking: bool = True) -> Iterator[bool]:
        with self._thread_lock if blocking else _try(self._thread_lock) as got:
            yield got

    def clear(self) -> None:
        with self.writer_lock():
            self._ix = RamStorage().create_index(self._schema)
            self._generation += 1

    def rebuild(
        self,
        documents: Iterable[SearchDocument],
        progress: Callable[[int], None] | None = None,
    ) -> int:
        ix = RamStorage().create_index(self._schema)
        count = _write_all(ix, documents, progress)
        self._ix, self._generation = ix, self._generation + 1
        return count

    def _storage_stats(self) -> dict[str, Any]:
        return {"path": None}


@contextmanager
def _try(lock: Any) -> Iterator[bool]:
    got = lock.acquire(blocking=False)
    try:
        yield got
    finally:
        if got:
            lock.release()


def _write_all(
    ix: FileIndex,
    documents: Iterable[SearchDocument],
    progress: Callable[[int], None] | None,
    procs: int = 1,
) -> int:
    # Several processes analyse documents in parallel, each into a segment of its own:
    # merging them at the end would cost more than the few segments cost searches.
    if procs > 1:
        writer = ix.writer(limitmb=WRITER_MB // procs, procs=procs, multisegment=True)
    else:
        writer = ix.writer(limitmb=WRITER_MB)
    count = 0
    try:
        for doc in documents:
            writer.add_document(**document_fields(doc))
            count += 1
            if progress and count % 500 == 0:
                progress(500)
    except BaseException:
        writer.cancel()
        raise
    writer.commit()
    if progress and count % 500:
        progress(count % 500)
    return count


class _Recording(collectors.TopCollector):
    """The top N by score, remembering every match for the facet counts.

    ``TopCollector`` would run the query a second time to list all matches; with document
    ranks applied (``RankedBM25F.use_final``) it sees every match anyway. Its matcher
    replacement is off (``replace=0``): it prunes sub-queries whose *text* score cannot
    reach the N-th *ranked* score, which drops documents that the rank would lift.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(limit=limit, replace=0)

    def prepare(self, top_searcher: Searcher, q: wq.Query, context: Any) -> None:
        super().prepare(top_searcher, q, context)
        self.seen: list[int] = []

    def _collect(self, global_docnum: int, score: float) -> float:
        self.seen.append(global_docnum)
        return super()._collect(global_docnum, score)  # type: ignore[no-any-return]

    def all_ids(self) -> list[int]:
        return self.seen


def _top(searcher: Searcher, query: wq.Query, limit: int) -> Results:
    collector = _Recording(limit)
    searcher.search_with_collector(query, collector)
    return collector.results()


class _Search:
    """One search over one searcher: query, collect, count facets, make hits."""

    def __init__(
        self,
        searcher: Searcher,
        cache: SegmentCache,
        query: SearchQuery,
        parsed: ParsedText,
        filters: dict[str, list[str]],
    ) -> None:
        self.searcher = searcher
        self.leaves = _Leaves(searcher, cache)
        self.query = query
        self.parsed = parsed
        self.filters = filters
        self.text = TextQuery(parsed, searcher.reader())
        self.scored = True

    def run(self) -> SearchResults:
        if self.query.sort not in SORTS:
            raise QueryError("sort", "Sort by relevance, name or updated.")
        relaxed = False
        text_q = self.text.build(every_word=True)
        results = self._collect(text_q)
        if not len(results) and text_q is not None and self._several_words():
            relaxed = True
            text_q = self.text.build(every_word=False)
            results = self._collect(text_q)
        return SearchResults(
            query=self.query,
            total=len(results),
            hits=self._hits(results),
            facets=self._facets(text_q, results) if self.query.facets else {},
            relaxed=relaxed,
            corrected={k: v for k, v in self.text.corrected.items() if v},
        )

    def _several_words(self) -> bool:
        return len(self.parsed.words) + len(self.parsed.phrases) + len(self.parsed.fielded) > 1

    def _combined(self, text_q: wq.Query | None, filters: dict[str, list[str]]) -> wq.Query:
        filter_q = filter_query(filters, self.query.types)
        parts = [q for q in (text_q, filter_q) if q is not None]
        if not parts:
            return wq.Every()
        return parts[0] if len(parts) == 1 else wq.And(parts)

    def _collect(self, text_q: wq.Query | None) -> Results:
        query = self._combined(text_q, self.filters)
        end = self.query.page * self.query.page_size
        sort = self.query.sort
        if sort == "relevance" and text_q is None:
            sort = "rank"  # browsing without words: the most important first
        sortedby = {"name": "sort_name", "updated": "updated", "rank": "rank"}.get(sort)
        self.scored = sortedby is None
        if sortedby:
            return self.searcher.search(
                query, limit=end, sortedby=sortedby, reverse=sort in ("updated", "rank")
            )
        return _top(self.searcher, query, end)

    def _hits(self, results: Results) -> list[Hit]:
        start = (self.query.page - 1) * self.query.page_size
        words = self._match_words()
        results.fragmenter = highlight.ContextFragmenter(maxchars=SNIPPET_CHARS, surround=60)
        results.formatter = highlight.HtmlFormatter(tagname="mark", between=" … ")
        hits = []
        for index in range(start, min(len(results), start + self.query.page_size)):
            stored = results[index]
            updated = stored.get("updated_at")
            hits.append(
                Hit(
                    id=stored["id"],
                    type=stored["type"],
                    name=stored["name"],
                    url=stored["url"],
                    subtitle=stored.get("subtitle", ""),
                    score=_score(results, index) if self.scored else 0.0,
                    snippet=self._snippet(results, index, stored.get("description", "")),
                    columns=_matched_columns(stored.get("columns", ""), words),
                    facets=stored.get("facets", {}),
                    labels=stored.get("labels", {}),
                    updated_at=datetime.fromisoformat(updated) if updated else None,
                    consumers=stored.get("consumers", 0),
                )
            )
        return hits

    def _match_words(self) -> set[str]:
        typed = [*self.parsed.words, *(w for _, w in self.parsed.fielded)]
        typed += [w for phrase in self.parsed.phrases for w in phrase.split()]
        words = {w.lower() for w in typed} | {p for w in typed for p in identifier_parts(w)}
        return words | {t for terms in self.text.corrected.values() for t in terms}

    def _snippet(self, results: Results, index: int, description: str) -> str:
        if not description:
            return ""
        if not self.parsed.is_empty:
            marked = results[index].highlights("description", text=description, top=2)
            if marked:
                return marked
        return highlight.htmlescape(_shorten(description), quote=False)

    def _facets(self, text_q: wq.Query | None, results: Results) -> dict[str, list[FacetValue]]:
        docnums = sorted(results.docs())  # collected by the search itself
        labels = self.leaves.labels()
        facets = {}
        for name in FACETS:
            chosen = self.filters.get(name, [])
            if chosen:  # count the alternatives to what is chosen, as if it were not
                others = {k: v for k, v in self.filters.items() if k != name}
                counted = sorted(self.searcher.docs_for_query(self._combined(text_q, others)))
            else:
                counted = docnums
            counts = self.leaves.count(counted, name)
            for value in chosen:
                counts.setdefault(value, 0)
            facets[name] = [
                FacetValue(value, labels.get(value, value), count, value in chosen)
                for value, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            ]
        return facets


def _score(results: Results, index: int) -> float:
    """The text score times the document's rank."""
    score = results.score(index)
    return round(float(score), 4) if score is not None else 0.0


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1].rstrip() + "…"


def _matched_columns(columns: str, words: set[str]) -> list[str]:
    if not columns or not words:
        return []
    matched = []
    for column in columns.split("\n"):
        forms = {form for form, _ in identifier_forms(column)}
        if forms & words or any(f.startswith(w) for f in forms for w in words if len(w) >= 3):
            matched.append(column)
            if len(matched) == MAX_MATCHED_COLUMNS:
                break
    return matched

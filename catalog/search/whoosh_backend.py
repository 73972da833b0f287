"""The default search engine: whoosh, on disk (:class:`WhooshBackend`) or in RAM for tests.

On disk, ``PATH`` holds one or two complete indexes (``index-<time>/``) and a file
``CURRENT`` naming the one in use. A rebuild writes a new index beside the old one and
replaces ``CURRENT`` atomically, so searches never see a half-built index; every search
checks ``CURRENT`` and moves to the new index at once. ``writer.lock`` (an ``flock``, which
the kernel releases if the writer dies) admits one writer across processes: whoosh's own
lock makes a second writer fail, and its ``AsyncWriter`` loses documents across processes.

Searchers are kept per thread and refreshed when the index has a new commit, each with a
:class:`~catalog.search.arrays.Snapshot` that evaluates queries over whole posting lists.
Facet values, document ranks and field lengths are read from whoosh columns once per
*segment* and cached: segments never change, so a commit only costs reading its own new,
small segment. An index directory records the schema version it was written with; one in
an older version keeps answering until the outbox writer has rebuilt it.
"""

from __future__ import annotations

import copy
import fcntl
import os
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from stat import S_ISREG
from typing import Any, TypeVar

import numpy as np
from whoosh import query as wq
from whoosh.filedb.filestore import FileStorage, RamStorage
from whoosh.index import FileIndex
from whoosh.reading import EmptyReader, IndexReader, MultiReader, SegmentReader
from whoosh.scoring import BM25F
from whoosh.searching import Searcher

from catalog.search.analysis import PREFIX_MAX
from catalog.search.arrays import K1, B, Mask, Matches, SegmentFacets, Snapshot, facet_arrays
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
from catalog.search.hits import Snippets, facet_values, match_words, stored_hit
from catalog.search.query import ParsedText, parse, validate_filters
from catalog.search.whoosh_query import (
    EXACT,
    FIELD_B,
    KV,
    SCHEMA_VERSION,
    SCORED_FIELDS,
    SEP,
    TextQuery,
    document_fields,
    facet_filter,
    schema,
    type_filter,
)

T = TypeVar("T")
FORMAT_FILE = "FORMAT"  # in each index directory: the SCHEMA_VERSION it was written with
REBUILD_MB = 2048  # posting pools of a rebuild, all processes together (settings: REBUILD_MB)


class SegmentCache:
    """What is read or derived from one segment's columns, by segment: segments never
    change, so a new commit reads only its own."""

    def __init__(self, size: int = 1024) -> None:
        self._lists: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._lock = threading.Lock()
        self.size = size

    def column(self, reader: Any, name: str, convert: Callable[[Any], Any]) -> Any:
        """A column's value for each document of a segment."""
        return self.derived(reader, name, lambda: [convert(v) for v in _column(reader, name)])

    def facets(self, reader: Any) -> SegmentFacets:
        """Every facet's values of a segment's documents, as arrays (``c_facets``)."""
        return self.derived(  # type: ignore[no-any-return]
            reader,
            "facets",
            lambda: facet_arrays(_named(value) for value in _column(reader, "c_facets")),
        )

    def names(self, reader: Any) -> list[bytes]:
        """Each document's name as sorted (lowercased), for the order by name."""
        return self.column(reader, "sort_name", bytes)  # type: ignore[no-any-return]

    def labels(self, reader: Any) -> dict[str, str]:
        def merge() -> dict[str, str]:
            found: dict[str, str] = {}
            for value in _column(reader, "c_labels"):
                found.update(_named(value))
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


def _column(reader: Any, name: str) -> Iterable[Any]:
    return reader.column_reader(name) if reader.has_column(name) else ()  # none: empty index


def _labels(view: Snapshot) -> dict[str, str]:
    """Facet values' display names (a domain's slug → its name) over every segment."""
    found: dict[str, str] = {}
    for leaf, _ in view.leaves:
        found.update(view.cache.labels(leaf))
    return found


def _named(value: bytes) -> list[tuple[str, str]]:
    """A packed column value's ``name\x1evalue`` terms as (name, value) pairs."""
    terms = value.decode().split(SEP) if value else []
    return [(name, v) for name, _, v in (t.partition(KV) for t in terms if KV in t)]


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
        if self._current_name() is not None:
            return  # the usual case: no writer lock, which a draining worker may hold for long
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
        (self.path / name / FORMAT_FILE).write_text(f"{SCHEMA_VERSION}\n")
        return name

    def outdated(self) -> bool:
        name = self._current_name()
        try:
            written = (self.path / str(name) / FORMAT_FILE).read_text().strip()
        except FileNotFoundError:
            written = ""
        return name is not None and written != str(SCHEMA_VERSION)

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
            # An index in an older format is read with the schema it was written with,
            # until the rebuild that replaces it (``search_upgrade``).
            schema = None if self.outdated() else self._schema
            storage = FileStorage(str(self.path / name))
            index = _latest(lambda: storage.open_index(schema=schema))
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
        megabytes = int(self.options.get("REBUILD_MB") or REBUILD_MB)
        count = _write_all(ix, documents, progress, procs, megabytes)
        self._switch_to(name)
        return count

    # --- reading ------------------------------------------------------------------------

    def _searcher(self) -> Searcher:
        return self._view().searcher

    def _view(self) -> Snapshot:
        """This thread's snapshot of the latest commit of the current index."""
        name, ix = self._open()
        generation = ix.latest_generation()
        held = getattr(self._local, "held", None)
        if held is not None and held[:2] == (name, generation):
            return held[2]  # type: ignore[no-any-return]
        previous = held[2].searcher.reader() if held is not None and held[0] == name else None
        if held is not None and previous is None:
            held[2].searcher.close()
        reader = _open_reader(ix, previous)
        searcher = Searcher(reader, fromindex=ix, weighting=BM25F(B=B, K1=K1))
        view = Snapshot(searcher, self.cache, FIELD_B)
        self._local.held = (name, generation, view)
        return view

    def warm(self) -> None:
        view = self._view()
        view.ranks, view.updated  # noqa: B018 (read for their side effect)
        for field in SCORED_FIELDS:
            view.average_length(field)
        for name in FACETS:
            view.facet(name, self.cache.facets)
        _labels(view)
        for leaf, _ in view.leaves:
            self.cache.names(leaf)

    def search(self, query: SearchQuery) -> SearchResults:
        parsed = parse(query.text)
        filters = validate_filters(
            {k: list(v) for k, v in query.filters.items()}
            | {k: [*query.filters.get(k, []), *v] for k, v in parsed.filters.items()}
        )
        return _Search(self._view(), query, parsed, filters).run()

    def suggest(self, text: str, limit: int = 8) -> list[Suggestion]:
        words = [w for w in parse(text).words if w]
        if not words:
            return []
        view = self._view()
        *first, last = words
        if len(last) < 2 and first:  # one letter is no prefix yet: suggest for the rest
            *first, last = first
        reader = view.searcher.reader()
        clauses: list[wq.Query] = [TextQuery(ParsedText(words=[w]), reader).build() for w in first]  # type: ignore[misc]
        clauses.append(
            wq.Or(
                [
                    wq.Term("prefix", last.lower()[:PREFIX_MAX]),
                    wq.Term("exact", " ".join(words).lower(), boost=EXACT),
                ]
            )
        )
        found = view.evaluate(wq.And(clauses))
        if not found.mask.any() and len(last) >= 5:
            # Nothing starts so: the word may be misspelt; ask as a search would.
            query = TextQuery(ParsedText(words=words), reader).build()
            found = view.evaluate(query) if query is not None else found
        stored = view.searcher.stored_fields
        return [
            Suggestion(fields["name"], fields["type"], fields["url"], fields.get("subtitle", ""))
            for fields in map(stored, view.top(found.mask, found.scores * view.ranks, limit))
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
            "outdated": self.outdated(),
            **self._storage_stats(),
        }

    def _storage_stats(self) -> dict[str, Any]:
        name = self._current_name() or ""
        directory = self.path / name
        files = _file_stats(directory) if name else {}
        last = max((st.st_mtime for f, st in files.items() if f.suffix == ".toc"), default=None)
        return {
            "path": str(directory),
            "size_bytes": sum(st.st_size for st in files.values()),
            "last_commit": datetime.fromtimestamp(last).astimezone().isoformat() if last else None,
        }


def _file_stats(directory: Path) -> dict[Path, os.stat_result]:
    """The files of an index directory with their stat; a writer committing meanwhile
    deletes the segments and table of contents it replaced, which are left out."""
    found = {}
    for file in directory.iterdir():
        try:
            stat = file.stat()
        except FileNotFoundError:
            continue
        if S_ISREG(stat.st_mode):
            found[file] = stat
    return found


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

    def outdated(self) -> bool:
        return False  # written by this process, in its format

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


def _latest(read: Callable[[], T], attempts: int = 10) -> T:
    """``read()`` of the index's latest commit, read again when the writer (another
    process) committed in between: its cleanup removes the TOC of the generation just
    listed, and a merge the segments that TOC named."""
    for attempt in range(attempts):
        try:
            return read()
        except OSError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _open_reader(ix: FileIndex, previous: IndexReader | None) -> IndexReader:
    """A reader of the index's latest commit that keeps what it can of ``previous``.

    Opening a segment copies its term index into memory (~75 ms for one of 50k
    documents), so a commit that adds a small segment and deletes a few documents from
    the large ones (an update) should not reopen those. whoosh's ``reader(reuse=...)``
    matches segments by id alone and so keeps showing documents deleted since: here a
    kept segment reader takes the new commit's deletions (:func:`_with_deletions`).
    """
    old = {
        leaf.segment().segment_id(): leaf
        for leaf, _ in (previous.leaf_readers() if previous is not None else ())
        if leaf.segment() is not None
    }

    def read() -> tuple[Any, list[SegmentReader]]:
        toc = ix._read_toc()
        readers = [
            _with_deletions(old[segment.segment_id()], segment)
            if segment.segment_id() in old
            else SegmentReader(ix.storage, toc.schema, segment, generation=toc.generation)
            for segment in toc.segments
        ]
        return toc, readers

    toc, readers = _latest(read)
    kept = {segment.segment_id() for segment in toc.segments}
    for segment_id, leaf in old.items():
        if segment_id not in kept:
            leaf.close()
    if not readers:
        return EmptyReader(toc.schema)
    return readers[0] if len(readers) == 1 else MultiReader(readers, generation=toc.generation)


def _with_deletions(leaf: SegmentReader, segment: Any) -> SegmentReader:
    """``leaf`` (same segment, same files) as of ``segment``'s deletions."""
    if leaf.segment().deleted_count() == segment.deleted_count():
        return leaf  # deletions only grow: the same count is the same set
    fresh = copy.copy(leaf)
    fresh._segment = segment
    fresh._perdoc = copy.copy(leaf._perdoc)
    fresh._perdoc._segment = segment
    fresh.__dict__.pop("deleted_docs_set", None)  # a cached property of the old deletions
    return fresh


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
    megabytes: int = REBUILD_MB,
) -> int:
    # Several processes analyse documents in parallel, each into a segment of its own:
    # merging them at the end would cost more than the few segments cost searches.
    if procs > 1:
        writer = ix.writer(limitmb=megabytes // procs, procs=procs, multisegment=True)
    else:
        writer = ix.writer(limitmb=megabytes)
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


class _Search:
    """One search over one snapshot: match, count facets, order, make hits."""

    def __init__(
        self,
        view: Snapshot,
        query: SearchQuery,
        parsed: ParsedText,
        filters: dict[str, list[str]],
    ) -> None:
        self.view = view
        self.searcher = view.searcher
        self.query = query
        self.parsed = parsed
        self.filters = filters
        self.text = TextQuery(parsed, self.searcher.reader())

    def run(self) -> SearchResults:
        if self.query.sort not in SORTS:
            raise QueryError("sort", "Sort by relevance, name or updated.")
        # Each filtered facet on its own: a facet's counts leave out its own filter.
        narrowing = {name: facet_filter(name, values) for name, values in self.filters.items()}
        if self.query.types:
            narrowing[""] = type_filter(self.query.types)
        self.narrowing = {
            name: self.view.evaluate(q, scored=False).mask for name, q in narrowing.items()
        }
        relaxed = False
        text_q = self.text.build(every_word=True)
        text = self._text(text_q)
        matched = self._narrowed(text.mask)
        if not matched.any() and text_q is not None and self._several_words():
            relaxed = True
            text_q = self.text.build(every_word=False)
            text = self._text(text_q)
            matched = self._narrowed(text.mask)
        return SearchResults(
            query=self.query,
            total=int(np.count_nonzero(matched)),
            hits=self._hits(text_q, text, matched),
            facets=self._facets(text.mask, matched) if self.query.facets else {},
            relaxed=relaxed,
            corrected={k: v for k, v in self.text.corrected.items() if v},
        )

    def _text(self, text_q: wq.Query | None) -> Matches:
        if text_q is None:
            return Matches(self.view.live.copy(), np.zeros(self.view.n))
        return self.view.evaluate(text_q)

    def _narrowed(self, mask: Mask, leave_out: str | None = None) -> Mask:
        mask = mask.copy()
        for name, narrowing in self.narrowing.items():
            if name != leave_out:
                mask &= narrowing
        return mask

    def _several_words(self) -> bool:
        return len(self.parsed.words) + len(self.parsed.phrases) + len(self.parsed.fielded) > 1

    def _ordered(self, text_q: wq.Query | None, text: Matches, matched: Mask) -> list[int]:
        """The docnums up to the end of the asked page, in the asked order."""
        end = self.query.page * self.query.page_size
        view, sort = self.view, self.query.sort
        if sort == "name":
            return view.first_by_name(matched, end, view.cache.names)
        if sort == "updated":
            return view.top(matched, view.updated, end)
        if text_q is None:  # browsing without words: the most important first
            return view.top(matched, view.ranks, end)
        return view.top(matched, text.scores * view.ranks, end)

    def _hits(self, text_q: wq.Query | None, text: Matches, matched: Mask) -> list[Hit]:
        start = (self.query.page - 1) * self.query.page_size
        page = self._ordered(text_q, text, matched)[start:]
        words = match_words(self.parsed, self.text.corrected)
        snippets = _snippets(self.searcher, text_q) if not self.parsed.is_empty else None
        scored = self.query.sort == "relevance" and text_q is not None
        hits = []
        for docnum in page:
            stored = self.searcher.stored_fields(docnum)
            score = float(text.scores[docnum] * self.view.ranks[docnum]) if scored else 0.0
            hits.append(
                stored_hit(
                    stored,
                    doc_id=stored["id"],
                    doc_type=stored["type"],
                    name=stored["name"],
                    score=score,
                    snippets=snippets,
                    words=words,
                )
            )
        return hits

    def _facets(self, text: Mask, matched: Mask) -> dict[str, list[FacetValue]]:
        labels = _labels(self.view)
        facets = {}
        for name in FACETS:
            chosen = self.filters.get(name, [])
            # Count the alternatives to what is chosen as if it were not chosen.
            counted = self._narrowed(text, leave_out=name) if chosen else matched
            counts = self.view.facet(name, self.view.cache.facets).count(counted)
            facets[name] = facet_values(chosen, counts, labels)
        return facets


def _snippets(searcher: Searcher, text_q: wq.Query | None) -> Snippets:
    """Hits' descriptions with the index terms the query matches marked (prefixes and
    corrections expanded), as whoosh's highlighter marks them."""
    field = searcher.schema["description"]
    terms = (
        text_q.existing_terms(searcher.reader(), fieldname="description", expand=True)
        if text_q
        else ()
    )
    return Snippets(frozenset(field.from_bytes(text) for _, text in terms), field.analyzer)

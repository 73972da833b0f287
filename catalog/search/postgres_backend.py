"""Search in PostgreSQL, for when one machine is not enough: every web host asks the same
database, and the index is as durable as the rest of the catalog.

Chosen with ``MESHPORT_SEARCH_BACKEND=catalog.search.postgres_backend.PostgresBackend``
(``OPTIONS["DATABASE"]``: the Django database alias, ``default`` unless set); filled by
``manage.py search_reindex``. It answers as :class:`~catalog.search.whoosh_backend.WhooshBackend`
does — the same terms, clauses and ranking (:mod:`catalog.search.postgres_query`) — from
three tables (``catalog.models``):

- ``SearchEntry``: a row per document with what a hit shows, its rank multiplier and
  last update; on PostgreSQL also its field-tagged terms (``tsvector``, GIN), its facet
  values (``text[]``, GIN) and each scored field's length;
- ``SearchTerm``: every term with its document frequency (idf), facet values' and
  fields' totals; a trigram (GiST) index over names' and columns' words finds what a
  typo may have meant;
- ``SearchLabel``: facet values' display names.

A search is one SQL statement (matches through the GIN index, BM25F score per match,
the page, the total and every facet's counts), after one that reads the frequencies its
terms need (and two more after a misspelt word); browsing without words or filters reads
the counts from ``SearchTerm``. Every statement starts with :data:`MARK`. Writes go
through a staging table and one transaction; a rebuild fills the stage first, so
searches answer from the old rows until the swap commits. One writer at a time holds a
PostgreSQL advisory lock.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from whoosh import query as wq

from catalog.search.analysis import PREFIX_MAX, prose_analyzer
from catalog.search.arrays import K1
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
from catalog.search.postgres_query import (
    ALL_DOCUMENTS,
    CODES,
    FACET_CODE,
    FIELD_MARK,
    FORMAT_TERM,
    Analyzer,
    Lexicon,
    LexiconTextQuery,
    Row,
    Scoring,
    TermCounts,
    Weights,
    analysed,
    field_lengths,
    leaves,
    planned,
    pruned,
    scoring,
    tf_sql,
    tsquery,
)
from catalog.search.query import ParsedText, parse, validate_filters
from catalog.search.whoosh_query import EXACT, KV, SCHEMA_VERSION

# The layout of the rows: bumped with any change to it, and with the analysis (whoosh's
# SCHEMA_VERSION); an index written in another is rebuilt by the outbox writer.
LAYOUT = 1
FORMAT = SCHEMA_VERSION * 100 + LAYOUT
LOCK_KEY = 0x6D657368_73726368  # "meshsrch": the advisory lock of the one writer
MARK = "/* meshport search */ "  # on every statement, for whoever counts queries
NEIGHBOURS = 100  # terms nearest a misspelt word (by trigrams) checked for edits
# The terms a typo may stand for (the migration's partial trigram index): names' and
# columns' words of letters only (a typo is corrected in a word of letters).
SIMILAR_TERMS = "left(term, 2) IN ('n:', 'c:') AND substr(term, 3) !~ '[^[:alpha:]]'"
STAGE = "meshport_search_stage"
STAGE_BATCH = 500  # rows a COPY into the stage
ANALYSE_BATCH = 250  # documents a rebuild's process analyses at a time
STAGE_TERMS = "meshport_search_stage_terms"
ENTRY, TERM, LABEL = "catalog_searchentry", "catalog_searchterm", "catalog_searchlabel"
STAGE_COLUMNS = (
    "id, type, name, sort_name, document, fingerprint, rank, updated, terms, facet_terms, lengths"
)
# The staged rows (the last of each id) into the index.
FROM_STAGE = (
    f"INSERT INTO {ENTRY} (id, type, name, sort_name, document, fingerprint, rank, updated, "
    "terms, facet_terms, lengths) SELECT DISTINCT ON (id) id, type, name, sort_name, "
    "document::jsonb, fingerprint, rank, updated, terms::tsvector, facet_terms, lengths "
    f"FROM {STAGE} ORDER BY id, seq DESC"
)
STAGE_TYPES = ["text"] * 6 + ["float8", "int8", "text", "text[]", "float4[]"]


class PostgresBackend(SearchBackend):
    """The search index in PostgreSQL tables (``OPTIONS["DATABASE"]``, default ``default``)."""

    name = "postgres"

    def __init__(self, alias: str, options: Mapping[str, Any]) -> None:
        super().__init__(alias, options)
        self.database = str(self.options.get("DATABASE") or "default")
        vendor = connections[self.database].vendor
        if vendor != "postgresql":
            raise ImproperlyConfigured(
                f"The PostgreSQL search backend needs a PostgreSQL database, and database "
                f"“{self.database}” is {vendor}: set DATABASE_URL=postgres://… or choose "
                "another MESHPORT_SEARCH_BACKEND."
            )
        self.analyzer = Analyzer()
        self._thread_lock = threading.Lock()

    @property
    def connection(self) -> BaseDatabaseWrapper:
        return connections[self.database]

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.connection.cursor() as cursor:
            cursor.execute(MARK + sql, params)
            return list(cursor.fetchall())

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.connection.cursor() as cursor:
            cursor.execute(MARK + sql, params)
            return int(cursor.rowcount)

    # --- writing ------------------------------------------------------------------------

    @contextmanager
    def writer_lock(self, blocking: bool = True) -> Iterator[bool]:
        # A thread lock first: threads of one process share nothing of a session lock
        # (each has its own connection), and a refused thread never opens one.
        if not self._thread_lock.acquire(blocking=blocking):
            yield False
            return
        try:
            if blocking:
                self._rows("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
            elif not self._rows("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])[0][0]:
                yield False
                return
            try:
                yield True
            finally:
                self._unlock()
        finally:
            self._thread_lock.release()

    def _unlock(self) -> None:
        try:
            self._rows("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
        except DatabaseError:
            # A session in a failed transaction: its lock goes with the connection,
            # which Django discards as unusable.
            self.connection.close_if_unusable_or_obsolete()

    def apply(self, documents: Iterable[SearchDocument], removed: Iterable[str] = ()) -> int:
        rows = [self.analyzer.row(doc) for doc in {doc.id: doc for doc in documents}.values()]
        removed = sorted(set(removed) - {row.id for row in rows})
        if not rows and not removed:
            return 0
        with transaction.atomic(using=self.database):
            touched: dict[str | None, int] = {}
            for ids in ([row.id for row in rows], removed):
                if ids:
                    touched |= self._count(f"DELETE FROM {ENTRY} WHERE id = ANY(%s)", -1, [ids])
            gone = touched.pop(None, 0) if removed else 0  # the last DELETE's: the removed
            if rows:
                self._stage(rows)
                touched |= self._count(FROM_STAGE, +1)
            self._forget(touched)
            self._label({value: text for row in rows for value, text in row.labels.items()})
            self._mark_format()
        return len(rows) + gone

    def _stage(self, rows: Iterable[Row], progress: Callable[[int], None] | None = None) -> int:
        """Copies rows into this session's (emptied) staging table; returns how many.

        A batch at a time: the rows may come from a generator that reads the database
        (a rebuild's documents) or searches (a test), on this same connection.
        """
        self._execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} (seq bigserial, id text, type text, "
            "name text, sort_name text, document text, fingerprint text, rank float8, "
            "updated int8, terms text, facet_terms text[], lengths float4[])"
        )
        self._execute(f"TRUNCATE {STAGE}")
        count = 0
        batches = iter(rows)
        while batch := list(islice(batches, STAGE_BATCH)):
            with self.connection.cursor() as cursor:
                raw = cursor.cursor  # psycopg's own: COPY is not in the DB-API
                with raw.copy(f"COPY {STAGE} ({STAGE_COLUMNS}) FROM STDIN") as copy:
                    copy.set_types(STAGE_TYPES)
                    for row in batch:
                        copy.write_row(row.copied())
            count += len(batch)
            if progress:
                progress(len(batch))
        return count

    def _count(self, change: str, sign: int, params: Sequence[Any] = ()) -> dict[str | None, int]:
        """Runs ``change`` (a DELETE or INSERT of entries) and adds ``sign`` × each changed
        row's terms, fields and facet values to ``SearchTerm``. Returns the counts of the
        terms it touched, and under ``None`` how many rows changed."""
        codes = "ARRAY[" + ", ".join(f"'{code}'" for code in CODES.values()) + "]"
        sql = f"""
            WITH changed AS ({change} RETURNING terms, facet_terms, lengths),
            counted AS (
                SELECT l AS term, 1 AS docs, 0::bigint AS length
                FROM changed, unnest(tsvector_to_array(changed.terms)) AS l
                UNION ALL
                SELECT '{FACET_CODE}:' || f, 1, 0 FROM changed, unnest(changed.facet_terms) f
                UNION ALL
                SELECT ({codes})[i] || '{FIELD_MARK}', 1, changed.lengths[i]::bigint
                FROM changed, generate_subscripts(changed.lengths, 1) AS i
                WHERE changed.lengths[i] > 0
                UNION ALL
                SELECT '{ALL_DOCUMENTS}', 1, 0 FROM changed
            ),
            summed AS (
                INSERT INTO {TERM} AS t (term, docs, length)
                SELECT term, %s * sum(docs), %s * sum(length) FROM counted GROUP BY term
                ON CONFLICT (term) DO UPDATE
                SET docs = t.docs + excluded.docs, length = t.length + excluded.length
                RETURNING t.term, t.docs
            )
            SELECT term, docs FROM summed
            UNION ALL SELECT NULL, count(*) FROM changed
        """
        rows = self._rows(sql, [*params, sign, sign])
        return {term: docs for term, docs in rows}

    def _forget(self, touched: Mapping[str | None, int]) -> None:
        """Drops the terms no document holds any more."""
        gone = [term for term, docs in touched.items() if term is not None and docs <= 0]
        if gone:
            self._execute(f"DELETE FROM {TERM} WHERE term = ANY(%s) AND docs <= 0", [gone])

    def _label(self, labels: Mapping[str, str]) -> None:
        if labels:
            self._execute(
                f"INSERT INTO {LABEL} (value, label) SELECT * FROM unnest(%s::text[], "
                "%s::text[]) ON CONFLICT (value) DO UPDATE SET label = excluded.label",
                [list(labels), list(labels.values())],
            )

    def _mark_format(self) -> None:
        self._execute(
            f"INSERT INTO {TERM} (term, docs, length) VALUES (%s, %s, 0) "
            "ON CONFLICT (term) DO UPDATE SET docs = excluded.docs",
            [FORMAT_TERM, FORMAT],
        )

    def clear(self) -> None:
        with self.writer_lock(), transaction.atomic(using=self.database):
            for table in (ENTRY, TERM, LABEL):
                self._execute(f"DELETE FROM {table}")  # not TRUNCATE: searches go on meanwhile
            self._mark_format()

    def rebuild(
        self,
        documents: Iterable[SearchDocument],
        progress: Callable[[int], None] | None = None,
    ) -> int:
        labels: dict[str, str] = {}
        counts = TermCounts()

        def rows() -> Iterator[Row]:
            for row in self._analysed(documents):
                labels.update(row.labels)
                counts.add(row)  # here rather than in SQL: ~10 s less at 100k documents
                yield row

        self._stage(rows(), progress)
        self._stage_terms(counts)
        with transaction.atomic(using=self.database):
            # Memory for the GIN index's pending entries, for this transaction only.
            self._execute("SET LOCAL work_mem = '256MB'")
            for table in (ENTRY, TERM, LABEL):
                self._execute(f"DELETE FROM {table}")
            count = self._execute(FROM_STAGE)
            self._execute(f"INSERT INTO {TERM} SELECT * FROM {STAGE_TERMS}")
            self._label(labels)
            self._mark_format()
        self._execute(f"TRUNCATE {STAGE}, {STAGE_TERMS}")
        # Statistics of the new rows at once, for the planner's next choice (a first fill
        # has none), rather than whenever autovacuum comes by.
        self._execute(f"ANALYZE {ENTRY}, {TERM}")
        return count

    def _analysed(self, documents: Iterable[SearchDocument]) -> Iterator[Row]:
        """The rows of ``documents``, in order. Past a first batch, processes of their own
        analyse them (``REBUILD_PROCS``, as many as cores up to 4) while this one reads
        the database; the documents are still read here, on this connection."""
        procs = int(self.options.get("REBUILD_PROCS") or min(4, os.cpu_count() or 1))
        remaining = iter(documents)
        batches = iter(lambda: list(islice(remaining, ANALYSE_BATCH)), [])
        first = next(batches, [])
        if procs < 2 or len(first) < ANALYSE_BATCH:
            yield from map(self.analyzer.row, first)
            for batch in batches:
                yield from map(self.analyzer.row, batch)
            return
        with multiprocessing.get_context("fork").Pool(procs) as pool:
            pending = deque([pool.apply_async(analysed, (first,))])
            for batch in batches:
                pending.append(pool.apply_async(analysed, (batch,)))
                while len(pending) > 2 * procs:  # enough ahead to keep them busy
                    yield from pending.popleft().get()
            while pending:
                yield from pending.popleft().get()

    def _stage_terms(self, counts: TermCounts) -> None:
        self._execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGE_TERMS} (term text, docs int, length int8)"
        )
        self._execute(f"TRUNCATE {STAGE_TERMS}")
        with (
            self.connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {STAGE_TERMS} FROM STDIN") as copy,
        ):
            copy.set_types(["text", "int4", "int8"])
            for row in counts.rows():
                copy.write_row(row)

    def outdated(self) -> bool:
        rows = self._rows(f"SELECT docs FROM {TERM} WHERE term = %s", [FORMAT_TERM])
        return bool(rows) and rows[0][0] != FORMAT

    # --- reading ------------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchResults:
        parsed = parse(query.text)
        filters = validate_filters(
            {k: list(v) for k, v in query.filters.items()}
            | {k: [*query.filters.get(k, []), *v] for k, v in parsed.filters.items()}
        )
        if query.sort not in SORTS:
            raise QueryError("sort", "Sort by relevance, name or updated.")
        return _Search(self, query, parsed, filters).run()

    def lexicon(self) -> Lexicon:
        return Lexicon(self._frequencies, self._neighbours)

    def _frequencies(self, terms: Collection[str]) -> dict[str, int]:
        rows = self._rows(
            f"SELECT term, docs, length FROM {TERM} WHERE term = ANY(%s)", [sorted(terms)]
        )
        return field_lengths({term: (docs, length) for term, docs, length in rows})

    def _neighbours(self, word: str, exact: Collection[str]) -> dict[str, int]:
        """Names' and columns' terms nearest ``word`` by trigrams, and those of ``exact``."""
        rows = self._rows(
            f"(SELECT term, docs FROM {TERM} WHERE {SIMILAR_TERMS} "
            "ORDER BY substr(term, 3) <-> %s LIMIT %s) "
            f"UNION SELECT term, docs FROM {TERM} WHERE term = ANY(%s)",
            [word, NEIGHBOURS, sorted(exact)],
        )
        return dict(rows)

    def suggest(self, text: str, limit: int = 8) -> list[Suggestion]:
        words = [w for w in parse(text).words if w]
        if not words:
            return []
        *first, last = words
        if len(last) < 2 and first:  # one letter is no prefix yet: suggest for the rest
            *first, last = first
        lexicon = self.lexicon()

        def as_typed() -> wq.Query:
            clauses = [LexiconTextQuery(ParsedText(words=[w]), lexicon).build() for w in first]
            whole = wq.Term("exact", " ".join(words).lower(), boost=EXACT)
            clauses.append(wq.Or([wq.Term("prefix", last.lower()[:PREFIX_MAX]), whole]))
            return wq.And(clauses)

        found = self._suggestions(lexicon, planned(lexicon, as_typed), limit)
        if not found and len(last) >= 5:
            # Nothing starts so: the word may be misspelt; ask as a search would.
            def as_search() -> wq.Query | None:
                return LexiconTextQuery(ParsedText(words=words), lexicon).build()

            query = planned(lexicon, as_search)
            found = self._suggestions(lexicon, query, limit) if query is not None else []
        return found

    def _suggestions(
        self, lexicon: Lexicon, query: wq.Query | None, limit: int
    ) -> list[Suggestion]:
        query = pruned(query, lexicon)
        if query is None:
            return []
        matching = Matching(query, lexicon, ())
        rows = self._rows(
            "SELECT e.name, e.type, e.document->>'url', e.document->>'subtitle' "
            f"FROM ({matching.sql()}) s JOIN {ENTRY} e ON e.id = s.id "
            f"ORDER BY s.score * s.rank DESC, {TIE_BREAK} LIMIT %s",
            [*matching.params, list(TYPES), limit],
        )
        return [Suggestion(name, type_, url, subtitle or "") for name, type_, url, subtitle in rows]

    def existing(self, ids: Iterable[str]) -> set[str]:
        wanted = sorted(set(ids))
        if not wanted:
            return set()
        return {
            row[0] for row in self._rows(f"SELECT id FROM {ENTRY} WHERE id = ANY(%s)", [wanted])
        }

    def fingerprints(self) -> Iterator[tuple[str, str]]:
        with self.connection.cursor() as cursor:
            cursor.execute(MARK + f"SELECT id, fingerprint FROM {ENTRY}")
            while batch := cursor.fetchmany(5000):
                yield from batch

    def stats(self) -> dict[str, Any]:
        counted = dict(self._rows(f"SELECT type, count(*) FROM {ENTRY} GROUP BY type"))
        size = self._rows(
            "SELECT " + " + ".join(f"pg_total_relation_size('{t}')" for t in (ENTRY, TERM, LABEL))
        )[0][0]
        return {
            "backend": self.name,
            "documents": sum(counted.values()),
            "by_type": {t: counted[t] for t in TYPES if counted.get(t)},
            "terms": self._rows(
                "SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [TERM]
            )[0][0],
            "outdated": self.outdated(),
            "database": self.database,
            "size_bytes": int(size),
        }


# --- one search -------------------------------------------------------------------------------

# Equal scores: products before datasets before jobs (TYPES), then by name.
TIE_BREAK = "array_position(%s::text[], s.type), s.sort_name, s.id"


class Matching:
    """The SQL of the documents matching a whoosh query (all of them without one), each
    with its text ``score`` (0 without a query), restricted to ``types``."""

    def __init__(self, query: wq.Query | None, lexicon: Lexicon, types: Sequence[str]) -> None:
        self.query = query
        self.types = list(types)
        self.weights = Weights(lexicon)
        self.scoring = scoring(query, self.weights) if query is not None else Scoring()
        self.params: list[Any] = []

    def sql(self) -> str:
        """``id, type, rank, updated, sort_name, facet_terms, score`` of each match;
        fills :attr:`params`."""
        names = "e.id, e.type, e.rank, e.updated, e.sort_name, e.facet_terms"
        if self.query is None:  # no scores: no fences, so that filters use indexes
            self.params = [self.types] if self.types else []
            where = "WHERE e.type = ANY(%s)" if self.types else ""
            return f"SELECT {names}, 0.0::float8 AS score FROM {ENTRY} e {where}"
        score, score_params = self._score()
        inner, inner_params = self._inner()
        self.params = score_params + inner_params
        return f"SELECT {names}, {score} AS score FROM ({inner}) e"

    def _inner(self) -> tuple[str, list[Any]]:
        assert self.query is not None
        """The matching rows, with their terms decompressed, each context's test and each
        scored field's BM25 length factor computed once per row."""
        codes = list(CODES.values())
        kept = "e.id, e.type, e.rank, e.updated, e.sort_name, e.facet_terms"
        columns = [kept, "e.terms"]
        columns += [f"e.terms @@ %s::tsquery AS c{i}" for i in range(len(self.scoring.contexts))]
        params: list[Any] = list(self.scoring.contexts)
        columns += [
            self.weights.length_factor(code, f"e.lengths[{codes.index(code) + 1}]::float8")
            + f" AS l_{code}"
            for code in dict.fromkeys(unit.code for unit in self.scoring.units)
        ]
        where = ["e.terms @@ %s::tsquery"]
        params.append(tsquery(self.query))
        if self.types:
            where.append("e.type = ANY(%s)")
            params.append(self.types)
        # The few terms too large to stay uncompressed (see the migration) would be
        # decompressed by each test: concatenating nothing decompresses them once, into
        # the row that the tests read. The OFFSET 0 fences keep each step's columns
        # computed once per row.
        rows = (
            f"SELECT {kept}, e.lengths, CASE WHEN pg_column_compression(e.terms) IS NULL "
            "THEN e.terms ELSE e.terms || ''::tsvector END AS terms "
            f"FROM {ENTRY} e WHERE {' AND '.join(where)} OFFSET 0"
        )
        return f"SELECT {', '.join(columns)} FROM ({rows}) e OFFSET 0", params

    def _score(self) -> tuple[str, list[Any]]:
        """BM25F: for each unit a row matches, its weight × tf × (K1 + 1) / (tf + the
        field's length factor)."""
        if not self.scoring.units:
            return "0.0::float8", []
        parts, params = [], []
        for unit in self.scoring.units:
            tests = []
            for required in unit.requires:
                if required in self.scoring.contexts:
                    tests.append(f"e.c{self.scoring.contexts.index(required)}")
                else:
                    tests.append("e.terms @@ %s::tsquery")
                    params.append(required)
            # tf × (K1 + 1) / (tf + l), written with tf once: its tests run once.
            tf, tf_params = tf_sql(unit.term, "e.terms")
            params += tf_params
            length = f"e.l_{unit.code}"
            value = f"{unit.weight * (K1 + 1)!r} * (1 - {length} / ({tf} + {length}))"
            parts.append(
                f"CASE WHEN {' AND '.join(tests)} THEN {value} ELSE 0 END" if tests else value
            )
        return " + ".join(parts), params


@dataclass
class Answer:
    total: int = 0
    hits: list[tuple[str, float, dict[str, Any], str, str]] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


class _Search:
    """One search: build the query over the lexicon, ask, relax, make hits."""

    def __init__(
        self,
        engine: PostgresBackend,
        query: SearchQuery,
        parsed: ParsedText,
        filters: dict[str, list[str]],
    ) -> None:
        self.engine = engine
        self.query = query
        self.parsed = parsed
        self.filters = filters
        self.lexicon = engine.lexicon()
        self.text = LexiconTextQuery(parsed, self.lexicon)

    def run(self) -> SearchResults:
        relaxed = False
        text_q = self._build(every_word=True)
        answer = self._ask(text_q)
        if not answer.total and text_q is not None and self._several_words():
            relaxed = True
            text_q = self._build(every_word=False)
            answer = self._ask(text_q)
        return SearchResults(
            query=self.query,
            total=answer.total,
            hits=self._hits(text_q, answer),
            facets=self._facets(answer) if self.query.facets else {},
            relaxed=relaxed,
            corrected={k: v for k, v in self.text.corrected.items() if v},
        )

    def _build(self, *, every_word: bool) -> wq.Query | None:
        if self.parsed.is_empty:
            return None
        return planned(self.lexicon, lambda: self.text.build(every_word=every_word))

    def _several_words(self) -> bool:
        return len(self.parsed.words) + len(self.parsed.phrases) + len(self.parsed.fielded) > 1

    def _ask(self, text_q: wq.Query | None) -> Answer:
        if text_q is None and not self.filters:
            return self._ask_catalog()
        query = pruned(text_q, self.lexicon)
        if text_q is not None and query is None:
            return Answer()  # a term no document holds is required: nothing to ask
        matching = Matching(query, self.lexicon, self.query.types)
        matches = matching.sql()
        params = list(matching.params)
        narrowed, narrowed_params = self._narrowing()
        order, order_params = self._order(query)
        start = (self.query.page - 1) * self.query.page_size
        # Text matches are scored once, kept, and narrowed; without text, filters go down
        # to the table's indexes.
        found = "MATERIALIZED" if query is not None else "NOT MATERIALIZED"
        matched = "MATERIALIZED" if self.filters else "NOT MATERIALIZED"
        sql = (
            f"WITH found AS {found} ({matches}), "
            f"matched AS {matched} (SELECT * FROM found s WHERE {narrowed}), "
            f"page AS (SELECT * FROM matched s ORDER BY {order} LIMIT %s OFFSET %s) "
            "SELECT 0, s.id, s.score * s.rank, e.document, e.name, s.type, "
            f"row_number() OVER (ORDER BY {order}) "
            f"FROM page s JOIN {ENTRY} e ON e.id = s.id "
            "UNION ALL SELECT 1, NULL, count(*), NULL, NULL, NULL, NULL FROM matched"
        )
        params += narrowed_params + order_params + [self.query.page_size, start] + order_params
        if self.query.facets:
            facets, facet_params = self._facet_sql(catalog=query is None)
            sql += f" UNION ALL {facets}"
            params += facet_params
        return self._read(self.engine._rows(sql, params))

    def _ask_catalog(self) -> Answer:
        """Browsing without words or filters: the page through the index of its order, the
        total and counts from ``SearchTerm`` (less those of the types left out)."""
        types, types_params = ("s.type = ANY(%s)", [list(self.query.types)])
        if not self.query.types:
            types, types_params = "TRUE", []
        order, order_params = self._order(None)
        start = (self.query.page - 1) * self.query.page_size
        total, total_params = self._catalog_total()
        sql = (
            "SELECT 0, s.id, 0.0, s.document, s.name, s.type, "
            f"row_number() OVER (ORDER BY {order}) FROM (SELECT * FROM {ENTRY} s "
            f"WHERE {types} ORDER BY {order} LIMIT %s OFFSET %s) s "
            f"UNION ALL SELECT 1, NULL, {total}, NULL, NULL, NULL, NULL"
        )
        params = [*order_params, *types_params, *order_params, self.query.page_size, start]
        params += total_params
        if self.query.facets:
            counts, counts_params = self._catalog_counts(None)
            sql += f" UNION ALL {self._labelled(counts)}"
            params += counts_params
        return self._read(self.engine._rows(sql, params))

    def _left_out(self) -> list[str]:
        """The types ``query.types`` leaves out (none when it names none)."""
        return [t for t in TYPES if t not in self.query.types] if self.query.types else []

    def _catalog_total(self) -> tuple[str, list[Any]]:
        total = f"coalesce((SELECT docs FROM {TERM} WHERE term = %s), 0)"
        if not self._left_out():
            return total, [ALL_DOCUMENTS]
        return f"{total} - (SELECT count(*) FROM {ENTRY} WHERE type = ANY(%s))", [
            ALL_DOCUMENTS,
            self._left_out(),
        ]

    def _catalog_counts(self, facet: str | None) -> tuple[str, list[Any]]:
        """``f, n`` rows: every value of ``facet`` (of all facets for ``None``) with the
        documents that have it, from ``SearchTerm`` less the types left out."""
        start = f"{FACET_CODE}:{facet}{KV}" if facet else f"{FACET_CODE}:"
        end = start[:-1] + chr(ord(start[-1]) + 1)
        if not self._left_out():
            sql = f"SELECT substr(t.term, 3) AS f, t.docs AS n FROM {TERM} t "
            return sql + "WHERE t.term >= %s AND t.term < %s", [start, end]
        sql = (
            f"SELECT substr(t.term, 3) AS f, t.docs - coalesce(o.n, 0) AS n FROM {TERM} t "
            f"LEFT JOIN (SELECT '{FACET_CODE}:' || f AS term, count(*) AS n FROM {ENTRY} o, "
            "unnest(o.facet_terms) f WHERE o.type = ANY(%s) GROUP BY 1) o USING (term) "
            "WHERE t.term >= %s AND t.term < %s AND t.docs > coalesce(o.n, 0)"
        )
        return sql, [self._left_out(), start, end]

    def _narrowing(self, leave_out: str | None = None) -> tuple[str, list[Any]]:
        """SQL keeping the rows (``s``) with the chosen facet values, but ``leave_out``'s."""
        tests, params = ["TRUE"], []
        for name, values in self.filters.items():
            if name != leave_out:
                tests.append("s.facet_terms && %s::text[]")
                params.append([f"{name}{KV}{value}" for value in values])
        return " AND ".join(tests), params

    def _order(self, query: wq.Query | None) -> tuple[str, list[Any]]:
        sort = self.query.sort
        if sort == "name":
            return "s.sort_name, s.id", []
        if sort == "updated":
            return f"s.updated DESC, {TIE_BREAK}", [list(TYPES)]
        if query is None:  # browsing without words: the most important first
            return f"s.rank DESC, {TIE_BREAK}", [list(TYPES)]
        return f"s.score * s.rank DESC, {TIE_BREAK}", [list(TYPES)]

    def _facet_sql(self, *, catalog: bool) -> tuple[str, list[Any]]:
        """Every facet's counts over the matches; a chosen facet's over the matches as
        if it were not chosen (its alternatives), as ``2, value, count, label`` rows.
        Browsing (``catalog``) by one facet, its alternatives are the catalog's counts."""
        chosen = [name for name in FACETS if self.filters.get(name)]
        unchosen = "WHERE left(f, strpos(f, chr(30)) - 1) <> ALL(%s) " if chosen else ""
        parts = [f"SELECT f, count(*) AS n FROM matched s, unnest(s.facet_terms) f {unchosen}"]
        parts[0] += "GROUP BY f"
        params: list[Any] = [chosen] if chosen else []
        for name in chosen:
            narrowed, narrowed_params = self._narrowing(leave_out=name)
            if catalog and not narrowed_params:
                counts, counts_params = self._catalog_counts(name)
                parts.append(counts)
                params += counts_params
                continue
            parts.append(
                f"SELECT f, count(*) FROM found s, unnest(s.facet_terms) f "
                f"WHERE {narrowed} AND starts_with(f, %s) GROUP BY f"
            )
            params += [*narrowed_params, f"{name}{KV}"]
        return self._labelled(" UNION ALL ".join(parts)), params

    @staticmethod
    def _labelled(counts: str) -> str:
        """``counts`` (``f, n`` rows) as result rows with each value's label."""
        return (
            f"SELECT 2, c.f, c.n, NULL, l.label, NULL, NULL FROM ({counts}) c "
            f"LEFT JOIN {LABEL} l ON l.value = substr(c.f, strpos(c.f, chr(30)) + 1)"
        )

    def _read(self, rows: list[tuple[Any, ...]]) -> Answer:
        answer = Answer()
        hits = []
        for kind, key, number, document, name, type_, position in rows:
            if kind == 0:
                # Django reads jsonb as text, for JSONField to decode.
                stored = json.loads(document) if isinstance(document, str) else document
                hits.append((position, (key, float(number or 0.0), stored, name, type_)))
            elif kind == 1:
                answer.total = int(number)
            else:
                facet, _, value = key.partition(KV)
                answer.counts.setdefault(facet, {})[value] = int(number)
                if name is not None:
                    answer.labels[value] = name
        answer.hits = [hit for _, hit in sorted(hits)]
        return answer

    def _hits(self, text_q: wq.Query | None, answer: Answer) -> list[Hit]:
        words = match_words(self.parsed, self.text.corrected)
        snippets = _snippets(text_q) if not self.parsed.is_empty else None
        scored = self.query.sort == "relevance" and text_q is not None
        return [
            stored_hit(
                stored,
                doc_id=doc_id,
                doc_type=type_,
                name=name,
                score=relevance if scored else 0.0,
                snippets=snippets,
                words=words,
            )
            for doc_id, relevance, stored, name, type_ in answer.hits
        ]

    def _facets(self, answer: Answer) -> dict[str, list[FacetValue]]:
        return {
            name: facet_values(
                self.filters.get(name, []), answer.counts.get(name, {}), answer.labels
            )
            for name in FACETS
        }


def _snippets(text_q: wq.Query | None) -> Snippets:
    """Hits' descriptions with the query's description terms marked, as whoosh marks
    them; the terms come from the query itself rather than an index reader."""
    words = frozenset(t.text for t in leaves(text_q) if t.fieldname == "description")
    return Snippets(words, _PROSE)


_PROSE = prose_analyzer()

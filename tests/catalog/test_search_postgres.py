"""What only the PostgreSQL search backend has: its refusal of other databases, its term
counts, its format, its lock across sessions, and scores equal to whoosh's.

The shared contract is ``test_search_backends.py``; these need the tests on PostgreSQL
(``DATABASE_URL``), but the first.
"""

from __future__ import annotations

import random

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from catalog.search import SearchDocument, SearchQuery
from catalog.search.postgres_backend import FORMAT, LOCK_KEY, PostgresBackend
from catalog.search.postgres_query import FORMAT_TERM, MAX_LEXEME_BYTES
from catalog.search.whoosh_backend import MemoryBackend
from tests.catalog.search_engines import skip_unless_postgres
from tests.catalog.test_search_backends import MESH, doc, ids


def test_it_refuses_to_start_on_another_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "vendor", "sqlite")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL=postgres://"):
        PostgresBackend("default", {})


@pytest.fixture
def engine(db: None) -> PostgresBackend:
    skip_unless_postgres()
    return PostgresBackend("test", {})


# Every term, facet value and field total, counted again from the documents themselves.
RECOUNT = """
    WITH counted AS (
        SELECT l AS term, 1 AS docs, 0::bigint AS length
        FROM catalog_searchentry e, unnest(tsvector_to_array(e.terms)) l
        UNION ALL
        SELECT 'f:' || f, 1, 0 FROM catalog_searchentry e, unnest(e.facet_terms) f
        UNION ALL
        SELECT (ARRAY['e', 'n', 'c', 't', 'd', 'x', 's', 'p'])[i] || '#', 1, e.lengths[i]::bigint
        FROM catalog_searchentry e, generate_subscripts(e.lengths, 1) i WHERE e.lengths[i] > 0
        UNION ALL
        SELECT '*:', 1, 0 FROM catalog_searchentry
    )
    SELECT term, sum(docs), sum(length) FROM counted GROUP BY term
"""


def stored_counts(engine: PostgresBackend) -> dict[str, tuple[int, int]]:
    rows = engine._rows(
        "SELECT term, docs, length FROM catalog_searchterm WHERE term <> %s", [FORMAT_TERM]
    )
    return {term: (docs, length) for term, docs, length in rows}


def recounted(engine: PostgresBackend) -> dict[str, tuple[int, int]]:
    return {term: (int(docs), int(length)) for term, docs, length in engine._rows(RECOUNT)}


def test_term_counts_follow_every_change(engine: PostgresBackend) -> None:
    rng = random.Random(5)
    words = ["ledger", "orders", "customer_id", "SalesRegion", "churn", "refunds"]
    engine.apply(MESH)
    for commit in range(12):
        changed = [
            doc(
                f"dataset:{rng.randrange(20)}",
                f"{rng.choice(words)}_{commit}",
                columns=rng.sample(words, 3),
                description=" ".join(rng.sample(words, 4)),
                facets={"domain": [rng.choice(["sales", "finance"])]},
            )
            for _ in range(5)
        ]
        engine.apply(changed, removed=[f"dataset:{rng.randrange(20)}" for _ in range(2)])
        assert stored_counts(engine) == recounted(engine)
    engine.rebuild(MESH)
    assert stored_counts(engine) == recounted(engine)


def test_a_rebuild_in_several_processes_indexes_what_one_does(engine: PostgresBackend) -> None:
    documents = [
        doc(f"dataset:{i}", f"ledger_{i}", columns=[f"col_{i % 7}"], description=f"Book {i % 13}.")
        for i in range(600)  # past the first batch: the pool takes over
    ]
    alone = PostgresBackend("test", {"REBUILD_PROCS": 1})
    assert alone.rebuild(documents) == 600
    expected = (stored_counts(alone), dict(alone.fingerprints()), ids(alone, "col_3 book"))
    assert PostgresBackend("test", {"REBUILD_PROCS": 2}).rebuild(documents) == 600
    found = (stored_counts(engine), dict(engine.fingerprints()), ids(engine, "col_3 book"))
    assert found == expected
    assert stored_counts(engine) == recounted(engine)


def test_terms_no_document_holds_are_forgotten(engine: PostgresBackend) -> None:
    engine.apply([doc("dataset:1", "quokka_sightings")])
    engine.remove(["dataset:1"])
    assert engine._rows("SELECT term FROM catalog_searchterm WHERE term LIKE '%%quokka%%'") == []


def test_an_index_in_another_format_is_outdated_until_rebuilt(engine: PostgresBackend) -> None:
    engine.apply(MESH)
    assert not engine.outdated()
    engine._execute(
        "UPDATE catalog_searchterm SET docs = %s WHERE term = %s", [FORMAT - 1, FORMAT_TERM]
    )
    assert engine.outdated() and engine.stats()["outdated"]
    assert ids(engine, "churn") == ["product:1"]  # it keeps answering meanwhile
    engine.rebuild(MESH)
    assert not engine.outdated()


def test_the_writer_lock_holds_across_sessions(engine: PostgresBackend) -> None:
    params = connection.get_connection_params()
    with engine.writer_lock() as got, psycopg.connect(**params, autocommit=True) as other:
        assert got
        taken = other.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]).fetchone()
        assert taken == (False,)
    with psycopg.connect(**params, autocommit=True) as other:
        assert other.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]).fetchone() == (True,)


@pytest.mark.parametrize(
    "name",
    ["o'reilly.orders", "back\\slash", "a & b | !c", "x:* (y)", "ünïcödé_tåble", "a  b"],
)
def test_any_name_is_indexed_and_found_whole(engine: PostgresBackend, name: str) -> None:
    engine.apply([doc("dataset:1", name), doc("dataset:2", "other")])
    assert ids(engine, name)[:1] == ["dataset:1"]


def test_huge_documents_are_indexed_within_postgresql_limits(engine: PostgresBackend) -> None:
    columns = [f"column_{i}_of_a_rather_wide_table" for i in range(2000)]
    token = "x" * (MAX_LEXEME_BYTES + 10)  # one token longer than a lexeme may be
    engine.apply([doc("dataset:1", "wide_table", columns=columns, text=f"{token} " * 3)])
    assert ids(engine, "column_1999_of_a_rather_wide_table") == ["dataset:1"]


QUERIES = [
    "customer_id",
    "SalesRegion",
    "cust",
    "custmer",
    "orders",
    "orders churn",
    "customer -churn",
    '"churn analysis"',
    "type:dataset customer",
    "sql:join",
    "",
]


@pytest.mark.parametrize("text", QUERIES)
def test_scores_are_whooshs(engine: PostgresBackend, text: str) -> None:
    whoosh = MemoryBackend("test", {})
    for backend in (engine, whoosh):
        backend.apply(MESH)
    for sort in ("relevance", "name", "updated"):
        query = SearchQuery(text=text, sort=sort)
        ours, theirs = engine.search(query), whoosh.search(query)
        assert [(h.id, h.score, h.snippet, h.columns) for h in ours.hits] == [
            (h.id, pytest.approx(h.score, abs=1e-3), h.snippet, h.columns) for h in theirs.hits
        ]
        assert (ours.total, ours.facets, ours.relaxed, ours.corrected) == (
            theirs.total,
            theirs.facets,
            theirs.relaxed,
            theirs.corrected,
        )


@pytest.mark.parametrize(
    "query",
    [
        SearchQuery(filters={"domain": ["sales"]}),
        SearchQuery(filters={"domain": ["sales"], "status": ["active", "deprecated"]}),
        SearchQuery(types=["dataset", "job"], page_size=1),
        SearchQuery(types=["product"], filters={"level": ["gold"]}),
        SearchQuery(text="customer_id", filters={"type": ["product"]}),
        SearchQuery(text="orders", types=["dataset"], sort="name", page=2, page_size=1),
    ],
    ids=str,
)
def test_filters_and_counts_are_whooshs(engine: PostgresBackend, query: SearchQuery) -> None:
    whoosh = MemoryBackend("test", {})
    for backend in (engine, whoosh):
        backend.apply(MESH)
    ours, theirs = engine.search(query), whoosh.search(query)
    assert [h.id for h in ours.hits] == [h.id for h in theirs.hits]
    assert (ours.total, ours.facets) == (theirs.total, theirs.facets)


def test_suggestions_are_whooshs(engine: PostgresBackend) -> None:
    whoosh = MemoryBackend("test", {})
    for backend in (engine, whoosh):
        backend.apply(MESH)
    for text in ("cu", "cust", "etl load", "custmer", "orders_v", "shop.public.customers"):
        assert engine.suggest(text) == whoosh.suggest(text), text


def test_a_search_is_two_queries_a_typo_two_more_browsing_one(
    engine: PostgresBackend, django_assert_num_queries: object
) -> None:
    engine.apply(MESH)
    with django_assert_num_queries(2):  # type: ignore[operator]
        engine.search(SearchQuery(text="customer"))
    with django_assert_num_queries(4):  # type: ignore[operator]
        engine.search(SearchQuery(text="custmer"))
    for browsing in (SearchQuery(), SearchQuery(filters={"domain": ["sales"]})):
        with django_assert_num_queries(1):  # type: ignore[operator]
            engine.search(browsing)


def test_a_document_may_carry_a_facet_value_twice(engine: PostgresBackend) -> None:
    engine.apply([SearchDocument("dataset:1", "dataset", "x", "/", facets={"tag": ["a", "a"]})])
    facets = engine.search(SearchQuery()).facets
    assert [(v.value, v.count) for v in facets["tag"]] == [("a", 1)]

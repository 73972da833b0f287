"""The search backend contract, run against every engine (whoosh on disk, whoosh in RAM,
PostgreSQL full-text when the tests run on PostgreSQL)."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from catalog.search import QueryError, SearchBackend, SearchDocument, SearchQuery, arrays
from catalog.search.postgres_backend import PostgresBackend
from catalog.search.whoosh_backend import MemoryBackend, WhooshBackend
from tests.catalog.search_engines import skip_unless_postgres

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def doc(doc_id: str, name: str, **fields: object) -> SearchDocument:
    doc_type = doc_id.split(":")[0]
    return SearchDocument(id=doc_id, type=doc_type, name=name, url=f"/{doc_id}", **fields)  # type: ignore[arg-type]


MESH = [
    doc(
        "dataset:1",
        "shop.public.customers",
        subtitle="postgres://db:5432",
        exact=["postgres://db:5432/shop.public.customers"],
        columns=["customer_id", "SalesRegion", "email"],
        description="Every customer of the shop, with their sales region.",
        facets={
            "domain": ["sales"],
            "owner": ["sales-data"],
            "tag": ["pii"],
            "classification": ["PII"],
            "status": ["active"],
        },
        labels={"sales": "Sales"},
        consumers=12,
        updated_at=T0,
    ),
    doc(
        "product:1",
        "Customer 360",
        exact=["customer-360"],
        columns=["customer_id", "lifetime_value"],
        description="Everything about a customer, for churn analysis.",
        facets={"domain": ["customer"], "status": ["active"], "level": ["gold"]},
        labels={"customer": "Customer"},
        updated_at=T0 + timedelta(days=2),
    ),
    doc(
        "job:1",
        "etl.load_customers",
        sql="SELECT customer_id, region FROM shop.public.customers JOIN orders USING (id)",
        facets={"domain": ["sales"], "owner": ["sales-data"]},
        updated_at=T0 + timedelta(days=1),
    ),
    doc(
        "dataset:2",
        "orders",
        columns=["order_id", "customer_id"],
        description="Orders placed in the shop.",
        facets={"domain": ["sales"], "status": ["deprecated"]},
        updated_at=T0 + timedelta(days=3),
    ),
    doc(
        "dataset:3",
        "orders_v2",
        columns=["order_id", "customer_id"],
        description="Orders placed in the shop.",
        facets={"domain": ["sales"], "status": ["active"]},
        updated_at=T0 + timedelta(days=4),
    ),
]


# PostgreSQL's index is tables of the test database, emptied by each test's rollback.
@pytest.fixture(params=["whoosh", "memory", pytest.param("postgres", marks=pytest.mark.django_db)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchBackend]:
    if request.param == "whoosh":
        yield WhooshBackend("test", {"PATH": str(tmp_path / "search"), "REBUILD_PROCS": 1})
    elif request.param == "postgres":
        skip_unless_postgres()
        yield PostgresBackend("test", {})
    else:
        yield MemoryBackend("test", {})


@pytest.fixture
def mesh(engine: SearchBackend) -> SearchBackend:
    engine.apply(MESH)
    return engine


def ids(engine: SearchBackend, text: str, **query: object) -> list[str]:
    return [hit.id for hit in engine.search(SearchQuery(text=text, **query)).hits]  # type: ignore[arg-type]


class TestWriting:
    def test_it_finds_what_it_indexed(self, mesh: SearchBackend) -> None:
        assert ids(mesh, "churn") == ["product:1"]

    def test_a_document_with_the_same_id_replaces_the_old_one(self, mesh: SearchBackend) -> None:
        mesh.index([doc("product:1", "Customer 360", description="Now about retention.")])
        assert ids(mesh, "churn") == []
        assert ids(mesh, "retention") == ["product:1"]
        assert mesh.stats()["documents"] == len(MESH)

    def test_every_commit_shows_exactly_what_is_indexed(self, engine: SearchBackend) -> None:
        # Updates and removals hit documents of earlier segments, and whoosh merges
        # segments as they pile up: the searcher of each commit keeps the readers of
        # unchanged segments and must still see every deletion.
        rng = random.Random(3)
        alive: dict[str, str] = {}
        for commit in range(14):
            removed = [f"dataset:{rng.randrange(40)}" for _ in range(3)]
            changed = [
                doc(f"dataset:{rng.randrange(40)}", f"ledger_{commit}_{i}") for i in range(6)
            ]
            engine.apply(changed, removed=removed)
            for doc_id in removed:
                alive.pop(doc_id, None)
            alive.update({d.id: d.name for d in changed})
            results = engine.search(SearchQuery(text="ledger", page_size=100))
            assert results.total == len(alive) == engine.stats()["documents"]
            assert {hit.id: hit.name for hit in results.hits} == alive

    def test_an_id_twice_in_one_commit_is_one_document(self, engine: SearchBackend) -> None:
        engine.apply([doc("tag:orders", "orders"), doc("tag:orders", "orders")])
        assert engine.stats()["documents"] == 1
        assert ids(engine, "orders") == ["tag:orders"]

    def test_removed_documents_are_gone_at_once(self, mesh: SearchBackend) -> None:
        mesh.remove(["dataset:2"])
        assert "dataset:2" not in ids(mesh, "orders")
        assert mesh.stats()["documents"] == len(MESH) - 1
        assert mesh.existing(["dataset:2", "dataset:3"]) == {"dataset:3"}

    def test_clear_empties_the_index(self, mesh: SearchBackend) -> None:
        mesh.clear()
        assert mesh.stats()["documents"] == 0
        assert ids(mesh, "customer") == []

    def test_rebuild_replaces_everything_at_once(self, mesh: SearchBackend) -> None:
        count = mesh.rebuild([doc("dataset:9", "invoices")])
        assert count == 1
        assert ids(mesh, "invoices") == ["dataset:9"]
        assert ids(mesh, "customer") == []

    def test_searches_answer_from_the_old_index_while_a_rebuild_runs(
        self, mesh: SearchBackend
    ) -> None:
        seen: list[list[str]] = []

        def documents() -> Iterator[SearchDocument]:
            seen.append(ids(mesh, "churn"))  # asked mid-rebuild
            yield doc("dataset:9", "invoices")

        mesh.rebuild(documents())
        assert seen == [["product:1"]]
        assert ids(mesh, "churn") == []

    def test_warming_reads_ahead_and_changes_no_answer(self, engine: SearchBackend) -> None:
        engine.warm()  # an empty index too
        engine.apply(MESH)
        before = engine.search(SearchQuery(text="customer"))
        engine.warm()
        assert engine.search(SearchQuery(text="customer")) == before

    def test_stats_count_documents_by_type(self, mesh: SearchBackend) -> None:
        stats = mesh.stats()
        assert stats["documents"] == 5
        assert stats["by_type"] == {"product": 1, "dataset": 3, "job": 1}

    def test_fingerprints_change_with_the_content(self, mesh: SearchBackend) -> None:
        before = dict(mesh.fingerprints())
        assert set(before) == {d.id for d in MESH}
        mesh.index([doc("job:1", "etl.load_customers", sql="SELECT 1")])
        after = dict(mesh.fingerprints())
        assert after["job:1"] != before["job:1"]
        assert after["dataset:1"] == before["dataset:1"]

    def test_a_new_reader_does_not_wait_for_a_writer_holding_the_lock(self, tmp_path: Path) -> None:
        path = tmp_path / "search"
        writer = WhooshBackend("test", {"PATH": str(path), "REBUILD_PROCS": 1})
        writer.apply(MESH)
        answered = threading.Event()

        def read() -> None:  # a web process's first search, while the worker drains
            reader = WhooshBackend("test", {"PATH": str(path), "REBUILD_PROCS": 1})
            assert ids(reader, "churn") == ["product:1"]
            answered.set()

        with writer.writer_lock():
            thread = threading.Thread(target=read)
            thread.start()
            assert answered.wait(timeout=30)
        thread.join()

    def test_a_reader_whose_listed_commit_was_replaced_reads_the_newer_one(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # The worker commits between a web process listing the latest generation and
        # opening its TOC; the commit's cleanup has removed that TOC (a 500 in the soak).
        import whoosh.index

        path = tmp_path / "search"
        writer = WhooshBackend("test", {"PATH": str(path), "REBUILD_PROCS": 1})
        writer.apply(MESH)
        reader = WhooshBackend("test", {"PATH": str(path), "REBUILD_PROCS": 1})
        real = whoosh.index.TOC._latest_generation.__func__
        raced: list[int] = []

        def latest(cls: type, storage: object, indexname: str) -> int:
            generation = real(cls, storage, indexname)
            if not raced:
                raced.append(generation)
                writer.index([doc("product:9", "Churn radar")])
            return generation  # type: ignore[no-any-return]

        monkeypatch.setattr(whoosh.index.TOC, "_latest_generation", classmethod(latest))
        assert sorted(ids(reader, "churn")) == ["product:1", "product:9"]
        assert (
            raced
            and not (path / (path / "CURRENT").read_text().strip())
            .joinpath(f"_MAIN_{raced[0]}.toc")
            .exists()
        )

    def test_an_index_in_an_older_format_answers_until_rebuilt(self, tmp_path: Path) -> None:
        path = tmp_path / "search"
        WhooshBackend("test", {"PATH": str(path), "REBUILD_PROCS": 1}).apply(MESH)
        current = (path / "CURRENT").read_text().strip()
        (path / current / "FORMAT").write_text("1\n")  # as an older release wrote it
        engine = WhooshBackend("test", {"PATH": str(path), "REBUILD_PROCS": 1})
        assert engine.outdated() and engine.stats()["outdated"]
        assert ids(engine, "churn") == ["product:1"]
        engine.rebuild(MESH)
        assert not engine.outdated()
        assert ids(engine, "churn") == ["product:1"]
        assert not MemoryBackend("test", {}).outdated()

    def test_one_writer_at_a_time(self, engine: SearchBackend) -> None:
        with engine.writer_lock() as got:
            assert got
            elsewhere: list[bool] = []
            thread = threading.Thread(
                target=lambda: elsewhere.append(engine.writer_lock(blocking=False).__enter__())
            )
            thread.start()
            thread.join()
            assert elsewhere == [False]


class TestMatching:
    def test_identifiers_match_whole_and_by_part(self, mesh: SearchBackend) -> None:
        assert ids(mesh, "customer_id")[:2] == ["product:1", "dataset:1"]
        assert "dataset:1" in ids(mesh, "region")  # a camelCase part
        assert ids(mesh, "SalesRegion") == ["dataset:1"]
        assert ids(mesh, "sales_region") == ["dataset:1"]  # the same words, snake_case

    def test_prose_is_stemmed(self, mesh: SearchBackend) -> None:
        assert "dataset:1" in ids(mesh, "customers")
        assert ids(mesh, "churns") == ["product:1"]

    def test_a_prefix_finds_the_word(self, mesh: SearchBackend) -> None:
        assert ids(mesh, "cust")[:1] == ["product:1"]

    def test_a_typo_in_a_long_word_still_finds_it(self, mesh: SearchBackend) -> None:
        results = mesh.search(SearchQuery(text="custmer"))
        assert "product:1" in [h.id for h in results.hits]
        assert results.corrected == {"custmer": ["customer"]}
        snippet = next(h.snippet for h in results.hits if h.id == "dataset:1")
        assert '<mark class="match term0">customer</mark>' in snippet

    def test_a_typo_never_outranks_a_real_match(self, engine: SearchBackend) -> None:
        engine.apply([doc("dataset:1", "carts"), doc("dataset:2", "charts")])
        assert ids(engine, "charts") == ["dataset:2"]

    def test_swapped_letters_count_as_one_typo(self, engine: SearchBackend) -> None:
        engine.apply([doc("dataset:1", "ledger")])
        assert ids(engine, "ledgre") == ["dataset:1"]

    def test_phrases_skip_the_stop_words_prose_leaves_out(self, engine: SearchBackend) -> None:
        engine.apply([doc("dataset:1", "x", description="Cost of goods sold, per month.")])
        assert ids(engine, '"cost of goods sold"') == ["dataset:1"]
        assert ids(engine, '"goods of cost"') == []
        results = engine.search(SearchQuery(text="cost of goods"))
        assert [h.id for h in results.hits] == ["dataset:1"] and not results.relaxed

    def test_short_words_are_not_corrected(self, mesh: SearchBackend) -> None:
        assert ids(mesh, "ordr") == []

    def test_sql_is_searched(self, mesh: SearchBackend) -> None:
        assert ids(mesh, "sql:join") == ["job:1"]

    def test_sql_identifiers_match_other_spellings_and_phrases(self, engine: SearchBackend) -> None:
        engine.apply([doc("job:1", "load", sql="SELECT net_revenue FROM sales")])
        assert ids(engine, "NetRevenue") == ["job:1"]
        assert ids(engine, '"net revenue"') == ["job:1"]
        assert ids(engine, "sql:NetRevenue") == ["job:1"]

    def test_phrases_keep_word_order(self, mesh: SearchBackend) -> None:
        assert ids(mesh, '"churn analysis"') == ["product:1"]
        assert ids(mesh, '"analysis churn"') == []

    def test_phrases_need_their_words_together(self, engine: SearchBackend) -> None:
        engine.apply(
            [
                doc("dataset:1", "x", columns=["sales_region", "order_id"]),
                doc("dataset:2", "y", columns=["sales_total", "region_id"]),
                doc("dataset:3", "z", description="Sales by region."),
            ]
        )
        # In prose, a phrase skips the stop words it has or the text has.
        assert sorted(ids(engine, '"sales region"')) == ["dataset:1", "dataset:3"]
        assert ids(engine, '"sales by region"') == ["dataset:3"]
        assert ids(engine, '"region sales"') == []
        # Columns are separate names: the last word of one and the first of the next
        # are no phrase.
        assert ids(engine, '"total region"') == []

    def test_a_phrase_is_marked_whole_in_snippets(self, engine: SearchBackend) -> None:
        engine.apply([doc("dataset:1", "x", description="Cost of goods sold, per month.")])
        snippet = engine.search(SearchQuery(text='"goods sold"')).hits[0].snippet
        assert '<mark class="match term0">goods sold</mark>' in snippet

    def test_every_word_must_match_until_none_does(self, mesh: SearchBackend) -> None:
        assert ids(mesh, "orders churn") != []
        results = mesh.search(SearchQuery(text="orders churn"))
        assert results.relaxed
        assert ids(mesh, "customer churn") == ["product:1"]

    def test_excluded_words_drop_hits(self, mesh: SearchBackend) -> None:
        assert "product:1" not in ids(mesh, "customer -churn")
        assert "dataset:1" in ids(mesh, "customer -churn")

    def test_snippets_mark_matches_and_escape_the_rest(self, engine: SearchBackend) -> None:
        engine.apply([doc("dataset:1", "x", description="<script>alert(1)</script> churn")])
        snippet = engine.search(SearchQuery(text="churn")).hits[0].snippet
        assert "<script>" not in snippet
        assert "alert(1)&lt;/script&gt;" in snippet
        assert '<mark class="match term0">churn</mark>' in snippet

    def test_hits_list_the_columns_the_query_matched(self, mesh: SearchBackend) -> None:
        hit = mesh.search(SearchQuery(text="region")).hits[0]
        assert hit.columns == ["SalesRegion"]


class TestRanking:
    def test_an_exact_name_comes_first(self, mesh: SearchBackend) -> None:
        assert ids(mesh, "orders")[0] == "dataset:2"
        assert ids(mesh, "shop.public.customers")[0] == "dataset:1"
        assert ids(mesh, "postgres://db:5432/shop.public.customers")[0] == "dataset:1"
        assert ids(mesh, "customer-360")[0] == "product:1"

    def test_products_rank_above_datasets_above_jobs_at_equal_text(
        self, engine: SearchBackend
    ) -> None:
        engine.apply([doc(f"{t}:1", "ledger entries") for t in ("job", "dataset", "product")])
        assert ids(engine, "ledger") == ["product:1", "dataset:1", "job:1"]

    def test_popular_and_certified_things_rank_higher(self, engine: SearchBackend) -> None:
        engine.apply(
            [
                doc("dataset:1", "ledger entries"),
                doc("dataset:2", "ledger lines", consumers=40, recent_runs=30),
                doc("dataset:3", "ledger rows", facets={"level": ["gold"]}),
            ]
        )
        assert ids(engine, "ledger")[-1] == "dataset:1"

    def test_deprecated_things_are_demoted(self, mesh: SearchBackend) -> None:
        order = ids(mesh, "order_id")
        assert order.index("dataset:3") < order.index("dataset:2")


class TestFacets:
    def test_counts_cover_every_match(self, mesh: SearchBackend) -> None:
        facets = mesh.search(SearchQuery(text="customer_id", page_size=1)).facets
        assert {v.value: v.count for v in facets["type"]} == {"dataset": 3, "product": 1, "job": 1}
        assert {v.value: v.label for v in facets["domain"]}["sales"] == "Sales"

    def test_filters_combine_with_the_text(self, mesh: SearchBackend) -> None:
        hits = ids(mesh, "customer_id", filters={"type": ["dataset"], "status": ["active"]})
        assert sorted(hits) == ["dataset:1", "dataset:3"]

    def test_values_of_one_facet_are_alternatives(self, mesh: SearchBackend) -> None:
        hits = ids(mesh, "customer_id", filters={"type": ["product", "job"]})
        assert sorted(hits) == ["job:1", "product:1"]

    def test_a_chosen_facet_still_counts_its_alternatives(self, mesh: SearchBackend) -> None:
        results = mesh.search(SearchQuery(text="customer_id", filters={"type": ["product"]}))
        counts = {v.value: (v.count, v.selected) for v in results.facets["type"]}
        assert counts["product"] == (1, True)
        assert counts["dataset"] == (3, False)
        assert {v.value: v.count for v in results.facets["domain"]} == {"customer": 1}

    def test_field_syntax_filters_too(self, mesh: SearchBackend) -> None:
        assert sorted(ids(mesh, "type:product customer")) == ["product:1"]
        assert ids(mesh, 'tag:"pii"') == ["dataset:1"]

    def test_browsing_without_words_lists_by_rank(self, mesh: SearchBackend) -> None:
        results = mesh.search(SearchQuery(filters={"domain": ["sales"]}))
        assert results.total == 4
        assert results.hits[-1].id == "dataset:2"  # the deprecated one last


class TestSortingAndPaging:
    def test_sort_by_name_and_by_last_update(self, mesh: SearchBackend) -> None:
        assert ids(mesh, "order_id", sort="name") == ["dataset:2", "dataset:3"]
        assert ids(mesh, "customer_id", sort="updated")[0] == "dataset:3"

    def test_many_matches_over_several_segments_keep_every_order(
        self, engine: SearchBackend, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Names sorted per segment, top N by partition: the same order as sorting all.
        monkeypatch.setattr(arrays, "NAME_SORT_IN_PYTHON", 5)
        rng = random.Random(7)
        names = [f"ledger_{rng.randrange(10**6):06d}" for _ in range(90)]
        for start in range(0, 90, 30):  # three commits: three segments
            engine.apply(
                doc(f"dataset:{i}", names[i], updated_at=T0 + timedelta(hours=rng.randrange(999)))
                for i in range(start, start + 30)
            )
        by_name = sorted(range(90), key=lambda i: (names[i], i))
        assert ids(engine, "ledger", sort="name", page_size=12) == [
            f"dataset:{i}" for i in by_name[:12]
        ]
        assert ids(engine, "ledger", sort="name", page=3, page_size=12) == [
            f"dataset:{i}" for i in by_name[24:36]
        ]
        newest = engine.search(SearchQuery(text="ledger", sort="updated", page_size=90)).hits
        dates = [hit.updated_at for hit in newest]
        assert len(newest) == 90 and dates == sorted(dates, reverse=True)  # type: ignore[type-var]

    def test_pages_hold_the_rest(self, mesh: SearchBackend) -> None:
        first = mesh.search(SearchQuery(text="customer_id", page_size=2))
        second = mesh.search(SearchQuery(text="customer_id", page=2, page_size=2))
        third = mesh.search(SearchQuery(text="customer_id", page=3, page_size=2))
        assert first.total == 5 and first.pages == 3
        seen = [h.id for r in (first, second, third) for h in r.hits]
        assert sorted(seen) == sorted(d.id for d in MESH)


class TestSuggest:
    def test_it_suggests_names_as_they_are_typed(self, mesh: SearchBackend) -> None:
        names = [s.text for s in mesh.suggest("cust")]
        assert names[0] == "Customer 360"
        assert "shop.public.customers" in names

    def test_earlier_words_narrow_the_suggestions(self, mesh: SearchBackend) -> None:
        assert [s.text for s in mesh.suggest("etl load")] == ["etl.load_customers"]

    def test_a_misspelt_word_is_suggested_as_corrected(self, mesh: SearchBackend) -> None:
        assert "Customer 360" in [s.text for s in mesh.suggest("custmer")]

    def test_nothing_to_suggest_for_nothing(self, mesh: SearchBackend) -> None:
        assert mesh.suggest("") == []
        assert mesh.suggest("zzz") == []


class TestBadQueries:
    @pytest.mark.parametrize(
        ("text", "field"),
        [("type:", "q"), ("type:bogus", "q"), ("x" * 501, "q"), (" ".join(["w"] * 30), "q")],
    )
    def test_it_rejects_what_it_cannot_answer(
        self, mesh: SearchBackend, text: str, field: str
    ) -> None:
        with pytest.raises(QueryError) as error:
            mesh.search(SearchQuery(text=text))
        assert error.value.field == field

    @pytest.mark.parametrize(
        "text",
        ['"unbalanced', 'a"b"c"', "((", "*:*", "name:", "-", "kafka://broker:9092", "ü̈ ∑ 🙂"],
    )
    def test_odd_text_is_just_searched(self, mesh: SearchBackend, text: str) -> None:
        if text == "name:":
            with pytest.raises(QueryError):
                mesh.search(SearchQuery(text=text))
        else:
            mesh.search(SearchQuery(text=text))

    def test_unknown_filters_are_named(self, mesh: SearchBackend) -> None:
        with pytest.raises(QueryError) as error:
            mesh.search(SearchQuery(filters={"colour": ["red"]}))
        assert error.value.field == "colour"

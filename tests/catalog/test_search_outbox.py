"""Freshness: what changes in the database reaches the index through the outbox, and the
check that proves the two agree."""

from __future__ import annotations

import threading
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from catalog.models import Dataset, SearchOutbox
from catalog.search import SearchDocument, SearchQuery, backend
from catalog.search.outbox import search_outbox_add, search_outbox_drain, search_upgrade
from catalog.search.whoosh_backend import WhooshBackend
from catalog.services import data_product_retire
from lineage.services import lineage_event_ingest
from tests.catalog.search_engines import search_engine  # noqa: F401 (a fixture)
from tests.catalog.test_product_pages import register
from tests.conftest import index_now, run_event

# Each test on whoosh in RAM and on PostgreSQL (when the tests run on it).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("search_engine")]

ORDERS = ("postgres://db.example.com:5432", "shop.public.orders")


def found(text: str, **filters: list[str]) -> list[str]:
    results = backend().search(SearchQuery(text=text, filters=filters, page_size=50))
    return [hit.id for hit in results.hits]


def hit(doc_id: str, text: str) -> dict[str, list[str]]:
    results = backend().search(SearchQuery(text=text, page_size=50))
    return next(h.facets for h in results.hits if h.id == doc_id)


def ingest(**kw: object) -> None:
    lineage_event_ingest(payload=run_event(**kw))  # type: ignore[arg-type]


def orders_event(**kw: object) -> dict[str, object]:
    return {
        "job": ("shop", "load_orders"),
        "outputs": [
            {
                "namespace": ORDERS[0],
                "name": ORDERS[1],
                "facets": {
                    "tags": {
                        "_producer": "x",
                        "_schemaURL": "x",
                        "tags": [{"key": "finance-reviewed", "value": "true", "source": "MANUAL"}],
                    }
                },
            }
        ],
        **kw,
    }


def test_an_ingested_event_queues_its_job_and_datasets_in_its_transaction() -> None:
    ingest(**orders_event())
    dataset = Dataset.objects.get(name=ORDERS[1])
    queued = set(SearchOutbox.objects.values_list("doc_id", flat=True))
    assert f"dataset:{dataset.pk}" in queued
    assert any(doc_id.startswith("job:") for doc_id in queued)
    assert found("shop.public.orders") == []  # not before the writer ran
    index_now()
    assert found("shop.public.orders")[0] == f"dataset:{dataset.pk}"
    assert not SearchOutbox.objects.exists()


def test_a_rolled_back_change_queues_nothing() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        search_outbox_add(["dataset:1"])
        raise RuntimeError
    assert not SearchOutbox.objects.exists()


def test_a_new_tag_gets_its_own_document() -> None:
    ingest(**orders_event())
    index_now()
    assert "tag:finance-reviewed" in found("finance-reviewed")


def test_owners_first_named_by_an_ownership_facet_are_searchable_and_checked_clean() -> None:
    ownership = {
        "_producer": "x",
        "_schemaURL": "x",
        "owners": [{"name": "team:fraud-signals"}, {"name": "user:ines.duarte@acme.example"}],
    }
    outputs = [{"namespace": "s3://b", "name": "alerts", "facets": {"ownership": ownership}}]
    ingest(job=("risk", "score_alerts"), outputs=outputs)
    index_now()

    assert [h for h in found("fraud-signals") if h.startswith("team:")]
    assert [h for h in found("ines.duarte@acme.example") if h.startswith("person:")]
    out = StringIO()
    call_command("search_check", "--dry-run", stdout=out)
    assert "The index agrees with the database." in out.getvalue()


def test_a_registered_product_is_searchable_and_lends_its_domain_to_its_datasets() -> None:
    ingest(**orders_event())
    registration = register(tags=("orders", "gdpr"))
    index_now()
    product = f"product:{registration.product.pk}"  # type: ignore[union-attr]
    assert found("shop:orders.v1")[0] == product
    assert product in found("receipts")  # a column's description
    dataset = f"dataset:{Dataset.objects.get(name=ORDERS[1]).pk}"
    assert hit(dataset, "shop.public.orders")["domain"] == ["sales"]
    assert dataset in found("", domain=["sales"])
    assert "tag:gdpr" in found("gdpr")


def test_a_retired_product_is_demoted_and_says_so() -> None:
    registration = register()
    index_now()
    data_product_retire(product=registration.product)  # type: ignore[arg-type]
    index_now()
    facets = hit(f"product:{registration.product.pk}", "shop:orders.v1")  # type: ignore[union-attr]
    assert facets["status"] == ["retired"]


def test_a_new_revision_replaces_the_old_document() -> None:
    register(purpose="Every order placed in the web shop.")
    index_now()
    register(purpose="Orders and their refunds.", version="1.1.0")
    index_now()
    assert found("refunds") != []
    assert found('"web shop"') == []


def test_datasets_a_product_no_longer_binds_lose_its_domain() -> None:
    ingest(**orders_event())
    register()
    index_now()
    dataset = f"dataset:{Dataset.objects.get(name=ORDERS[1]).pk}"
    assert hit(dataset, "shop.public.orders")["domain"] == ["sales"]
    register(table="orders_v2", version="2.0.0", accept_breaking=True)
    index_now()
    assert "domain" not in hit(dataset, "shop.public.orders")


def test_an_admin_edit_reaches_the_index(admin_user: object) -> None:
    ingest(**orders_event())
    index_now()
    dataset = Dataset.objects.get(name=ORDERS[1])
    client = Client()
    client.force_login(admin_user)  # type: ignore[arg-type]
    url = reverse("admin:catalog_dataset_delete", args=[dataset.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    index_now()
    assert found("shop.public.orders") == []


def test_job_sql_is_searchable() -> None:
    sql = {"sql": {"_producer": "x", "_schemaURL": "x", "query": "SELECT * FROM refunds_raw"}}
    ingest(job=("shop", "load_refunds"), job_facets=sql)
    index_now()
    assert [h.split(":")[0] for h in found("sql:refunds_raw")] == ["job"]


def test_a_busy_writer_makes_others_skip_their_turn() -> None:
    search_outbox_add(["dataset:1"])
    with backend().writer_lock():
        report = search_outbox_drain()
    assert report.skipped
    assert SearchOutbox.objects.count() == 1


def test_the_check_finds_and_repairs_missing_extra_and_stale_documents() -> None:
    ingest(**orders_event())
    ingest(job=("shop", "load_refunds"), outputs=[{"namespace": "s3://b", "name": "refunds"}])
    index_now()
    refunds = Dataset.objects.get(name="refunds")
    engine = backend()
    engine.remove([f"dataset:{refunds.pk}"])  # a lost write
    job = next(h for h in found("load_orders") if h.startswith("job:"))
    engine.index(
        [
            SearchDocument(id=job, type="job", name="renamed", url="/"),  # stale
            SearchDocument(id="dataset:999999", type="dataset", name="ghost", url="/"),  # extra
        ]
    )
    SearchOutbox.objects.all().delete()
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("search_check", "--dry-run", stdout=out)
    assert "1 missing, 1 extra, 1 stale" in out.getvalue()
    call_command("search_check", stdout=StringIO())
    out = StringIO()
    call_command("search_check", "--dry-run", stdout=out)
    assert "The index agrees with the database." in out.getvalue()
    assert found("refunds")[0] == f"dataset:{refunds.pk}"


def test_reindex_rebuilds_everything_and_applies_what_was_queued() -> None:
    ingest(**orders_event())
    out = StringIO()
    call_command("search_reindex", "--no-progress", stdout=out)
    assert "and swapped the new index in" in out.getvalue()
    assert found("shop.public.orders") != []
    call_command("search_check", "--dry-run", stdout=StringIO())


def test_the_status_shows_the_lag(anonymous: APIClient) -> None:
    search_outbox_add(["dataset:1", "dataset:2"])
    body = anonymous.get("/api/v1/search/status").json()
    assert body["lag"]["queued"] == 2
    assert body["lag"]["seconds"] >= 0
    assert body["index"]["documents"] == 0
    index_now()
    assert anonymous.get("/api/v1/search/status").json()["lag"]["queued"] == 0


def test_an_index_in_an_older_format_is_rebuilt_once(tmp_path: Path) -> None:
    ingest(**orders_event())
    engine = WhooshBackend("upgrade", {"PATH": str(tmp_path / "search"), "REBUILD_PROCS": 1})
    assert not search_upgrade(engine)  # current: nothing to do
    current = (tmp_path / "search" / "CURRENT").read_text().strip()
    (tmp_path / "search" / current / "FORMAT").write_text("1\n")
    assert engine.outdated()
    assert search_upgrade(engine)
    assert not engine.outdated()
    hits = engine.search(SearchQuery(text="load_orders")).hits
    assert hits and hits[0].type == "job" and "load_orders" in hits[0].name
    assert not search_upgrade(engine)


def test_the_writer_upgrades_the_index_before_it_drains(monkeypatch: pytest.MonkeyPatch) -> None:
    from catalog.search import outbox

    calls: list[str] = []
    drained = threading.Event()

    def drain() -> outbox.DrainReport:
        calls.append("drain")
        drained.set()
        return outbox.DrainReport()

    monkeypatch.setattr(outbox, "search_upgrade", lambda: calls.append("upgrade"))
    monkeypatch.setattr(outbox, "search_outbox_drain", drain)
    writer = outbox.OutboxWriter(poll_seconds=0.01)
    writer.start()
    try:
        assert drained.wait(5)
    finally:
        writer.stopping.set()
        writer.join(5)
    assert calls[:2] == ["upgrade", "drain"] and calls.count("upgrade") == 1

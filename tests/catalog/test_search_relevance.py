"""Relevance: what a person types, and what must be in the first three hits.

Over the demo mesh (``load_demo``) and every OpenLineage fixture event, indexed once for the
module and each engine (whoosh in RAM; PostgreSQL when the tests run on it). Each case
names the kind of question it stands for; ``first`` cases must rank the expected hit
first, the others must have every expected hit in the top three.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from catalog.search import SearchBackend, SearchQuery, backend, reset_backends
from catalog.search.outbox import search_outbox_drain
from lineage.services import lineage_events_ingest
from tests.catalog.search_engines import ENGINES, search_settings, skip_unless_postgres
from tests.lineage import fixture_corpus as fc

# Marked so that the test database exists for the module's shared data (set up once).
pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Case:
    kind: str
    text: str
    expected: tuple[str, ...]  # "type:name" of hits
    first: bool = False
    filters: dict[str, list[str]] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.kind}: {self.text}"


CASES = [
    # exact names come first, whatever else matches
    Case("exact name", "Customer profiles", ("product:Customer profiles",), first=True),
    Case("exact name", "crm.public.customers", ("dataset:crm.public.customers",), first=True),
    Case("exact name", "public.discounts", ("dataset:public.discounts",), first=True),
    Case("exact name", "clickstream_to_lake", ("job:clickstream_to_lake",), first=True),
    Case("product id", "customer-profiles", ("product:Customer profiles",), first=True),
    # qualified names, as URIs and as Marquez node ids
    Case(
        "qualified name",
        "snowflake://acme.eu-west-1/RAW.SALES.ORDERS",
        ("dataset:RAW.SALES.ORDERS",),
        first=True,
    ),
    Case(
        "qualified name",
        "dataset:snowflake://acme.eu-west-1:RAW.SALES.ORDERS",
        ("dataset:RAW.SALES.ORDERS",),
        first=True,
    ),
    Case(
        "qualified name",
        "snowflake://ASDF1234.eu-central-1.aws/DEMO_DB.public.customers",
        ("dataset:DEMO_DB.public.customers",),
        first=True,
    ),
    # a column's name finds the tables that have it
    Case("column name", "customer_key", ("product:Customer profiles",), first=True),
    Case("column name", "email_sha256", ("dataset:ANALYTICS.CUSTOMER.DIM_CUSTOMERS",)),
    # camelCase typed or stored, matched with the same words in snake_case
    Case("camelCase part", "OrderEvents", ("product:Order events",), first=True),
    Case("camelCase part", "customerKey", ("product:Customer profiles",)),
    # a part of a snake_case or dotted name
    Case("snake_case part", "shipments", ("dataset:RAW.LOGISTICS.SHIPMENTS",)),
    Case("snake_case part", "stg_payments", ("dataset:postgres.public.stg_payments",)),
    Case("dotted part", "clickstream", ("dataset:web.clickstream.v1", "dataset:raw/clickstream")),
    # typos in longer words
    Case("typo", "custmer", ("product:Customer profiles",)),
    Case("typo", "revnue", ("product:Daily revenue",)),
    Case("typo", "shipmnets", ("dataset:RAW.LOGISTICS.SHIPMENTS",)),
    # tags and classifications
    Case("tag", "gdpr", ("tag:gdpr", "product:Customer consents"), first=True),
    Case("tag", 'tag:"pii" customers', ("dataset:RAW.CUSTOMER.CUSTOMERS",)),
    # prose
    Case("description", "pseudonymised", ("product:Customer profiles",), first=True),
    # filters narrow the same words
    Case(
        "domain filter",
        "orders",
        ("product:Sales orders", "product:Shop orders", "dataset:RAW.SALES.ORDERS"),
        filters={"domain": ["sales"]},
    ),
    Case(
        "domain filter",
        "customer",
        ("domain:customer", "product:Customer profiles"),
        filters={"domain": ["customer"]},
    ),
]


@pytest.fixture(autouse=True)
def fresh_search_index() -> Iterator[None]:
    """This module shares one index (the default fixture would empty it after each test)."""
    yield


@pytest.fixture(scope="module", params=list(ENGINES))
def engine(
    request: pytest.FixtureRequest, django_db_setup: Any, django_db_blocker: Any
) -> Iterator[SearchBackend]:
    if request.param == "postgres":
        skip_unless_postgres()
    chosen = search_settings(request.param, settings.MESHPORT_SEARCH)
    with django_db_blocker.unblock(), override_settings(MESHPORT_SEARCH=chosen):
        reset_backends()
        call_command("load_demo", "--no-progress", stdout=StringIO())
        payloads = [event.payload for event in fc.load_corpus().events]
        for start in range(0, len(payloads), 200):
            lineage_events_ingest(payloads=payloads[start : start + 200])
        search_outbox_drain(wait=True)
        yield backend()
        call_command("flush", "--noinput")
        reset_backends()


def top(engine: SearchBackend, case: Case, n: int = 3) -> list[str]:
    results = engine.search(SearchQuery(text=case.text, filters=case.filters, page_size=n))
    return [f"{hit.type}:{hit.name}" for hit in results.hits]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_expected_hits_come_first(engine: SearchBackend, case: Case) -> None:
    found = top(engine, case)
    if case.first:
        assert found[:1] == [case.expected[0]], found
    missing = [name for name in case.expected if name not in found]
    assert not missing, f"{missing} not in the top 3: {found}"


def test_filtered_hits_all_belong_to_the_filter(engine: SearchBackend) -> None:
    results = engine.search(SearchQuery(text="orders", filters={"domain": ["sales"]}))
    assert results.total > 3
    assert all(hit.facets.get("domain") == ["sales"] for hit in results.hits)

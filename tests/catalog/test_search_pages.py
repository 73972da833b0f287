"""The search pages: results with facets, the header's suggestions, home's product lists,
and the tags to browse by. Hits come from the index (whoosh in RAM; PostgreSQL too when the
tests run on it): tests call ``index_now``."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from catalog.models import Person
from catalog.search import backend
from lineage.services import lineage_event_ingest
from tests.catalog.search_engines import (  # noqa: F401 (a fixture)
    engine_queries,
    own_queries,
    search_engine,
)
from tests.catalog.test_product_pages import register
from tests.conftest import index_now, run_event

# Each test on whoosh in RAM and on PostgreSQL (when the tests run on it).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("search_engine")]

WAREHOUSE = "postgres://warehouse:5432"
# A search's queries of the engine's own: PostgreSQL reads its terms' frequencies, then
# searches (browsing without words: one query); whoosh reads files.
SEARCH_QUERIES = {"memory": 0, "postgres": 2}
BROWSE_QUERIES = {"memory": 0, "postgres": 1}


def ingest(**kwargs: Any) -> None:
    lineage_event_ingest(payload=run_event(**kwargs))


def dataset(name: str, description: str = "", *columns: str) -> dict[str, Any]:
    facets: dict[str, Any] = {"schema": {"fields": [{"name": c, "type": "INT"} for c in columns]}}
    if description:
        facets["documentation"] = {"description": description}
    return {"namespace": WAREHOUSE, "name": name, "facets": facets}


@pytest.fixture
def shop() -> None:
    """Two products (sales: orders, marketing: customers) and three warehouse tables."""
    register("shop:orders.v1", name="Orders", tags=("orders", "gold"))
    register(
        "crm:customers",
        name="Customers",
        domain="marketing",
        tags=("pii",),
        team="CRM Team",
        owner="carol",
        purpose="Everyone who ever bought something.",
        table="customers",
    )
    ingest(
        job=("etl", "load_orders"),
        outputs=[
            dataset("mart.daily_orders", "Orders summed per day", "order_id", "day"),
            dataset("mart.customer_orders", "Orders per customer", "customer_id"),
            dataset("mart.unrelated", "Nothing to see"),
        ],
    )
    index_now()


def page(client: Client, **params: Any) -> str:
    return client.get("/search/", params).content.decode()


def hit_names(html: str) -> list[str]:
    return re.findall(r'<div class="hit-title">.*?<a href="[^"]*">([^<]*)</a>', html)


def section(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    return html[start : html.index("</section>", start)]


# --- results --------------------------------------------------------------------------


def test_the_results_page_shows_typed_hits_with_highlights_and_facet_counts(
    client: Client, shop: None
) -> None:
    html = page(client, q="orders")

    assert {"Orders", "mart.daily_orders", "mart.customer_orders"} <= set(hit_names(html))
    assert "mart.unrelated" not in html
    assert '<span class="badge type-badge type-product">product</span>' in html
    assert '<span class="badge type-badge type-dataset">dataset</span>' in html
    assert re.search(r"<mark[^>]*>Orders</mark> summed per day", html)  # HTML, not escaped
    assert re.search(r'name="type" value="dataset">.*?<span class="count">2</span>', html)
    assert "Classification (PII)" in html
    assert 'value="orders"' in page(client, q="orders", sort="name")  # the box keeps the text


def test_a_facet_filter_narrows_the_results(client: Client, shop: None) -> None:
    html = page(client, q="orders", type="dataset")

    assert sorted(hit_names(html)) == ["mart.customer_orders", "mart.daily_orders"]
    assert 'name="type" value="dataset" checked' in html
    assert "2</strong> results for" in html
    assert hit_names(page(client, q="orders", type="dataset", domain="sales")) == []


def test_a_hit_shows_its_matched_columns_owners_domain_and_freshness(
    client: Client, shop: None
) -> None:
    html = page(client, q="customer_id")

    assert "<code>customer_id</code>" in html
    products = page(client, q="customers", type="product")
    assert "CRM Team" in products and "<strong>marketing</strong>" in products
    assert "updated 0\xa0minutes ago" in products or "updated now" in products


def test_a_misspelt_word_says_what_was_searched_instead(client: Client, shop: None) -> None:
    html = page(client, q="custmers")

    assert "Showing results for “<strong>customer</strong>”" in html
    assert "Customers" in hit_names(html)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "type:"}, "“type:” needs a value"),
        ({"q": "type:bogus"}, "Unknown type “bogus”"),
        ({"type": "bogus"}, "Unknown type “bogus”"),
        ({"q": "x" * 600}, "Query: Ensure this field has no more than 500 characters."),
        ({"sort": "size"}, "Sort: &quot;size&quot; is not a valid choice."),
    ],
)
def test_a_bad_query_names_its_problem_and_is_not_a_server_error(
    client: Client, params: dict[str, str], message: str
) -> None:
    response = client.get("/search/", params)

    assert response.status_code == 400
    assert 'class="notice notice-error" role="alert"' in response.content.decode()
    assert message in response.content.decode()


@pytest.mark.parametrize("query", ["%", "_", "\x00", "' OR 1=1 --", '"unclosed', "-", ":"])
def test_odd_queries_never_fail(client: Client, shop: None, query: str) -> None:
    assert client.get("/search/", {"q": query}).status_code in (200, 400)


def test_nothing_found_says_what_to_try(client: Client, shop: None) -> None:
    html = page(client, q="zebra", type="dataset")

    assert "Nothing matches “zebra” with these filters." in html
    assert "Search without the filters" in html


def test_a_page_past_the_end_shows_the_last_one(client: Client, shop: None) -> None:
    html = page(client, q="orders", page=9)

    assert "Orders" in hit_names(html)


def test_without_words_or_filters_it_browses_the_top_of_the_catalog(
    client: Client, shop: None
) -> None:
    html = page(client)

    assert 'href="/domains/"' in html and 'href="/tags/"' in html
    assert 'href="?domain=sales"' in html
    assert sorted(hit_names(html)[:2]) == ["Customers", "Orders"]  # products rank first


def test_the_search_page_makes_no_database_query(client: Client, shop: None) -> None:
    for i in range(30):
        ingest(job=("etl", f"orders_{i}"), outputs=[dataset(f"orders_{i}", "More orders")])
    index_now()
    with CaptureQueriesContext(connection) as captured:
        html = page(client, q="orders")
    assert own_queries(captured) == []
    assert len(engine_queries(captured)) == SEARCH_QUERIES[backend().name]
    assert "Next →" in html


# --- on every page ----------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/", "/search/", "/tags/", "/datasets/", "/products/"])
def test_the_suggest_script_and_styles_are_linked_from_every_page(client: Client, url: str) -> None:
    html = client.get(url).content.decode()

    assert '<script src="/static/catalog/search.js" defer></script>' in html
    assert '<link rel="stylesheet" href="/static/catalog/search.css">' in html
    assert 'data-suggest="/api/v1/search/suggest"' in html
    assert finders.find("catalog/search.js") and finders.find("catalog/search.css")


# --- home -------------------------------------------------------------------------------

HOME_QUERIES = 10  # counters, lineage's panel, product lists; popular products: the index


def test_the_home_page_shows_popular_products_and_the_users_own(
    client: Client, shop: None, outsider: User
) -> None:
    Person.objects.filter(username="carol").update(user=outsider)
    client.force_login(outsider)

    html = client.get("/").content.decode()

    assert 'class="search-big search-home"' in html
    assert "Orders" in section(html, "popular-products")
    assert "Customers" in section(html, "popular-products")
    mine = section(html, "my-products")
    assert "Customers" in mine and "Orders" not in mine


def test_the_home_page_asks_visitors_to_log_in_for_their_products(
    client: Client, shop: None
) -> None:
    assert "Log in</a> to see here" in section(client.get("/").content.decode(), "my-products")


def test_the_home_page_query_count_is_fixed(client: Client, shop: None, outsider: User) -> None:
    with CaptureQueriesContext(connection) as captured:
        client.get("/")
    assert len(own_queries(captured)) == HOME_QUERIES
    assert len(engine_queries(captured)) == BROWSE_QUERIES[backend().name]
    Person.objects.filter(username__in=["alice", "carol"]).update(user=outsider)
    register("shop:returns.v1", name="Returns", table="returns")
    client.force_login(outsider)
    with CaptureQueriesContext(connection) as captured:
        client.get("/")
    assert len(own_queries(captured)) == HOME_QUERIES + 4  # session, user, steward?, products
    assert len(engine_queries(captured)) == BROWSE_QUERIES[backend().name]


# --- browsing ---------------------------------------------------------------------------


def test_the_tags_page_lists_tags_and_classifications_with_counts(
    client: Client, shop: None
) -> None:
    html = client.get("/tags/").content.decode()

    assert re.search(r'href="/search/\?tag=orders">orders <span class="count">1</span>', html)
    assert 'href="/search/?tag=pii"' in html
    assert re.search(r'href="/search/\?classification=pii">pii <span class="count">\d', html)


def test_the_domain_page_links_a_search_in_the_domain(client: Client, shop: None) -> None:
    html = client.get("/domains/sales/").content.decode()
    assert '<a href="/search/?domain=sales">Search in this domain</a>' in html

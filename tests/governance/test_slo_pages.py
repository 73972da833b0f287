"""SLO pages: the product and dataset panels, the stewards' overview, one SLO's page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import DataProduct, Dataset, Domain, Namespace, Port, PortBinding
from governance.charts import MIN_WIDTH, timeline_chart
from governance.models import Slo, SloSegment
from governance.slo_evidence import Named, evidence_lines
from governance.slo_views import product_panel
from governance.templatetags.slo_tags import burn, percent

pytestmark = pytest.mark.django_db

WAREHOUSE = "postgres://warehouse:5432"
ORDERS = "public.orders"
RUN = "0b7c6f1e-4d6b-4c1e-9a59-3f3f0c8a1d2e"


@pytest.fixture
def orders() -> DataProduct:
    """A product of domain ``sales`` whose output port is bound to ``public.orders``."""
    sales = Domain.objects.create(slug="sales", name="Sales")
    product = DataProduct.objects.create(
        external_id="sales:orders", name="Orders", format="odps", domain=sales
    )
    port = Port.objects.create(product=product, direction="output", name="orders")
    PortBinding.objects.create(port=port, namespace=WAREHOUSE, name=ORDERS, source="explicit")
    return product


@pytest.fixture
def orders_table() -> Dataset:
    return Dataset.objects.create(namespace=Namespace.objects.create(name=WAREHOUSE), name=ORDERS)


@pytest.fixture
def steward_browser(steward: User) -> Client:
    client = Client()
    client.force_login(steward)
    return client


@pytest.fixture
def outsider_browser(outsider: User) -> Client:
    client = Client()
    client.force_login(outsider)
    return client


def hours_ago(hours: float) -> datetime:
    return timezone.now() - timedelta(hours=hours)


def stale_orders(run: str = RUN) -> dict[str, Any]:
    """Freshness evidence: the last good write of ``public.orders`` was 9 hours ago."""
    at = hours_ago(9).isoformat()
    job = "etl:load_orders"
    return {"dataset": f"{WAREHOUSE}:{ORDERS}", "last_success": {"run": run, "at": at, "job": job}}


def make_slo(
    name: str,
    state: str = "met",
    *,
    product: DataProduct | None = None,
    since: float = 3,
    evidence: dict[str, Any] | None = None,
    **values: Any,
) -> Slo:
    """An SLO met for ten days, then in ``state`` for the last ``since`` hours."""
    values.setdefault("kind", "freshness")
    values.setdefault("threshold_seconds", 6 * 3600)
    slo = Slo.objects.create(
        name=name,
        product=product,
        state=state,
        state_since=hours_ago(since),
        evidence=evidence or {},
        evaluated_at=timezone.now(),
        **values,
    )
    if state != "met":
        SloSegment.objects.create(slo=slo, state="met", start=hours_ago(240), end=hours_ago(since))
    SloSegment.objects.create(
        slo=slo,
        state=state,
        start=hours_ago(since if state != "met" else 240),
        evidence=evidence or {},
    )
    return slo


def section(text: str, anchor: str) -> str:
    start = text.index(f'<section id="{anchor}"')
    return text[start : text.index("</section>", start)]


# --- the product page -------------------------------------------------------------------


def test_the_product_page_shows_each_slo_with_its_state_and_its_week(
    client: Client, orders: DataProduct, orders_table: Dataset
) -> None:
    make_slo(
        "Freshness (6 h)",
        "breached",
        product=orders,
        evidence=stale_orders(),
        attainment_7d=0.982,
        attainment_28d=0.9951,
        budget_remaining=0.25,
        burn_rate_1d=12.5,
    )
    make_slo("Row count", product=orders, kind="volume", min_rows=1000)

    text = section(client.get(orders.get_absolute_url()).content.decode(), "slos")

    assert "1 of 2 breached" in text
    assert '<span class="badge badge-breached">breached</span>' in text
    assert "Updated within 6 h" in text and "≥ 1,000 rows" in text
    assert "98.2%" in text and "99.5%" in text and "25% left" in text and "12×" in text
    assert f'href="/lineage/runs/{RUN}/"' in text
    assert f'href="/datasets/{orders_table.pk}/"' in text
    assert "<svg" in text and "<title>Freshness (6 h): met" in text
    assert "<title>breached from" in text and "to now (3 h)</title>" in text
    # the breached SLO comes first
    assert text.index("Freshness (6 h)") < text.index("Row count")


def test_a_product_without_slos_says_how_to_declare_one(
    client: Client, orders: DataProduct
) -> None:
    text = section(client.get(orders.get_absolute_url()).content.decode(), "slos")

    assert "No SLO declared for this product." in text
    assert "slaProperties" in text and "POST /api/v1/slos" in text
    assert "sales:orders" in text


def test_the_product_panel_says_how_many_are_breached(orders: DataProduct) -> None:
    make_slo("Fresh", "breached", product=orders)
    make_slo("Quality", product=orders, kind="quality", target=1.0)

    (stat,) = product_panel(orders).stats

    assert (stat.value, stat.label) == (1, "of 2 SLOs breached")
    assert stat.url.endswith("#slos")


@pytest.mark.parametrize("how_many", [1, 10])
def test_the_product_panel_reads_in_three_queries_whatever_the_number_of_slos(
    orders: DataProduct, orders_table: Dataset, how_many: int, django_assert_num_queries: Any
) -> None:
    for i in range(how_many):
        make_slo(f"slo {i}", "breached", product=orders, evidence=stale_orders())
    # the SLOs, their segments of the last 7 days, the datasets the evidence names
    with django_assert_num_queries(3):
        product_panel(orders).render(request=None)  # type: ignore[arg-type]


def test_the_product_page_query_count_does_not_grow_with_slos(
    client: Client, orders: DataProduct, orders_table: Dataset
) -> None:
    def count() -> int:
        client.get(orders.get_absolute_url())  # warm the lineage graph's cache
        with CaptureQueriesContext(connection) as queries:
            client.get(orders.get_absolute_url())
        return len(queries)

    make_slo("first", "breached", product=orders, evidence=stale_orders())
    one = count()
    for i in range(9):
        make_slo(f"slo {i}", "breached", product=orders, evidence=stale_orders())
    assert count() == one


# --- the dataset page -------------------------------------------------------------------


def test_the_dataset_page_lists_the_slos_watching_it(
    client: Client, orders: DataProduct, orders_table: Dataset
) -> None:
    make_slo("Orders fresh", "breached", product=orders)
    make_slo("Orders table volume", namespace=WAREHOUSE, dataset_name=ORDERS, kind="volume")
    make_slo("Elsewhere", namespace=WAREHOUSE, dataset_name="public.other")

    text = section(client.get(orders_table.get_absolute_url()).content.decode(), "slos")

    assert "2 SLOs watch this dataset" in text
    assert "Orders fresh" in text and "Orders table volume" in text
    assert "Elsewhere" not in text
    assert 'href="/products/sales:orders/"' in text
    assert "badge-breached" in text


def test_a_dataset_nothing_watches_has_no_slo_section(
    client: Client, orders_table: Dataset
) -> None:
    assert 'id="slos"' not in client.get(orders_table.get_absolute_url()).content.decode()


# --- the overview -----------------------------------------------------------------------


def test_the_overview_puts_breached_and_burning_slos_in_their_sections(
    client: Client, orders: DataProduct, orders_table: Dataset
) -> None:
    make_slo("Long breach", "breached", product=orders, since=36, evidence=stale_orders())
    make_slo("Recent breach", "breached", product=orders, since=2)
    make_slo("Burning", product=orders, burn_rate_1d=6.0, budget_remaining=0.4)
    make_slo("Spent", product=orders, burn_rate_1d=6.0, budget_remaining=-0.2)
    make_slo("Calm", product=orders, burn_rate_1d=0.0, budget_remaining=1.0)

    response = client.get("/governance/slos/")
    text = response.content.decode()

    assert response.status_code == 200
    breached = section(text, "breached")
    assert breached.index("Long breach") < breached.index("Recent breach")
    assert "Burning" not in breached and "Calm" not in breached
    assert "Last successful write" in breached and f"/lineage/runs/{RUN}/" in breached
    burning = section(text, "burning")
    assert "Burning" in burning and "6.0×" in burning
    assert "Spent" not in burning and "Calm" not in burning
    history = section(text, "history")
    assert "Long breach" in history and "Calm" not in history and "<title>" in history
    longest = section(text, "longest")
    assert longest.index("Long breach") < longest.index("Recent breach")
    assert "1.5 d" in longest


def test_the_overview_counts_slos_by_state_and_filters_them(
    client: Client, orders: DataProduct
) -> None:
    finance = Domain.objects.create(slug="finance", name="Finance")
    ledger = DataProduct.objects.create(external_id="ledger", name="Ledger", format="odps")
    ledger.domain = finance
    ledger.save()
    make_slo("Orders fresh", "breached", product=orders)
    make_slo("Orders volume", product=orders, kind="volume", min_rows=1)
    make_slo("Ledger fresh", "breached", product=ledger)

    everything = client.get("/governance/slos/").content.decode()
    sales = client.get("/governance/slos/", {"domain": "sales"}).content.decode()
    volume = client.get("/governance/slos/", {"kind": "volume"}).content.decode()

    assert "Ledger fresh" in everything and "Orders fresh" in everything
    assert "Ledger fresh" not in sales and "Orders fresh" in sales
    assert "Orders volume" in section(volume, "all") and "Orders fresh" not in volume
    assert '<span class="stat-value">2</span><span class="stat-label">breached' in everything


def test_the_overview_tells_what_it_ignores_in_bad_filters(client: Client) -> None:
    response = client.get("/governance/slos/", {"domain": "nope", "kind": "x", "state": "?"})

    text = response.content.decode()
    assert response.status_code == 200
    assert "There is no domain “nope”" in text and "Unknown kind" in text
    assert "No SLO yet." in text


@pytest.mark.parametrize("how_many", [1, 10])
def test_the_overview_query_count_does_not_grow_with_slos(
    client: Client,
    orders: DataProduct,
    orders_table: Dataset,
    how_many: int,
    django_assert_num_queries: Any,
) -> None:
    for i in range(how_many):
        make_slo(f"breached {i}", "breached", product=orders, evidence=stale_orders())
        make_slo(f"burning {i}", product=orders, burn_rate_1d=3.0, budget_remaining=0.5)
    # domains; counts; breached; burning; the datasets the evidence names; longest
    # breaches; charted SLOs, their segments and how many; the list of all: count, page
    with django_assert_num_queries(11):
        response = client.get("/governance/slos/", {"domain": "sales"})
    assert "breached 0" in response.content.decode()


# --- one SLO ----------------------------------------------------------------------------


def test_the_slo_page_shows_its_figures_and_stretches_newest_first(
    client: Client, orders: DataProduct, orders_table: Dataset
) -> None:
    slo = make_slo(
        "Freshness (6 h)",
        "breached",
        product=orders,
        evidence=stale_orders(),
        source="contract",
        key="orders-contract:sla:latency@orders",
        attainment_28d=0.99,
        budget_remaining=-0.5,
        burn_rate_1d=24.0,
        burn_rate_7d=2.0,
    )

    response = client.get(f"/governance/slos/{slo.pk}/")
    text = response.content.decode()

    assert response.status_code == 200
    assert "Updated within 6 h" in text and "orders-contract:sla:latency@orders" in text
    assert "overspent" in text and "6.7 h breached per 28 days" in text
    assert 'href="/products/sales:orders/"' in text
    assert f'href="/datasets/{orders_table.pk}/"' in text  # the dataset it watches
    stretches = section(text, "stretches")
    assert stretches.index("badge-breached") < stretches.index("badge-met")
    assert f'href="/lineage/runs/{RUN}/"' in stretches
    assert "<title>met from" in section(text, "timeline")
    assert "Evaluate now" not in text


def test_an_unknown_slo_is_404(client: Client) -> None:
    assert client.get("/governance/slos/424242/").status_code == 404


def test_stewards_evaluate_an_slo_now(steward_browser: Client, orders: DataProduct) -> None:
    slo = make_slo("Fresh", product=orders)
    url = f"/governance/slos/{slo.pk}/"
    assert "Evaluate now" in steward_browser.get(url).content.decode()

    response = steward_browser.post(url)

    assert response.status_code == 302 and response["Location"] == url
    slo.refresh_from_db()
    assert slo.state == "unknown"  # nothing bound to the port was ever seen by lineage


def test_others_may_not_evaluate_an_slo(
    client: Client, outsider_browser: Client, orders: DataProduct
) -> None:
    slo = make_slo("Fresh", product=orders)
    url = f"/governance/slos/{slo.pk}/"

    assert outsider_browser.post(url).status_code == 403
    assert client.post(url).status_code == 403
    slo.refresh_from_db()
    assert slo.state == "met"


# --- the pieces -------------------------------------------------------------------------


class Stretch:
    def __init__(self, state: str, start: datetime, end: datetime | None) -> None:
        self.state, self.start, self.end = state, start, end


def test_a_timeline_places_stretches_as_shares_of_its_width() -> None:
    start = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    day = timedelta(days=1)
    chart = timeline_chart(
        [
            Stretch("met", start - 2 * day, start + 3 * day),  # began before the window
            Stretch("breached", start + 3 * day, start + 3 * day + timedelta(minutes=1)),
            Stretch("unknown", start + 5 * day, None),  # still so
            Stretch("met", start - 9 * day, start - 8 * day),  # outside: not drawn
        ],
        start=start,
        end=start + 10 * day,
        name="Fresh",
    )

    assert [(b.state, b.x, b.width) for b in chart.bars] == [
        ("met", 0.0, 30.0),
        ("unknown", 50.0, 50.0),
        ("breached", 30.0, MIN_WIDTH),  # drawn last, a minute made visible
    ]
    assert chart.bars[0].title == "met from Apr 29 12:00 UTC to May 4 12:00 (5 d)"
    assert chart.bars[1].title == "unknown from May 6 12:00 UTC to now (5 d)"
    assert [t.x for t in chart.ticks] == [5.0 + 10 * i for i in range(10)]
    assert chart.ticks[0].label == "Thu 2" and chart.ticks[-1].label == ""  # too near the edge
    assert chart.title == "Fresh: met 30%, breached 0%, unknown 50% of the time since May 1 12:00"


def test_a_stretch_at_the_end_of_the_window_stays_inside_it() -> None:
    start = datetime(2024, 5, 1, tzinfo=UTC)
    end = start + timedelta(days=28)
    late = Stretch("breached", end - timedelta(seconds=30), None)
    chart = timeline_chart([late], start=start, end=end, label_every=7)

    (bar,) = chart.bars
    assert bar.x + bar.width == pytest.approx(100)
    assert [t.label for t in chart.ticks if t.label] == ["May 6", "May 13", "May 20", "May 27"]


def test_evidence_reads_as_words_with_links() -> None:
    evidence = {
        "dataset": f"{WAREHOUSE}:{ORDERS}",
        "run": RUN,
        "passed": 3,
        "total": 10,
        "failing": [{"assertion": f"check_{i}", "column": "id"} for i in range(5)],
        "latest": {"runs": 4, "completed": 3, "last_failed": {"run": "not-a-uuid"}},
    }

    first, latest = evidence_lines(evidence, {f"{WAREHOUSE}:{ORDERS}": Named(7, ORDERS)})

    text = "".join(w.text for w in first)
    assert text.startswith("Run 0b7c6f1e: 3 of 10 checks passed; failing: check_0 on id")
    assert text.endswith("check_4 on id and 2 more on public.orders")
    assert [w.url for w in first if w.url] == [f"/lineage/runs/{RUN}/", "/datasets/7/"]
    assert "".join(w.text for w in latest).startswith("Latest: 3 of 4 runs completed")


def test_figures_print_as_people_read_them() -> None:
    assert [percent(v) for v in (None, 1.0, 0.99999, 0.9912, 0.5)] == [
        "—",
        "100%",
        "99.9%",
        "99.1%",
        "50%",
    ]
    assert [burn(v) for v in (None, 0.0, 2.345, 14.4, 1e9)] == ["—", "0.0×", "2.3×", "14×", "∞"]

"""The lineage page and the previews, on the demo mesh."""

from __future__ import annotations

import re
from io import StringIO
from urllib.parse import unquote, urlencode

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.test import Client

from catalog.models import DataProduct, Dataset, DatasetSymlink, PortBinding
from lineage.graph.adjacency import ProductIndex
from lineage.graph.ids import resolve
from lineage.graph.service import GraphQuery, lineage_subgraph

pytestmark = pytest.mark.django_db

REVENUE = "dataset:snowflake://acme.eu-west-1:ANALYTICS.FINANCE.FCT_REVENUE_DAILY"


@pytest.fixture(autouse=True)
def demo() -> None:
    caches["graph"].clear()
    call_command("load_demo", "--no-progress", stdout=StringIO())


def page(client: Client, **params: str | list[str]) -> str:
    response = client.get("/lineage/graph/", params)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def test_products_collapse_to_product_level_and_expand_back() -> None:
    node = resolve("product:revenue-daily")
    products = lineage_subgraph(GraphQuery.asked(node, level="product", depth=1))
    sides = {n: d["side"] for n, d in products.nodes(data=True)}
    assert sides == {
        "product:revenue-daily": "root",
        "product:fx-rates": "upstream",
        "product:refunds": "upstream",
        "product:sales-orders": "upstream",
        "product:gl-revenue-postings": "downstream",
        "product:revenue-by-region": "downstream",
    }
    datasets = lineage_subgraph(GraphQuery.asked(node, level="dataset", depth=1))
    roots = [n for n, d in datasets.nodes(data=True) if d["side"] == "root"]
    assert roots == [REVENUE]


def test_a_product_bound_through_a_symlink_still_links_at_product_level() -> None:
    product = DataProduct.objects.get(external_id="fx-rates")
    bindings = list(PortBinding.objects.filter(port__product=product))
    datasets = set()
    for i, binding in enumerate(bindings):
        dataset = Dataset.objects.get(namespace__name=binding.namespace, name=binding.name)
        DatasetSymlink.objects.create(dataset=dataset, namespace="s3://acme-lake", name=f"fx/{i}")
        PortBinding.objects.filter(pk=binding.pk).update(namespace="s3://acme-lake", name=f"fx/{i}")
        datasets.add(dataset.pk)
    assert sorted(ProductIndex.load().datasets[product.pk]) == sorted(datasets)
    caches["graph"].clear()
    node = resolve("product:revenue-daily")
    products = lineage_subgraph(GraphQuery.asked(node, level="product", depth=1))
    assert products.nodes["product:fx-rates"]["side"] == "upstream"
    PortBinding.objects.filter(pk=bindings[0].pk).update(name="fx/unknown")
    assert len(ProductIndex.load().datasets[product.pk]) == len(bindings) - 1


def test_the_page_draws_the_graph_with_links_to_each_node(client: Client) -> None:
    html = page(client, node=REVENUE)
    assert "<svg" in html
    ids = set(re.findall(r'data-node-id="([^"]+)"', html))
    assert "job:dbt://finance:analytics.finance.fct_revenue_daily" in ids
    dataset = Dataset.objects.get(name="ANALYTICS.FINANCE.FCT_REVENUE_DAILY")
    assert f'href="/datasets/{dataset.pk}/"' in html


def test_a_boundary_node_expands_in_place(client: Client) -> None:
    html = page(client, node=REVENUE, depth="1")
    link = re.search(r'<a href="([^"]+)" class="expand" data-node-id="([^"]+)"', html)
    assert link is not None
    href, node = unquote(link.group(1).replace("&amp;", "&")), link.group(2)
    before = len(re.findall(r'class="node ', html))
    expanded = client.get(href)
    assert expanded.status_code == 200
    after = expanded.content.decode()
    assert len(re.findall(r'class="node ', after)) > before
    assert f"upstream:{node}" in href or f"downstream:{node}" in href
    partial = client.get(f"{href}&partial=1").content.decode()
    assert partial.lstrip().startswith('<figure class="lineage-figure"')


def test_a_highlighted_path_is_marked_in_the_picture(client: Client) -> None:
    source = "dataset:snowflake://acme.eu-west-1:RAW.SALES.REFUNDS"
    html = page(client, node=REVENUE, path_from=source, path_to=REVENUE)
    highlighted = re.findall(r'class="node [^"]*is-highlighted[^"]*" data-node-id="([^"]+)"', html)
    assert source in highlighted and REVENUE in highlighted


def test_the_path_pickers_keep_the_chosen_ends_and_start_at_the_root(client: Client) -> None:
    source = "dataset:snowflake://acme.eu-west-1:RAW.SALES.REFUNDS"

    def selected(html: str, name: str) -> list[str]:
        picker = re.search(rf'<select name="{name}">(.*?)</select>', html, re.S)
        assert picker is not None
        return re.findall(r'<option value="([^"]+)" selected>', picker.group(1))

    fresh = page(client, node=REVENUE)
    assert selected(fresh, "path_from") == []
    assert selected(fresh, "path_to") == [REVENUE]
    chosen = page(client, node=REVENUE, path_from=source, path_to=REVENUE)
    assert selected(chosen, "path_from") == [source]
    assert selected(chosen, "path_to") == [REVENUE]


def test_centering_on_a_node_starts_a_fresh_picture(client: Client) -> None:
    source = "dataset:snowflake://acme.eu-west-1:RAW.SALES.REFUNDS"
    html = page(client, node=REVENUE, path_from=source, path_to=REVENUE, depth="3")
    links = [
        unquote(h.replace("&amp;", "&")) for h in re.findall(r'<a href="([^"]+)">Center here', html)
    ]
    assert links
    for link in links:
        assert "depth=3" in link and "node=" in link
        assert "path_from" not in link and "path_to" not in link and "expand" not in link


def test_personal_data_is_marked(client: Client) -> None:
    personal = "dataset:snowflake://acme.eu-west-1:RAW.CUSTOMER.CUSTOMERS"
    hashed = "dataset:snowflake://acme.eu-west-1:ANALYTICS.CUSTOMER.DIM_CUSTOMERS"
    html = page(client, node=hashed, direction="upstream", depth="1")
    pii = set(re.findall(r'class="node [^"]*is-pii[^"]*" data-node-id="([^"]+)"', html))
    assert personal in pii
    assert hashed not in pii


def test_the_column_view_lists_the_inputs_of_each_output_column(client: Client) -> None:
    html = page(client, node=REVENUE, level="column", direction="upstream")
    assert "Which columns feed each column" in html
    assert "ANALYTICS.SALES.FCT_ORDERS.gross_amount" in html


def test_bad_or_unknown_nodes_get_a_page_that_says_so(client: Client) -> None:
    assert client.get("/lineage/graph/", {"node": "orders"}).status_code == 400
    assert client.get("/lineage/graph/", {"node": REVENUE, "depth": "99"}).status_code == 400
    missing = client.get("/lineage/graph/", {"node": "dataset:nowhere:x"})
    assert missing.status_code == 404
    assert "Nothing known as" in missing.content.decode()
    assert client.get("/lineage/graph/").status_code == 200


def test_dataset_and_product_pages_preview_lineage(client: Client) -> None:
    dataset = Dataset.objects.get(name="ANALYTICS.FINANCE.FCT_REVENUE_DAILY")
    html = client.get(f"/datasets/{dataset.pk}/").content.decode()
    assert 'class="lineage-graph' in html
    assert f"/lineage/graph/?{urlencode({'node': REVENUE})}&amp;level=dataset" in html
    product = client.get("/products/revenue-daily/").content.decode()
    assert 'data-node-id="product:refunds"' in product
    assert "Open the full lineage" in product


def test_a_domain_filter_keeps_its_products_datasets_and_the_way_to_them(client: Client) -> None:
    answer = client.get(
        "/api/v1/graph/lineage", {"nodeId": REVENUE, "direction": "upstream", "domain": "sales"}
    ).json()
    kept = {n["id"]: n for n in answer["nodes"]}
    products = {
        n["product"] for n in kept.values() if n["kind"] == "dataset" and n["side"] != "root"
    }
    assert products == {"refunds", "sales-orders"}
    assert "job:dbt://finance:analytics.finance.fct_revenue_daily" in kept  # the way there
    assert "dataset:snowflake://acme.eu-west-1:ANALYTICS.FINANCE.DIM_FX_RATES" not in kept
    assert answer["filteredOut"] > 0

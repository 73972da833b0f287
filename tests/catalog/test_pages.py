"""The catalog pages: home, datasets, a dataset; and the panel registry (search pages:
``test_search_pages``)."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, RequestFactory

from catalog.models import Dataset
from catalog.panels import Panel, PanelSlot, Stat
from lineage.services import lineage_event_ingest
from tests.conftest import run_event

pytestmark = pytest.mark.django_db

WAREHOUSE = "postgres://warehouse:5432"
CATALOG_DIR = Path(__file__).resolve().parents[2] / "catalog"


def ingest(event_type: str = "COMPLETE", **kwargs: Any) -> str:
    kwargs.setdefault("run_id", str(uuid.uuid4()))
    lineage_event_ingest(payload=run_event(event_type, **kwargs))
    return kwargs["run_id"]


def ref(name: str, namespace: str = WAREHOUSE, **facets: Any) -> dict[str, Any]:
    return {"namespace": namespace, "name": name, "facets": facets}


def schema(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"fields": list(fields)}


def dataset(name: str) -> Dataset:
    return Dataset.objects.get(name=name)


ORDERS_SCHEMA = schema(
    {"name": "order_id", "type": "BIGINT", "description": "Primary key"},
    {
        "name": "customer",
        "type": "STRUCT",
        "fields": [
            {"name": "email", "type": "VARCHAR", "description": "Contact address"},
            {"name": "address", "type": "STRUCT", "fields": [{"name": "zip", "type": "VARCHAR"}]},
        ],
    },
)


# --- home -----------------------------------------------------------------------------


def test_the_empty_home_page_explains_how_to_send_lineage(client: Client) -> None:
    response = client.get("/")

    assert response.status_code == 200
    text = response.content.decode()
    assert "send your first lineage events" in text
    assert "python manage.py create_token --name dbt --scope lineage:write" in text
    assert "http://testserver/api/v1/lineage" in text
    assert "Authorization: Bearer $MESHPORT_TOKEN" in text
    assert "OPENLINEAGE__TRANSPORT__AUTH__API_KEY" in text
    assert "OPENLINEAGE_URL=http://testserver" in text


def test_the_home_page_counts_and_lists_failed_runs_and_datasets(client: Client) -> None:
    ingest(
        "FAIL",
        job=("etl", "load_orders"),
        outputs=[ref("shop.orders")],
        run_facets={"errorMessage": {"message": "disk full", "programmingLanguage": "SQL"}},
    )

    text = client.get("/").content.decode()

    assert "send your first lineage events" not in text
    assert "Recent failed runs" in text
    assert "load_orders" in text and "disk full" in text
    assert "shop.orders" in text
    assert '<span class="stat-value">1</span>\n    <span class="stat-label">runs</span>' in text


# --- datasets -------------------------------------------------------------------------


def test_the_datasets_page_points_to_products_and_says_how_to_get_datasets(
    client: Client,
) -> None:
    text = client.get("/datasets/").content.decode()
    assert 'The <a href="/products/">data products</a> publish some of them' in text
    assert "No datasets yet." in text


def test_the_datasets_page_filters_by_namespace_and_name(client: Client) -> None:
    ingest(outputs=[ref("shop.orders"), ref("shop.customers"), ref("events", "kafka://b:9092")])

    everything = client.get("/datasets/").content.decode()
    in_kafka = client.get("/datasets/", {"namespace": "kafka://b:9092"}).content.decode()
    named = client.get("/datasets/", {"q": "ORDERS"}).content.decode()

    assert all(n in everything for n in ("shop.orders", "shop.customers", ">events<"))
    assert "?namespace=kafka%3A//b%3A9092" in everything
    assert ">events<" in in_kafka and "shop.orders" not in in_kafka
    assert "shop.orders" in named and "shop.customers" not in named


@pytest.mark.parametrize(
    "params",
    [{"namespace": "nowhere"}, {"namespace": "\x00"}, {"page": "x"}, {"q": "%_\\'\""}],
)
def test_the_datasets_page_never_fails_on_bad_parameters(
    client: Client, params: dict[str, str]
) -> None:
    ingest(outputs=[ref("shop.orders")])
    assert client.get("/datasets/", params).status_code == 200


def test_the_datasets_page_names_the_namespace_it_ignored(client: Client) -> None:
    ingest(outputs=[ref("shop.orders")])
    text = client.get("/datasets/", {"namespace": "nowhere"}).content.decode()
    assert "There is no namespace named “nowhere”" in text
    assert "shop.orders" in text


def test_the_datasets_page_query_count_does_not_grow_with_datasets(
    client: Client, django_assert_max_num_queries: Any
) -> None:
    ingest(outputs=[ref(f"table_{i}", f"ns{i % 5}://x") for i in range(40)])
    with django_assert_max_num_queries(3):
        response = client.get("/datasets/")
    assert b"table_39" in response.content
    with django_assert_max_num_queries(4):
        client.get("/datasets/", {"namespace": "ns1://x", "q": "table"})


# --- a dataset ------------------------------------------------------------------------


def test_the_dataset_page_shows_the_nested_schema(client: Client) -> None:
    ingest(
        outputs=[
            ref(
                "shop.orders",
                schema=ORDERS_SCHEMA,
                documentation={"description": "One row per order."},
                ownership={"owners": [{"name": "team:sales", "type": "TEAM"}]},
                tags={"tags": [{"key": "pii", "value": "true"}]},
                dataSource={"name": "warehouse", "uri": "postgres://warehouse:5432/shop"},
            )
        ]
    )

    response = client.get(f"/datasets/{dataset('shop.orders').pk}/")

    assert response.status_code == 200
    text = response.content.decode()
    assert "One row per order." in text
    assert "team:sales" in text and "<b>pii</b>: true" in text
    assert "postgres://warehouse:5432/shop" in text
    assert 'data-depth="0" title="order_id">order_id<' in text
    assert 'data-depth="1" title="customer.email">email<' in text
    assert 'data-depth="2" title="customer.address.zip">zip<' in text
    assert "Contact address" in text
    assert text.index("order_id") < text.index("customer.email") < text.index("address.zip")


def test_the_dataset_page_shows_producers_consumers_runs_and_quality(client: Client) -> None:
    ingest(
        "FAIL",
        job=("dbt", "build_orders"),
        outputs=[
            {
                **ref("shop.orders"),
                "outputFacets": {"outputStatistics": {"rowCount": 4242, "size": 1_000_000}},
            }
        ],
        event_time="2024-05-01T10:00:00Z",
    )
    ingest(
        job=("dbt", "test_orders"),
        inputs=[
            {
                **ref("shop.orders"),
                "inputFacets": {
                    "dataQualityAssertions": {
                        "assertions": [{"assertion": "unique", "success": False, "column": "id"}]
                    }
                },
            }
        ],
        event_time="2024-05-01T11:00:00Z",
    )

    text = client.get(f"/datasets/{dataset('shop.orders').pk}/").content.decode()

    produced, read = text.index("Produced by"), text.index("Read by")
    assert produced < text.index("build_orders") < read < text.index("test_orders")
    assert "4,242" in text
    assert "badge-failed" in text and "badge-completed" in text
    assert "unique" in text and 'badge badge-bad">failed<' in text


def test_the_dataset_page_lists_schema_versions_with_their_changes(client: Client) -> None:
    first = schema({"name": "id", "type": "INT"}, {"name": "old_col", "type": "TEXT"})
    second = schema({"name": "id", "type": "BIGINT"}, {"name": "new_col", "type": "TEXT"})
    ingest(outputs=[ref("shop.orders", schema=first)], event_time="2024-05-01T10:00:00Z")
    ingest(outputs=[ref("shop.orders", schema=second)], event_time="2024-05-02T10:00:00Z")

    text = client.get(f"/datasets/{dataset('shop.orders').pk}/").content.decode()

    assert "+ added new_col" in text
    assert "− removed old_col" in text
    assert "~ type changed: id" in text
    assert "first schema seen" in text


def test_the_dataset_page_shows_lifecycle_history_and_aliases(client: Client) -> None:
    ingest(outputs=[ref("shop.orders_old")])
    ingest(
        outputs=[
            ref(
                "shop.orders",
                lifecycleStateChange={
                    "lifecycleStateChange": "RENAME",
                    "previousIdentifier": {"namespace": WAREHOUSE, "name": "shop.orders_old"},
                },
                symlinks={
                    "identifiers": [{"namespace": "s3://lake", "name": "orders/", "type": "TABLE"}]
                },
            )
        ]
    )

    renamed = client.get(f"/datasets/{dataset('shop.orders').pk}/").content.decode()
    old = client.get(f"/datasets/{dataset('shop.orders_old').pk}/").content.decode()

    assert "Lifecycle history" in renamed and "RENAME" in renamed
    assert "previously" in renamed and "shop.orders_old" in renamed
    assert "s3://lake" in renamed and "orders/" in renamed
    assert "renamed to" in old and "RENAMED" in old


def test_the_dataset_page_shows_raw_facets_in_a_details_block(client: Client) -> None:
    ingest(outputs=[ref("shop.orders", custom={"answer": 42})])
    text = client.get(f"/datasets/{dataset('shop.orders').pk}/").content.decode()
    assert "<details>" in text
    assert "&quot;answer&quot;: 42" in text


def test_an_unknown_dataset_is_404(client: Client) -> None:
    assert client.get("/datasets/424242/").status_code == 404
    assert client.get("/datasets/99999999999999999999999/").status_code == 404


def test_the_dataset_page_query_count_does_not_grow_with_runs_and_fields(
    client: Client, django_assert_max_num_queries: Any
) -> None:
    fields = [{"name": f"col_{i}", "type": "INT"} for i in range(30)]
    for i in range(15):
        ingest(
            "FAIL" if i % 2 else "COMPLETE",
            job=("etl", f"job_{i}"),
            inputs=[
                {
                    **ref("shop.orders", schema=schema(*fields[: 10 + i])),
                    "inputFacets": {
                        "dataQualityAssertions": {
                            "assertions": [{"assertion": "not_null", "success": True}]
                        },
                        "inputStatistics": {"rowCount": i},
                    },
                }
            ],
            outputs=[ref(f"out_{i}")],
        )
    url = f"/datasets/{dataset('shop.orders').pk}/"
    # 11 for the page (ownerships and their history among them), 15 for the lineage
    # preview walked cold, 1 for the SLOs watching the dataset.
    with django_assert_max_num_queries(27):
        response = client.get(url)
    assert b"job_14" in response.content


# --- the panel registry ----------------------------------------------------------------


def test_a_panel_slot_calls_each_function_once_and_skips_empty_panels() -> None:
    slot: PanelSlot[str] = PanelSlot()

    def greet(subject: str) -> Panel:
        return Panel("catalog/_send_lineage.html", {"ingest_url": subject}, [Stat("hits", 1)])

    def nothing(subject: str) -> None:
        return None

    slot.register(greet)
    slot.register(greet)
    slot.register(nothing)

    panels = slot.panels("http://x/api")
    assert len(panels) == 1
    assert panels[0].stats == [Stat("hits", 1)]
    assert "http://x/api" in panels[0].render(RequestFactory().get("/"))


def test_catalog_code_never_imports_lineage_or_governance() -> None:
    for path in CATALOG_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert not name.startswith(("lineage", "governance")), f"{path}: imports {name}"

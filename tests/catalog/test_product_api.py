"""``/api/v1/products``: registering descriptors, breaking changes with their consumers,
domains, revisions, diffs and the product's lineage."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from catalog.models import ApiToken, DataProduct, PortBinding, ProductRevision
from tests.conftest import run_event

PG = "postgres://db.acme:5432"


def odps(
    pid: str,
    *,
    version: str = "1.0.0",
    status: str = "active",
    domain: str = "sales",
    outputs: list[tuple[str, str]] = (),  # type: ignore[assignment]
    inputs: list[tuple[str, str]] = (),  # type: ignore[assignment]
) -> str:
    lines = [
        "apiVersion: v1.0.0",
        "kind: DataProduct",
        f"id: {pid}",
        f"name: {pid.title()}",
        f"version: {version}",
        f"status: {status}",
        f"domain: {domain}",
        "description:",
        f"  purpose: The {pid} of the {domain} domain.",
        "tags: [core]",
        "team:",
        f"  name: {domain}-team",
        "  members:",
        f"    - username: owner@{domain}.example",
        "      role: owner",
    ]
    for key, ports in (("inputPorts", inputs), ("outputPorts", outputs)):
        if ports:
            lines.append(f"{key}:")
            for name, contract in ports:
                lines += [f"  - name: {name}", "    version: 1.0.0", f"    contractId: {contract}"]
    return "\n".join(lines) + "\n"


def odcs(cid: str, table: str, columns: list[str], *, version: str = "1.0.0") -> str:
    props = "\n".join(
        f"      - name: {c}\n        logicalType: {'number' if c == 'amount' else 'string'}"
        + ("\n        classification: pii" if c == "email" else "")
        for c in columns
    )
    return f"""apiVersion: v3.0.2
kind: DataContract
id: {cid}
version: {version}
status: active
servers:
  - server: prod
    type: postgres
    environment: prod
    host: db.acme
    port: 5432
    database: shop
    schema: public
schema:
  - name: {table}
    physicalName: {table}
    physicalType: table
    properties:
{props}
slaProperties:
  - property: latency
    value: 4
    unit: h
"""


ORDERS_COLUMNS = ["order_id", "customer_id", "email", "amount"]


def orders_bundle(*, version: str = "1.0.0", columns: list[str] = ORDERS_COLUMNS) -> dict[str, str]:
    return {
        "product.yaml": odps("orders", version=version, outputs=[("orders", "orders-contract")]),
        "orders.odcs.yaml": odcs("orders-contract", "orders", columns, version=version),
    }


def revenue_bundle() -> dict[str, str]:
    return {
        "product.yaml": odps(
            "revenue",
            domain="finance",
            outputs=[("revenue", "revenue-contract")],
            inputs=[("orders", "orders-contract")],
        ),
        "revenue.odcs.yaml": odcs("revenue-contract", "revenue", ["day", "total"]),
    }


def put(client: APIClient, pid: str, files: dict[str, str], **params: str) -> Any:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    url = f"/api/v1/products/{pid}" + (f"?{query}" if query else "")
    if len(files) == 1:
        (text,) = files.values()
        return client.put(url, text, content_type="application/yaml")
    return client.put(url, {"file": _uploads(files)}, format="multipart")


def _uploads(files: dict[str, str]) -> list[Any]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return [SimpleUploadedFile(name, text.encode()) for name, text in files.items()]


@pytest.fixture
def publisher(db: None) -> APIClient:
    _, secret = ApiToken.issue(name="gitops", scopes=["products:write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def _revenue_job_reads_amount(pipeline: APIClient) -> None:
    """finance's job reads orders.amount (column lineage) and writes revenue."""
    event = run_event(
        "COMPLETE",
        job=("finance", "build_revenue"),
        inputs=[{"namespace": PG, "name": "shop.public.orders"}],
        outputs=[
            {
                "namespace": PG,
                "name": "shop.public.revenue",
                "facets": {
                    "columnLineage": {
                        "_producer": "https://example.com",
                        "_schemaURL": "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json",
                        "fields": {
                            "total": {
                                "inputFields": [
                                    {
                                        "namespace": PG,
                                        "name": "shop.public.orders",
                                        "field": "amount",
                                    }
                                ]
                            }
                        },
                    }
                },
            }
        ],
    )
    assert pipeline.post("/api/v1/lineage", event, format="json").status_code == 201


# --- registering --------------------------------------------------------------------------


def test_it_registers_a_product_with_its_contract_and_binds_the_port(publisher: APIClient) -> None:
    response = put(publisher, "orders", orders_bundle())

    assert response.status_code == 201, response.json()
    assert response.json()["action"] == "created" and response.json()["revision"] == 1
    product = DataProduct.objects.get(external_id="orders")
    assert (product.status, product.domain.slug, product.version) == ("active", "sales", "1.0.0")
    binding = PortBinding.objects.get(port__product=product)
    assert (binding.namespace, binding.name, binding.source) == (
        PG,
        "shop.public.orders",
        "derived",
    )
    detail = publisher.get("/api/v1/products/orders").json()
    (contract,) = detail["contracts"]
    assert [p["path"] for p in contract["objects"][0]["properties"]] == ORDERS_COLUMNS
    assert {p["path"] for p in contract["objects"][0]["properties"] if p["pii"]} == {"email"}
    assert contract["sla"][0]["durationSeconds"] == 4 * 3600


def test_registering_identical_content_again_is_a_no_op(publisher: APIClient) -> None:
    put(publisher, "orders", orders_bundle())
    again = put(publisher, "orders", orders_bundle())

    assert again.status_code == 200 and again.json()["action"] == "unchanged"
    assert ProductRevision.objects.count() == 1


def test_a_raw_yaml_body_registers_a_standalone_contract(publisher: APIClient) -> None:
    response = put(publisher, "solo", {"c.yaml": odcs("solo", "solo", ["a"])})

    assert response.status_code == 201, response.json()
    assert DataProduct.objects.get(external_id="solo").ports.count() == 1


def test_it_rejects_a_yaml_syntax_error_with_line_and_column(publisher: APIClient) -> None:
    response = put(publisher, "orders", {"p.yaml": "id: orders\nname: [unclosed\n"})

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert "line" in error["message"] and "column" in error["message"]
    assert not DataProduct.objects.exists()


def test_it_rejects_an_unknown_contract_id_naming_the_path(publisher: APIClient) -> None:
    files = orders_bundle()
    files["product.yaml"] = files["product.yaml"].replace("orders-contract", "no-such-contract")

    response = put(publisher, "orders", files)

    assert response.status_code == 400
    paths = [e["path"] for e in response.json()["errors"]]
    assert any("outputPorts" in p and "contractId" in p for p in paths), paths
    assert not DataProduct.objects.exists()


def test_the_descriptor_id_must_match_the_url(publisher: APIClient) -> None:
    response = put(publisher, "not-orders", orders_bundle())

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "id"


def test_writing_needs_the_products_scope(
    db: None, pipeline: APIClient, anonymous: APIClient
) -> None:
    assert put(anonymous, "orders", orders_bundle()).status_code == 401
    assert put(pipeline, "orders", orders_bundle()).status_code == 403
    assert not DataProduct.objects.exists()


def test_a_token_bound_to_a_domain_cannot_publish_into_another(db: None) -> None:
    _, secret = ApiToken.issue(name="finance-ci", scopes=["products:write"], domains=["finance"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    refused = put(client, "orders", orders_bundle())
    accepted = put(client, "revenue", revenue_bundle())

    assert refused.status_code == 403 and "sales" in refused.json()["error"]
    assert accepted.status_code == 201
    assert list(DataProduct.objects.values_list("external_id", flat=True)) == ["revenue"]


def test_dry_run_reports_and_stores_nothing(publisher: APIClient) -> None:
    response = put(publisher, "orders", orders_bundle(), dry_run="true")

    assert response.status_code == 201 and response.json()["dryRun"] is True
    assert not DataProduct.objects.exists()


# --- breaking changes ---------------------------------------------------------------------


def test_dropping_a_column_a_downstream_job_reads_is_refused_naming_job_and_product(
    publisher: APIClient, pipeline: APIClient
) -> None:
    put(publisher, "orders", orders_bundle())
    put(publisher, "revenue", revenue_bundle())
    _revenue_job_reads_amount(pipeline)
    without_amount = [c for c in ORDERS_COLUMNS if c != "amount"]

    response = put(publisher, "orders", orders_bundle(version="1.1.0", columns=without_amount))

    assert response.status_code == 409
    body = response.json()
    (finding,) = [f for f in body["report"] if f["severity"] == "breaking"]
    assert finding["rule"] == "property-removed" and finding["property_path"] == "amount"
    (consumer,) = finding["consumers"]
    assert consumer["job"] == "finance:build_revenue" and consumer["via"] == "column"
    assert consumer["fields"] == ["amount"] and consumer["products"] == ["revenue"]
    assert ProductRevision.objects.filter(product__external_id="orders").count() == 1


def test_a_column_no_consumer_reads_per_column_lineage_names_no_consumer(
    publisher: APIClient, pipeline: APIClient
) -> None:
    put(publisher, "orders", orders_bundle())
    _revenue_job_reads_amount(pipeline)
    without_email = [c for c in ORDERS_COLUMNS if c != "email"]

    response = put(publisher, "orders", orders_bundle(version="1.1.0", columns=without_email))

    assert response.status_code == 409
    removed = [f for f in response.json()["report"] if f["rule"] == "property-removed"]
    assert removed and removed[0]["consumers"] == []


def test_a_major_bump_registers_the_breaking_change_and_keeps_the_report(
    publisher: APIClient, pipeline: APIClient
) -> None:
    put(publisher, "orders", orders_bundle())
    put(publisher, "revenue", revenue_bundle())
    _revenue_job_reads_amount(pipeline)
    without_amount = [c for c in ORDERS_COLUMNS if c != "amount"]

    response = put(publisher, "orders", orders_bundle(version="2.0.0", columns=without_amount))

    assert response.status_code == 200, response.json()
    revision = ProductRevision.objects.get(product__external_id="orders", number=2)
    (finding,) = revision.breaking
    assert finding["consumers"][0]["job"] == "finance:build_revenue"
    assert not revision.breaking_accepted
    assert DataProduct.objects.get(external_id="orders").version == "2.0.0"


def test_accept_breaking_registers_without_a_major_bump(publisher: APIClient) -> None:
    put(publisher, "orders", orders_bundle())

    response = put(
        publisher,
        "orders",
        orders_bundle(version="1.1.0", columns=ORDERS_COLUMNS[:2]),
        accept_breaking="true",
    )

    assert response.status_code == 200
    assert ProductRevision.objects.get(number=2).breaking_accepted


def test_breaking_changes_to_a_draft_product_are_not_refused(publisher: APIClient) -> None:
    files = orders_bundle()
    files["product.yaml"] = files["product.yaml"].replace("status: active", "status: draft")
    put(publisher, "orders", files)
    files["orders.odcs.yaml"] = odcs("orders-contract", "orders", ["order_id"])

    assert put(publisher, "orders", files).status_code == 200


# --- reading ------------------------------------------------------------------------------


def test_the_product_lineage_shows_feeds_and_observed_consumers(
    publisher: APIClient, pipeline: APIClient
) -> None:
    put(publisher, "orders", orders_bundle())
    put(publisher, "revenue", revenue_bundle())
    _revenue_job_reads_amount(pipeline)

    orders = publisher.get("/api/v1/products/orders/lineage").json()
    revenue = publisher.get("/api/v1/products/revenue/lineage").json()

    assert orders["downstream"] == ["revenue"] and revenue["upstream"] == ["orders"]
    (dataset,) = orders["datasets"]
    assert (dataset["namespace"], dataset["name"]) == (PG, "shop.public.orders")
    (consumer,) = dataset["consumers"]
    assert consumer["job"] == "finance:build_revenue" and consumer["products"] == ["revenue"]


def test_the_list_filters_by_domain_status_tag_and_text(publisher: APIClient) -> None:
    put(publisher, "orders", orders_bundle())
    put(publisher, "revenue", revenue_bundle())

    def ids(query: str) -> list[str]:
        return [p["id"] for p in publisher.get(f"/api/v1/products?{query}").json()["results"]]

    assert ids("") == ["orders", "revenue"]
    assert ids("domain=finance") == ["revenue"]
    assert ids("status=active&tag=core") == ["orders", "revenue"]
    assert ids("status=retired") == []
    assert ids("q=revenue") == ["revenue"]
    assert ids("owner=owner@sales.example") == ["orders"]


def test_revisions_and_the_diff_between_them(publisher: APIClient) -> None:
    put(publisher, "orders", orders_bundle())
    put(publisher, "orders", orders_bundle(version="2.0.0", columns=ORDERS_COLUMNS[:3]))

    revisions = publisher.get("/api/v1/products/orders/revisions").json()["results"]
    diff = publisher.get("/api/v1/products/orders/diff?from=1&to=2").json()
    second = publisher.get("/api/v1/products/orders/revisions/2").json()

    assert [r["number"] for r in revisions] == [2, 1]
    assert any(
        c["kind"] == "removed" and c["path"].endswith("properties[amount]") for c in diff["changes"]
    ), diff
    assert "orders.odcs.yaml" in second["files"]
    assert publisher.get("/api/v1/products/orders/diff?from=9").status_code == 404
    assert publisher.get("/api/v1/products/orders/diff?from=x").status_code == 400


def test_delete_retires_the_product_and_keeps_its_history(publisher: APIClient) -> None:
    put(publisher, "orders", orders_bundle())

    response = publisher.delete("/api/v1/products/orders")

    assert response.status_code == 200 and response.json()["status"] == "retired"
    assert ProductRevision.objects.filter(product__external_id="orders").count() == 1


def test_unknown_products_are_404(db: None, anonymous: APIClient) -> None:
    assert anonymous.get("/api/v1/products/nope").status_code == 404
    assert anonymous.get("/api/v1/products/nope/revisions").status_code == 404


def test_strict_refuses_a_schema_error_that_is_otherwise_a_warning(publisher: APIClient) -> None:
    files = orders_bundle()
    files["product.yaml"] += "unexpectedRootKey: true\n"

    strict = put(publisher, "orders", files, strict="true")
    lenient = put(publisher, "orders", files)

    assert strict.status_code == 400
    assert any("unexpectedRootKey" in e["message"] for e in strict.json()["errors"])
    assert lenient.status_code == 201
    assert any("unexpectedRootKey" in w["message"] for w in lenient.json()["warnings"])


def test_a_product_file_alone_needs_its_contracts_registered(publisher: APIClient) -> None:
    alone = {"product.yaml": odps("orders", outputs=[("orders", "orders-contract")])}

    refused = put(publisher, "orders", alone)
    put(publisher, "orders-contract", {"c.yaml": odcs("orders-contract", "orders", ["id"])})
    accepted = put(publisher, "orders", alone)

    assert refused.status_code == 400
    assert refused.json()["errors"][0]["path"] == "outputPorts/0/contractId"
    assert accepted.status_code == 201, accepted.json()

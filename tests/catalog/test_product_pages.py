"""The data product pages: list, product, revisions, diffs, domains, and the upload form."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from catalog import product_views
from catalog.forms import MAX_UPLOAD_BYTES
from catalog.models import (
    DataProduct,
    Dataset,
    Domain,
    Namespace,
    Ownership,
    Person,
    ProductRevision,
)
from catalog.panels import Panel, product_slot
from catalog.services import DomainForbidden, Registration, data_product_register
from tests.conftest import domain_member

pytestmark = pytest.mark.django_db

WAREHOUSE = "postgres://db.example.com:5432"

EMAIL = """\
      - name: email
        logicalType: string
        physicalType: varchar(255)
        classification: pii
        criticalDataElement: true
        description: Where receipts go
"""


def product_yaml(
    pid: str,
    *,
    name: str = "",
    version: str = "1.0.0",
    status: str = "active",
    domain: str = "sales",
    tags: tuple[str, ...] = ("orders",),
    team: str = "Order Team",
    owner: str = "alice",
    purpose: str = "Every order placed in the web shop.",
    inputs: str = "",
) -> str:
    return f"""\
apiVersion: v1.0.0
kind: DataProduct
id: {pid}
name: {name or pid}
version: {version}
status: {status}
domain: {domain}
tags: [{", ".join(tags)}]
description:
  purpose: {purpose}
  usage: Join on order_id.
  limitations: No refunds before 2023.
support:
  - channel: orders-help
    url: https://chat.example.com/orders
    tool: slack
  - channel: sneaky
    url: "javascript:alert(1)"
team:
  name: {team}
  members:
    - username: {owner}
      name: {owner.title()} Owner
      role: owner
    - username: bob
      name: Bob Steward
      role: data steward
outputPorts:
  - name: main
    version: 1.0.0
    contractId: {pid}-contract
{inputs}"""


def contract_yaml(pid: str, *, table: str, version: str = "1.0.0", email: bool = True) -> str:
    return f"""\
apiVersion: v3.0.2
kind: DataContract
id: {pid}-contract
version: {version}
status: active
name: {table} contract
servers:
  - server: prod
    type: postgres
    host: db.example.com
    port: 5432
    database: shop
    schema: public
schema:
  - name: {table}
    physicalType: table
    properties:
      - name: order_id
        logicalType: integer
        physicalType: bigint
        primaryKey: true
        required: true
        unique: true
{EMAIL if email else ""}      - name: address
        logicalType: object
        properties:
          - name: city
            logicalType: string
            description: Delivery city
    quality:
      - rule: rowCount
        mustBeGreaterThan: 0
slaProperties:
  - property: latency
    value: 4
    unit: h
    element: {table}.order_id
  - property: availability
    value: 99.9%
"""


def bundle(pid: str = "shop:orders.v1", *, table: str = "orders", **kw: Any) -> dict[str, str]:
    contract_kw = {k: kw.pop(k) for k in ("email",) if k in kw}
    if "contract_version" in kw:
        contract_kw["version"] = kw.pop("contract_version")
    return {
        "product.yaml": product_yaml(pid, **kw),
        "contract.yaml": contract_yaml(pid, table=table, **contract_kw),
    }


def register(pid: str = "shop:orders.v1", **kw: Any) -> Registration:
    accept = kw.pop("accept_breaking", False)
    return data_product_register(
        files=bundle(pid, **kw), actor="tests", source="test", accept_breaking=accept
    )


def detail_url(pid: str = "shop:orders.v1") -> str:
    return reverse("catalog:product-detail", args=[pid])


def inputs_from(pid: str) -> str:
    return f"""\
inputPorts:
  - name: upstream
    version: 1.0.0
    contractId: {pid}-contract
"""


@pytest.fixture
def publisher(db: None) -> User:
    """A member of the sales domain's team: publishes the products of that domain."""
    return domain_member("pat.publisher", "pat@example.com")


# --- list -----------------------------------------------------------------------------------


@pytest.fixture
def three_products() -> None:
    register("shop:orders.v1", name="Orders", tags=("orders", "gold"))
    register(
        "crm:customers",
        name="Customers",
        domain="marketing",
        status="draft",
        tags=("pii",),
        team="CRM Team",
        owner="carol",
        purpose="Everyone who ever bought something.",
        table="customers",
    )
    register(
        "fin:invoices", name="Invoices", domain="finance", status="deprecated", table="invoices"
    )


def names(client: Client, **params: str) -> set[str]:
    text = client.get(reverse("catalog:products"), params).content.decode()
    return {n for n in ("Orders", "Customers", "Invoices") if f"<strong>{n}</strong>" in text}


def test_the_list_filters_by_domain_status_tag_owner_and_text(
    client: Client, three_products: None
) -> None:
    assert names(client) == {"Orders", "Customers", "Invoices"}
    assert names(client, domain="marketing") == {"Customers"}
    assert names(client, status="deprecated") == {"Invoices"}
    assert names(client, tag="gold") == {"Orders"}
    assert names(client, owner="carol") == {"Customers"}
    assert names(client, owner="Order Team") == {"Orders", "Invoices"}
    assert names(client, q="bought") == {"Customers"}


def test_the_list_shows_status_badges_counts_owners_versions_and_tags(
    client: Client, three_products: None
) -> None:
    text = client.get(reverse("catalog:products")).content.decode()
    assert '<span class="badge badge-active">active</span>' in text
    assert '<span class="badge badge-deprecated">deprecated</span>' in text
    assert '<span class="badge badge-draft">draft</span> <span class="count">1</span>' in text
    assert "Carol Owner" in text and "CRM Team" in text
    assert 'href="/products/?tag=gold"' in text
    assert "1.0.0" in text
    assert 'href="/products/shop:orders.v1/"' in text


@pytest.mark.parametrize(
    "params",
    [
        {"status": "nope"},
        {"domain": "nowhere"},
        {"q": "\x00%_'"},
        {"page": "x"},
        {"tag": "x" * 999},
    ],
)
def test_the_list_never_fails_on_bad_parameters(
    client: Client, three_products: None, params: dict[str, str]
) -> None:
    assert client.get(reverse("catalog:products"), params).status_code == 200


def test_the_list_query_count_does_not_grow_with_products(
    client: Client, django_assert_num_queries: Any
) -> None:
    for i in range(12):
        register(f"p{i}", domain=f"d{i % 3}", team=f"Team {i}", owner=f"owner{i}", table=f"t{i}")
    # count, page, team members, status counts, domains
    with django_assert_num_queries(5):
        response = client.get(reverse("catalog:products"))
    assert b"Owner11 Owner" in response.content
    with django_assert_num_queries(5):
        client.get(reverse("catalog:products"), {"domain": "d1", "owner": "owner4", "q": "p"})


def test_an_empty_list_says_how_to_publish(client: Client) -> None:
    text = client.get(reverse("catalog:products")).content.decode()
    assert "No data products yet." in text
    assert reverse("catalog:product-upload") in text


# --- a product ------------------------------------------------------------------------------


def test_the_product_page_shows_purpose_owners_support_and_tags(client: Client) -> None:
    register()
    text = client.get(detail_url()).content.decode()
    assert "Every order placed in the web shop." in text and "No refunds before 2023." in text
    assert "Alice Owner" in text and "data steward" in text
    assert (
        '<a href="https://chat.example.com/orders" rel="noopener noreferrer">orders-help</a>'
        in (text)
    )
    assert 'href="javascript:' not in text
    assert '<span class="badge badge-active">active</span>' in text
    assert "v1.0.0" in text


def test_the_product_page_marks_the_pii_column_and_its_keys(client: Client) -> None:
    register()
    text = client.get(detail_url()).content.decode()
    email_row = text[text.index('title="email"') :]
    email_row = email_row[: email_row.index("</tr>")]
    assert 'class="badge badge-pii"' in email_row and ">PII<" in email_row
    assert ">CDE<" in email_row and "pii</span>" in email_row
    order_row = text[text.index('title="order_id"') :]
    order_row = order_row[: order_row.index("</tr>")]
    assert ">PK<" in order_row and ">required<" in order_row and "badge-pii" not in order_row
    assert 'data-depth="1" title="address.city">city<' in text


def test_the_product_page_shows_sla_servers_and_quality(client: Client) -> None:
    register()
    text = client.get(detail_url()).content.decode()
    assert "<strong>4 h</strong>" in text and "orders.order_id" in text
    assert "99.9%" in text
    assert "db.example.com" in text and "postgres" in text
    assert "mustBeGreaterThan: 0" in text


def test_the_product_page_links_a_bound_dataset_that_lineage_knows(client: Client) -> None:
    namespace = Namespace.objects.create(name=WAREHOUSE)
    dataset = Dataset.objects.create(namespace=namespace, name="shop.public.orders")
    register()
    register("shop:refunds", table="refunds")

    orders = client.get(detail_url()).content.decode()
    refunds = client.get(detail_url("shop:refunds")).content.decode()

    assert f'<a href="{dataset.get_absolute_url()}" title="Open the dataset">' in orders
    assert "shop.public.refunds" in refunds and "(not seen in lineage)" in refunds


def test_the_product_page_shows_upstream_and_downstream_products(client: Client) -> None:
    register("shop:orders.v1", name="Orders")
    register("bi:revenue", name="Revenue", table="revenue", inputs=inputs_from("shop:orders.v1"))

    orders = client.get(detail_url()).content.decode()
    revenue = client.get(detail_url("bi:revenue")).content.decode()

    downstream = orders[orders.index("<h3>Downstream") :]
    assert 'href="/products/bi:revenue/">Revenue<' in downstream
    upstream = revenue[revenue.index("<h3>Upstream") : revenue.index("<h3>Downstream")]
    assert 'href="/products/shop:orders.v1/">Orders<' in upstream


def test_the_product_page_lists_recent_revisions(client: Client) -> None:
    register()
    register(version="1.1.0")
    text = client.get(detail_url()).content.decode()
    assert 'href="/products/shop:orders.v1/revisions/2/"' in text
    assert 'href="/products/shop:orders.v1/revisions/1/"' in text
    assert "?from=1&amp;to=2" in text


def test_the_product_page_renders_a_registered_product_panel(client: Client) -> None:
    register()

    def last_runs(product: DataProduct) -> Panel:
        return Panel("catalog/_raw_json.html", {"title": f"panel for {product.external_id}"})

    product_slot.register(last_runs)
    try:
        text = client.get(detail_url()).content.decode()
    finally:
        product_slot._funcs.remove(last_runs)
    assert "panel for shop:orders.v1" in text


def test_an_id_with_a_colon_a_dot_and_a_slash_reaches_its_pages(client: Client) -> None:
    register("urn:shop/orders.v1")
    base = "/products/urn:shop/orders.v1/"
    assert detail_url("urn:shop/orders.v1") == base
    assert client.get(base).status_code == 200
    assert client.get(base + "revisions/").status_code == 200
    assert client.get(base + "revisions/1/").status_code == 200
    assert client.get(base + "diff/").status_code == 200
    assert client.get("/products/urn:shop/other/").status_code == 404


def test_the_product_page_query_count_does_not_grow_with_ports_and_columns(
    client: Client, django_assert_num_queries: Any
) -> None:
    namespace = Namespace.objects.create(name=WAREHOUSE)
    Dataset.objects.create(namespace=namespace, name="shop.public.orders")
    register("raw:clicks", table="clicks")
    register("shop:orders.v1", inputs=inputs_from("raw:clicks"))
    for i in range(3):
        register(f"bi:r{i}", table=f"r{i}", inputs=inputs_from("shop:orders.v1"))
    for version in ("1.0.1", "1.0.2", "1.0.3"):
        register(version=version, inputs=inputs_from("raw:clicks"))
    # product, members, contracts + objects + properties + SLA, ports + bindings, datasets,
    # feeds (input ports, output ports, upstream, downstream), the products publishing the
    # input ports' contracts, revisions, ownerships, ownership history; then lineage's panel:
    # bindings, datasets with their last write (the bound dataset has no run); governance's
    # panel: the SLOs, their segments of the last 7 days; the scorecard panel: the product's
    # results in the last runs, its waivers
    # 23 for the page, 10 for the lineage preview walked cold (each port binding finds its
    # dataset in the query that reads the bindings).
    with django_assert_num_queries(33):
        response = client.get(detail_url())
    text = response.content.decode()
    assert "bi:r2" in text and "raw:clicks" in text and "Open the dataset" in text


# --- revisions and diffs --------------------------------------------------------------------


@pytest.fixture
def email_removed() -> None:
    register()
    register(version="1.1.0", email=False, accept_breaking=True)


def test_the_revision_page_shows_the_breaking_report_and_the_files(
    client: Client, email_removed: None
) -> None:
    text = client.get(reverse("catalog:product-revision", args=["shop:orders.v1", 2])).content
    text = text.decode()
    assert "Property orders.email was removed" in text
    assert 'class="badge badge-bad">breaking</span>' in text
    assert "breaking change accepted by the publisher" in text
    assert "No known consumer" in text
    assert "<summary>contract.yaml" in text and "kind: DataContract" in text
    assert "Changes since revision 1" in text


def test_the_revision_page_lists_each_consumer_of_a_breaking_finding(client: Client) -> None:
    register()
    revision = ProductRevision.objects.get(number=1)
    revision.report = [
        {
            "severity": "breaking",
            "rule": "property-removed",
            "path": "contracts[c].objects[orders].properties[email]",
            "message": "Property orders.email was removed",
            "contract_id": "c",
            "object_name": "orders",
            "property_path": "email",
            "consumers": [
                {
                    "job": "dbt:build_mailing",
                    "job_url": "/lineage/jobs/7/",
                    "reads": f"{WAREHOUSE}:shop.public.orders",
                    "via": "column",
                    "fields": ["email"],
                    "writes": [[WAREHOUSE, "mk.mailing"]],
                    "products": ["mk:mailing"],
                }
            ],
        }
    ]
    revision.save()
    text = client.get(reverse("catalog:product-revision", args=["shop:orders.v1", 1])).content
    text = text.decode()
    assert '<a href="/lineage/jobs/7/">dbt:build_mailing</a>' in text
    assert "column lineage: <code>email</code>" in text
    assert '<a href="/products/mk:mailing/">mk:mailing</a>' in text


def test_the_diff_page_shows_the_removed_column(client: Client, email_removed: None) -> None:
    url = reverse("catalog:product-diff", args=["shop:orders.v1"])
    text = client.get(url, {"from": 1, "to": 2}).content.decode()
    assert "<h3>Contract shop:orders.v1-contract</h3>" in text
    removed = text[text.index('<tr class="diff-removed">') :]
    assert "objects[orders].properties[email]" in removed[: removed.index("</tr>")]
    changed = text[text.index('<tr class="diff-changed">') :]
    assert "version" in changed and "1.1.0" in changed[: changed.index("</tr>")]


def test_the_diff_page_defaults_to_the_last_change(client: Client, email_removed: None) -> None:
    text = client.get(reverse("catalog:product-diff", args=["shop:orders.v1"])).content.decode()
    assert "Revision 1 → 2" in text


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"from": "x"}, 400),
        ({"to": "-1"}, 400),
        ({"from": "0"}, 400),
        ({"from": "²"}, 400),
        ({"to": "9" * 30}, 400),
        ({"from": "7", "to": "2"}, 404),
        ({"from": "1", "to": "3"}, 404),
        ({"from": "2", "to": "1"}, 200),
        ({"from": "2", "to": "2"}, 200),
    ],
)
def test_bad_diff_parameters_never_fail(
    client: Client, email_removed: None, params: dict[str, str], status: int
) -> None:
    response = client.get(reverse("catalog:product-diff", args=["shop:orders.v1"]), params)
    assert response.status_code == status
    if status == 400:
        assert "is not a revision number" in response.content.decode()


def test_unknown_products_and_revisions_are_404(client: Client, email_removed: None) -> None:
    assert client.get(detail_url("nope")).status_code == 404
    assert client.get("/products/nope/revisions/").status_code == 404
    assert client.get("/products/shop:orders.v1/revisions/9/").status_code == 404
    assert client.get("/products/shop:orders.v1/revisions/99999999999999999999/").status_code == 404


def test_the_revisions_page_lists_every_revision(client: Client, email_removed: None) -> None:
    text = client.get("/products/shop:orders.v1/revisions/").content.decode()
    assert "2 revisions" in text
    assert '<span class="badge badge-bad">1 breaking</span>' in text


# --- domains --------------------------------------------------------------------------------


def test_the_domain_list_nests_sub_domains_with_product_counts(client: Client) -> None:
    register("shop:orders.v1")
    register("shop:returns", table="returns")
    sales = Domain.objects.get(slug="sales")
    Domain.objects.create(slug="sales--eu", name="Sales EU", parent=sales)
    text = client.get(reverse("catalog:domains")).content.decode()
    assert "<strong>sales</strong>" in text and "2 products" in text
    # A sub-domain is listed under its parent, not as a domain of its own.
    assert 'href="/domains/sales--eu/">Sales EU</a>' in text
    assert "<strong>Sales EU</strong>" not in text
    assert text.index("<strong>sales</strong>") < text.index("Sales EU")


def test_the_domain_page_lists_its_and_its_sub_domains_products_and_teams(
    client: Client,
) -> None:
    register("shop:orders.v1", name="Orders")
    register("crm:customers", name="Customers", domain="marketing", table="customers")
    sales = Domain.objects.get(slug="sales")
    eu = Domain.objects.create(slug="sales--eu", name="Sales EU", parent=sales)
    register("shop:eu", name="EU orders", team="EU Team", owner="erik", table="eu")
    DataProduct.objects.filter(external_id="shop:eu").update(domain=eu)

    text = client.get(reverse("catalog:domain-detail", args=["sales"])).content.decode()
    eu_page = client.get(reverse("catalog:domain-detail", args=["sales--eu"])).content.decode()

    assert "<strong>Orders</strong>" in text and "<strong>EU orders</strong>" in text
    assert "Customers" not in text
    assert "<h3>Order Team</h3>" in text and "Alice Owner" in text and "data steward" in text
    assert "<strong>EU orders</strong>" in eu_page and "<strong>Orders</strong>" not in eu_page
    assert 'href="/domains/sales/"' in eu_page
    assert client.get(reverse("catalog:domain-detail", args=["nowhere"])).status_code == 404


# --- upload ---------------------------------------------------------------------------------

UPLOAD = "/products/upload/"


def upload(client: Client, files: dict[str, str] | None = None, **data: Any) -> Any:
    payload: dict[str, Any] = {"action": "publish", **data}
    if files:
        payload["uploads"] = [SimpleUploadedFile(n, t.encode()) for n, t in files.items()]
    return client.post(UPLOAD, payload)


def test_an_anonymous_visitor_is_sent_to_log_in(client: Client) -> None:
    response = client.get(UPLOAD)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/products/upload/")
    assert upload(client, bundle()).status_code == 403
    assert not DataProduct.objects.exists()


@pytest.mark.parametrize("who", ["outsider", "steward"])
def test_a_user_in_no_domain_is_refused(client: Client, who: str, request: Any) -> None:
    client.force_login(request.getfixturevalue(who))
    assert client.get(UPLOAD).status_code == 403
    response = upload(client, bundle())
    assert response.status_code == 403
    assert "You are in none yet" in response.content.decode()
    assert not DataProduct.objects.exists()


def test_an_owner_publishes_only_into_their_domains(client: Client, publisher: User) -> None:
    client.force_login(publisher)
    refused = upload(client, bundle("hr:people", table="people", domain="hr"))
    assert refused.status_code == 403
    assert "may publish into sales, not into domain &#x27;hr&#x27;" in refused.content.decode()
    assert not DataProduct.objects.exists()

    register("fin:ledger", domain="finance", table="ledger")
    ledger = bundle("fin:ledger", domain="finance", table="ledger", version="1.0.1")
    assert upload(client, ledger).status_code == 403  # someone else's product
    product = DataProduct.objects.get(external_id="fin:ledger")
    Ownership.objects.create(
        product=product, person=Person.objects.get(user=publisher), role="owner"
    )
    assert upload(client, ledger).status_code == 302  # theirs now, in whatever domain
    moved = bundle("fin:ledger", domain="hr", table="ledger", version="1.0.2")
    assert upload(client, moved).status_code == 403  # but not into a domain of nobody's
    product.refresh_from_db()
    assert (product.version, product.domain.slug) == ("1.0.1", "finance")


def test_the_upload_link_shows_to_those_who_may_edit(
    client: Client, publisher: User, outsider: User
) -> None:
    register()
    register("fin:ledger", domain="finance", table="ledger")
    link = 'href="/products/upload/"'
    client.force_login(publisher)
    assert link in client.get(detail_url()).content.decode()
    assert link not in client.get(detail_url("fin:ledger")).content.decode()
    client.force_login(outsider)
    assert link not in client.get(detail_url()).content.decode()
    assert link not in client.get(reverse("catalog:products")).content.decode()


def test_an_owner_publishes_and_lands_on_the_product_with_a_message(
    client: Client, publisher: User
) -> None:
    client.force_login(publisher)
    assert client.get(UPLOAD).status_code == 200

    response = upload(client, bundle())

    assert response.status_code == 302
    assert response["Location"] == detail_url()
    revision = ProductRevision.objects.get()
    assert (revision.actor, revision.source) == ("pat.publisher", "portal")
    page = client.get(response["Location"]).content.decode()
    assert "Registered revision 1 of shop:orders.v1." in page
    again = upload(client, bundle())
    assert "No change" in client.get(again["Location"]).content.decode()


def test_an_admin_may_publish_pasted_text_into_any_domain(client: Client, admin_user: User) -> None:
    client.force_login(admin_user)
    text = contract_yaml("solo", table="solo")
    response = client.post(UPLOAD, {"text": text, "action": "publish"})
    assert response.status_code == 302
    assert DataProduct.objects.get().external_id == "solo-contract"


def test_a_syntax_error_is_shown_with_its_line_and_column(client: Client, publisher: User) -> None:
    client.force_login(publisher)
    broken = {"product.yaml": "apiVersion: v1.0.0\nkind: [DataProduct\nid: x\n"}
    response = upload(client, broken)
    assert response.status_code == 400
    text = response.content.decode()
    assert "The descriptor was not accepted" in text
    assert "product.yaml" in text and "line 3, column" in text
    assert not DataProduct.objects.exists()


def test_an_unchecked_form_is_400_with_a_message(client: Client, publisher: User) -> None:
    client.force_login(publisher)
    response = client.post(UPLOAD, {"action": "publish"})
    assert response.status_code == 400
    assert "Choose descriptor files or paste a descriptor." in response.content.decode()
    big = client.post(UPLOAD, {"text": "x" * (MAX_UPLOAD_BYTES + 1), "action": "publish"})
    assert big.status_code == 400
    assert "the limit is 5 MB" in big.content.decode()


def test_a_breaking_change_is_refused_with_its_report(client: Client, publisher: User) -> None:
    client.force_login(publisher)
    register()
    response = upload(client, bundle(version="1.1.0", email=False))
    assert response.status_code == 409
    text = response.content.decode()
    assert "Property orders.email was removed" in text
    assert "bump the major version" in text
    assert ProductRevision.objects.count() == 1

    # The refusal carries the files: accepting needs no second upload.
    carried = text[text.index('name="bundle" value="') + len('name="bundle" value="') :]
    carried = carried[: carried.index('"')].replace("&quot;", '"').replace("&#x27;", "'")
    carried = carried.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    accepted = client.post(UPLOAD, {"bundle": carried, "accept_breaking": "on"})
    assert accepted.status_code == 302
    assert ProductRevision.objects.get(number=2).breaking_accepted


def test_a_preview_shows_what_would_happen_and_writes_nothing(
    client: Client, admin_user: User
) -> None:
    client.force_login(admin_user)
    register()
    counts = (DataProduct.objects.count(), ProductRevision.objects.count(), Domain.objects.count())

    first = upload(client, bundle("new:one", table="one", domain="brand-new"), action="preview")
    change = upload(
        client, bundle(version="2.0.0", email=False, contract_version="2.0.0"), action="preview"
    )

    assert first.status_code == 200 and change.status_code == 200
    assert "register a new product" in first.content.decode()
    text = change.content.decode()
    assert "revision 2" in text and "Property orders.email was removed" in text
    assert "nothing was saved" in text
    assert counts == (
        DataProduct.objects.count(),
        ProductRevision.objects.count(),
        Domain.objects.count(),
    )
    assert DataProduct.objects.get().version == "1.0.0"


# --- home and navigation --------------------------------------------------------------------


def test_the_home_page_counts_products_by_status_and_lists_recent_ones(
    client: Client, three_products: None, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(12):
        text = client.get("/").content.decode()
    assert (
        '<span class="stat-value">3</span>\n    <span class="stat-label">data products</span>'
        in (text)
    )
    assert "1 deprecated" in text and "Invoices" in text
    assert 'href="/products/" aria-current' not in text
    assert 'href="/products/"' in text and 'href="/domains/"' in text


def test_a_domain_refusal_is_a_403_page(
    client: Client, publisher: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(**_: Any) -> Registration:
        raise DomainForbidden("token 'ci' may publish into sales, not into domain 'hr'")

    monkeypatch.setattr(product_views, "data_product_register", refuse)
    client.force_login(publisher)
    response = upload(client, bundle())
    assert response.status_code == 403
    assert "not into domain &#x27;hr&#x27;" in response.content.decode()


def test_an_input_port_links_the_product_publishing_its_contract(client: Client) -> None:
    register("raw:clicks", table="clicks")
    register("shop:orders.v1", inputs=inputs_from("raw:clicks"))

    page = client.get(detail_url()).content.decode()
    row = page[page.index("raw:clicks-contract") :]

    assert f'href="{detail_url("raw:clicks")}"' in row[: row.index("</tr>")]

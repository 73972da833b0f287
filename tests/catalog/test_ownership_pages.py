"""Owners in the portal: product, dataset and domain pages, the stewards' edits, the team
pages, and the home page's products of the user."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from catalog.models import DataProduct, Dataset, Domain, Ownership, Person, Team
from catalog.ownership import ownership_add, person_party
from catalog.services import data_product_register
from lineage.services import lineage_event_ingest
from tests.catalog.test_product_pages import bundle, detail_url, register
from tests.conftest import run_event

pytestmark = pytest.mark.django_db

WAREHOUSE = "postgres://warehouse:5432"
ADD = "/ownerships/add/"


def section(html: str, element_id: str, end: str = "</section>") -> str:
    start = html.index(f'id="{element_id}"')
    return html[start : html.index(end, start)]


def owners_of_page(html: str) -> str:
    """The owners block: a section of its own, or the side's "Owners" entry."""
    return section(html, "owners", "</dd>" if '<dt id="owners"' in html else "</section>")


def product() -> DataProduct:
    return DataProduct.objects.get(external_id="shop:orders.v1")


def register_without_owner(pid: str = "shop:orders.v1") -> None:
    files = bundle(pid)
    files["product.yaml"] = files["product.yaml"].replace("role: owner", "role: member")
    data_product_register(files=files, actor="tests", source="test")


def ingest_table(owners: list[dict[str, str]]) -> Dataset:
    table = {"namespace": WAREHOUSE, "name": "mart.orders",
             "facets": {"ownership": {"owners": owners}}}  # fmt: skip
    lineage_event_ingest(payload=run_event(job=("etl", "load"), outputs=[table]))
    return Dataset.objects.get(name="mart.orders")


def add_form(target: Any, party: str, role: str = "owner", kind: str = "person") -> dict[str, Any]:
    target_kind = {"DataProduct": "product"}.get(type(target).__name__, type(target).__name__)
    return {"target_kind": target_kind.lower(), "target": target.pk, "party_kind": kind,
            "party": party, "role": role}  # fmt: skip


# --- product page ---------------------------------------------------------------------------


def test_it_shows_each_owner_with_role_source_and_contact_on_the_product_page(
    client: Client,
) -> None:
    register()
    Person.objects.filter(username="alice").update(email="alice@shop.example")

    html = client.get(detail_url()).content.decode()
    owners, about = owners_of_page(html), section(html, "owners", "</dl>")

    assert '<a href="mailto:alice@shop.example"' in owners and "Alice Owner" in owners
    assert 'Owner <span class="source">· Descriptor</span>' in owners
    assert 'Steward <span class="source">· Descriptor</span>' in owners
    assert "No owner" not in html
    assert 'href="https://chat.example.com/orders"' in about  # the support channel
    team = Team.objects.get(name="Order Team")
    assert f'<a href="/teams/{team.pk}/">Order Team</a>' in about


def test_it_flags_a_product_without_owner_on_its_page_and_in_the_list(client: Client) -> None:
    register_without_owner()

    page = client.get(detail_url()).content.decode()
    listing = client.get(reverse("catalog:products")).content.decode()

    assert '<a class="badge badge-bad" href="#owners"' in page
    assert re.search(r'<span class="badge badge-bad"[^>]*>No owner</span>', listing)


def test_it_shows_the_last_ten_ownership_changes_with_who_and_from_where(
    client: Client,
) -> None:
    register()
    for i in range(11):
        ownership_add(target=product(), party=person_party(f"p{i}"), role="steward",
                      source=Ownership.Source.API, actor="bot")  # fmt: skip

    changes = section(client.get(detail_url()).content.decode(), "ownership-history")

    assert changes.count("<tr>") == 1 + 10
    assert "p10" in changes and ">alice<" not in changes
    assert '<td class="hide-narrow">API</td>' in changes and "bot" in changes


# --- steward edits --------------------------------------------------------------------------


def test_a_steward_adds_and_removes_an_owner_from_the_product_page(
    client: Client, steward: User
) -> None:
    register()
    client.force_login(steward)
    assert 'action="/ownerships/add/"' in client.get(detail_url()).content.decode()

    response = client.post(ADD, add_form(product(), "dana", "business_owner"))

    assert response.status_code == 302 and response["Location"] == detail_url() + "#owners"
    row = Ownership.objects.get(person__username="dana")
    assert (row.role, row.source, row.created_by) == ("business_owner", "portal", "sam.steward")
    response = client.post(f"/ownerships/{row.pk}/remove/")
    assert response.status_code == 302
    assert not Ownership.objects.filter(person__username="dana").exists()
    assert "dana" in section(client.get(detail_url()).content.decode(), "ownership-history")


def test_a_steward_adds_a_team_as_steward_of_a_dataset(client: Client, steward: User) -> None:
    table = ingest_table([{"name": "user:jdoe", "type": "MAINTAINER"}])
    register()
    client.force_login(steward)

    response = client.post(ADD, add_form(table, "Order Team", "steward", kind="team"))

    assert response.status_code == 302
    page = client.get(table.get_absolute_url()).content.decode()
    owners = owners_of_page(page)
    assert "jdoe" in owners and "Technical Owner" in owners and "OpenLineage" in owners
    assert "Order Team</a>" in owners and "Portal" in owners
    assert "job:etl:load" in section(page, "ownership-history")


def test_non_staff_get_403_on_owner_edits_and_see_no_forms(client: Client, outsider: User) -> None:
    register()
    row = Ownership.objects.get(person__username="alice")

    assert client.post(ADD, add_form(product(), "eve")).status_code == 403
    client.force_login(outsider)
    assert client.post(ADD, add_form(product(), "eve")).status_code == 403
    assert client.post(f"/ownerships/{row.pk}/remove/").status_code == 403
    assert 'action="/ownerships/add/"' not in client.get(detail_url()).content.decode()
    assert not Person.objects.filter(username="eve").exists()
    assert Ownership.objects.filter(pk=row.pk).exists()


def test_owner_edits_are_post_only_and_csrf_protected(steward: User) -> None:
    register()
    client = Client(enforce_csrf_checks=True)
    client.force_login(steward)

    assert client.get(ADD).status_code == 405
    assert client.post(ADD, add_form(product(), "eve")).status_code == 403
    assert not Person.objects.filter(username="eve").exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"party_kind": "team", "party": "nobody"}, "party"),
        ({"role": "boss"}, "role"),
        ({"target": 999999}, "target"),
        ({"target_kind": "job"}, "target_kind"),
        ({"party": ""}, "party"),
    ],
)
def test_a_bad_owner_form_gets_a_400_naming_the_field(
    client: Client, steward: User, change: dict[str, Any], field: str
) -> None:
    register()
    client.force_login(steward)
    before = Ownership.objects.count()

    response = client.post(ADD, {**add_form(product(), "eve"), **change})

    assert response.status_code == 400
    assert f"<p>{field}: " in response.content.decode()
    assert Ownership.objects.count() == before


# --- domains, teams, home -------------------------------------------------------------------


def test_the_domain_page_shows_the_domains_owners(client: Client) -> None:
    register()
    ownership_add(target=Domain.objects.get(slug="sales"), party=person_party("vera"),
                  role="business_owner", source=Ownership.Source.API, actor="t")  # fmt: skip

    owners = owners_of_page(client.get("/domains/sales/").content.decode())

    assert "vera" in owners and "Business Owner" in owners


def test_the_team_list_shows_member_counts(client: Client) -> None:
    register()
    register("crm:customers", table="customers", team="CRM Team", owner="carol")

    html = client.get(reverse("catalog:teams")).content.decode()

    team = Team.objects.get(name="CRM Team")
    assert f'<a href="/teams/{team.pk}/"><strong>CRM Team</strong></a>' in html
    assert re.search(r'CRM Team</strong>.*?<td class="num">2</td>', html, re.S)


def test_the_team_list_query_count_does_not_grow_with_teams(
    client: Client, django_assert_num_queries: Any
) -> None:
    for i in range(8):
        register(f"p{i}", team=f"Team {i}", owner=f"owner{i}", table=f"t{i}")
    # count, page of teams with their counts
    with django_assert_num_queries(2):
        response = client.get(reverse("catalog:teams"))
    assert b"Team 7" in response.content


def test_the_team_page_shows_members_with_roles_and_what_the_team_owns(client: Client) -> None:
    register()
    table = ingest_table([{"name": "team:Order Team", "type": "DATA_STEWARD"}])
    team = Team.objects.get(name="Order Team")

    html = client.get(reverse("catalog:team-detail", args=[team.pk])).content.decode()

    assert "Alice Owner" in html and "data steward" in html
    assert f'href="{detail_url()}"' in html and "publisher" in html
    assert f'href="{table.get_absolute_url()}"' in html and "Steward" in html
    assert client.get(reverse("catalog:team-detail", args=[999999])).status_code == 404


def test_the_home_page_lists_the_products_a_user_owns_through_ownership(
    client: Client, steward: User
) -> None:
    register()
    register("crm:customers", name="Customers", table="customers", team="CRM Team")
    ownership_add(target=product(), party=person_party("sam@example.com"), role="owner",
                  source=Ownership.Source.PORTAL, actor="t")  # fmt: skip
    client.force_login(steward)

    html = client.get("/").content.decode()
    mine = section(html, "my-products")

    assert f'<a href="{detail_url()}">shop:orders.v1</a>' in mine
    assert "crm:customers" not in mine

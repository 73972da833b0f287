"""``/api/v1/ownerships``, its history, ``/api/v1/teams`` and ``/api/v1/people``."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from catalog.models import Dataset, Ownership, OwnershipChange, Person, Team
from lineage.services import lineage_event_ingest
from tests.catalog.test_product_pages import register
from tests.conftest import run_event

pytestmark = pytest.mark.django_db

WAREHOUSE = "postgres://warehouse:5432"


@pytest.fixture
def mesh() -> None:
    """Orders (sales; alice owner, bob steward), Customers (marketing; CRM Team), and a
    warehouse table owned by the team ``data`` through its ownership facet."""
    register()
    register("crm:customers", name="Customers", domain="marketing", team="CRM Team",
             owner="carol", table="customers")  # fmt: skip
    facet = {"ownership": {"owners": [{"name": "team:data", "type": "STEWARD"}]}}
    table = {"namespace": WAREHOUSE, "name": "mart.orders", "facets": facet}
    lineage_event_ingest(payload=run_event(job=("etl", "load"), outputs=[table]))


def listed(client: APIClient, url: str = "/api/v1/ownerships", **params: Any) -> list[Any]:
    response = client.get(url, params)
    assert response.status_code == 200, response.json()
    return [
        (row["target"], row.get("partyType"), row["role"]) for row in response.json()["results"]
    ]


def error_paths(response: Any) -> set[str]:
    return {error["path"] for error in response.json()["errors"]}


# --- reads ----------------------------------------------------------------------------------


def test_it_lists_ownerships_paginated(anonymous: APIClient, mesh: None) -> None:
    body = anonymous.get("/api/v1/ownerships", {"limit": 2}).json()

    assert body["count"] == 5 and len(body["results"]) == 2 and body["next"]
    row = anonymous.get("/api/v1/ownerships", {"person": "alice"}).json()["results"][0]
    assert row["product"] == "shop:orders.v1" and row["person"]["username"] == "alice"
    assert (row["targetType"], row["source"], row["createdBy"]) == (
        "product",
        "descriptor",
        "tests",
    )


def test_it_filters_ownerships_by_target_party_role_and_source(
    anonymous: APIClient, mesh: None
) -> None:
    table = Dataset.objects.get(name="mart.orders")
    data = [(f"{WAREHOUSE}:mart.orders", "team", "steward")]

    assert listed(anonymous, product="crm:customers", role="owner") == [
        ("crm:customers", "person", "owner")
    ]
    assert listed(anonymous, dataset=table.pk) == data
    assert listed(anonymous, namespace=WAREHOUSE, name="mart.orders") == data
    assert listed(anonymous, team="data", source="openlineage") == data
    assert listed(anonymous, person="bob", role="steward") == [
        ("shop:orders.v1", "person", "steward"),
        ("crm:customers", "person", "steward"),
    ]
    assert listed(anonymous, domain="sales") == []


@pytest.mark.parametrize(
    ("params", "field"),
    [({"role": "boss"}, "role"), ({"source": "fax"}, "source"), ({"dataset": "x"}, "dataset")],
)
def test_it_rejects_a_bad_filter_naming_it(
    anonymous: APIClient, params: dict[str, str], field: str
) -> None:
    for url in ("/api/v1/ownerships", "/api/v1/ownerships/history"):
        response = anonymous.get(url, params)
        assert response.status_code == 400
        assert error_paths(response) == {field}


def test_it_lists_the_history_newest_first_with_filters(
    anonymous: APIClient, governor: APIClient, mesh: None
) -> None:
    governor.post("/api/v1/ownerships", {"product": "shop:orders.v1", "person": "sam",
                                         "role": "steward"}, format="json")  # fmt: skip
    rows = anonymous.get("/api/v1/ownerships/history", {"product": "shop:orders.v1"}).json()

    assert [(r["action"], r["party"], r["source"], r["actor"]) for r in rows["results"]] == [
        ("added", "sam", "api", "stewardship"),
        ("added", "bob", "descriptor", "tests"),
        ("added", "alice", "descriptor", "tests"),
    ]
    removed = anonymous.get("/api/v1/ownerships/history", {"action": "removed"}).json()
    assert removed["count"] == 0


# --- writes ---------------------------------------------------------------------------------


def test_it_adds_an_ownership_once_with_a_governance_token(governor: APIClient, mesh: None) -> None:
    body = {"product": "shop:orders.v1", "person": "sam", "role": "business_owner"}

    created = governor.post("/api/v1/ownerships", body, format="json")
    again = governor.post("/api/v1/ownerships", body, format="json")

    assert (created.status_code, again.status_code) == (201, 200)
    assert created.json()["id"] == again.json()["id"]
    row = Ownership.objects.get(pk=created.json()["id"])
    assert (row.person.username, row.source, row.created_by) == ("sam", "api", "stewardship")
    assert OwnershipChange.objects.filter(party_label="sam").count() == 1


def test_it_adds_a_team_to_a_dataset_named_by_namespace_and_name(
    governor: APIClient, mesh: None
) -> None:
    body = {
        "dataset": {"namespace": WAREHOUSE, "name": "mart.orders"},
        "team": "CRM Team",
        "role": "owner",
    }
    response = governor.post("/api/v1/ownerships", body, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["dataset"]["name"] == "mart.orders"
    assert response.json()["team"]["name"] == "CRM Team"


def test_a_staff_user_may_add_an_ownership_to_a_domain(steward: User, mesh: None) -> None:
    client = APIClient()
    client.force_login(steward)
    body = {"domain": "sales", "person": "sam.steward", "role": "steward"}

    response = client.post("/api/v1/ownerships", body, format="json")

    assert response.status_code == 201
    assert response.json()["createdBy"] == "sam.steward"
    assert Person.objects.get(username="sam.steward").user == steward


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"product": "nope", "person": "sam", "role": "owner"}, {"product"}),
        ({"domain": "nope", "person": "sam", "role": "owner"}, {"domain"}),
        ({"dataset": {"namespace": "x", "name": "y"}, "person": "sam", "role": "owner"},
         {"dataset"}),
        ({"dataset": {"namespace": "x"}, "person": "sam", "role": "owner"}, {"dataset.name"}),
        ({"person": "sam", "role": "owner"}, {"target"}),
        ({"product": "shop:orders.v1", "domain": "sales", "person": "sam", "role": "owner"},
         {"target"}),
        ({"product": "shop:orders.v1", "role": "owner"}, {"party"}),
        ({"product": "shop:orders.v1", "person": "sam", "team": "CRM Team", "role": "owner"},
         {"party"}),
        ({"product": "shop:orders.v1", "team": "nobody", "role": "owner"}, {"team"}),
        ({"product": "shop:orders.v1", "person": "  ", "role": "owner"}, {"person"}),
        ({"product": "shop:orders.v1", "person": "sam", "role": "boss"}, {"role"}),
        ({"product": "shop:orders.v1", "person": "sam"}, {"role"}),
        ({"product": "shop:orders.v1", "person": "x" * 300, "role": "owner"}, {"person"}),
    ],
)  # fmt: skip
def test_it_refuses_a_bad_body_naming_the_field_and_changes_nothing(
    governor: APIClient, mesh: None, body: dict[str, Any], fields: set[str]
) -> None:
    before = (Ownership.objects.count(), Person.objects.count(), OwnershipChange.objects.count())

    response = governor.post("/api/v1/ownerships", body, format="json")

    assert response.status_code == 400
    assert error_paths(response) == fields
    after = (Ownership.objects.count(), Person.objects.count(), OwnershipChange.objects.count())
    assert after == before


def test_it_deletes_an_ownership_and_records_who_did(governor: APIClient, mesh: None) -> None:
    row = Ownership.objects.get(person__username="alice")

    response = governor.delete(f"/api/v1/ownerships/{row.pk}")

    assert response.status_code == 204
    assert not Ownership.objects.filter(pk=row.pk).exists()
    change = OwnershipChange.objects.first()
    assert change is not None
    assert (change.action, change.party_label, change.source, change.actor) == (
        "removed", "alice", "api", "stewardship",
    )  # fmt: skip
    assert governor.delete(f"/api/v1/ownerships/{row.pk}").status_code == 404


def test_it_forbids_writes_to_an_outsider_and_a_token_without_the_scope(
    outsider: User, pipeline: APIClient, anonymous: APIClient, mesh: None
) -> None:
    session = APIClient()
    session.force_login(outsider)
    row = Ownership.objects.get(person__username="alice")
    body = {"product": "shop:orders.v1", "person": "olga", "role": "owner"}

    for client in (session, pipeline):
        assert client.post("/api/v1/ownerships", body, format="json").status_code == 403
        assert client.delete(f"/api/v1/ownerships/{row.pk}").status_code == 403
    assert anonymous.post("/api/v1/ownerships", body, format="json").status_code in (401, 403)
    assert "governance:write" in pipeline.post("/api/v1/ownerships", body).json()["error"]
    assert Ownership.objects.filter(pk=row.pk).exists()
    assert not Person.objects.filter(username="olga").exists()


# --- teams and people -----------------------------------------------------------------------


def test_it_lists_teams_with_their_counts(anonymous: APIClient, mesh: None) -> None:
    rows = anonymous.get("/api/v1/teams").json()["results"]

    assert [
        (r["name"], r["memberCount"], r["productCount"], r["ownershipCount"]) for r in rows
    ] == [
        ("CRM Team", 2, 1, 0),
        ("Order Team", 2, 1, 0),
        ("data", 0, 0, 1),
    ]


def test_it_shows_a_team_with_its_members_and_what_it_owns(
    anonymous: APIClient, mesh: None
) -> None:
    data = Team.objects.get(name="data")
    crm = Team.objects.get(name="CRM Team")

    body = anonymous.get(f"/api/v1/teams/{data.pk}").json()
    crm_body = anonymous.get(f"/api/v1/teams/{crm.pk}").json()

    assert body["owns"]["datasets"] == [
        {"id": Dataset.objects.get().pk, "namespace": WAREHOUSE, "name": "mart.orders",
         "roles": ["steward"]}
    ]  # fmt: skip
    assert [(m["username"], m["role"]) for m in crm_body["members"]] == [
        ("carol", "owner"), ("bob", "steward"),
    ]  # fmt: skip
    assert crm_body["owns"]["products"] == [
        {"id": "crm:customers", "name": "Customers", "publishes": True, "roles": []}
    ]
    assert anonymous.get("/api/v1/teams/999999").status_code == 404


def test_it_lists_people_with_their_teams_and_users(
    anonymous: APIClient, steward: User, mesh: None
) -> None:
    Person.objects.filter(username="bob").update(user=steward)

    rows = {r["username"]: r for r in anonymous.get("/api/v1/people").json()["results"]}

    assert rows["bob"]["user"] == "sam.steward"
    assert {t["team"] for t in rows["bob"]["teams"]} == {"CRM Team", "Order Team"}
    assert rows["alice"]["user"] is None


def test_the_schema_documents_the_ownership_api(anonymous: APIClient) -> None:
    schema = anonymous.get("/api/schema/").content.decode()

    for path in ("/api/v1/ownerships", "/api/v1/ownerships/history", "/api/v1/teams/{id}",
                 "/api/v1/people"):  # fmt: skip
        assert f"  {path}:" in schema

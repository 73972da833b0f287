"""Ownership: where it comes from (descriptors, OpenLineage facets, stewards), its history,
and how people map to portal users."""

from __future__ import annotations

from importlib import import_module
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.descriptors.model import Member
from catalog.descriptors.model import Team as TeamSpec
from catalog.models import (
    DataProduct,
    Dataset,
    Domain,
    Namespace,
    Ownership,
    OwnershipChange,
    Person,
    ProductStatus,
    Team,
    TeamMember,
)
from catalog.ownership import (
    Party,
    entries_from_team,
    ownership_add,
    ownership_remove,
    party_from_urn,
    person_party,
    persons_ensure,
    role_from_type,
    team_party,
)
from catalog.ownership_selectors import owned_by, products_without_owner
from catalog.roles import persons_of
from catalog.services import data_product_register
from lineage.services import lineage_event_ingest
from tests.catalog.test_product_pages import bundle, register
from tests.conftest import run_event

pytestmark = pytest.mark.django_db

WAREHOUSE = "postgres://warehouse:5432"
PORTAL = Ownership.Source.PORTAL


def owners(product_id: str = "shop:orders.v1", **filters: Any) -> set[tuple[str, str, str]]:
    """(party label, role, source) of a product's ownerships."""
    rows = Ownership.objects.filter(product__external_id=product_id, **filters)
    return {(row.party_label, row.role, row.source) for row in rows.select_related("person")}


def history(**filters: Any) -> list[tuple[str, str, str, str, str]]:
    """(action, party, role, source, actor) of the changes, oldest first."""
    rows = OwnershipChange.objects.filter(**filters).order_by("at", "id")
    return [(c.action, c.party_label, c.role, c.source, c.actor) for c in rows]


def product() -> DataProduct:
    return DataProduct.objects.get(external_id="shop:orders.v1")


# --- descriptors ----------------------------------------------------------------------------


def test_it_turns_the_descriptor_team_roles_into_product_ownerships_with_history() -> None:
    register()

    assert owners() == {("alice", "owner", "descriptor"), ("bob", "steward", "descriptor")}
    assert Ownership.objects.get(person__username="bob").role_raw == "data steward"
    assert history() == [
        ("added", "alice", "owner", "descriptor", "tests"),
        ("added", "bob", "steward", "descriptor", "tests"),
    ]


def test_it_records_what_a_new_revision_adds_and_removes() -> None:
    register()
    register(version="1.0.1", owner="carol")

    assert owners() == {("carol", "owner", "descriptor"), ("bob", "steward", "descriptor")}
    assert history()[2:] == [
        ("added", "carol", "owner", "descriptor", "tests"),
        ("removed", "alice", "owner", "descriptor", "tests"),
    ]
    assert history(target_label="shop:orders.v1", product=product()) == history()


def test_it_keeps_a_stewards_portal_edit_when_the_descriptor_is_uploaded_again() -> None:
    register()
    ownership_add(
        target=product(), party=person_party("sam"), role="steward", source=PORTAL, actor="sam"
    )

    register(version="1.0.1", owner="carol")

    assert ("sam", "steward", "portal") in owners()
    assert ("alice", "owner", "descriptor") not in owners()


def test_it_does_not_add_a_role_that_another_source_already_holds() -> None:
    register()
    ownership_add(
        target=product(), party=person_party("carol"), role="owner", source=PORTAL, actor="sam"
    )

    register(version="1.0.1", owner="carol")

    assert owners(person__username="carol") == {("carol", "owner", "portal")}


def test_it_forgets_nothing_when_a_dry_run_or_an_identical_upload_comes_in() -> None:
    register()
    changes = OwnershipChange.objects.count()

    data_product_register(files=bundle(owner="carol"), actor="t", source="t", dry_run=True)
    register()

    assert OwnershipChange.objects.count() == changes
    assert ("alice", "owner", "descriptor") in owners()


def test_it_makes_a_team_named_without_members_the_owner() -> None:
    assert [
        (e.party, e.role) for e in entries_from_team(TeamSpec(name="checkout"), "checkout")
    ] == [(team_party("checkout"), "owner")]
    members = [Member(username="ann", role="member"), Member(username="bo", role="steward")]
    entries = entries_from_team(TeamSpec(name="t", members=members), "t")
    assert [(e.party.key, e.role) for e in entries] == [("bo", "steward")]


# --- OpenLineage ----------------------------------------------------------------------------


def ingest_owners(owners: list[dict[str, str]], name: str = "mart.orders") -> None:
    dataset = {
        "namespace": WAREHOUSE,
        "name": name,
        "facets": {"ownership": {"owners": owners}},
    }
    lineage_event_ingest(payload=run_event(job=("etl", "load"), outputs=[dataset]))


FACET = [
    {"name": "user:jdoe", "type": "MAINTAINER"},
    {"name": "team:data", "type": "TEAM"},
    {"name": "Jane.Roe@Example.com", "type": "Business Owner"},
    {"name": "sam", "type": "DATA_STEWARD"},
    {"name": "user:kim"},
]


def dataset_owners() -> set[tuple[str, str, str, str]]:
    rows = Ownership.objects.filter(dataset__name="mart.orders").select_related("person", "team")
    return {(row.party_kind, row.party_label, row.role, row.role_raw) for row in rows}


def test_it_reads_owners_and_their_roles_from_an_ingested_ownership_facet() -> None:
    ingest_owners(FACET)

    assert dataset_owners() == {
        ("person", "jdoe", "technical_owner", "MAINTAINER"),
        ("team", "data", "owner", "TEAM"),
        ("person", "Jane.Roe@Example.com", "business_owner", "Business Owner"),
        ("person", "sam", "steward", "DATA_STEWARD"),
        ("person", "kim", "owner", ""),
    }
    assert Person.objects.get(username="Jane.Roe@Example.com").email == "Jane.Roe@Example.com"
    assert set(Ownership.objects.values_list("source", "created_by")) == {
        ("openlineage", "job:etl:load")
    }
    assert history(target_label=f"{WAREHOUSE}:mart.orders")[0][3:] == (
        "openlineage",
        "job:etl:load",
    )


@pytest.mark.parametrize(
    ("urn", "party"),
    [
        ("user:jdoe", Party("person", "jdoe")),
        ("team:data", Party("team", "data")),
        ("TEAM:Data Eng", Party("team", "Data Eng")),
        ("user:j.doe@acme.example", Party("person", "j.doe@acme.example")),
        ("j.doe@acme.example", Party("person", "j.doe@acme.example")),
        ("jdoe", Party("person", "jdoe")),
        ("group:ops", Party("person", "group:ops")),
        ("team:", Party("person", "team:")),
    ],
)
def test_it_reads_openlineage_owner_urns(urn: str, party: Party) -> None:
    assert party_from_urn(urn) == party


@pytest.mark.parametrize(
    ("kind", "role"),
    [
        ("BUSINESS_OWNER", "business_owner"),
        ("data steward", "steward"),
        ("TECHNICAL_OWNER", "technical_owner"),
        ("Maintainer", "technical_owner"),
        ("DATA_ENGINEER", "technical_owner"),
        ("developer", "technical_owner"),
        ("OWNER", "owner"),
        ("TEAM", "owner"),
        ("", "owner"),
        (None, "owner"),
    ],
)
def test_it_maps_openlineage_owner_types_to_roles(kind: str | None, role: str) -> None:
    assert role_from_type(kind) == role


def test_it_finds_a_person_by_email_whatever_the_case() -> None:
    known = Person.objects.create(username="jroe", email="jane.roe@example.com")

    ingest_owners([{"name": "user:Jane.Roe@Example.com", "type": "OWNER"}])

    assert Ownership.objects.get().person == known


def test_it_syncs_dataset_owners_only_when_the_facet_changes() -> None:
    ingest_owners(FACET)
    changes = OwnershipChange.objects.count()

    with CaptureQueriesContext(connection) as queries:
        ingest_owners(FACET)
    assert not owner_queries(queries)
    assert OwnershipChange.objects.count() == changes

    ingest_owners(FACET[1:])
    assert ("person", "jdoe", "technical_owner", "MAINTAINER") not in dataset_owners()
    assert history(action="removed") == [
        ("removed", "jdoe", "technical_owner", "openlineage", "job:etl:load")
    ]


def test_it_keeps_a_stewards_dataset_edit_when_the_facet_changes() -> None:
    ingest_owners(FACET)
    dataset = Dataset.objects.get(name="mart.orders")
    ownership_add(
        target=dataset, party=team_party("data"), role="steward", source=PORTAL, actor="sam"
    )

    ingest_owners([])

    assert dataset_owners() == {("team", "data", "steward", "")}


OWNER_TABLES = ("catalog_ownership", "catalog_person", "catalog_team", "auth_user")


def owner_queries(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if any(t in q["sql"] for t in OWNER_TABLES)]


def ingest_many(prefix: str, count: int) -> list[str]:
    """Ingest one event naming ``count`` datasets, each with a new person and a shared
    team as owners; the queries that read or wrote people, teams and ownerships."""
    outputs = [
        {
            "namespace": WAREHOUSE,
            "name": f"{prefix}{i}",
            "facets": {
                "ownership": {"owners": [{"name": f"user:{prefix}{i}"}, {"name": "team:t"}]}
            },
        }
        for i in range(count)
    ]
    with CaptureQueriesContext(connection) as queries:
        lineage_event_ingest(payload=run_event(outputs=outputs))
    return owner_queries(queries)


def test_it_syncs_the_owners_of_a_batch_in_queries_that_do_not_grow_with_it() -> None:
    Team.objects.create(name="t")
    few, many = ingest_many("a", 2), ingest_many("b", 20)

    assert Ownership.objects.count() == 44
    # people (read, users to tie, insert, read again), existing ownerships, new ones,
    # history, plus the team read
    assert len(few) == len(many) <= 8


# --- people and users -----------------------------------------------------------------------


def test_it_ties_a_new_person_to_the_user_with_that_username(steward: User) -> None:
    register(owner="sam.steward")

    assert Person.objects.get(username="sam.steward").user == steward


def test_it_ties_a_new_person_to_the_user_with_that_email(steward: User) -> None:
    ingest_owners([{"name": "user:SAM@example.com", "type": "OWNER"}])

    assert Person.objects.get(username="SAM@example.com").user == steward


def test_it_finds_the_people_a_user_is_by_link_username_or_email(
    steward: User, outsider: User
) -> None:
    linked = Person.objects.create(username="s1", user=steward)
    by_name = Person.objects.create(username="Sam.Steward")
    by_email = Person.objects.create(username="s2", email="SAM@example.com")
    by_email_name = Person.objects.create(username="sam@example.com")
    Person.objects.create(username="olga", email="")

    assert set(persons_of(steward)) == {linked, by_name, by_email, by_email_name}
    assert not persons_of(outsider).exists()


def test_it_shows_what_a_user_owns_directly_and_through_a_team(
    steward: User, django_assert_num_queries: Any
) -> None:
    register()
    register("crm:customers", name="Customers", table="customers", team="CRM Team")
    ingest_owners([{"name": "team:CRM Team", "type": "STEWARD"}])
    sam = persons_ensure([person_party("sam.steward")])[person_party("sam.steward")]
    TeamMember.objects.create(team=Team.objects.get(name="CRM Team"), person=sam)
    customers = DataProduct.objects.get(external_id="crm:customers")
    ownership_add(target=product(), party=person_party("sam@example.com"), role="owner",
                  source=PORTAL, actor="t")  # fmt: skip
    ownership_add(target=customers, party=team_party("CRM Team"), role="owner",
                  source=PORTAL, actor="t")  # fmt: skip
    ownership_add(target=Domain.objects.get(slug="sales"), party=person_party("sam.steward"),
                  role="business_owner", source=PORTAL, actor="t")  # fmt: skip

    with django_assert_num_queries(1):
        owned = owned_by(steward)

    assert [(i.target.pk, [r.role for r in i.roles]) for i in owned.products] == [
        (customers.pk, ["owner"]),
        (product().pk, ["owner"]),
    ]
    assert owned.products[0].roles[0].team is not None  # held through the team
    assert [i.target.name for i in owned.datasets] == ["mart.orders"]
    assert [(i.target.slug, i.role_names) for i in owned.domains] == [("sales", ["business_owner"])]


def test_it_lists_the_products_without_an_owner() -> None:
    register()
    files = bundle("crm:customers", table="customers")
    files["product.yaml"] = files["product.yaml"].replace("role: owner", "role: member")
    data_product_register(files=files, actor="t", source="t")
    register("old", table="old", status="retired")
    Ownership.objects.filter(product__external_id="old").delete()

    assert [p.external_id for p in products_without_owner()] == ["crm:customers"]
    assert DataProduct.objects.get(external_id="old").status == ProductStatus.RETIRED


def test_it_adds_an_ownership_once_and_records_its_removal() -> None:
    register()
    first, created = ownership_add(
        target=product(), party=person_party("sam"), role="steward", source=PORTAL, actor="sam"
    )
    again, created_again = ownership_add(
        target=product(), party=person_party("sam"), role="steward", source=PORTAL, actor="sam"
    )
    assert (created, created_again, first.pk) == (True, False, again.pk)

    ownership_remove(ownership=first, source=Ownership.Source.API, actor="bot")
    Person.objects.filter(username="sam").delete()

    assert history(party_label="sam") == [
        ("added", "sam", "steward", "portal", "sam"),
        ("removed", "sam", "steward", "api", "bot"),
    ]


def test_the_backfill_migration_fills_ownerships_from_teams_and_stored_facets() -> None:
    register()
    namespace = Namespace.objects.create(name=WAREHOUSE)
    Dataset.objects.create(
        namespace=namespace, name="t", owners=[{"name": "team:data", "type": "STEWARD"}]
    )
    Ownership.objects.all().delete()
    OwnershipChange.objects.all().delete()

    import_module("catalog.migrations.0005_ownership_backfill").backfill(apps, None)

    assert owners() == {("alice", "owner", "descriptor"), ("bob", "steward", "descriptor")}
    assert Ownership.objects.get(dataset__name="t").team == Team.objects.get(name="data")
    assert {c.actor for c in OwnershipChange.objects.all()} == {"migration"}


# --- demo -------------------------------------------------------------------------------------


def test_the_demo_admin_owns_two_demo_products_and_loading_again_changes_nothing(
    admin_user: User,
) -> None:
    load = ["load_demo", "--anchor", "2024-05-01", "--no-progress", "--admin", "ada.admin"]
    call_command(*load, stdout=StringIO())
    changes = OwnershipChange.objects.count()

    call_command(*load, stdout=StringIO())

    owned = owned_by(admin_user)
    assert [item.target.external_id for item in owned.products] == ["crm-customers", "sales-orders"]
    assert persons_of(admin_user).get().user == admin_user
    assert OwnershipChange.objects.count() == changes
    steward = Ownership.objects.get(dataset__name="crm.public.customers", role="steward")
    assert steward.person is not None
    assert steward.person.username == "lena.fischer@acme.example"  # the descriptor's person


def test_it_fills_in_the_name_and_email_a_later_source_knows() -> None:
    ingest_owners([{"name": "user:alice", "type": "OWNER"}])
    Person.objects.filter(username="alice").update(email="alice@shop.example")

    register()

    alice = Person.objects.get(username="alice")
    assert (alice.name, alice.email) == ("Alice Owner", "alice@shop.example")


def test_a_lineage_named_team_gets_domain_and_description_from_a_descriptor() -> None:
    ingest_owners([{"name": "team:Order Team", "type": "TEAM"}])
    files = bundle()
    files["product.yaml"] = files["product.yaml"].replace(
        "  name: Order Team", "  name: Order Team\n  description: Orders people"
    )

    data_product_register(files=files, actor="t", source="t")

    team = Team.objects.get(name="Order Team")
    assert (team.description, team.domain) == ("Orders people", Domain.objects.get(slug="sales"))

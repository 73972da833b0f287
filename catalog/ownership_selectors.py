"""Ownership reads: a target's owners and history, what a user owns, teams and people.

Each function reads in a fixed number of queries whatever the number of rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.db.models import Count, Exists, Model, OuterRef, Prefetch, Q, QuerySet

from catalog.models import (
    DataProduct,
    Dataset,
    Domain,
    Ownership,
    OwnershipChange,
    Person,
    ProductStatus,
    Team,
    TeamMember,
    ownership_target_kind,
)
from catalog.roles import is_steward, persons_of, teams_of

Target = Domain | DataProduct | Dataset
T = TypeVar("T", bound=Model)
HISTORY_SHOWN = 10


def ownerships(queryset: QuerySet[Ownership] | None = None) -> QuerySet[Ownership]:
    """Ownerships with what a list shows of them (party, target) joined in."""
    rows = Ownership.objects.all() if queryset is None else queryset
    return rows.select_related(
        "person", "team", "product", "dataset__namespace", "domain"
    ).order_by("role", "id")


def ownerships_of(target: Target) -> list[Ownership]:
    """Every ownership of ``target``, owner roles first, with their parties."""
    kind = ownership_target_kind(target)
    rows = Ownership.objects.filter(**{kind: target}).select_related("person", "team")
    return sorted(rows, key=lambda row: (not row.is_owner, row.role, row.pk))


def owner_parties(rows: Iterable[Ownership]) -> list[Person | Team]:
    """The parties among ``rows`` in an owner role, each once, in order."""
    return list(dict.fromkeys(row.party for row in rows if row.is_owner))


def ownership_target_get(*, kind: str, pk: int) -> Target | None:
    """The domain, product or dataset ``kind`` with primary key ``pk``, if it exists."""
    models: dict[str, QuerySet[Any]] = {
        "domain": Domain.objects.all(),
        "product": DataProduct.objects.all(),
        "dataset": Dataset.objects.select_related("namespace"),
    }
    target: Target | None = models[kind].filter(pk=pk).first() if kind in models else None
    return target


def ownership_history(target: Target, *, limit: int = HISTORY_SHOWN) -> list[OwnershipChange]:
    kind = ownership_target_kind(target)
    return list(OwnershipChange.objects.filter(**{kind: target})[:limit])


def owner_prefetch(to_attr: str = "owner_rows") -> Prefetch[Any]:
    """Prefetch a product's (or domain's) ownerships in an owner role, with their parties."""
    rows = Ownership.objects.filter(role__in=Ownership.OWNER_ROLES).select_related("person", "team")
    return Prefetch("ownerships", queryset=rows.order_by("role", "id"), to_attr=to_attr)


def products_without_owner() -> QuerySet[DataProduct]:
    """Products (retired ones aside) that nobody holds an owner role on."""
    owned = Ownership.objects.filter(product=OuterRef("pk"), role__in=Ownership.OWNER_ROLES)
    return (
        DataProduct.objects.exclude(status=ProductStatus.RETIRED)
        .filter(~Exists(owned))
        .select_related("domain", "team")
        .order_by("name", "external_id")
    )


@dataclass
class OwnersBlock:
    """What ``catalog/_owners.html`` shows of a target's owners, and whether to offer edits."""

    target_kind: str
    target_id: int
    ownerships: list[Ownership]
    history: list[OwnershipChange]
    can_edit: bool
    roles: list[tuple[str, str]] = field(default_factory=lambda: list(Ownership.Role.choices))

    @property
    def has_owner(self) -> bool:
        return any(row.is_owner for row in self.ownerships)


def owners_block(
    *, target: Target, user: Any, ownerships: list[Ownership], history: list[OwnershipChange]
) -> OwnersBlock:
    return OwnersBlock(
        target_kind=ownership_target_kind(target),
        target_id=target.pk,
        ownerships=ownerships,
        history=history,
        can_edit=is_steward(user),
    )


# --- users ------------------------------------------------------------------------------------


@dataclass
class OwnedTarget(Generic[T]):
    target: T
    roles: list[Ownership] = field(default_factory=list)  # ``.team`` set: held through it
    publishes: bool = False  # a team's page: the product names the team as its publisher

    @property
    def role_names(self) -> list[str]:
        return [row.role for row in self.roles]


@dataclass
class Owned:
    products: list[OwnedTarget[DataProduct]] = field(default_factory=list)
    datasets: list[OwnedTarget[Dataset]] = field(default_factory=list)
    domains: list[OwnedTarget[Domain]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.products or self.datasets or self.domains)


def owned_by(user: Any) -> Owned:
    """What a user owns, in any role, directly or through a team of theirs (one query)."""
    persons = persons_of(user).values("pk")
    rows = ownerships(
        Ownership.objects.filter(Q(person__in=persons) | Q(team__in=teams_of(user).values("pk")))
    )
    return _group_owned(rows)


def owned_by_team(team: Team) -> Owned:
    """What a team holds a role on, and the products it publishes (two queries)."""
    owned = _group_owned(ownerships(Ownership.objects.filter(team=team)))
    held = {item.target.pk: item for item in owned.products}
    for product in DataProduct.objects.filter(team=team).select_related("domain"):
        item = held.get(product.pk)
        if item is None:
            owned.products.append(item := OwnedTarget(product))
        item.publishes = True
    owned.products.sort(key=lambda item: str(item.target).lower())
    return owned


def _group_owned(rows: Iterable[Ownership]) -> Owned:
    owned = Owned()
    by_target: dict[tuple[str, int], OwnedTarget[Any]] = {}
    for row in rows:
        key = (row.target_kind, row.target.pk)
        if key not in by_target:
            by_target[key] = OwnedTarget(row.target)
            getattr(owned, f"{row.target_kind}s").append(by_target[key])
        by_target[key].roles.append(row)
    for group in (owned.products, owned.datasets, owned.domains):
        group.sort(key=lambda item: str(item.target).lower())
    return owned


# --- teams and people -------------------------------------------------------------------------


def team_list() -> QuerySet[Team]:
    """Teams with how many members, products and ownerships each has (one query)."""
    return (
        Team.objects.select_related("domain")
        .annotate(
            member_count=Count("members__person", distinct=True),
            product_count=Count("products", distinct=True),
            ownership_count=Count("ownerships", distinct=True),
        )
        .order_by("name")
    )


def team_get(*, pk: int) -> Team | None:
    return Team.objects.select_related("domain").filter(pk=pk).first()


def team_members(team: Team) -> list[TeamMember]:
    return list(
        TeamMember.objects.filter(team=team).select_related("person").order_by("role", "person")
    )


def person_list() -> QuerySet[Person]:
    members = TeamMember.objects.select_related("team").order_by("team__name")
    return Person.objects.prefetch_related(Prefetch("memberships", queryset=members)).order_by(
        "username"
    )

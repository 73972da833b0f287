"""Who may do what: one answer for the portal's views and the API alike.

- **Readers**: everyone while ``MESHPORT_ANONYMOUS_READ`` is on (the demo's default); else
  any logged-in user or any valid token (:class:`meshport.access.ReadAccessMiddleware`).
- **Owners** publish and edit the data products of *their* domains: the domains they (or a
  team of theirs) hold an owner role on, and the domains of the teams they are members
  of, sub-domains included; and the products they hold an owner role on, wherever those are.
- **Stewards**, members of the ``Stewards`` group, govern: scorecards, waivers, SLOs,
  ownership and webhooks.
- **Admins**, superusers, do all of that, and manage API tokens.

Tokens carry their own rights: scopes, and the domains they may publish into.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet

from catalog.models import DataProduct, Domain, Ownership, Person, Team, TeamMember

STEWARDS_GROUP = "Stewards"


def anonymous_read() -> bool:
    return bool(settings.MESHPORT_ANONYMOUS_READ)


def _signed_in(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def is_admin(user: Any) -> bool:
    return _signed_in(user) and bool(user.is_superuser)


def is_steward(user: Any) -> bool:
    """Admins, and members of the ``Stewards`` group (one query, then kept on the user)."""
    if not _signed_in(user):
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_meshport_steward", None)
    if cached is None:
        cached = user.groups.filter(name=STEWARDS_GROUP).exists()
        user._meshport_steward = cached
    return bool(cached)


def persons_of(user: Any) -> QuerySet[Person]:
    """The people a portal user is: tied to it, or with its username or email
    (case-insensitive; a person first named by email has it as username)."""
    if not getattr(user, "is_authenticated", False):
        return Person.objects.none()
    match = Q(user=user) | Q(username__iexact=user.get_username())
    if user.email:
        match |= Q(email__iexact=user.email) | Q(username__iexact=user.email)
    return Person.objects.filter(match)


def teams_of(user: Any) -> QuerySet[Team]:
    """The teams counting one of the user's people among their members."""
    members = TeamMember.objects.filter(person__in=persons_of(user).values("pk"))
    return Team.objects.filter(pk__in=members.values("team_id"))


def role_name(user: Any) -> str:
    """What the header says the user is."""
    if is_admin(user):
        return "admin"
    if is_steward(user):
        return "steward"
    return "member"


@dataclass(frozen=True)
class Grant:
    """Where a user may publish: every domain, or these domain slugs (sub-domains of each
    included) and these products."""

    everything: bool
    domains: frozenset[str] = frozenset()
    products: frozenset[int] = frozenset()

    def allows_domain(self, domain: Domain | None, slugs: tuple[str, ...] = ()) -> bool:
        """``domain`` (an existing one) or ``slugs`` (a domain and its sub-domain, as a
        descriptor names them) lie within the grant."""
        if self.everything:
            return True
        if domain is not None:
            slugs = (domain.top_slug, domain.slug)
        return any(slug in self.domains for slug in slugs if slug)

    @property
    def anywhere(self) -> bool:
        """The user may publish somewhere (where is checked on registering)."""
        return self.everything or bool(self.domains or self.products)

    def allows_product(self, product: DataProduct) -> bool:
        return self.everything or product.pk in self.products or self.allows_domain(product.domain)

    def describe(self) -> str:
        if self.everything:
            return "every domain"
        if not self.domains:
            return "no domain"
        return ", ".join(sorted(self.domains))


def grant_of(user: Any) -> Grant:
    """Where ``user`` may publish (three queries for an owner, none for an admin), kept on
    the user like :func:`is_steward`'s answer: a page asks more than once (the upload link,
    each scorecard panel's waiver form)."""
    if is_admin(user):
        return Grant(everything=True)
    if not _signed_in(user):
        return Grant(everything=False)
    cached = getattr(user, "_meshport_grant", None)
    if cached is None:
        cached = user._meshport_grant = _grant_of(user)
    return cached


def _grant_of(user: Any) -> Grant:
    persons = persons_of(user).values("pk")
    teams = teams_of(user).values("pk")
    held = Ownership.objects.filter(
        Q(person__in=persons) | Q(team__in=teams), role__in=Ownership.OWNER_ROLES
    )
    owned_domains = Domain.objects.filter(
        Q(pk__in=held.exclude(domain=None).values("domain_id"))
        | Q(pk__in=Team.objects.filter(pk__in=teams).exclude(domain=None).values("domain_id"))
    )
    return Grant(
        everything=False,
        domains=frozenset(owned_domains.values_list("slug", flat=True)),
        products=frozenset(held.exclude(product=None).values_list("product_id", flat=True)),
    )


def may_edit_product(user: Any, product: DataProduct) -> bool:
    return grant_of(user).allows_product(product)

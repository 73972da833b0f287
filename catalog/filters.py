"""Filters for product lists, shared by the API and the portal."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from catalog.models import DataProduct, Domain, Ownership, ProductStatus


def domain_with_children(slug: str) -> QuerySet[Domain]:
    """The domain ``slug`` and its sub-domains: filtering on a domain includes them."""
    return Domain.objects.filter(Q(slug=slug) | Q(parent__slug=slug))


class ProductFilter(django_filters.FilterSet):
    """``domain`` (a slug; includes its sub-domains), ``status``, ``tag``, ``owner``
    (a person's username or a team name: the product's team, a member of it, or an
    ownership) and ``q`` (text in name, id, purpose, tags)."""

    domain = django_filters.CharFilter(method="filter_domain")
    status = django_filters.MultipleChoiceFilter(choices=ProductStatus.choices)
    tag = django_filters.CharFilter(method="filter_tag")
    owner = django_filters.CharFilter(method="filter_owner")
    q = django_filters.CharFilter(method="filter_text")

    class Meta:
        model = DataProduct
        fields: list[str] = []

    def filter_domain(self, queryset: QuerySet[DataProduct], name: str, value: str) -> Any:
        return queryset.filter(domain__in=domain_with_children(value))

    def filter_tag(self, queryset: QuerySet[DataProduct], name: str, value: str) -> Any:
        # Tags are a JSON list; match the quoted value so "pii" does not match "piiless".
        return queryset.filter(tags__icontains=f'"{value}"')

    def filter_owner(self, queryset: QuerySet[DataProduct], name: str, value: str) -> Any:
        held = Ownership.objects.filter(
            Q(person__username__iexact=value) | Q(team__name__iexact=value), product__isnull=False
        )
        return queryset.filter(
            Q(team__name__iexact=value)
            | Q(team__members__person__username__iexact=value)
            | Q(pk__in=held.values("product_id"))
        ).distinct()

    def filter_text(self, queryset: QuerySet[DataProduct], name: str, value: str) -> Any:
        query = Q()
        for word in value.split():
            query &= (
                Q(name__icontains=word)
                | Q(external_id__icontains=word)
                | Q(purpose__icontains=word)
                | Q(description__icontains=word)
                | Q(tags__icontains=word)
            )
        return queryset.filter(query)

"""Ownership API: ``/api/v1/ownerships`` (list, add, remove, history), ``/api/v1/teams`` and
``/api/v1/people``. Reads are open like the rest of the catalog; writes need
:class:`~catalog.auth.CanGovern` (token scope ``governance:write`` or a steward)."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import ownership_selectors as owners
from catalog.auth import actor_name
from catalog.models import (
    DataProduct,
    Dataset,
    Domain,
    Ownership,
    OwnershipChange,
    Person,
    Team,
    TeamMember,
)
from catalog.ownership import (
    Target,
    ownership_add,
    ownership_remove,
    person_party,
    team_party,
)
from meshport.api import GovernedWrites, Pagination
from meshport.openapi import errors

# --- filters ----------------------------------------------------------------------------------


class _IdFilter(django_filters.NumberFilter):
    """A row id: a whole number that SQL's 64-bit integers hold (``NumberFilter`` took any
    decimal, and 1e30 overflowed SQLite's integers: a 500)."""

    field_class = forms.IntegerField


class OwnershipFilter(django_filters.FilterSet):
    """``product`` (external id), ``dataset`` (id) or ``namespace`` + ``name``, ``domain``
    (slug), ``person`` (username), ``team`` (name), ``role``, ``source``."""

    product = django_filters.CharFilter(field_name="product__external_id")
    dataset = _IdFilter(field_name="dataset_id", min_value=1, max_value=2**63 - 1)
    namespace = django_filters.CharFilter(field_name="dataset__namespace__name")
    name = django_filters.CharFilter(field_name="dataset__name")
    domain = django_filters.CharFilter(field_name="domain__slug")
    person = django_filters.CharFilter(field_name="person__username")
    team = django_filters.CharFilter(field_name="team__name")
    role = django_filters.ChoiceFilter(choices=Ownership.Role.choices)
    source = django_filters.ChoiceFilter(choices=Ownership.Source.choices)

    class Meta:
        model = Ownership
        fields: list[str] = []


class OwnershipChangeFilter(OwnershipFilter):
    """The filters of :class:`OwnershipFilter`, and ``action`` (added / removed)."""

    action = django_filters.ChoiceFilter(choices=OwnershipChange.Action.choices)

    class Meta:
        model = OwnershipChange
        fields: list[str] = []


# --- serializers ------------------------------------------------------------------------------


class PersonRefSerializer(serializers.ModelSerializer[Person]):
    class Meta:
        model = Person
        fields = ["username", "name", "email"]


class TeamRefSerializer(serializers.ModelSerializer[Team]):
    class Meta:
        model = Team
        fields = ["id", "name"]


class DatasetRefSerializer(serializers.ModelSerializer[Dataset]):
    namespace = serializers.CharField(source="namespace.name")

    class Meta:
        model = Dataset
        fields = ["id", "namespace", "name"]


class OwnershipSerializer(serializers.ModelSerializer[Ownership]):
    targetType = serializers.CharField(source="target_kind")
    target = serializers.CharField(source="target_label")
    product = serializers.CharField(source="product.external_id", allow_null=True, default=None)
    dataset = DatasetRefSerializer(allow_null=True)
    domain = serializers.CharField(source="domain.slug", allow_null=True, default=None)
    partyType = serializers.CharField(source="party_kind")
    person = PersonRefSerializer(allow_null=True)
    team = TeamRefSerializer(allow_null=True)
    roleRaw = serializers.CharField(source="role_raw")
    createdAt = serializers.DateTimeField(source="created_at")
    createdBy = serializers.CharField(source="created_by")

    class Meta:
        model = Ownership
        fields = [
            "id", "targetType", "target", "product", "dataset", "domain",
            "partyType", "person", "team", "role", "roleRaw", "source", "createdAt", "createdBy",
        ]  # fmt: skip


class OwnershipChangeSerializer(serializers.ModelSerializer[OwnershipChange]):
    targetType = serializers.CharField(source="target_kind")
    target = serializers.CharField(source="target_label")
    product = serializers.CharField(source="product.external_id", allow_null=True, default=None)
    dataset = serializers.IntegerField(source="dataset_id", allow_null=True)
    domain = serializers.CharField(source="domain.slug", allow_null=True, default=None)
    partyType = serializers.CharField(source="party_kind")
    party = serializers.CharField(source="party_label")

    class Meta:
        model = OwnershipChange
        fields = ["id", "targetType", "target", "product", "dataset", "domain", "partyType",
                  "party", "role", "action", "source", "actor", "at"]  # fmt: skip


class DatasetKeySerializer(serializers.Serializer[Any]):
    namespace = serializers.CharField(max_length=1024)
    name = serializers.CharField(max_length=1024)


class OwnershipInputSerializer(serializers.Serializer[Any]):
    """One target (``product``, ``dataset`` or ``domain``), one party (``person`` or
    ``team``) and a ``role``. A person unknown so far is created; a team must exist."""

    product = serializers.SlugRelatedField(
        slug_field="external_id", queryset=DataProduct.objects.all(), required=False
    )
    dataset = DatasetKeySerializer(required=False)
    domain = serializers.SlugRelatedField(
        slug_field="slug", queryset=Domain.objects.all(), required=False
    )
    person = serializers.CharField(max_length=255, required=False)
    team = serializers.SlugRelatedField(
        slug_field="name", queryset=Team.objects.all(), required=False
    )
    role = serializers.ChoiceField(choices=Ownership.Role.choices)
    roleRaw = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")

    def validate_dataset(self, value: dict[str, str]) -> Dataset:
        found = (
            Dataset.objects.select_related("namespace")
            .filter(namespace__name=value["namespace"], name=value["name"])
            .first()
        )
        if found is None:
            raise serializers.ValidationError(
                f"no dataset {value['name']!r} in namespace {value['namespace']!r}"
            )
        return found

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _exactly_one(attrs, "target", ("product", "dataset", "domain"))
        _exactly_one(attrs, "party", ("person", "team"))
        return attrs


def _exactly_one(attrs: dict[str, Any], name: str, keys: tuple[str, ...]) -> None:
    given = [key for key in keys if attrs.get(key) is not None]
    if len(given) != 1:
        raise serializers.ValidationError(
            {name: [f"give exactly one of {', '.join(keys)} (got {', '.join(given) or 'none'})"]}
        )


class MemberSerializer(serializers.ModelSerializer[TeamMember]):
    username = serializers.CharField(source="person.username")
    name = serializers.CharField(source="person.name")
    email = serializers.CharField(source="person.email")
    roleRaw = serializers.CharField(source="role_raw")

    class Meta:
        model = TeamMember
        fields = ["username", "name", "email", "role", "roleRaw"]


class TeamListSerializer(serializers.ModelSerializer[Team]):
    domain = serializers.CharField(source="domain.slug", allow_null=True, default=None)
    memberCount = serializers.IntegerField(source="member_count")
    productCount = serializers.IntegerField(source="product_count")
    ownershipCount = serializers.IntegerField(source="ownership_count")

    class Meta:
        model = Team
        fields = ["id", "name", "description", "domain", "memberCount", "productCount",
                  "ownershipCount"]  # fmt: skip


class OwnedProductSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(source="target.external_id")
    name = serializers.CharField(source="target.name")
    publishes = serializers.BooleanField()
    roles = serializers.ListField(child=serializers.CharField(), source="role_names")


class OwnedDatasetSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="target.pk")
    namespace = serializers.CharField(source="target.namespace.name")
    name = serializers.CharField(source="target.name")
    roles = serializers.ListField(child=serializers.CharField(), source="role_names")


class OwnedDomainSerializer(serializers.Serializer[Any]):
    slug = serializers.CharField(source="target.slug")
    name = serializers.CharField(source="target.name")
    roles = serializers.ListField(child=serializers.CharField(), source="role_names")


class OwnedSerializer(serializers.Serializer[Any]):
    products = OwnedProductSerializer(many=True)
    datasets = OwnedDatasetSerializer(many=True)
    domains = OwnedDomainSerializer(many=True)


class TeamDetailSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="team.pk")
    name = serializers.CharField(source="team.name")
    description = serializers.CharField(source="team.description")
    domain = serializers.CharField(source="team.domain.slug", allow_null=True, default=None)
    members = MemberSerializer(many=True)
    owns = OwnedSerializer()


class MembershipSerializer(serializers.ModelSerializer[TeamMember]):
    team = serializers.CharField(source="team.name")
    roleRaw = serializers.CharField(source="role_raw")

    class Meta:
        model = TeamMember
        fields = ["team", "role", "roleRaw"]


class PersonSerializer(serializers.ModelSerializer[Person]):
    user = serializers.CharField(source="user.username", allow_null=True, default=None)
    teams = MembershipSerializer(source="memberships", many=True)

    class Meta:
        model = Person
        fields = ["username", "name", "email", "user", "teams"]


# --- views ------------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(responses={200: OwnershipSerializer(many=True), **errors(400, 401)})
)
class OwnershipListView(GovernedWrites, ListAPIView):
    """Ownerships, filtered; ``POST`` gives a party a role on a target (source ``api``)."""

    serializer_class = OwnershipSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = OwnershipFilter
    pagination_class = Pagination

    def get_queryset(self) -> QuerySet[Ownership]:
        return owners.ownerships()

    @extend_schema(
        request=OwnershipInputSerializer,
        responses={
            200: OwnershipSerializer,
            201: OwnershipSerializer,
            **errors(400, 401, 403),
        },
    )
    def post(self, request: Request) -> Response:
        given = OwnershipInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        target: Target = data.get("product") or data.get("dataset") or data["domain"]
        team = data.get("team")
        row, created = ownership_add(
            target=target,
            party=team_party(team.name) if team else person_party(data["person"]),
            role=data["role"],
            role_raw=data["roleRaw"],
            source=Ownership.Source.API,
            actor=actor_name(request),
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(OwnershipSerializer(row).data, status=code)


class OwnershipView(GovernedWrites, APIView):
    """One ownership: ``GET`` it, ``DELETE`` it (recorded in the history as source ``api``)."""

    def _get(self, pk: int) -> Ownership:
        row = owners.ownerships(Ownership.objects.filter(pk=pk)).first()
        if row is None:
            raise Http404(f"No ownership {pk}.")
        return row

    @extend_schema(responses={200: OwnershipSerializer, **errors(401, 404)})
    def get(self, request: Request, pk: int) -> Response:
        return Response(OwnershipSerializer(self._get(pk)).data)

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def delete(self, request: Request, pk: int) -> Response:
        row = self._get(pk)
        ownership_remove(ownership=row, source=Ownership.Source.API, actor=actor_name(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    get=extend_schema(responses={200: OwnershipChangeSerializer(many=True), **errors(400, 401)})
)
class OwnershipHistoryView(ListAPIView):
    """Ownership changes, newest first, with the filters of the ownership list and
    ``action``."""

    serializer_class = OwnershipChangeSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = OwnershipChangeFilter
    pagination_class = Pagination

    def get_queryset(self) -> QuerySet[OwnershipChange]:
        return OwnershipChange.objects.select_related("product", "domain")


@extend_schema_view(
    get=extend_schema(responses={200: TeamListSerializer(many=True), **errors(400, 401)})
)
class TeamListView(ListAPIView):
    """Teams with their member, product and ownership counts."""

    serializer_class = TeamListSerializer
    pagination_class = Pagination

    def get_queryset(self) -> QuerySet[Team]:
        return owners.team_list()


class TeamView(APIView):
    """A team: its members with their roles, and what it owns or publishes."""

    @extend_schema(responses={200: TeamDetailSerializer, **errors(401, 404)})
    def get(self, request: Request, pk: int) -> Response:
        team = owners.team_get(pk=pk)
        if team is None:
            raise Http404(f"No team {pk}.")
        members, owns = owners.team_members(team), owners.owned_by_team(team)
        return Response(TeamDetailSerializer({"team": team, "members": members, "owns": owns}).data)


@extend_schema_view(
    get=extend_schema(responses={200: PersonSerializer(many=True), **errors(400, 401)})
)
class PersonListView(ListAPIView):
    """People named by descriptors, lineage and stewards, with their teams and the portal
    user each is tied to."""

    serializer_class = PersonSerializer
    pagination_class = Pagination

    def get_queryset(self) -> QuerySet[Person]:
        return owners.person_list().select_related("user")

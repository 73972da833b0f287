"""SLO API: ``/api/v1/slos`` — definitions with their current status, history, and
evaluation on demand. Anyone may read; stewards (:class:`~catalog.auth.CanGovern`) write.

An SLO declared by a contract belongs to the contract: only ``enabled`` and ``objective``
may be changed here, and it goes away when the contract line does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api import product_by_id
from catalog.audit import Via
from catalog.auth import CanGovern, actor_name
from catalog.filters import domain_with_children
from catalog.models import DataProduct
from governance import services
from governance.models import Slo, SloKind, SloSegment, SloState
from meshport.api import GovernedWrites, Pagination
from meshport.openapi import errors

# --- serializers --------------------------------------------------------------------------


class SloSerializer(serializers.ModelSerializer[Slo]):
    promise = serializers.CharField(source="describe", read_only=True)
    product = serializers.CharField(source="product.external_id", allow_null=True, default=None)
    dataset = serializers.SerializerMethodField()
    thresholdSeconds = serializers.FloatField(source="threshold_seconds", allow_null=True)
    minRows = serializers.IntegerField(source="min_rows", allow_null=True)
    maxRows = serializers.IntegerField(source="max_rows", allow_null=True)
    windowSeconds = serializers.FloatField(source="window_seconds")
    since = serializers.DateTimeField(source="state_since", allow_null=True)
    evaluatedAt = serializers.DateTimeField(source="evaluated_at", allow_null=True)
    attainment7d = serializers.FloatField(source="attainment_7d", allow_null=True)
    attainment28d = serializers.FloatField(source="attainment_28d", allow_null=True)
    budgetRemaining = serializers.FloatField(source="budget_remaining", allow_null=True)
    burnRate1d = serializers.FloatField(source="burn_rate_1d", allow_null=True)
    burnRate7d = serializers.FloatField(source="burn_rate_7d", allow_null=True)
    url = serializers.CharField(source="get_absolute_url", read_only=True)

    class Meta:
        model = Slo
        fields = ["id", "name", "kind", "promise", "source", "product", "dataset", "element",
                  "thresholdSeconds", "minRows", "maxRows", "tolerance", "target",
                  "windowSeconds", "objective", "enabled", "state", "since", "evidence",
                  "evaluatedAt", "attainment7d", "attainment28d", "budgetRemaining",
                  "burnRate1d", "burnRate7d", "url"]  # fmt: skip

    def get_dataset(self, slo: Slo) -> str | None:
        return f"{slo.namespace}:{slo.dataset_name}" if slo.namespace else None


MAX_THRESHOLD_SECONDS = 366 * 86400  # a yearly product's
MAX_ROWS = 2**63 - 1


class SloWriteSerializer(serializers.Serializer[Any]):
    """What a steward may set; each kind checks the thresholds it needs."""

    name = serializers.CharField(max_length=255)
    kind = serializers.ChoiceField(choices=SloKind.choices)
    product = serializers.CharField(required=False, allow_blank=False)
    namespace = serializers.CharField(required=False, max_length=1024)
    datasetName = serializers.CharField(required=False, max_length=1024)
    element = serializers.CharField(required=False, allow_blank=True, max_length=255)
    # Bounded so that evaluation can add the threshold to a date, and the counts fit the
    # database's 64-bit integers.
    thresholdSeconds = serializers.FloatField(
        required=False, allow_null=True, min_value=60, max_value=MAX_THRESHOLD_SECONDS
    )
    minRows = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_ROWS
    )
    maxRows = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_ROWS
    )
    tolerance = serializers.FloatField(required=False, allow_null=True, min_value=0)
    target = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)
    windowSeconds = serializers.FloatField(required=False, min_value=3600, max_value=28 * 86400)
    objective = serializers.FloatField(required=False, min_value=0.5, max_value=0.99999)
    enabled = serializers.BooleanField(required=False)

    FIELDS = {
        "name": "name",
        "kind": "kind",
        "namespace": "namespace",
        "datasetName": "dataset_name",
        "element": "element",
        "thresholdSeconds": "threshold_seconds",
        "minRows": "min_rows",
        "maxRows": "max_rows",
        "tolerance": "tolerance",
        "target": "target",
        "windowSeconds": "window_seconds",
        "objective": "objective",
        "enabled": "enabled",
    }

    def validate_product(self, value: str) -> DataProduct:
        return product_by_id(value)

    def model_values(self) -> dict[str, Any]:
        data = self.validated_data
        values = {attr: data[key] for key, attr in self.FIELDS.items() if key in data}
        if "product" in data:
            values["product"] = data["product"]
        return values


def check_slo(slo: Slo) -> None:
    """The whole SLO makes sense for its kind; errors name the field at fault."""
    errors: dict[str, str] = {}
    if not slo.product_id and not slo.namespace:
        errors["product"] = "Give a product, or a dataset (namespace and datasetName)."
    if bool(slo.namespace) != bool(slo.dataset_name):
        errors["datasetName" if slo.namespace else "namespace"] = "Give both, or neither."
    if slo.kind == SloKind.FRESHNESS and not slo.threshold_seconds:
        errors["thresholdSeconds"] = "A freshness SLO needs the oldest age allowed."
    if slo.kind == SloKind.VOLUME and all(
        v is None for v in (slo.min_rows, slo.max_rows, slo.tolerance)
    ):
        errors["minRows"] = "A volume SLO needs minRows, maxRows or tolerance."
    if slo.min_rows is not None and slo.max_rows is not None and slo.min_rows > slo.max_rows:
        errors["maxRows"] = "maxRows is below minRows."
    if slo.kind == SloKind.SCHEMA_STABILITY and not slo.product_id:
        errors["product"] = "Schema stability compares a product's major versions."
    if errors:
        raise ValidationError(errors)


# --- views --------------------------------------------------------------------------------


class SloFilter(django_filters.FilterSet):
    """``product`` (id), ``domain`` (slug, with sub-domains), ``kind``, ``state``,
    ``source``, ``namespace`` + ``dataset`` (a dataset an SLO names), ``enabled``."""

    product = django_filters.CharFilter(field_name="product__external_id")
    domain = django_filters.CharFilter(method="filter_domain")
    kind = django_filters.MultipleChoiceFilter(choices=SloKind.choices)
    state = django_filters.MultipleChoiceFilter(choices=SloState.choices)
    source = django_filters.ChoiceFilter(choices=Slo.Source.choices)
    namespace = django_filters.CharFilter()
    dataset = django_filters.CharFilter(field_name="dataset_name")
    enabled = django_filters.BooleanFilter()
    ordering = django_filters.OrderingFilter(
        fields=(
            ("burn_rate_1d", "burnRate1d"),
            ("burn_rate_7d", "burnRate7d"),
            ("budget_remaining", "budgetRemaining"),
            ("state_since", "since"),
            ("name", "name"),
        )
    )

    class Meta:
        model = Slo
        fields: list[str] = []

    def filter_domain(self, queryset: QuerySet[Slo], name: str, value: str) -> Any:
        return queryset.filter(product__domain__in=domain_with_children(value))


def _slo_or_404(pk: int) -> Slo:
    slo = Slo.objects.select_related("product").filter(pk=pk).first()
    if slo is None:
        raise Http404(f"No SLO {pk}.")
    return slo


@extend_schema_view(
    get=extend_schema(responses={200: SloSerializer(many=True), **errors(400, 401)})
)
class SloListView(ListAPIView, GovernedWrites):
    """SLOs with their current state and figures. ``POST`` adds one (stewards)."""

    serializer_class = SloSerializer
    filterset_class = SloFilter
    pagination_class = Pagination

    def get_queryset(self) -> QuerySet[Slo]:
        return Slo.objects.select_related("product").order_by("product__external_id", "name", "id")

    @extend_schema(
        request=SloWriteSerializer, responses={201: SloSerializer, **errors(400, 401, 403)}
    )
    def post(self, request: Request) -> Response:
        data = SloWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        slo = Slo(source=Slo.Source.API, **data.model_values())
        check_slo(slo)
        slo = services.slo_save(slo=slo, actor=actor_name(request), via=Via.API)
        return Response(SloSerializer(slo).data, status=status.HTTP_201_CREATED)


class SloView(GovernedWrites):
    """One SLO. ``PATCH`` changes it; ``DELETE`` removes it with its history (stewards).
    A contract's SLO only takes ``enabled`` and ``objective``."""

    serializer_class = SloSerializer

    @extend_schema(responses={200: SloSerializer, **errors(401, 404)})
    def get(self, request: Request, pk: int) -> Response:
        return Response(SloSerializer(_slo_or_404(pk)).data)

    @extend_schema(
        request=SloWriteSerializer,
        responses={200: SloSerializer, **errors(400, 401, 403, 404)},
    )
    def patch(self, request: Request, pk: int) -> Response:
        slo = _slo_or_404(pk)
        data = SloWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = data.model_values()
        if slo.source == Slo.Source.CONTRACT:
            locked = sorted(set(data.validated_data) - {"enabled", "objective"})
            if locked:
                raise ValidationError(
                    {f: "Declared by the product's contract: change the contract." for f in locked}
                )
        for attr, value in values.items():
            setattr(slo, attr, value)
        check_slo(slo)
        saved = services.slo_save(slo=slo, actor=actor_name(request), via=Via.API)
        return Response(SloSerializer(saved).data)

    @extend_schema(responses={204: None, **errors(400, 401, 403, 404)})
    def delete(self, request: Request, pk: int) -> Response:
        slo = _slo_or_404(pk)
        if slo.source == Slo.Source.CONTRACT:
            raise ValidationError(
                {"source": "Declared by the product's contract: remove it from the contract."}
            )
        services.slo_delete(slo=slo, actor=actor_name(request), via=Via.API)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SegmentSerializer(serializers.ModelSerializer[SloSegment]):
    durationSeconds = serializers.SerializerMethodField()

    class Meta:
        model = SloSegment
        fields = ["state", "start", "end", "durationSeconds", "evidence"]

    def get_durationSeconds(self, segment: SloSegment) -> float:
        return segment.duration.total_seconds()


def _time_param(request: Request, name: str, default: datetime) -> datetime:
    raw = request.query_params.get(name)
    if not raw:
        return default
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        aware = value if value.tzinfo else timezone.make_aware(value)
        # In UTC, 0001-01-01T00:00+05:00 falls before the first year a datetime holds.
        return aware.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValidationError({name: "An ISO 8601 date or time."}) from None


class SloHistoryView(APIView):
    """The SLO's timeline between ``since`` (default: 28 days ago) and ``until`` (now):
    each stretch with its state and evidence."""

    @extend_schema(
        parameters=[
            OpenApiParameter("since", str, description="ISO 8601"),
            OpenApiParameter("until", str, description="ISO 8601"),
        ],
        responses={200: SegmentSerializer(many=True), **errors(400, 401, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        slo = _slo_or_404(pk)
        now = timezone.now()
        since = _time_param(request, "since", now - timedelta(days=28))
        until = _time_param(request, "until", now)
        if since > until:
            raise ValidationError({"since": "since is after until."})
        segments = services.slo_timeline(slo=slo, since=since, until=until)
        return Response(SegmentSerializer(segments, many=True).data)


class SloEvaluateView(APIView):
    """Evaluate the SLO now (stewards); answers with its new status."""

    permission_classes = [CanGovern]

    @extend_schema(request=None, responses={200: SloSerializer, **errors(401, 403, 404)})
    def post(self, request: Request, pk: int) -> Response:
        slo = services.slo_evaluate(slo=_slo_or_404(pk))
        return Response(SloSerializer(slo).data)

"""Data product API: ``/api/v1/products`` — register (PUT), read, list, retire (DELETE),
revisions and diffs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db.models import QuerySet
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import selectors
from catalog.auth import CanWriteProducts, request_token
from catalog.descriptors import DescriptorError
from catalog.descriptors.diff import diff_documents
from catalog.filters import ProductFilter
from catalog.models import DataProduct, ProductRevision
from catalog.services import (
    BreakingChangeRefused,
    DomainForbidden,
    Registration,
    data_product_register,
    data_product_retire,
    issues_as_dicts,
)
from meshport.api import Pagination, PayloadTooLarge
from meshport.openapi import errors
from meshport.parsers import read_capped

_TEXT_TYPES = {
    "application/json": "descriptor.json",
    "application/yaml": "descriptor.yaml",
    "application/x-yaml": "descriptor.yaml",
    "text/yaml": "descriptor.yaml",
    "text/x-yaml": "descriptor.yaml",
    "text/plain": "descriptor.yaml",
}


class DescriptorParser(BaseParser):
    """A descriptor as the request body, YAML or JSON, kept as text."""

    media_type = "*/*"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = read_capped(stream, settings.MESHPORT_CATALOG["MAX_DESCRIPTOR_BYTES"])
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("The descriptor is not UTF-8 text.") from None


# --- serializers --------------------------------------------------------------------------


class ProductListSerializer(serializers.ModelSerializer[DataProduct]):
    id = serializers.CharField(source="external_id")
    domain = serializers.CharField(source="domain.slug", allow_null=True, default=None)
    team = serializers.CharField(source="team.name", allow_null=True, default=None)
    updatedAt = serializers.DateTimeField(source="updated_at")
    url = serializers.CharField(source="get_absolute_url")

    class Meta:
        model = DataProduct
        fields = ["id", "name", "version", "status", "domain", "team", "tags", "updatedAt", "url"]


class ProductSerializer(ProductListSerializer):
    revision = serializers.IntegerField(source="active_revision.number", allow_null=True)
    customProperties = serializers.JSONField(source="custom_properties")
    ports = serializers.SerializerMethodField()
    contracts = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()

    class Meta(ProductListSerializer.Meta):
        fields = [
            *ProductListSerializer.Meta.fields,
            "format", "purpose", "usage", "limitations", "description", "support",
            "customProperties", "revision", "ports", "contracts", "warnings",
        ]  # fmt: skip

    def get_warnings(self, product: DataProduct) -> list[dict[str, str]]:
        return product.active_revision.warnings if product.active_revision else []

    def get_ports(self, product: DataProduct) -> list[dict[str, Any]]:
        return [
            {
                "direction": port.direction,
                "name": port.name,
                "version": port.version,
                "contractId": port.contract_external_id,
                "sourceProduct": port.source_product,
                "datasets": [
                    {
                        "namespace": b.namespace,
                        "name": b.name,
                        "object": b.object_name,
                        "source": b.source,
                    }
                    for b in port.bindings.all()
                ],
            }
            for port in product.ports.all()
        ]

    def get_contracts(self, product: DataProduct) -> list[dict[str, Any]]:
        return [
            {
                "id": c.external_id,
                "name": c.name,
                "version": c.version,
                "format": c.format,
                "objects": [
                    {
                        "name": o.name,
                        "physicalName": o.physical_name,
                        "properties": [
                            {
                                "path": p.path,
                                "logicalType": p.logical_type,
                                "physicalType": p.physical_type,
                                "required": p.required,
                                "primaryKey": p.primary_key,
                                "classification": p.classification,
                                "pii": p.pii,
                                "description": p.description,
                            }
                            for p in o.properties.all()
                        ],
                    }
                    for o in c.schema_objects.all()
                ],
                "sla": [
                    {
                        "kind": s.kind,
                        "property": s.property,
                        "value": s.value,
                        "unit": s.unit,
                        "element": s.element,
                        "durationSeconds": s.duration_seconds,
                        "percent": s.percent,
                    }
                    for s in c.sla.all()
                ],
            }
            for c in product.contracts.all()
        ]


class RevisionSerializer(serializers.ModelSerializer[ProductRevision]):
    createdAt = serializers.DateTimeField(source="created_at")
    contentHash = serializers.CharField(source="content_hash")
    breakingAccepted = serializers.BooleanField(source="breaking_accepted")

    class Meta:
        model = ProductRevision
        fields = ["number", "version", "contentHash", "actor", "source", "createdAt",
                  "breakingAccepted", "warnings", "report"]  # fmt: skip


class RevisionDetailSerializer(RevisionSerializer):
    class Meta(RevisionSerializer.Meta):
        fields = [*RevisionSerializer.Meta.fields, "files", "normalized"]


def _registration(result: Registration) -> dict[str, Any]:
    return {
        "id": result.product_id,
        "action": result.action,
        "dryRun": result.dry_run,
        "revision": result.revision.number if result.revision and not result.dry_run else None,
        "warnings": result.warnings,
        "report": result.report,
    }


# --- views --------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(responses={200: ProductListSerializer(many=True), **errors(400, 401)})
)
class ProductListView(ListAPIView):
    """Products, filtered by ``domain``, ``status``, ``tag``, ``owner`` and text ``q``."""

    serializer_class = ProductListSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ProductFilter
    pagination_class = Pagination

    def get_queryset(self) -> QuerySet[DataProduct]:
        return selectors.product_list()


def product_by_id(value: str) -> DataProduct:
    """The product a request names by id, for a serializer's ``validate_product``: a
    missing one is a 400 on that field."""
    product = DataProduct.objects.filter(external_id=value).first()
    if product is None:
        raise serializers.ValidationError(f"no data product with id {value!r}")
    return product


def _product_or_404(product_id: str) -> DataProduct:
    product = selectors.product_get(external_id=product_id)
    if product is None:
        raise Http404(f"No data product {product_id!r}.")
    return product


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes", "on")


class ProductView(APIView):
    """One product: ``GET`` it, ``PUT`` a descriptor to register a revision, ``DELETE``
    to retire it (it stays, with its history, as ``retired``)."""

    parser_classes = [MultiPartParser, DescriptorParser]

    def get_permissions(self) -> list[Any]:
        if self.request.method in permissions.SAFE_METHODS:
            return [permissions.AllowAny()]
        return [CanWriteProducts()]

    @extend_schema(responses={200: ProductSerializer, **errors(401, 404)})
    def get(self, request: Request, product_id: str) -> Response:
        product = _product_or_404(product_id)
        return Response(ProductSerializer(selectors.product_with_parts(product)).data)

    @extend_schema(
        request={"application/yaml": {"type": "string"}, "multipart/form-data": dict},
        parameters=[
            OpenApiParameter(
                "accept_breaking",
                bool,
                description="register a breaking change without a major version bump",
            ),
            OpenApiParameter("dry_run", bool, description="check and report, store nothing"),
            OpenApiParameter(
                "strict", bool, description="refuse any JSON Schema error (default: warnings)"
            ),
        ],
        responses={
            200: dict,
            201: dict,
            **errors(400, 401, 403),
            409: dict,  # the breaking changes found, under "report"
            **errors(413),
        },
    )
    def put(self, request: Request, product_id: str) -> Response:
        files = descriptor_files(request)
        token = request_token(request)
        actor = token.name if token else request.user.get_username()
        try:
            result = data_product_register(
                files=files,
                actor=actor,
                source="api",
                token=token,
                user=None if token else request.user,
                expected_id=product_id,
                accept_breaking=_flag(request, "accept_breaking"),
                dry_run=_flag(request, "dry_run"),
                strict=_flag(request, "strict"),
            )
        except DescriptorError as exc:
            return Response(
                {"error": "invalid descriptor", "errors": issues_as_dicts(exc)},
                status=status.HTTP_400_BAD_REQUEST,
            )
        except DomainForbidden as exc:
            return Response({"error": str(exc)}, status=status.HTTP_403_FORBIDDEN)
        except BreakingChangeRefused as exc:
            return Response(
                {"error": str(exc), "report": exc.report}, status=status.HTTP_409_CONFLICT
            )
        code = status.HTTP_201_CREATED if result.action == "created" else status.HTTP_200_OK
        return Response(_registration(result), status=code)

    @extend_schema(responses={200: ProductListSerializer, **errors(401, 403, 404)})
    def delete(self, request: Request, product_id: str) -> Response:
        product = _product_or_404(product_id)
        try:
            token = request_token(request)
            data_product_retire(product=product, token=token, user=None if token else request.user)
        except DomainForbidden as exc:
            return Response({"error": str(exc)}, status=status.HTTP_403_FORBIDDEN)
        return Response(ProductListSerializer(product).data)


def descriptor_files(request: Request) -> dict[str, str]:
    """``{file name: text}`` from a multipart bundle or a raw YAML/JSON body."""
    limit = settings.MESHPORT_CATALOG["MAX_DESCRIPTOR_BYTES"]
    try:
        length = len(request._request.body)
    except RequestDataTooBig:
        raise PayloadTooLarge(f"Request body exceeds {limit} bytes.") from None
    if length > limit:
        raise PayloadTooLarge(f"A descriptor bundle holds at most {limit} bytes.")
    if _uploaded(request):
        files = {}
        for upload in request.FILES.getlist("file") or list(request.FILES.values()):
            try:
                files[upload.name] = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                raise ValidationError({upload.name: ["not UTF-8 text"]}) from None
        return files
    text = request.data if isinstance(request.data, str) else ""
    if not text.strip():
        raise ValidationError(
            {
                "$": [
                    "empty body: send the descriptor as YAML or JSON, or "
                    "a multipart bundle of files"
                ]
            }
        )
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    name = _TEXT_TYPES.get(content_type)
    if name is None:
        name = "descriptor.json" if text.lstrip()[:1] in "{[" else "descriptor.yaml"
    return {name: text}


def _uploaded(request: Request) -> bool:
    """Whether the body is a multipart bundle of files; past Django's limits on their
    number (``DATA_UPLOAD_MAX_NUMBER_FILES``) a 400 naming them, not Django's HTML page."""
    try:
        return bool(request.FILES)
    except (TooManyFilesSent, TooManyFieldsSent) as exc:
        raise ValidationError({"file": [str(exc)]}) from None


class ProductLineageView(APIView):
    """Which products feed this one and which it feeds (declared through input ports), and
    who actually reads its datasets (observed through lineage), with their products."""

    @extend_schema(responses={200: dict, **errors(401, 404)})
    def get(self, request: Request, product_id: str) -> Response:
        return Response(selectors.product_lineage(product=_product_or_404(product_id)))


@extend_schema_view(
    get=extend_schema(responses={200: RevisionSerializer(many=True), **errors(401, 404)})
)
class RevisionListView(ListAPIView):
    serializer_class = RevisionSerializer
    pagination_class = Pagination

    def get_queryset(self) -> QuerySet[ProductRevision]:
        if getattr(self, "swagger_fake_view", False):
            return ProductRevision.objects.none()
        product = _product_or_404(self.kwargs["product_id"])
        return selectors.product_revisions(product=product).defer(None)


class RevisionView(APIView):
    @extend_schema(responses={200: RevisionDetailSerializer, **errors(401, 404)})
    def get(self, request: Request, product_id: str, number: int) -> Response:
        revision = selectors.product_revision_get(
            product=_product_or_404(product_id), number=number
        )
        if revision is None:
            raise Http404(f"No revision {number} of {product_id!r}.")
        return Response(RevisionDetailSerializer(revision).data)


class DiffView(APIView):
    """The structural diff between revisions ``from`` and ``to`` (default: the active
    revision against the one before it)."""

    @extend_schema(
        parameters=[OpenApiParameter("from", int), OpenApiParameter("to", int)],
        responses={200: dict, **errors(400, 401, 404)},
    )
    def get(self, request: Request, product_id: str) -> Response:
        product = _product_or_404(product_id)
        old, new = selectors.revision_pair(
            product=product,
            old=_int_param(request, "from"),
            new=_int_param(request, "to"),
        )
        return Response(
            {
                "from": old.number,
                "to": new.number,
                "changes": [
                    {"path": c.path, "kind": c.kind, "old": c.old, "new": c.new}
                    for c in diff_documents(old.normalized, new.normalized)
                ],
            }
        )


def _int_param(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationError({name: ["must be a revision number"]}) from None

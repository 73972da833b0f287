"""Marquez-compatible read API under ``/api/v1/``: the JSON shapes Marquez clients expect.

Lists page with Marquez's ``limit``/``offset`` and answer ``{"totalCount": N, "<key>": [...]}``;
every view is read-only. Names may hold ``/`` (``s3://bucket``): the routes in
:mod:`lineage.marquez_urls` take care of that.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import django_filters
from django import forms
from django.db.models import QuerySet
from django_filters.fields import ChoiceField as FilterChoiceField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.pagination import BasePagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import Dataset, DatasetField, DatasetVersion, Namespace
from lineage import selectors
from lineage.events import parse_datetime
from lineage.models import ColumnLineage, Job, LineageEvent, Run, RunDataset, RunState
from meshport.openapi import errors

# --- query parameters -------------------------------------------------------------------

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# OFFSET and LIMIT go to SQL as 64-bit integers: past that SQLite refuses the statement.
MAX_OFFSET = 2**63 - 1 - MAX_LIMIT


class PageQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=0, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)


class RunFacetsQuerySerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["run", "job"])


def _run_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationError({"id": [f"{value!r} is not a valid run id (a UUID)."]}) from None


class _AnyCaseChoiceField(FilterChoiceField):
    """A choice matched whatever its case (``?state=failed``), cleaned to its canonical form."""

    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        for key, _label in self.choices:
            if str(key).lower() == text.lower():
                return str(key)
        return text


class _AnyCaseChoiceFilter(django_filters.ChoiceFilter):
    field_class = _AnyCaseChoiceField


class _TimestampField(forms.Field):
    # Form encoding turns an unescaped "+" into a space, which would eat "+02:00".
    _PLUS_AS_SPACE = re.compile(r"(T\d{2}:\d{2}(?::\d{2})?(?:[.,]\d+)?) (\d{2}(?::?\d{2})?)$")

    def to_python(self, value: Any) -> datetime | None:
        if value in self.empty_values:
            return None
        text = self._PLUS_AS_SPACE.sub(r"\1+\2", str(value).strip())
        parsed, _warning = parse_datetime(text)
        if parsed is None:
            # The value goes in as a parameter: django-filter %-formats every message, and
            # a "%" in the value itself was a TypeError (a 500).
            raise forms.ValidationError(
                "%(value)r is not an ISO-8601 date-time such as 2024-05-01T10:00:00Z.",
                params={"value": value},
            )
        return parsed


@extend_schema_field(OpenApiTypes.DATETIME)
class _TimestampFilter(django_filters.Filter):
    field_class = _TimestampField


class DatasetFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains", help_text="Name contains.")
    type = _AnyCaseChoiceFilter(choices=Dataset.Type.choices)

    class Meta:
        model = Dataset
        fields = ["name", "type"]


class JobFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains", help_text="Name contains.")

    class Meta:
        model = Job
        fields = ["name"]


class RunFilter(django_filters.FilterSet):
    state = _AnyCaseChoiceFilter(choices=RunState.choices)

    class Meta:
        model = Run
        fields = ["state"]


class LineageEventFilter(django_filters.FilterSet):
    """Marquez's window: ``after <= eventTime < before``."""

    before = _TimestampFilter(field_name="event_time", lookup_expr="lt")
    after = _TimestampFilter(field_name="event_time", lookup_expr="gte")
    sortDirection = _AnyCaseChoiceFilter(  # camelCase: Marquez's parameter name
        choices=[("asc", "asc"), ("desc", "desc")], method="sort_by_event_time"
    )

    class Meta:
        model = LineageEvent
        fields = ["before", "after", "sortDirection"]

    def sort_by_event_time(
        self, queryset: QuerySet[LineageEvent], name: str, value: str
    ) -> QuerySet[LineageEvent]:
        if value == "asc":
            return queryset.order_by("event_time", "id")
        return queryset.order_by("-event_time", "-id")


# --- pagination -------------------------------------------------------------------------


class MarquezPagination(BasePagination):
    """``limit``/``offset`` as Marquez takes them, validated (a bad value is a 400)."""

    results_key: ClassVar[str] = "results"
    with_total: ClassVar[bool] = True
    total_first: ClassVar[bool] = True
    total: int | None = None

    def paginate_queryset(
        self, queryset: QuerySet[Any] | Sequence[Any], request: Request, view: APIView | None = None
    ) -> list[Any]:
        params = PageQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        limit, offset = params.validated_data["limit"], params.validated_data["offset"]
        if self.with_total:
            self.total = queryset.count() if isinstance(queryset, QuerySet) else len(queryset)
        return list(queryset[offset : offset + limit])

    def get_paginated_response(self, data: Any) -> Response:
        if not self.with_total:
            return Response({self.results_key: data})
        if self.total_first:
            return Response({"totalCount": self.total, self.results_key: data})
        return Response({self.results_key: data, "totalCount": self.total})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        properties: dict[str, Any] = {self.results_key: schema}
        if self.with_total:
            properties["totalCount"] = {"type": "integer", "example": 1}
        return {"type": "object", "required": list(properties), "properties": properties}

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        return [
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": f"Page size, 0 to {MAX_LIMIT}.",
                "schema": {
                    "type": "integer",
                    "default": DEFAULT_LIMIT,
                    "minimum": 0,
                    "maximum": MAX_LIMIT,
                },
            },
            {
                "name": "offset",
                "in": "query",
                "required": False,
                "description": "How many rows to skip.",
                "schema": {"type": "integer", "default": 0, "minimum": 0, "maximum": MAX_OFFSET},
            },
        ]


def _pagination(
    key: str, *, with_total: bool = True, total_first: bool = True
) -> type[MarquezPagination]:
    return type(
        f"Marquez{key.title()}Pagination",
        (MarquezPagination,),
        {"results_key": key, "with_total": with_total, "total_first": total_first},
    )


# --- output -----------------------------------------------------------------------------


class _OptionalText(serializers.CharField):
    """Text Marquez sends as ``null`` when there is none."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_null=True, **kwargs)

    def to_representation(self, value: Any) -> str | None:  # type: ignore[override]
        return str(value) if value else None


def tag_names(tags: Iterable[Any]) -> list[str]:
    """Marquez tags are bare names; an OpenLineage tag ``{"key", "value"}`` gives its key."""
    names: list[str] = []
    for tag in tags or ():
        name = (tag.get("key") or tag.get("name")) if isinstance(tag, dict) else tag
        if isinstance(name, str) and name and name not in names:
            names.append(name)
    return names


class _TagNames(serializers.ListField):
    child = serializers.CharField()

    def to_representation(self, data: Any) -> list[str]:
        return tag_names(data)


class DatasetIdSerializer(serializers.Serializer):
    namespace = serializers.CharField()
    name = serializers.CharField()


class JobIdSerializer(DatasetIdSerializer):
    pass


class DatasetVersionIdSerializer(DatasetIdSerializer):
    version = serializers.UUIDField(allow_null=True)


class FieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField(allow_null=True)
    tags = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField(allow_null=True)


def field_json(name: str, kind: str, description: str, tags: Iterable[Any] = ()) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind or None,
        "tags": tag_names(tags),
        "description": description or None,
    }


def fields_of_rows(rows: Iterable[DatasetField]) -> list[dict[str, Any]]:
    return [field_json(f.name, f.type, f.description, f.tags) for f in rows]


def fields_of_json(items: Iterable[Any]) -> list[dict[str, Any]]:
    """Fields as a :class:`DatasetVersion` keeps them (``FieldFact`` dicts)."""
    return [
        field_json(
            str(f.get("name", "")), str(f.get("type") or ""), str(f.get("description") or "")
        )
        for f in items or ()
        if isinstance(f, Mapping)
    ]


class NamespaceSerializer(serializers.Serializer):
    name = serializers.CharField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    ownerName = serializers.CharField(source="owner_name")
    description = _OptionalText()
    isHidden = serializers.SerializerMethodField(method_name="get_is_hidden")

    def get_is_hidden(self, namespace: Namespace) -> bool:
        return False


class RunIoSerializer(serializers.Serializer):
    datasetVersionId = serializers.SerializerMethodField(method_name="get_version_id")
    facets = serializers.SerializerMethodField()

    @extend_schema_field(serializers.JSONField())
    def get_facets(self, io: RunDataset) -> dict[str, Any]:
        # The dataset's facets as of the version the run saw, then the run's own I/O facets.
        return {**(io.version.facets if io.version else {}), **io.facets}

    @extend_schema_field(DatasetVersionIdSerializer)
    def get_version_id(self, io: RunDataset) -> dict[str, Any]:
        return {
            "namespace": io.dataset.namespace.name,
            "name": io.dataset.name,
            # No version when the run saw the dataset before any schema was reported.
            "version": str(io.version.version) if io.version else None,
        }


class JobVersionIdSerializer(DatasetVersionIdSerializer):
    pass


class RunSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="uuid")
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    nominalStartTime = serializers.DateTimeField(source="nominal_start_time", allow_null=True)
    nominalEndTime = serializers.DateTimeField(source="nominal_end_time", allow_null=True)
    state = serializers.ChoiceField(choices=RunState.choices)
    startedAt = serializers.DateTimeField(source="started_at", allow_null=True)
    endedAt = serializers.DateTimeField(source="ended_at", allow_null=True)
    durationMs = serializers.IntegerField(source="duration_ms", allow_null=True)
    args = serializers.SerializerMethodField()
    jobVersion = serializers.SerializerMethodField(method_name="get_job_version")
    inputDatasetVersions = serializers.SerializerMethodField(method_name="get_inputs")
    outputDatasetVersions = serializers.SerializerMethodField(method_name="get_outputs")
    # The metaclass pops declared fields, so these keys do not shadow Serializer attributes.
    context = serializers.SerializerMethodField()  # type: ignore[assignment]
    facets = serializers.JSONField()

    def get_args(self, run: Run) -> dict[str, str]:
        return {}

    def get_context(self, run: Run) -> dict[str, str]:
        return {}

    @extend_schema_field(JobVersionIdSerializer)
    def get_job_version(self, run: Run) -> dict[str, Any]:
        # Jobs are not versioned here: the reference names the job only.
        return {"namespace": run.job.namespace.name, "name": run.job.name, "version": None}

    def _io(self, run: Run, direction: str) -> Any:
        rows = [io for io in run.io.all() if io.direction == direction]
        return RunIoSerializer(rows, many=True).data

    @extend_schema_field(RunIoSerializer(many=True))
    def get_inputs(self, run: Run) -> Any:
        return self._io(run, "input")

    @extend_schema_field(RunIoSerializer(many=True))
    def get_outputs(self, run: Run) -> Any:
        return self._io(run, "output")


class ColumnLineageInputSerializer(serializers.Serializer):
    namespace = serializers.CharField()
    dataset = serializers.CharField()
    field = serializers.CharField()
    transformationDescription = serializers.CharField(allow_null=True)
    transformationType = serializers.CharField(allow_null=True)


class ColumnLineageSerializer(serializers.Serializer):
    name = serializers.CharField()
    inputFields = ColumnLineageInputSerializer(many=True)


def column_lineage(edges: Iterable[ColumnLineage]) -> list[dict[str, Any]] | None:
    """Group a dataset's column edges by output column, Marquez's ``columnLineage``."""
    columns: dict[str, list[dict[str, Any]]] = {}
    for edge in edges:
        columns.setdefault(edge.output_field, []).append(
            {
                "namespace": edge.input_dataset.namespace.name,
                "dataset": edge.input_dataset.name,
                "field": edge.input_field,
                "transformationDescription": edge.description or None,
                "transformationType": edge.transformation_type or None,
            }
        )
    if not columns:
        return None
    return [{"name": name, "inputFields": inputs} for name, inputs in columns.items()]


class DatasetSerializer(serializers.Serializer):
    id = serializers.SerializerMethodField()
    type = serializers.ChoiceField(choices=Dataset.Type.choices)
    name = serializers.CharField()
    physicalName = serializers.SerializerMethodField(method_name="get_physical_name")
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    namespace = serializers.CharField(source="namespace.name")
    sourceName = serializers.SerializerMethodField(method_name="get_source_name")
    fields = serializers.SerializerMethodField("get_field_list")  # type: ignore[assignment]
    tags = _TagNames()
    lastModifiedAt = serializers.DateTimeField(source="last_modified_at", allow_null=True)
    lastLifecycleState = serializers.CharField(source="lifecycle_state")
    description = _OptionalText()
    currentVersion = serializers.UUIDField(source="current_version_uuid", allow_null=True)
    columnLineage = serializers.SerializerMethodField(method_name="get_column_lineage")
    facets = serializers.JSONField()
    deleted = serializers.BooleanField(source="is_deleted")

    @extend_schema_field(DatasetIdSerializer)
    def get_id(self, dataset: Dataset) -> dict[str, str]:
        return {"namespace": dataset.namespace.name, "name": dataset.name}

    def get_physical_name(self, dataset: Dataset) -> str:
        return dataset.physical_name or dataset.name

    def get_source_name(self, dataset: Dataset) -> str:
        # Marquez files a dataset without a dataSource facet under the "default" source.
        return dataset.source_name or "default"

    @extend_schema_field(FieldSerializer(many=True))
    def get_field_list(self, dataset: Dataset) -> Any:
        return FieldSerializer(fields_of_rows(dataset.schema_fields.all()), many=True).data

    @extend_schema_field(ColumnLineageSerializer(many=True, allow_null=True))
    def get_column_lineage(self, dataset: Dataset) -> Any:
        columns = column_lineage(dataset.column_inputs.all())
        return None if columns is None else ColumnLineageSerializer(columns, many=True).data


class DatasetVersionSerializer(serializers.Serializer):
    # ``createdByRun`` is looked up in ``context["runs"]``, runs by UUID.
    id = serializers.SerializerMethodField()
    type = serializers.ChoiceField(source="dataset.type", choices=Dataset.Type.choices)
    name = serializers.CharField(source="dataset.name")
    physicalName = serializers.SerializerMethodField(method_name="get_physical_name")
    createdAt = serializers.DateTimeField(source="created_at")
    version = serializers.UUIDField()
    namespace = serializers.CharField(source="dataset.namespace.name")
    sourceName = serializers.SerializerMethodField(method_name="get_source_name")
    fields = serializers.SerializerMethodField("get_field_list")  # type: ignore[assignment]
    tags = _TagNames(source="dataset.tags")
    lifecycleState = _OptionalText(source="lifecycle_state")
    description = serializers.SerializerMethodField()
    createdByRun = serializers.SerializerMethodField(method_name="get_created_by_run")
    facets = serializers.JSONField()

    @extend_schema_field(DatasetVersionIdSerializer)
    def get_id(self, version: DatasetVersion) -> dict[str, str]:
        dataset = version.dataset
        return {
            "namespace": dataset.namespace.name,
            "name": dataset.name,
            "version": str(version.version),
        }

    def get_physical_name(self, version: DatasetVersion) -> str:
        return version.dataset.physical_name or version.dataset.name

    def get_source_name(self, version: DatasetVersion) -> str:
        return version.dataset.source_name or "default"

    @extend_schema_field(FieldSerializer(many=True))
    def get_field_list(self, version: DatasetVersion) -> Any:
        return FieldSerializer(fields_of_json(version.fields), many=True).data

    def get_description(self, version: DatasetVersion) -> str | None:
        documentation = (version.facets or {}).get("documentation")
        if isinstance(documentation, Mapping) and documentation.get("description"):
            return str(documentation["description"])
        return version.dataset.description or None

    @extend_schema_field(RunSerializer(allow_null=True))
    def get_created_by_run(self, version: DatasetVersion) -> Any:
        run = self.context.get("runs", {}).get(version.run_uuid)
        return None if run is None else RunSerializer(run).data


JOB_TYPES = {"BATCH": "BATCH", "STREAMING": "STREAM", "STREAM": "STREAM", "SERVICE": "SERVICE"}


class JobSerializer(serializers.Serializer):
    id = serializers.SerializerMethodField()
    type = serializers.SerializerMethodField()
    name = serializers.CharField()
    simpleName = serializers.SerializerMethodField(method_name="get_simple_name")
    parentJobName = serializers.CharField(source="parent.name", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    namespace = serializers.CharField(source="namespace.name")
    inputs = serializers.SerializerMethodField()
    outputs = serializers.SerializerMethodField()
    location = serializers.CharField(source="source_code_location.url", allow_null=True)
    description = _OptionalText()
    latestRun = RunSerializer(source="latest_run", allow_null=True)
    facets = serializers.JSONField()
    currentVersion = serializers.SerializerMethodField(method_name="get_current_version")
    labels = serializers.SerializerMethodField()
    tags = _TagNames()
    parentJobUuid = serializers.SerializerMethodField(method_name="get_parent_job_uuid")

    @extend_schema_field(JobIdSerializer)
    def get_id(self, job: Job) -> dict[str, str]:
        return {"namespace": job.namespace.name, "name": job.name}

    @extend_schema_field({"type": "string", "description": "BATCH, STREAM or SERVICE."})
    def get_type(self, job: Job) -> str:
        return JOB_TYPES.get(job.type.upper(), "BATCH")

    def get_simple_name(self, job: Job) -> str:
        prefix = f"{job.parent.name}." if job.parent else ""
        if prefix and job.name.startswith(prefix):
            return job.name[len(prefix) :]
        return job.name

    def _datasets(self, job: Job, direction: str) -> Any:
        ids = [
            {"namespace": edge.dataset.namespace.name, "name": edge.dataset.name}
            for edge in job.dataset_edges.all()
            if edge.direction == direction
        ]
        return DatasetIdSerializer(ids, many=True).data

    @extend_schema_field(DatasetIdSerializer(many=True))
    def get_inputs(self, job: Job) -> Any:
        return self._datasets(job, "input")

    @extend_schema_field(DatasetIdSerializer(many=True))
    def get_outputs(self, job: Job) -> Any:
        return self._datasets(job, "output")

    def get_current_version(self, job: Job) -> uuid.UUID | None:
        return None

    def get_labels(self, job: Job) -> list[str]:
        return []

    def get_parent_job_uuid(self, job: Job) -> uuid.UUID | None:
        # Jobs have no UUID here; one derived from the parent's identity is stable.
        if job.parent is None:
            return None
        return uuid.uuid5(uuid.NAMESPACE_URL, f"job:{job.parent.namespace.name}:{job.parent.name}")


class RunFacetsSerializer(serializers.Serializer):
    runId = serializers.UUIDField()
    facets = serializers.DictField(child=serializers.JSONField())


class LineageEventPayloadSerializer(serializers.Serializer):
    """An OpenLineage RunEvent exactly as it was posted; the fields below only document it."""

    eventType = serializers.CharField(required=False)
    eventTime = serializers.DateTimeField()
    producer = serializers.CharField()
    schemaURL = serializers.CharField()
    run = serializers.DictField()
    job = serializers.DictField()
    inputs = serializers.ListField(child=serializers.DictField(), required=False)
    outputs = serializers.ListField(child=serializers.DictField(), required=False)

    def to_representation(self, instance: LineageEvent) -> Any:
        return instance.payload


# --- views ------------------------------------------------------------------------------

_NAMESPACE = OpenApiParameter("namespace", str, OpenApiParameter.PATH, description="Namespace.")
_DATASET = OpenApiParameter("dataset", str, OpenApiParameter.PATH, description="Dataset name.")
_JOB = OpenApiParameter("job", str, OpenApiParameter.PATH, description="Job name.")
_RUN_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Run id.")
_NOT_FOUND = errors(401, 404)
_BAD_OR_NOT_FOUND = errors(400, 401, 404)


def _not_found(kind: str, name: str, namespace: Namespace) -> NotFound:
    return NotFound(f"{kind} '{name}' not found in namespace '{namespace.name}'.")


def _namespace(name: str) -> Namespace:
    namespace = selectors.namespace_get(name=name)
    if namespace is None:
        raise NotFound(f"Namespace '{name}' not found.")
    return namespace


class _MarquezView(APIView):
    permission_classes = [AllowAny]

    def _schema_only(self) -> bool:
        """True while drf-spectacular introspects the view, without URL arguments."""
        return getattr(self, "swagger_fake_view", False)


@extend_schema_view(
    get=extend_schema(
        tags=["marquez"],
        operation_id="getNamespaces",
        responses={200: NamespaceSerializer(many=True), **errors(400, 401)},
    )
)
class NamespaceListView(_MarquezView, ListAPIView):
    serializer_class = NamespaceSerializer
    pagination_class = _pagination("namespaces", with_total=False)

    def get_queryset(self) -> QuerySet[Namespace]:
        return selectors.namespace_list()


@extend_schema_view(
    get=extend_schema(
        tags=["marquez"],
        operation_id="getNamespace",
        parameters=[_NAMESPACE],
        responses={200: NamespaceSerializer, **_NOT_FOUND},
    )
)
class NamespaceDetailView(_MarquezView, RetrieveAPIView):
    serializer_class = NamespaceSerializer

    def get_object(self) -> Namespace:
        return _namespace(self.kwargs["namespace"])


@extend_schema_view(
    get=extend_schema(
        tags=["marquez"],
        operation_id="getDatasets",
        parameters=[_NAMESPACE],
        responses={200: DatasetSerializer(many=True), **_BAD_OR_NOT_FOUND},
    )
)
class DatasetListView(_MarquezView, ListAPIView):
    serializer_class = DatasetSerializer
    filterset_class = DatasetFilter
    pagination_class = _pagination("datasets")

    def get_queryset(self) -> QuerySet[Dataset]:
        if self._schema_only():
            return Dataset.objects.none()
        return selectors.dataset_list(namespace=_namespace(self.kwargs["namespace"]))


def _dataset(namespace: Namespace, name: str) -> Dataset:
    dataset = selectors.dataset_get(namespace=namespace, name=name)
    if dataset is None:
        raise _not_found("Dataset", name, namespace)
    return dataset


@extend_schema_view(
    get=extend_schema(
        tags=["marquez"],
        operation_id="getDataset",
        parameters=[_NAMESPACE, _DATASET],
        responses={200: DatasetSerializer, **_NOT_FOUND},
    )
)
class DatasetDetailView(_MarquezView, RetrieveAPIView):
    serializer_class = DatasetSerializer

    def get_object(self) -> Dataset:
        return _dataset(_namespace(self.kwargs["namespace"]), self.kwargs["dataset"])


@extend_schema_view(
    get=extend_schema(
        tags=["marquez"],
        operation_id="getDatasetVersions",
        parameters=[_NAMESPACE, _DATASET],
        responses={200: DatasetVersionSerializer(many=True), **_BAD_OR_NOT_FOUND},
    )
)
class DatasetVersionListView(_MarquezView, ListAPIView):
    serializer_class = DatasetVersionSerializer
    pagination_class = _pagination("versions")
    versions: QuerySet[DatasetVersion]
    runs: dict[uuid.UUID, Run]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        namespace = _namespace(kwargs["namespace"])
        name = kwargs["dataset"]
        versions = selectors.dataset_version_list(namespace=namespace, name=name)
        if versions is None:
            # The name may itself end in "/versions" (its %2F arrived decoded).
            whole = selectors.dataset_get(namespace=namespace, name=f"{name}/versions")
            if whole is None:
                raise _not_found("Dataset", name, namespace)
            return Response(DatasetSerializer(whole).data)
        self.versions = versions
        return self.list(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[DatasetVersion]:
        if self._schema_only():
            return DatasetVersion.objects.none()
        return self.versions

    def paginate_queryset(self, queryset: QuerySet[Any] | Sequence[Any]) -> list[Any] | None:
        page = super().paginate_queryset(queryset)
        self.runs = selectors.runs_by_uuid(uuids=(v.run_uuid for v in page or ()))
        return page

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "runs": getattr(self, "runs", {})}


@extend_schema_view(
    get=extend_schema(
        tags=["marquez"],
        operation_id="getJobs",
        parameters=[_NAMESPACE],
        responses={200: JobSerializer(many=True), **_BAD_OR_NOT_FOUND},
    )
)
class JobListView(_MarquezView, ListAPIView):
    serializer_class = JobSerializer
    filterset_class = JobFilter
    pagination_class = _pagination("jobs")

    def get_queryset(self) -> QuerySet[Job]:
        if self._schema_only():
            return Job.objects.none()
        return selectors.job_list(namespace=_namespace(self.kwargs["namespace"]))


def _job(namespace: Namespace, name: str) -> Job:
    job = selectors.job_get(namespace=namespace, name=name)
    if job is None:
        raise _not_found("Job", name, namespace)
    return job


@extend_schema_view(
    get=extend_schema(
        tags=["marquez"],
        operation_id="getJob",
        parameters=[_NAMESPACE, _JOB],
        responses={200: JobSerializer, **_NOT_FOUND},
    )
)
class JobDetailView(_MarquezView, RetrieveAPIView):
    serializer_class = JobSerializer

    def get_object(self) -> Job:
        return _job(_namespace(self.kwargs["namespace"]), self.kwargs["job"])


@extend_schema_view(
    get=extend_schema(
        tags=["marquez"],
        operation_id="getRuns",
        parameters=[_NAMESPACE, _JOB],
        responses={200: RunSerializer(many=True), **_BAD_OR_NOT_FOUND},
    )
)
class JobRunListView(_MarquezView, ListAPIView):
    serializer_class = RunSerializer
    filterset_class = RunFilter
    pagination_class = _pagination("runs")
    runs: QuerySet[Run]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        namespace = _namespace(kwargs["namespace"])
        name = kwargs["job"]
        runs = selectors.job_run_list(namespace=namespace, name=name)
        if runs is None:
            # The name may itself end in "/runs" (its %2F arrived decoded).
            whole = selectors.job_get(namespace=namespace, name=f"{name}/runs")
            if whole is None:
                raise _not_found("Job", name, namespace)
            return Response(JobSerializer(whole).data)
        self.runs = runs
        return self.list(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Run]:
        if self._schema_only():
            return Run.objects.none()
        return self.runs


def _run(run_id: str) -> Run:
    run = selectors.run_get(run_id=_run_uuid(run_id))
    if run is None:
        raise NotFound(f"Run '{run_id}' not found.")
    return run


@extend_schema_view(
    get=extend_schema(
        tags=["marquez"],
        operation_id="getRun",
        parameters=[_RUN_ID],
        responses={200: RunSerializer, **_BAD_OR_NOT_FOUND},
    )
)
class RunDetailView(_MarquezView, RetrieveAPIView):
    serializer_class = RunSerializer

    def get_object(self) -> Run:
        return _run(self.kwargs["id"])


class RunFacetsView(_MarquezView):
    @extend_schema(
        tags=["marquez"],
        operation_id="getRunFacets",
        parameters=[
            _RUN_ID,
            OpenApiParameter(
                "type",
                str,
                OpenApiParameter.QUERY,
                required=True,
                enum=["run", "job"],
                description="The run facets or the job facets its events carried.",
            ),
        ],
        responses={200: RunFacetsSerializer, **_BAD_OR_NOT_FOUND},
    )
    def get(self, request: Request, **kwargs: str) -> Response:
        raw = request.query_params.get("type")
        query = RunFacetsQuerySerializer(data={} if raw is None else {"type": raw.lower()})
        query.is_valid(raise_exception=True)
        run = _run(kwargs["id"])
        facets = selectors.run_facets(run=run, kind=query.validated_data["type"])
        return Response(RunFacetsSerializer({"runId": run.uuid, "facets": facets}).data)


@extend_schema_view(
    get=extend_schema(
        tags=["marquez"],
        operation_id="getLineageEvents",
        responses={200: LineageEventPayloadSerializer(many=True), **errors(400, 401)},
    )
)
class LineageEventListView(_MarquezView, ListAPIView):
    serializer_class = LineageEventPayloadSerializer
    filterset_class = LineageEventFilter
    pagination_class = _pagination("events", total_first=False)

    def get_queryset(self) -> QuerySet[LineageEvent]:
        return selectors.lineage_event_list()

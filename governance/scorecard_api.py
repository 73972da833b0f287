"""Scorecard API: ``/api/v1/scorecards`` — definitions (the document a YAML file holds, as
JSON), dry runs, shift-left evaluation of a descriptor, runs and their results — and
``/api/v1/waivers``.

Who may do what: anyone reads, as the rest of governance. Stewards
(:class:`~catalog.auth.CanGovern`) define scorecards, preview changes, start runs and decide
waivers. A product's owners, or stewards, request waivers. A descriptor is evaluated for any
logged-in user and any token with ``products:write`` (a domain team's CI) or
``governance:write``; an evaluation writes nothing.

Errors: a definition that cannot be used is a 400 naming the path of each problem in the
document, as a descriptor's problems are named: ``{"error": "invalid scorecard definition",
"errors": [{"path": "checks/1/check", "message": ...}]}``. Other bad input is the API's
usual 400 naming the field. Deciding a waiver that is no longer pending (or revoking one
that is neither pending nor approved) is a 409, as is creating a scorecard whose slug is
taken. As in the portal, ``PUT`` replaces any scorecard's definition, one loaded from a
file too (its source becomes ``api``; the next ``load_scorecards`` of that file replaces
it again).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import django_filters
from django.db.models import Count, F, Q, QuerySet
from django.http import Http404
from django.utils.text import slugify
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api import DescriptorParser, descriptor_files, product_by_id
from catalog.audit import Via
from catalog.auth import CanGovern, actor_name, request_token
from catalog.descriptors import DescriptorError
from catalog.models import DataProduct
from catalog.roles import may_edit_product
from catalog.services import issues_as_dicts
from governance.checks import UnknownCheck
from governance.models import (
    CheckStatus,
    Scorecard,
    ScorecardResult,
    ScorecardRun,
    Waiver,
    WaiverEvent,
)
from governance.rules import RuleError
from governance.scorecard_services import (
    DryRun,
    Lint,
    WaiverError,
    scorecard_delete,
    scorecard_dry_run,
    scorecard_lint,
    scorecard_run_request,
    scorecard_save,
    waiver_decide,
    waiver_request,
    waiver_revoke,
)
from governance.scorecards import CheckDef, Definition, DefinitionError, definition_from_dict
from meshport.api import GovernedWrites, Pagination
from meshport.openapi import errors

# --- permissions --------------------------------------------------------------------------


class IsProductTeam(permissions.BasePermission):
    """A logged-in user, or a token with ``products:write`` or ``governance:write``: who
    may evaluate a descriptor or ask for a waiver (a lineage-only token may not)."""

    message = "A token with products:write or governance:write, or a logged-in user."

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request_token(request)
        if token is not None:
            return token.has_scope("products:write") or token.has_scope("governance:write")
        return bool(request.user and request.user.is_authenticated)


def _owns(request: Request, product: DataProduct) -> bool:
    """The user (or the user who made the token) may edit the product (its owners, and
    the owners and teams of its domain)."""
    return may_edit_product(request.user, product)


# --- definitions in and out ---------------------------------------------------------------


class ScorecardLevelDocument(serializers.Serializer):
    slug = serializers.SlugField(max_length=50)
    name = serializers.CharField(required=False, max_length=100)
    color = serializers.CharField(required=False, allow_blank=True, max_length=20)


class ScorecardCheckDocument(serializers.Serializer):
    key = serializers.SlugField(required=False, max_length=100, help_text="default: from check")
    check = serializers.CharField(
        required=False, help_text='a built-in check, a dotted path, or "rule" (with rule)'
    )
    rule = serializers.CharField(required=False, help_text='e.g. tags contains "gdpr"')
    name = serializers.CharField(required=False, max_length=255)
    category = serializers.CharField(required=False, max_length=100)
    weight = serializers.FloatField(required=False, min_value=0, default=1.0)
    level = serializers.SlugField(required=False, help_text="the level this check gates")
    params = serializers.DictField(required=False)
    remediation = serializers.CharField(required=False)
    enabled_from = serializers.CharField(
        required=False, help_text="a date or date and time: counted from then on"
    )


class ScorecardFiltersDocument(serializers.Serializer):
    domains = serializers.ListField(child=serializers.CharField(), required=False)
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    statuses = serializers.ListField(child=serializers.CharField(), required=False)


class ScorecardDocument(serializers.Serializer):
    """A scorecard as its YAML file holds it (here as JSON). Describes the shape for the
    schema; :func:`~governance.scorecards.definition_from_dict` reads and checks it."""

    slug = serializers.SlugField(required=False, max_length=100, help_text="default: from name")
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    schedule = serializers.CharField(
        required=False, allow_blank=True, help_text="cron: minute hour day month weekday"
    )
    filters = ScorecardFiltersDocument(required=False)
    enabled = serializers.BooleanField(required=False, default=True)
    levels = ScorecardLevelDocument(many=True, required=False, help_text="lowest first")
    checks = ScorecardCheckDocument(many=True)


def _read_definition(data: Any, slug: str | None = None) -> Definition:
    """The definition a request body holds. With ``slug`` (from the URL), the body's own
    slug may be left out; given, it must be the same. Raises :class:`DefinitionError`."""
    if slug is not None and isinstance(data, dict):
        given = data.get("slug")
        if given not in (None, "") and slugify(str(given)) != slug:
            raise DefinitionError([("slug", f"the URL names {slug!r}; leave it out or match it")])
        data = {**data, "slug": slug}
    return definition_from_dict(data)


def _invalid_definition(exc: DefinitionError) -> Response:
    errors = [{"path": path, "message": message} for path, message in exc.errors]
    return Response(
        {"error": "invalid scorecard definition", "errors": errors},
        status=status.HTTP_400_BAD_REQUEST,
    )


# --- scorecards -------------------------------------------------------------------------------


class ScorecardLevelOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    color = serializers.CharField()


class ScorecardRunOutput(serializers.ModelSerializer[ScorecardRun]):
    scorecard = serializers.CharField(source="scorecard.slug")
    requestedBy = serializers.CharField(source="requested_by")
    createdAt = serializers.DateTimeField(source="created_at")
    startedAt = serializers.DateTimeField(source="started_at", allow_null=True)
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)
    summary = serializers.JSONField(
        help_text="products, mean score, products per level, how many rose and dropped"
    )

    class Meta:
        model = ScorecardRun
        fields = ["id", "scorecard", "trigger", "status", "requestedBy", "createdAt",
                  "startedAt", "finishedAt", "summary", "error"]  # fmt: skip


class ScorecardRunDetailOutput(ScorecardRunOutput):
    definition = serializers.JSONField(help_text="the definition as this run used it")

    class Meta(ScorecardRunOutput.Meta):
        fields = [*ScorecardRunOutput.Meta.fields, "definition"]


class LastRunOutput(serializers.ModelSerializer[ScorecardRun]):
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)

    class Meta:
        model = ScorecardRun
        fields = ["id", "finishedAt", "summary"]


class ScorecardOutput(serializers.ModelSerializer[Scorecard]):
    levels = ScorecardLevelOutput(many=True)
    checks = serializers.IntegerField(source="check_count", help_text="how many checks")
    lastRun = LastRunOutput(source="last_run", allow_null=True, help_text="the latest done run")

    class Meta:
        model = Scorecard
        fields = ["slug", "name", "description", "schedule", "filters", "enabled", "source",
                  "levels", "checks", "lastRun"]  # fmt: skip


class ScorecardDetailOutput(serializers.ModelSerializer[Scorecard]):
    sourcePath = serializers.CharField(source="source_path")
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    definition = serializers.SerializerMethodField()
    lastRun = LastRunOutput(source="last_run", allow_null=True)

    class Meta:
        model = Scorecard
        fields = ["slug", "name", "source", "sourcePath", "createdAt", "updatedAt",
                  "definition", "lastRun"]  # fmt: skip

    @extend_schema_field(ScorecardDocument)
    def get_definition(self, scorecard: Scorecard) -> dict[str, Any]:
        return Definition.from_model(scorecard).to_dict()


def _scorecards() -> QuerySet[Scorecard]:
    return (
        Scorecard.objects.select_related("last_run")
        .prefetch_related("levels")
        .annotate(check_count=Count("checks"))
        .order_by("name", "pk")
    )


# What the URL's slug converter routes: another path is the router's 404.
SLUG = OpenApiParameter(
    "slug", str, OpenApiParameter.PATH, pattern=r"^[-a-zA-Z0-9_]+$", description="Its slug."
)


def _scorecard_or_404(slug: str) -> Scorecard:
    scorecard = Scorecard.objects.select_related("last_run").filter(slug=slug).first()
    if scorecard is None:
        raise Http404(f"No scorecard {slug!r}.")
    return scorecard


@extend_schema_view(
    get=extend_schema(responses={200: ScorecardOutput(many=True), **errors(400, 401)})
)
class ScorecardListView(ListAPIView, GovernedWrites):
    """Scorecards with their levels, how many checks and their latest run. ``POST`` a
    definition document to create one (stewards)."""

    serializer_class = ScorecardOutput
    pagination_class = Pagination

    def get_queryset(self) -> QuerySet[Scorecard]:
        return _scorecards()

    @extend_schema(
        request=ScorecardDocument,
        responses={201: ScorecardDetailOutput, **errors(400, 401, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        try:
            definition = _read_definition(request.data)
        except DefinitionError as exc:
            return _invalid_definition(exc)
        if Scorecard.objects.filter(slug=definition.slug).exists():
            message = f"a scorecard {definition.slug!r} exists: PUT replaces it"
            return Response(
                {"error": message, "errors": [{"path": "slug", "message": message}]},
                status=status.HTTP_409_CONFLICT,
            )
        scorecard = scorecard_save(
            definition=definition,
            actor=actor_name(request),
            via=Via.API,
            source=Scorecard.Source.API,
        )
        return Response(ScorecardDetailOutput(scorecard).data, status=status.HTTP_201_CREATED)


@extend_schema(parameters=[SLUG])
class ScorecardView(GovernedWrites):
    """One scorecard with its whole definition. ``PUT`` a definition to replace it,
    ``DELETE`` it with its runs and waivers (stewards)."""

    @extend_schema(responses={200: ScorecardDetailOutput, **errors(401, 404)})
    def get(self, request: Request, slug: str) -> Response:
        return Response(ScorecardDetailOutput(_scorecard_or_404(slug)).data)

    @extend_schema(
        request=ScorecardDocument,
        responses={200: ScorecardDetailOutput, **errors(400, 401, 403, 404)},
    )
    def put(self, request: Request, slug: str) -> Response:
        _scorecard_or_404(slug)
        try:
            definition = _read_definition(request.data, slug)
        except DefinitionError as exc:
            return _invalid_definition(exc)
        scorecard = scorecard_save(
            definition=definition,
            actor=actor_name(request),
            via=Via.API,
            source=Scorecard.Source.API,
        )
        return Response(ScorecardDetailOutput(_scorecard_or_404(scorecard.slug)).data)

    @extend_schema(responses={204: None, **errors(401, 403, 404)})
    def delete(self, request: Request, slug: str) -> Response:
        scorecard_delete(scorecard=_scorecard_or_404(slug), actor=actor_name(request), via=Via.API)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- dry run ----------------------------------------------------------------------------------


def _moves(component: str, more: dict[str, serializers.Field]) -> Any:
    """A list of items with ``from`` and ``to`` levels (names Python cannot declare)."""
    level = "a level's slug; empty: no level"
    fields = {
        "from": serializers.CharField(help_text=level),
        "to": serializers.CharField(help_text=level),
    }
    return inline_serializer(component, fields={**more, **fields}, many=True)


DryRunOutput = inline_serializer(
    "ScorecardDryRun",
    fields={
        "products": serializers.IntegerField(help_text="products scored"),
        "moves": _moves("ScorecardMove", {"products": serializers.IntegerField()}),
        "sentences": serializers.ListField(child=serializers.CharField()),
        "changed": _moves(
            "ScorecardChange", {"id": serializers.CharField(), "name": serializers.CharField()}
        ),
        "newlyFailing": serializers.DictField(
            child=serializers.IntegerField(), help_text="check key: products it would fail"
        ),
        "scoreBefore": serializers.FloatField(),
        "scoreAfter": serializers.FloatField(),
    },
)


def _dry_run_answer(preview: DryRun, before: Definition, after: Definition) -> dict[str, Any]:
    return {
        "products": preview.products,
        "moves": [
            {"from": was, "to": will, "products": count}
            for (was, will), count in preview.moves.most_common()
        ],
        "sentences": preview.sentences(before, after),
        "changed": [
            {"id": c["product"], "name": c["name"], "from": c["from"], "to": c["to"]}
            for c in preview.changed
        ],
        "newlyFailing": dict(preview.newly_failing),
        "scoreBefore": preview.score_before,
        "scoreAfter": preview.score_after,
    }


@extend_schema(parameters=[SLUG])
class ScorecardDryRunView(APIView):
    """What a changed definition would do to every product, compared with the saved one
    over the same facts; nothing is saved (stewards)."""

    permission_classes = [CanGovern]

    @extend_schema(
        request=ScorecardDocument,
        responses={200: DryRunOutput, **errors(400, 401, 403, 404)},
    )
    def post(self, request: Request, slug: str) -> Response:
        scorecard = _scorecard_or_404(slug)
        try:
            definition = _read_definition(request.data, slug)
        except DefinitionError as exc:
            return _invalid_definition(exc)
        preview = scorecard_dry_run(scorecard=scorecard, definition=definition)
        before = Definition.from_model(scorecard)
        return Response(_dry_run_answer(preview, before, definition))


# --- shift-left -------------------------------------------------------------------------------


class LevelRefOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class EvaluatedCheckOutput(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    category = serializers.CharField()
    level = serializers.CharField(help_text="the level it gates; empty: the score only")
    status = serializers.ChoiceField(choices=CheckStatus.choices)
    message = serializers.CharField()
    remediation = serializers.CharField()
    evidence = serializers.JSONField()


class EvaluationOutput(serializers.Serializer):
    scorecard = serializers.CharField()
    product = serializers.CharField(help_text="the descriptor's product id")
    registered = serializers.BooleanField(help_text="a product with this id is registered")
    inScope = serializers.BooleanField(help_text="the scorecard's filters take the product")
    score = serializers.FloatField()
    level = LevelRefOutput(allow_null=True, help_text="null: no level reached")
    nextLevel = LevelRefOutput(allow_null=True)
    missing = serializers.ListField(
        child=serializers.CharField(), help_text="check keys the next level still needs"
    )
    failing = EvaluatedCheckOutput(many=True)
    checks = EvaluatedCheckOutput(many=True)


def _level_ref(definition: Definition, slug: str) -> dict[str, str] | None:
    level = definition.level(slug)
    return {"slug": level.slug, "name": level.name} if level else None


def _words(check: CheckDef) -> tuple[str, str, str]:
    """Title, category and remediation; a check that can no longer be resolved (its
    module gone) keeps its key, its own words and the failure that says so."""
    try:
        return check.title, check.group, check.fix
    except (UnknownCheck, RuleError):
        return check.name or check.key, check.category, check.remediation


def _evaluation(definition: Definition, lint: Lint) -> dict[str, Any]:
    outcome = lint.outcome
    checks = []
    for check in definition.checks:
        title, category, remediation = _words(check)
        result = outcome.checks[check.key]
        checks.append(
            {
                "key": check.key,
                "title": title,
                "category": category,
                "level": check.level,
                "status": result.status,
                "message": result.message,
                "remediation": remediation,
                "evidence": dict(result.evidence),
            }
        )
    return {
        "scorecard": definition.slug,
        "product": lint.product,
        "registered": lint.facts.pk is not None,
        "inScope": lint.in_scope,
        "score": outcome.score,
        "level": _level_ref(definition, outcome.level),
        "nextLevel": _level_ref(definition, outcome.next_level),
        "missing": outcome.missing,
        "failing": [c for c in checks if c["status"] == CheckStatus.FAIL],
        "checks": checks,
    }


@extend_schema(parameters=[SLUG])
class ScorecardEvaluateView(APIView):
    """Shift-left: the level a descriptor would earn, as if it were registered now, before
    it is merged. Send it as ``PUT /api/v1/products/{id}`` takes it: a YAML or JSON body,
    or a multipart bundle of files. Nothing is written."""

    parser_classes = [MultiPartParser, DescriptorParser]
    permission_classes = [IsProductTeam]

    @extend_schema(
        request={"application/yaml": {"type": "string"}, "multipart/form-data": dict},
        responses={200: EvaluationOutput, **errors(400, 401, 403, 404, 413)},
    )
    def post(self, request: Request, slug: str) -> Response:
        definition = Definition.from_model(_scorecard_or_404(slug))
        files = descriptor_files(request)
        try:
            lint = scorecard_lint(definition=definition, files=files)
        except DescriptorError as exc:
            return Response(
                {"error": "invalid descriptor", "errors": issues_as_dicts(exc)},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(_evaluation(definition, lint))


# --- runs and results -------------------------------------------------------------------------


@extend_schema(parameters=[SLUG])
@extend_schema_view(
    get=extend_schema(responses={200: ScorecardRunOutput(many=True), **errors(400, 401, 404)})
)
class ScorecardRunListView(ListAPIView, GovernedWrites):
    """The scorecard's runs, newest first. ``POST`` starts one now (stewards): it is queued
    for the worker, and answered at once (202) with its status."""

    serializer_class = ScorecardRunOutput
    pagination_class = Pagination

    def get_queryset(self) -> QuerySet[ScorecardRun]:
        if getattr(self, "swagger_fake_view", False):
            return ScorecardRun.objects.none()
        scorecard = _scorecard_or_404(self.kwargs["slug"])
        return scorecard.runs.select_related("scorecard").order_by("-created_at", "-pk")

    @extend_schema(request=None, responses={202: ScorecardRunOutput, **errors(401, 403, 404)})
    def post(self, request: Request, slug: str) -> Response:
        run = scorecard_run_request(
            scorecard=_scorecard_or_404(slug), requested_by=actor_name(request)
        )
        return Response(ScorecardRunOutput(run).data, status=status.HTTP_202_ACCEPTED)


def _run_or_404(slug: str, pk: int) -> ScorecardRun:
    runs = ScorecardRun.objects.select_related("scorecard")
    run = runs.filter(scorecard__slug=slug, pk=pk).first()
    if run is None:
        raise Http404(f"No run {pk} of scorecard {slug!r}.")
    return run


@extend_schema(parameters=[SLUG])
class ScorecardRunView(APIView):
    """One run: its status, summary, and the definition it used."""

    @extend_schema(responses={200: ScorecardRunDetailOutput, **errors(401, 404)})
    def get(self, request: Request, slug: str, pk: int) -> Response:
        return Response(ScorecardRunDetailOutput(_run_or_404(slug, pk)).data)


class ProductRefOutput(serializers.ModelSerializer[DataProduct]):
    id = serializers.CharField(source="external_id")

    class Meta:
        model = DataProduct
        fields = ["id", "name"]


class ScorecardResultOutput(serializers.ModelSerializer[ScorecardResult]):
    run = serializers.IntegerField(source="run_id")
    product = ProductRefOutput()
    previousLevel = serializers.CharField(source="previous_level")
    previousScore = serializers.FloatField(source="previous_score", allow_null=True)
    blastRadius = serializers.IntegerField(source="blast_radius")
    checks = serializers.JSONField(help_text="check key: status, message, evidence")
    changes = serializers.JSONField(help_text="checks whose status moved since the last run")

    class Meta:
        model = ScorecardResult
        fields = ["run", "product", "score", "level", "previousLevel", "previousScore",
                  "blastRadius", "checks", "changes"]  # fmt: skip


_CHECK_KEY = re.compile(r"^[-a-zA-Z0-9_]+$")


class ScorecardResultFilter(django_filters.FilterSet):
    """``level`` (a slug; ``none``: no level reached), ``product`` (id), ``changed``
    (the level moved since the run before), ``failing`` (a check key)."""

    level = django_filters.CharFilter(method="filter_level")
    product = django_filters.CharFilter(field_name="product__external_id")
    changed = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")], method="filter_changed"
    )
    failing = django_filters.CharFilter(method="filter_failing")

    class Meta:
        model = ScorecardResult
        fields: list[str] = []

    def filter_level(self, queryset: QuerySet[ScorecardResult], name: str, value: str) -> Any:
        return queryset.filter(level="" if value == "none" else value)

    def filter_changed(self, queryset: QuerySet[ScorecardResult], name: str, value: str) -> Any:
        moved = Q(previous_score__isnull=False) & ~Q(level=F("previous_level"))
        return queryset.filter(moved) if value == "true" else queryset.exclude(moved)

    def filter_failing(self, queryset: QuerySet[ScorecardResult], name: str, value: str) -> Any:
        if not _CHECK_KEY.match(value):
            raise ValidationError({"failing": ["a check key"]})
        return queryset.filter(**{f"checks__{value}__status": CheckStatus.FAIL})


@extend_schema(parameters=[SLUG])
@extend_schema_view(
    get=extend_schema(responses={200: ScorecardResultOutput(many=True), **errors(400, 401, 404)})
)
class ScorecardResultListView(ListAPIView):
    """Each product's result in a run: score, level, what moved, every check with its
    evidence. Filters: ``level``, ``product``, ``changed``, ``failing``."""

    serializer_class = ScorecardResultOutput
    pagination_class = Pagination
    filterset_class = ScorecardResultFilter

    def get_queryset(self) -> QuerySet[ScorecardResult]:
        if getattr(self, "swagger_fake_view", False):
            return ScorecardResult.objects.none()
        run = _run_or_404(self.kwargs["slug"], self.kwargs["pk"])
        return run.results.select_related("product").order_by("product__external_id", "pk")


class ProductResultQuery(serializers.Serializer):
    product = serializers.CharField(help_text="the product's id")

    def validate_product(self, value: str) -> DataProduct:
        return product_by_id(value)


@extend_schema(parameters=[SLUG])
class ScorecardProductResultView(APIView):
    """A product's result in the scorecard's latest done run: ``?product=<id>``."""

    @extend_schema(
        parameters=[ProductResultQuery],
        responses={200: ScorecardResultOutput, **errors(400, 401, 404)},
    )
    def get(self, request: Request, slug: str) -> Response:
        scorecard = _scorecard_or_404(slug)
        query = ProductResultQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        product = query.validated_data["product"]
        result = (
            ScorecardResult.objects.select_related("product")
            .filter(run_id=scorecard.last_run_id, product=product)
            .first()
        )
        if result is None:
            raise Http404(f"{product.external_id!r} has no result in the latest run of {slug!r}.")
        return Response(ScorecardResultOutput(result).data)


# --- waivers ----------------------------------------------------------------------------------


class WaiverEventOutput(serializers.ModelSerializer[WaiverEvent]):
    class Meta:
        model = WaiverEvent
        fields = ["action", "actor", "note", "at"]


class WaiverOutput(serializers.ModelSerializer[Waiver]):
    product = ProductRefOutput()
    scorecard = serializers.CharField(source="scorecard.slug", allow_null=True, default=None)
    check = serializers.CharField(source="check_key")
    expiresAt = serializers.DateTimeField(source="expires_at")
    active = serializers.BooleanField(source="is_active", help_text="approved, not expired")
    requestedBy = serializers.CharField(source="requested_by")
    requestedAt = serializers.DateTimeField(source="requested_at")
    decidedBy = serializers.CharField(source="decided_by")
    decidedAt = serializers.DateTimeField(source="decided_at", allow_null=True)
    decisionNote = serializers.CharField(source="decision_note")

    class Meta:
        model = Waiver
        fields = ["id", "product", "scorecard", "check", "justification", "status",
                  "expiresAt", "active", "requestedBy", "requestedAt", "decidedBy",
                  "decidedAt", "decisionNote"]  # fmt: skip


class WaiverDetailOutput(WaiverOutput):
    events = WaiverEventOutput(many=True, help_text="the audit trail, oldest first")

    class Meta(WaiverOutput.Meta):
        fields = [*WaiverOutput.Meta.fields, "events"]


class WaiverInput(serializers.Serializer):
    """A waiver request: the product (its id), the check (its key), the scorecard (its
    slug; absent: every scorecard with the check), why, and until when."""

    product = serializers.CharField()
    check = serializers.SlugField(max_length=100)
    scorecard = serializers.SlugField(required=False, allow_null=True, allow_blank=True)
    justification = serializers.CharField(max_length=5000)
    expiresAt = serializers.DateTimeField()

    def validate_product(self, value: str) -> DataProduct:
        return product_by_id(value)

    def validate_scorecard(self, value: str | None) -> Scorecard | None:
        if not value:
            return None
        scorecard = Scorecard.objects.filter(slug=value).first()
        if scorecard is None:
            raise serializers.ValidationError(f"no scorecard {value!r}")
        return scorecard


class WaiverDecisionInput(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class WaiverApprovalInput(WaiverDecisionInput):
    expiresAt = serializers.DateTimeField(
        required=False, allow_null=True, help_text="another expiry than the one asked for"
    )


class WaiverConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


# WaiverError's field names, as the API names them.
_WAIVER_FIELDS = {"expires_at": "expiresAt"}


def _waiver_refused(exc: WaiverError) -> APIException:
    if exc.field == "status":
        return WaiverConflict(str(exc))
    return ValidationError({_WAIVER_FIELDS.get(exc.field, exc.field): [str(exc)]})


class WaiverFilter(django_filters.FilterSet):
    """``status``, ``product`` (id), ``scorecard`` (slug), ``check`` (key)."""

    status = django_filters.ChoiceFilter(choices=Waiver.Status.choices)
    product = django_filters.CharFilter(field_name="product__external_id")
    scorecard = django_filters.CharFilter(field_name="scorecard__slug")
    check = django_filters.CharFilter(field_name="check_key")

    class Meta:
        model = Waiver
        fields: list[str] = []


def _waivers() -> QuerySet[Waiver]:
    return Waiver.objects.select_related("product", "scorecard").order_by("-requested_at", "-pk")


def _waiver_or_404(pk: int) -> Waiver:
    waiver = _waivers().prefetch_related("events").filter(pk=pk).first()
    if waiver is None:
        raise Http404(f"No waiver {pk}.")
    return waiver


@extend_schema_view(get=extend_schema(responses={200: WaiverOutput(many=True), **errors(400, 401)}))
class WaiverListView(ListAPIView):
    """Waivers, newest first. ``POST`` asks for one: the product's owners (signed in, or
    with a ``products:write`` token of theirs) and stewards may; a steward decides."""

    serializer_class = WaiverOutput
    pagination_class = Pagination
    filterset_class = WaiverFilter

    def get_permissions(self) -> list[Any]:
        if self.request.method in permissions.SAFE_METHODS:
            return [permissions.AllowAny()]
        return [IsProductTeam()]

    def get_queryset(self) -> QuerySet[Waiver]:
        return _waivers()

    @extend_schema(
        request=WaiverInput,
        responses={201: WaiverDetailOutput, **errors(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        data = WaiverInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        product = values["product"]
        if not (CanGovern().has_permission(request, self) or _owns(request, product)):
            self.permission_denied(
                request, f"Only stewards and the owners of {product.external_id!r} may."
            )
        try:
            waiver = waiver_request(
                product=product,
                check_key=values["check"],
                scorecard=values.get("scorecard"),
                justification=values["justification"],
                expires_at=values["expiresAt"],
                actor=actor_name(request),
            )
        except WaiverError as exc:
            raise _waiver_refused(exc) from None
        answer = WaiverDetailOutput(_waiver_or_404(waiver.pk)).data
        return Response(answer, status=status.HTTP_201_CREATED)


class WaiverView(APIView):
    """One waiver with its audit trail."""

    @extend_schema(responses={200: WaiverDetailOutput, **errors(401, 404)})
    def get(self, request: Request, pk: int) -> Response:
        return Response(WaiverDetailOutput(_waiver_or_404(pk)).data)


_DECISION_RESPONSES = {200: WaiverDetailOutput, **errors(400, 401, 403, 404, 409)}


def _decision(
    request: Request,
    pk: int,
    form: type[serializers.Serializer],
    act: Callable[[Waiver, str, dict[str, Any]], Waiver],
) -> Response:
    """Read the decision's input, act on the waiver as the requester, answer with it."""
    waiver = _waiver_or_404(pk)
    data = form(data=request.data)
    data.is_valid(raise_exception=True)
    try:
        act(waiver, actor_name(request), data.validated_data)
    except WaiverError as exc:
        raise _waiver_refused(exc) from None
    return Response(WaiverDetailOutput(_waiver_or_404(pk)).data)


class WaiverApproveView(APIView):
    """Approve a pending waiver, optionally until another date (stewards)."""

    permission_classes = [CanGovern]

    @extend_schema(request=WaiverApprovalInput, responses=_DECISION_RESPONSES)
    def post(self, request: Request, pk: int) -> Response:
        return _decision(
            request,
            pk,
            WaiverApprovalInput,
            lambda waiver, actor, data: waiver_decide(
                waiver=waiver,
                approve=True,
                actor=actor,
                note=data["note"],
                expires_at=data.get("expiresAt"),
            ),
        )


class WaiverDenyView(APIView):
    """Deny a pending waiver (stewards)."""

    permission_classes = [CanGovern]

    @extend_schema(request=WaiverDecisionInput, responses=_DECISION_RESPONSES)
    def post(self, request: Request, pk: int) -> Response:
        return _decision(
            request,
            pk,
            WaiverDecisionInput,
            lambda waiver, actor, data: waiver_decide(
                waiver=waiver, approve=False, actor=actor, note=data["note"]
            ),
        )


class WaiverRevokeView(APIView):
    """Revoke a pending or approved waiver (stewards)."""

    permission_classes = [CanGovern]

    @extend_schema(request=WaiverDecisionInput, responses=_DECISION_RESPONSES)
    def post(self, request: Request, pk: int) -> Response:
        return _decision(
            request,
            pk,
            WaiverDecisionInput,
            lambda waiver, actor, data: waiver_revoke(
                waiver=waiver, actor=actor, note=data["note"]
            ),
        )

"""Search over HTTP: ``/api/v1/search``, ``/search/suggest`` and ``/search/status``.

``/api/v1/search`` speaks two dialects on one path, told apart by the parameters:

- Meshport's: ``q`` with facet filters (``type``, ``domain``, ``owner``, ``tag``,
  ``classification``, ``platform``, ``namespace``, ``status``, ``level``; repeat a parameter
  for alternatives), ``sort`` (``relevance``, ``name``, ``updated``), ``page`` and
  ``page_size``; the answer has typed hits, snippets and facet counts.
- Marquez's, as its web UI and clients call it: ``q`` with ``filter`` (``DATASET`` or
  ``JOB``), ``sort`` (``NAME`` or ``UPDATE_AT``), ``limit`` and ``namespace``; the answer
  is Marquez's ``{"totalCount", "results": [{type, name, updatedAt, namespace, nodeId}]}``.
  A request is Marquez's when it has ``filter`` or ``limit``, or a ``sort`` in capitals.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.search import FACETS, QueryError, SearchQuery, SearchResults, backend
from catalog.search.base import MAX_PAGE_SIZE
from catalog.search.outbox import search_status
from meshport.openapi import errors

MARQUEZ_TYPES = {"DATASET": "dataset", "JOB": "job"}
MARQUEZ_SORTS = {"NAME": "name", "UPDATE_AT": "updated"}
MAX_MARQUEZ_LIMIT = 1000


class SearchInput(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    sort = serializers.ChoiceField(["relevance", "name", "updated"], default="relevance")
    page = serializers.IntegerField(min_value=1, max_value=10_000, default=1)
    page_size = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=20)


class MarquezInput(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    filter = serializers.ChoiceField(list(MARQUEZ_TYPES), required=False)
    sort = serializers.ChoiceField(list(MARQUEZ_SORTS), default="NAME")
    limit = serializers.IntegerField(min_value=1, max_value=MAX_MARQUEZ_LIMIT, default=10)
    namespace = serializers.CharField(required=False, max_length=1024)


def is_marquez(params: Any) -> bool:
    sort = params.get("sort", "")
    return "filter" in params or "limit" in params or (bool(sort) and sort.isupper())


def run_search(query: SearchQuery) -> SearchResults:
    try:
        return backend().search(query)
    except QueryError as exc:
        raise ValidationError({exc.field: [exc.message]}) from exc


def search_filters(params: Any) -> dict[str, list[str]]:
    """Facet filters from query parameters: repeated or comma-free values, blanks dropped."""
    return {
        name: [v.strip() for v in params.getlist(name) if v.strip()]
        for name in FACETS
        if params.getlist(name)
    }


def hit_json(hit: Any) -> dict[str, Any]:
    return {
        "id": hit.id,
        "type": hit.type,
        "name": hit.name,
        "url": hit.url,
        "subtitle": hit.subtitle,
        "score": hit.score,
        "snippet": hit.snippet,
        "matchedColumns": hit.columns,
        "domain": hit.first("domain"),
        "domainName": hit.domain_label,
        "owners": hit.facets.get("owner", []),
        "tags": hit.facets.get("tag", []),
        "classifications": hit.facets.get("classification", []),
        "status": hit.first("status"),
        "level": hit.first("level"),
        "consumers": hit.consumers,
        "updatedAt": hit.updated_at.isoformat() if hit.updated_at else None,
    }


def results_json(results: SearchResults) -> dict[str, Any]:
    return {
        "totalCount": results.total,
        "page": results.query.page,
        "pageSize": results.query.page_size,
        "pages": results.pages,
        "relaxed": results.relaxed,
        "corrected": results.corrected,
        "results": [hit_json(hit) for hit in results.hits],
        "facets": {
            name: [
                {"value": v.value, "label": v.label, "count": v.count, "selected": v.selected}
                for v in values
            ]
            for name, values in results.facets.items()
        },
    }


class SearchView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Search the catalog (Meshport's parameters, or Marquez's)",
        parameters=[
            OpenApiParameter("q", str, description='Words, "phrases", field:value, -word'),
            *(
                OpenApiParameter(name, str, many=True, description=f"Filter on {name}")
                for name in FACETS
            ),
            OpenApiParameter("sort", str, description="relevance|name|updated (NAME|UPDATE_AT)"),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
            OpenApiParameter("filter", str, description="Marquez: DATASET or JOB"),
            OpenApiParameter("limit", int, description="Marquez: results wanted"),
        ],
        responses={200: dict, **errors(400, 401)},
    )
    def get(self, request: Request) -> Response:
        if is_marquez(request.query_params):
            return Response(self._marquez(request))
        data = SearchInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        query = SearchQuery(
            text=data.validated_data["q"],
            filters=search_filters(request.query_params),
            sort=data.validated_data["sort"],
            page=data.validated_data["page"],
            page_size=data.validated_data["page_size"],
        )
        return Response(results_json(run_search(query)))

    def _marquez(self, request: Request) -> dict[str, Any]:
        data = MarquezInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        kind = values.get("filter")
        filters = {"namespace": [values["namespace"]]} if values.get("namespace") else {}
        results = run_search(
            SearchQuery(
                text=values["q"],
                filters=filters,
                sort=MARQUEZ_SORTS[values["sort"]],
                page_size=values["limit"],
                facets=False,
                types=[MARQUEZ_TYPES[kind]] if kind else ["dataset", "job"],
            )
        )
        return {
            "totalCount": results.total,
            "results": [
                {
                    "type": hit.type.upper(),
                    "name": hit.name,
                    "updatedAt": hit.updated_at.isoformat() if hit.updated_at else None,
                    "namespace": hit.first("namespace"),
                    "nodeId": f"{hit.type}:{hit.first('namespace')}:{hit.name}",
                }
                for hit in results.hits
            ],
        }


class SuggestInput(serializers.Serializer):
    q = serializers.CharField(allow_blank=True, max_length=200)
    limit = serializers.IntegerField(min_value=1, max_value=20, default=8)


class SuggestView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Suggestions as you type",
        parameters=[SuggestInput],
        responses={200: dict, **errors(400, 401)},
    )
    def get(self, request: Request) -> Response:
        data = SuggestInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        try:
            found = backend().suggest(data.validated_data["q"], data.validated_data["limit"])
        except QueryError as exc:
            raise ValidationError({exc.field: [exc.message]}) from exc
        return Response(
            {
                "query": data.validated_data["q"],
                "suggestions": [
                    {"text": s.text, "type": s.type, "url": s.url, "subtitle": s.subtitle}
                    for s in found
                ],
            }
        )


class SearchStatusView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(summary="Index lag and size", responses={200: dict, **errors(401)})
    def get(self, request: Request) -> Response:
        return Response(search_status())

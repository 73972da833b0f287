"""Graph reads: ``/api/v1/graph/...`` and Marquez's ``GET /lineage`` and ``/column-lineage``.

Public reads like the rest of the Marquez API. Exports are chosen with ``?format=``
(``json``, ``graphml``, ``dot``, ``mermaid``, ``svg``; ``csv`` for impact lists), which is
DRF's own content negotiation, so ``Accept`` headers work too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import networkx as nx
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lineage.graph import questions
from lineage.graph.export import CSV_CONTENT_TYPE, EXPORTERS, to_csv
from lineage.graph.ids import InvalidNodeId, Node, UnknownNode, resolve
from lineage.graph.marquez import marquez_column_graph, marquez_graph
from lineage.graph.service import (
    DIRECTIONS,
    LEVELS,
    BadQuery,
    Filters,
    GraphQuery,
    keep_matching,
    limits,
    lineage_subgraph,
)
from lineage.graph.svg import render_svg
from lineage.models import RunState
from meshport.openapi import errors

MARQUEZ_DEFAULT_DEPTH = 20


class _TextRenderer(BaseRenderer):
    """Passes an export's text through; anything else (an error) goes out as JSON."""

    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if isinstance(data, str):
            return data.encode()
        return JSONRenderer().render(data)


def _renderer(fmt: str, media_type: str) -> type[BaseRenderer]:
    return type(
        f"{fmt.title()}Renderer", (_TextRenderer,), {"format": fmt, "media_type": media_type}
    )


_GRAPH_RENDERERS = [JSONRenderer, BrowsableAPIRenderer] + [
    _renderer(fmt, content_type.split(";")[0]) for fmt, (_, content_type, _) in EXPORTERS.items()
]
_SVG = _renderer("svg", "image/svg+xml")
_CSV = _renderer("csv", CSV_CONTENT_TYPE.split(";")[0])


class GraphQuerySerializer(serializers.Serializer):
    nodeId = serializers.CharField(help_text="dataset:<ns>:<name>, job:<ns>:<name>, ...")
    depth = serializers.IntegerField(required=False, min_value=0)
    cap = serializers.IntegerField(required=False, min_value=1)
    level = serializers.ChoiceField(LEVELS, default="dataset")
    direction = serializers.ChoiceField(DIRECTIONS, default="both")

    def validate_depth(self, value: int) -> int:
        if value > limits()["MAX_DEPTH"]:
            raise ValidationError(f"at most {limits()['MAX_DEPTH']}")
        return value

    def validate_cap(self, value: int) -> int:
        if value > limits()["MAX_CAP"]:
            raise ValidationError(f"at most {limits()['MAX_CAP']}")
        return value


class FilterSerializer(serializers.Serializer):
    namespace = serializers.ListField(child=serializers.CharField(), required=False)
    domain = serializers.ListField(child=serializers.CharField(), required=False)
    state = serializers.ListField(
        child=serializers.ChoiceField([*RunState.values, "late"]), required=False
    )


@cache
def _fields(serializer: type[serializers.Serializer]) -> list[tuple[str, bool]]:
    """(name, takes a list) per field: building a serializer's fields is not free."""
    fields = serializer().fields.items()
    return [(name, isinstance(field, serializers.ListField)) for name, field in fields]


def _params(request: Request, serializer: type[serializers.Serializer]) -> dict[str, Any]:
    """Validated query parameters; list fields take repeated or comma-separated values."""
    data: dict[str, Any] = {}
    for name, many in _fields(serializer):
        values = request.query_params.getlist(name)
        if many:
            data[name] = [v for value in values for v in value.split(",") if v]
        elif values:
            data[name] = values[-1]
    checked = serializer(data=data)
    checked.is_valid(raise_exception=True)
    return dict(checked.validated_data)


def node_or_error(value: str, field: str = "nodeId") -> Node:
    try:
        return resolve(value)
    except InvalidNodeId as exc:
        raise ValidationError({field: [str(exc)]}) from None
    except UnknownNode as exc:
        raise NotFound(f"{field} {value!r} not found: {exc}") from None


def graph_query(request: Request, **overrides: Any) -> GraphQuery:
    params = {**_params(request, GraphQuerySerializer), **overrides}
    return GraphQuery.asked(
        node_or_error(params["nodeId"]),
        level=params["level"],
        direction=params["direction"],
        depth=params.get("depth"),
        cap=params.get("cap"),
    )


def graph_filters(request: Request) -> Filters:
    params = _params(request, FilterSerializer)
    return Filters(
        namespaces=frozenset(params.get("namespace", ())),
        domains=frozenset(params.get("domain", ())),
        states=frozenset(params.get("state", ())),
    )


def subgraph(query: GraphQuery, filters: Filters | None = None) -> nx.DiGraph:
    graph = lineage_subgraph(query)
    return keep_matching(graph, filters) if filters else graph


_CAMEL = re.compile(r"_([a-z])")


@cache
def _camel(key: str) -> str:
    return _CAMEL.sub(lambda m: m.group(1).upper(), key)


def graph_json(graph: nx.DiGraph) -> dict[str, Any]:
    """Meshport's JSON for a subgraph: the query, what cut it, nodes and edges."""
    meta = {_camel(k): v for k, v in graph.graph.items()}
    nodes = [
        {"id": node, **{_camel(k): v for k, v in data.items()}}
        for node, data in graph.nodes(data=True)
    ]
    edges = [
        {"source": s, "target": t, **{_camel(k): v for k, v in data.items()}}
        for s, t, data in graph.edges(data=True)
    ]
    return {**meta, "nodes": nodes, "edges": edges}


class _GraphView(APIView):
    permission_classes = [AllowAny]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        try:
            return super().perform_content_negotiation(request, force)
        except Http404:
            formats = ", ".join(r.format for r in self.get_renderers() if r.format != "api")
            raise ValidationError({"format": [f"expected one of {formats}"]}) from None

    def handle_exception(self, exc: Exception) -> Response:
        # Errors are JSON whatever export was asked for.
        self.request.accepted_renderer = JSONRenderer()  # type: ignore[attr-defined]
        self.request.accepted_media_type = "application/json"  # type: ignore[attr-defined]
        # A question this node cannot answer (a job at the product level, a dataset no
        # product owns), wherever in the service it is found.
        if isinstance(exc, BadQuery):
            exc = ValidationError({exc.field: [str(exc)]})
        elif isinstance(exc, UnknownNode):
            exc = NotFound(str(exc))
        return super().handle_exception(exc)

    def export(self, request: Request, graph: nx.DiGraph, name: str) -> Response:
        fmt = request.accepted_renderer.format  # type: ignore[attr-defined]
        if fmt in EXPORTERS:
            render, _, extension = EXPORTERS[fmt]
            return _attachment(render(graph), f"{name}.{extension}")
        if fmt == "svg":
            return _attachment(render_svg(graph, standalone=True), f"{name}.svg")
        return Response(graph_json(graph))


def _attachment(text: str, filename: str) -> Response:
    response = Response(text)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def _bounded(low: int, limit: str) -> dict[str, Any]:
    """An integer parameter's schema with the bounds its serializer enforces."""
    return {"type": "integer", "minimum": low, "maximum": limits()[limit]}


_GRAPH_PARAMS = [
    OpenApiParameter("nodeId", str, required=True, description="The node to start from."),
    OpenApiParameter(
        "depth",
        _bounded(0, "MAX_DEPTH"),
        description="Hops (jobs at the dataset level), default 2.",
    ),
    OpenApiParameter("cap", _bounded(1, "MAX_CAP"), description="Most nodes in the answer."),
    OpenApiParameter("level", str, enum=LEVELS),
    OpenApiParameter("direction", str, enum=DIRECTIONS),
]
_FILTER_PARAMS = [
    OpenApiParameter("namespace", str, many=True),
    OpenApiParameter("domain", str, many=True),
    OpenApiParameter("state", str, many=True, enum=[*RunState.values, "late"]),
]


def _answers(*renderers: type[BaseRenderer]) -> dict[Any, Any]:
    """A JSON object, or an export's text in the media type asked for; errors are JSON
    whatever was asked (``_GraphView.handle_exception``)."""
    exports = [r.media_type for r in renderers if issubclass(r, _TextRenderer)]
    return {
        (200, "application/json"): OpenApiTypes.OBJECT,
        **{(200, media_type): OpenApiTypes.STR for media_type in exports},
        **errors(400, 401, 404, media_type="application/json"),
    }


class GraphLineageView(_GraphView):
    """The bounded, directed neighbourhood of a node, at the job/dataset, column or
    product level. ``truncated`` says whether depth or cap cut it; boundary nodes carry
    ``hiddenUpstream``/``hiddenDownstream`` counts."""

    renderer_classes = [*_GRAPH_RENDERERS, _SVG]

    @extend_schema(
        operation_id="graph_lineage",
        parameters=_GRAPH_PARAMS + _FILTER_PARAMS,
        responses=_answers(*_GRAPH_RENDERERS, _SVG),
    )
    def get(self, request: Request) -> Response:
        graph = subgraph(graph_query(request), graph_filters(request))
        return self.export(request, graph, "lineage")


class GraphImpactView(_GraphView):
    """Everything downstream of a dataset or a column, nearest first, with owning
    products and owners. ``?format=csv`` for a spreadsheet."""

    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, _CSV]

    @extend_schema(
        operation_id="graph_impact",
        parameters=[p for p in _GRAPH_PARAMS if p.name != "direction"],
        responses=_answers(_CSV),
    )
    def get(self, request: Request) -> Response:
        query = graph_query(request, direction="downstream")
        if query.node.kind == "product":
            raise ValidationError({"nodeId": ["impact starts at a dataset, a job or a field"]})
        graph, rows = questions.impact(query)
        if request.accepted_renderer.format == "csv":  # type: ignore[attr-defined]
            return _attachment(to_csv(rows, questions.IMPACT_COLUMNS), "impact.csv")
        return Response(
            {
                "root": query.node.id,
                "depth": query.depth,
                "truncated": graph.graph["truncated"],
                "impacted": rows,
            }
        )


class GraphRootCauseView(_GraphView):
    """Upstream jobs whose latest run failed or that are late, nearest first."""

    @extend_schema(
        operation_id="graph_root_cause",
        parameters=[p for p in _GRAPH_PARAMS if p.name not in ("direction", "level")],
        responses=_answers(),
    )
    def get(self, request: Request) -> Response:
        query = graph_query(request, direction="upstream", level="dataset")
        graph, rows = questions.root_cause(query)
        return Response(
            {
                "root": query.node.id,
                "depth": query.depth,
                "truncated": graph.graph["truncated"],
                "suspects": rows,
            }
        )


class PathQuerySerializer(serializers.Serializer):
    origin = serializers.CharField()
    to = serializers.CharField()
    depth = serializers.IntegerField(default=6, min_value=1)
    cap = serializers.IntegerField(required=False, min_value=1)

    def validate_depth(self, value: int) -> int:
        return GraphQuerySerializer().validate_depth(value)

    def validate_cap(self, value: int) -> int:
        return GraphQuerySerializer().validate_cap(value)


class GraphPathView(_GraphView):
    """The shortest directed path between two nodes (either way round), or a clear
    "no path within depth N"."""

    @extend_schema(
        operation_id="graph_path",
        parameters=[
            OpenApiParameter("from", str, required=True),
            OpenApiParameter("to", str, required=True),
            OpenApiParameter(
                "depth", _bounded(1, "MAX_DEPTH"), description="Hops searched, default 6."
            ),
        ],
        responses=_answers(),
    )
    def get(self, request: Request) -> Response:
        data = {**request.query_params.dict(), "origin": request.query_params.get("from", "")}
        checked = PathQuerySerializer(data=data)
        if not checked.is_valid():
            errors = {("from" if k == "origin" else k): v for k, v in checked.errors.items()}
            raise ValidationError(errors)
        params = checked.validated_data
        source, target = node_or_error(params["origin"], "from"), node_or_error(params["to"], "to")
        cap = params.get("cap", limits()["MAX_CAP"])
        found = questions.path_between(source, target, depth=params["depth"], cap=cap)
        answer: dict[str, Any] = {"from": source.id, "to": target.id, "depth": params["depth"]}
        if not found.found:
            return Response(
                {**answer, "path": [], "message": f"no path within depth {params['depth']}"}
            )
        return Response({**answer, "path": found.nodes, "edges": graph_json(found.graph)["edges"]})


# --- Marquez-compatible reads ---------------------------------------------------------------


def _marquez_depth(request: Request) -> dict[str, int]:
    """Marquez's clients leave ``depth`` out and get 20; the cap still bounds the answer."""
    if "depth" in request.query_params:
        return {}
    return {"depth": min(MARQUEZ_DEFAULT_DEPTH, limits()["MAX_DEPTH"])}


def marquez_lineage(request: Request) -> Response:
    """``GET /api/v1/lineage?nodeId=&depth=``: Marquez's shape, directed (upstream and
    downstream of the node only, never the other readers of a table it reads)."""
    query = graph_query(request, level="dataset", direction="both", **_marquez_depth(request))
    if query.node.kind not in ("dataset", "job"):
        raise ValidationError({"nodeId": ["lineage starts at a dataset or a job"]})
    return Response(marquez_graph(subgraph(query)))


class ColumnLineageView(_GraphView):
    """Marquez's ``GET /api/v1/column-lineage``: upstream of a field (or of every field of
    a dataset), and downstream too with ``withDownstream=true``."""

    @extend_schema(
        tags=["marquez"],
        operation_id="getColumnLineage",
        parameters=[
            OpenApiParameter("nodeId", str, required=True),
            OpenApiParameter("depth", _bounded(0, "MAX_DEPTH")),
            OpenApiParameter("withDownstream", bool),
        ],
        responses=_answers(),
    )
    def get(self, request: Request) -> Response:
        downstream = serializers.BooleanField().to_internal_value(
            request.query_params.get("withDownstream", "false")
        )
        direction = "both" if downstream else "upstream"
        query = graph_query(request, level="column", direction=direction, **_marquez_depth(request))
        return Response(marquez_column_graph(subgraph(query)))

"""The lineage page: a server-rendered picture of any node's neighbourhood.

Everything the page shows is in its URL (node, level, direction, depth, cap, the boundary
nodes expanded, the path highlighted), so a link keeps the state, the page works without
JavaScript, and ``static/lineage/graph.js`` only saves page loads (expanding in place,
submitting the controls on change).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import networkx as nx
from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html_join

from catalog import selectors as catalog_selectors
from lineage import portal_selectors
from lineage.graph import questions
from lineage.graph.ids import InvalidNodeId, Node, UnknownNode, resolve
from lineage.graph.service import (
    BadQuery,
    GraphQuery,
    Level,
    expand,
    limits,
    lineage_subgraph,
)
from lineage.graph.svg import render_svg

SIDES = ("upstream", "downstream")


class _Expansions(forms.MultipleChoiceField):
    """``<side>:<node id>`` values: the boundary nodes expanded, and which way."""

    def valid_value(self, value: Any) -> bool:
        return str(value).split(":", 1)[0] in SIDES


class GraphForm(forms.Form):
    node = forms.CharField(label="Node", max_length=4096)
    level = forms.ChoiceField(
        choices=[("dataset", "Jobs and datasets"), ("column", "Columns"), ("product", "Products")],
        required=False,
    )
    direction = forms.ChoiceField(
        choices=[("both", "Both ways"), ("upstream", "Upstream"), ("downstream", "Downstream")],
        required=False,
    )
    depth = forms.IntegerField(
        min_value=0, max_value=settings.MESHPORT_GRAPH["MAX_DEPTH"], required=False
    )
    cap = forms.IntegerField(
        min_value=1, max_value=settings.MESHPORT_GRAPH["MAX_CAP"], required=False
    )
    expand = _Expansions(required=False)
    path_from = forms.CharField(required=False, label="From")
    path_to = forms.CharField(required=False, label="To")

    def query(self, node: Node) -> GraphQuery:
        data = self.cleaned_data
        return GraphQuery.asked(
            node,
            level=data["level"] or None,
            direction=data["direction"] or None,
            depth=data["depth"],
            cap=data["cap"],
        )


@dataclass
class Picture:
    """What the page draws, and what it says about it."""

    query: GraphQuery
    graph: nx.DiGraph
    svg: str
    highlight: list[str]
    path_message: str


class _Permalinks:
    """This page's URL with some parameters changed (a list value replaces the parameter).
    The page's own parameters are read once: a big picture has hundreds of such links."""

    def __init__(self, params: QueryDict):
        self.path = reverse("lineage:graph")
        self.pairs = [(k, v) for k, values in params.lists() if k != "partial" for v in values]

    def __call__(self, **changes: Any) -> str:
        pairs = [(k, v) for k, v in self.pairs if k not in changes]
        for key, value in changes.items():
            pairs += [(key, v) for v in (value if isinstance(value, list) else [value])]
        return f"{self.path}?{urlencode(pairs)}"


def _draw(request: HttpRequest, form: GraphForm, node: Node) -> Picture:
    query = form.query(node)
    graph = lineage_subgraph(query)
    for value in form.cleaned_data["expand"]:
        side, _, expanded = value.partition(":")
        try:
            expand(graph, query, resolve(expanded), side)  # type: ignore[arg-type]
        except (InvalidNodeId, UnknownNode):
            continue  # a link from before a rename; the rest of the picture still stands
    highlight, message = _path(form, query)
    expanded_now = form.cleaned_data["expand"]
    permalink = _Permalinks(request.GET)

    def expand_href(node_id: str, side: str) -> str:
        return permalink(expand=[*expanded_now, f"{side}:{node_id}"])

    svg = render_svg(
        graph,
        highlight=highlight,
        expand_href=expand_href,
        description=_description(graph),
    )
    return Picture(query, graph, svg, highlight, message)


def _path(form: GraphForm, query: GraphQuery) -> tuple[list[str], str]:
    source, target = form.cleaned_data["path_from"], form.cleaned_data["path_to"]
    if not (source and target):
        return [], ""
    try:
        found = questions.path_between(
            resolve(source), resolve(target), depth=max(query.depth * 2, 2), cap=query.cap
        )
    except (InvalidNodeId, UnknownNode, BadQuery) as exc:
        return [], f"No path: {exc}"
    if not found.found:
        return [], f"No path between these two within depth {max(query.depth * 2, 2)}."
    return found.nodes, ""


def _description(graph: nx.DiGraph) -> str:
    kinds: dict[str, int] = {}
    for _, kind in graph.nodes(data="kind"):
        kinds[kind] = kinds.get(kind, 0) + 1
    parts = ", ".join(f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in sorted(kinds.items()))
    return f"Lineage of {graph.graph['root']}: {parts or 'nothing known around it'}."


def _start_page(request: HttpRequest) -> HttpResponse:
    """Where to begin: the products, and the jobs whose last run failed."""
    failing, _ = portal_selectors.jobs_latest_run_failed(limit=10)
    context = {"products": catalog_selectors.product_list()[:60], "failing": failing}
    return render(request, "lineage/graph_start.html", context)


def graph_page(request: HttpRequest) -> HttpResponse:
    if not request.GET.get("node"):
        return _start_page(request)
    form = GraphForm(request.GET)
    if not form.is_valid():
        return render(request, "lineage/graph.html", {"form": form}, status=400)
    try:
        node = resolve(form.cleaned_data["node"])
        picture = _draw(request, form, node)
    except InvalidNodeId as exc:
        form.add_error("node", str(exc))
        return render(request, "lineage/graph.html", {"form": form}, status=400)
    except UnknownNode as exc:
        context = {"form": form, "missing": f"{form.cleaned_data['node']}: {exc}"}
        return render(request, "lineage/graph.html", context, status=404)
    except BadQuery as exc:
        form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        return render(request, "lineage/graph.html", {"form": form}, status=400)
    template = "lineage/_graph_figure.html" if request.GET.get("partial") else "lineage/graph.html"
    return render(request, template, _context(request, form, picture))


def _context(request: HttpRequest, form: GraphForm, picture: Picture) -> dict[str, Any]:
    graph = picture.graph
    permalink = _Permalinks(request.GET)
    more_cap = min(picture.query.cap * 2, limits()["MAX_CAP"])
    nodes = sorted(
        (
            {
                "id": n,
                **d,
                "center": permalink(node=n, **_FRESH),
                "product_url": _product_url(d.get("product")),
            }
            for n, d in graph.nodes(data=True)
        ),
        key=lambda n: (SIDE_ORDER[n["side"]], n["distance"], n["label"]),
    )
    path_from = form.cleaned_data["path_from"]
    root = next((n["id"] for n in nodes if n["side"] == "root"), "")
    path_to = form.cleaned_data["path_to"] or root
    return {
        "form": form,
        "picture": picture,
        "nodes": nodes,
        "path_from_options": _options(nodes, path_from),
        "path_to_options": _options(nodes, path_to),
        "root": picture.query.node,
        "columns": column_table(graph) if picture.query.level == "column" else [],
        "exports": [
            (fmt, f"{reverse('graph-lineage')}?{_api_query(picture.query, fmt)}")
            for fmt in ("json", "graphml", "dot", "mermaid", "svg")
        ],
        "more_cap": more_cap,
        "more_cap_url": permalink(cap=more_cap),
        "at_max_cap": picture.query.cap >= limits()["MAX_CAP"],
    }


SIDE_ORDER = {"upstream": 0, "root": 1, "downstream": 2}
# Centering on another node starts a fresh picture: no expansions, no path.
_FRESH: dict[str, Any] = {"expand": [], "path_from": [], "path_to": []}


def _product_url(external_id: str | None) -> str:
    return reverse("catalog:product-detail", args=[external_id]) if external_id else ""


def _options(nodes: list[dict[str, Any]], selected: str) -> str:
    """The ``<option>``s of a node picker, built here rather than by a template loop run
    once per node and picker (hundreds of nodes on a big picture)."""
    return format_html_join(
        "",
        '<option value="{}"{}>{} ({})</option>',
        ((n["id"], " selected" * (n["id"] == selected), n["label"], n["kind"]) for n in nodes),
    )


def _api_query(query: GraphQuery, fmt: str) -> str:
    return urlencode(
        {
            "nodeId": query.node.id,
            "level": query.level,
            "direction": query.direction,
            "depth": query.depth,
            "cap": query.cap,
            "format": fmt,
        }
    )


@dataclass(frozen=True)
class ColumnRow:
    """An output column and the input columns it is made from."""

    field: str
    url: str
    pii: bool
    inputs: list[dict[str, Any]]


def column_table(graph: nx.DiGraph) -> list[ColumnRow]:
    """For each field at the root, the fields feeding it and how: the column view in
    words, for those who would rather read than look."""
    rows = []
    for node, data in graph.nodes(data=True):
        if data["side"] != "root":
            continue
        inputs = [
            {
                "id": source,
                "title": graph.nodes[source]["title"],
                "pii": graph.nodes[source]["pii"],
                "how": graph.edges[source, node].get("transformations", ""),
            }
            for source in sorted(graph.predecessors(node))
        ]
        rows.append(ColumnRow(data["field"], data["url"], data["pii"], inputs))
    return sorted(rows, key=lambda r: r.field)


def preview(node_id: str, *, level: Level = "dataset", cap: int = 40) -> dict[str, Any] | None:
    """A compact picture (one hop each way) for a dataset or product page, linking to the
    full lineage page; ``None`` when lineage knows nothing around the node."""
    try:
        node = resolve(node_id)
        graph = lineage_subgraph(GraphQuery(node, level=level, direction="both", depth=1, cap=cap))
    except (InvalidNodeId, UnknownNode, BadQuery):
        return None
    if graph.number_of_nodes() <= 1:
        return None
    url = f"{reverse('lineage:graph')}?{urlencode({'node': node.id, 'level': level})}"

    def expand_href(other: str, side: str) -> str:
        return f"{url}&{urlencode({'expand': f'{side}:{other}'})}"

    return {
        "svg": render_svg(graph, expand_href=expand_href, description=_description(graph)),
        "url": url,
        "count": graph.number_of_nodes(),
        "level": level,
    }

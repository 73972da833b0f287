"""The picture of a lineage subgraph, drawn on the server as SVG.

``render_svg`` draws what ``layered_layout`` placed: one ``<g class="node ...">`` per node
(a link to its page around the shape and the label, a ``<title>`` spelling out what colour
and badges show), Bézier edges with arrowheads, dataset clusters at the column level, and
"+N more" badges where the answer was cut. Classes carry the meaning and
``static/lineage/graph.css`` styles them; presentation attributes keep the picture
legible without the stylesheet (a downloaded file, a feed reader).

The output is XML: every text and attribute is escaped, characters XML cannot carry are
dropped, and the same graph always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx

from lineage.graph.layout import (
    BADGE_FONT_SIZE,
    BADGE_GAP,
    BADGE_HEIGHT,
    FONT_SIZE,
    JOB_INSET,
    LABEL_PAD,
    MARGIN,
    TAG_FONT_SIZE,
    TAG_GAP,
    TAG_HEIGHT,
    Box,
    Cluster,
    Layout,
    badge_text,
    badge_width,
    hidden_count,
    layered_layout,
    node_label,
    node_tags,
    tag_width,
    truncate_label,
)

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
STYLESHEET = Path(__file__).resolve().parents[2] / "static" / "lineage" / "graph.css"
FONT_FAMILY = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"

ExpandHref = Callable[[str, str], str]

# Fallback presentation, the same colours as graph.css: (fill, stroke) per run state.
_STATE_COLOURS = {
    "completed": ("#ffffff", "#116329"),
    "failed": ("#ffebe9", "#a40e26"),
    "running": ("#ddf4ff", "#0550ae"),
    "aborted": ("#eaeef2", "#57606a"),
    "new": ("#ffffff", "#818b98"),
    "unknown": ("#ffffff", "#818b98"),
}
_LATE = ("#fff3c4", "#bf8700")
_ROW = ("#ffffff", "#d1d9e0")
_EDGE_STROKE = "#8c959f"
_HIGHLIGHT_STROKE = "#0a5bd3"
_LINK = "#0a5bd3"
_MUTED = "#59636e"
_PILL = {"fill": "#f6f8fa", "stroke": "#d1d9e0"}
_STUB = {"stroke": _EDGE_STROKE, "stroke-dasharray": "3 3"}
_TAG_COLOURS = {"PII": "#a40e26", "LATE": "#7d4e00"}
_LOOP_REACH = 24.0  # how far an edge going back left swings out of its boxes

_KIND_WORDS = {"dataset": "dataset", "job": "job", "field": "column", "product": "data product"}
_STATE_WORDS = {
    "completed": "last run completed",
    "failed": "last run failed",
    "running": "running now",
    "aborted": "last run aborted",
    "new": "run started, not yet running",
}
_CUTS = {"depth": "the depth limit", "cap": "the size cap"}
_TITLES = {"column": "Column lineage of {}", "product": "Data products around {}"}

# Characters XML 1.0 cannot carry at all, not even escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NOT_TOKEN = re.compile(r"[^a-z0-9_-]+")


# --- writing XML ---------------------------------------------------------------------


def _text(value: object) -> str:
    return html.escape(_NOT_XML.sub("", str(value)), quote=True)


def _num(value: float) -> str:
    text = f"{value:.1f}".removesuffix(".0")
    return "0" if text == "-0" else text


def _attrs(attrs: Mapping[str, object]) -> str:
    out = []
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        shown = _num(value) if isinstance(value, float | int) else _text(value)
        out.append(f' {name}="{shown}"')
    return "".join(out)


def _el(tag: str, attrs: Mapping[str, object], *children: str) -> str:
    if not children:
        return f"<{tag}{_attrs(attrs)}/>"
    return f"<{tag}{_attrs(attrs)}>{''.join(children)}</{tag}>"


def _token(value: object, default: str) -> str:
    """A class-name-safe spelling of a data value."""
    return _NOT_TOKEN.sub("-", str(value or "").lower()).strip("-") or default


# --- the drawing context -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Context:
    graph: nx.DiGraph
    layout: Layout
    highlight: frozenset[str]
    expand_href: ExpandHref | None
    prefix: str  # makes ids unique when several pictures share a page
    standalone: bool
    anchors: Mapping[str, Box]  # where a node's outer edge is: its cluster for a field
    loops: Mapping[tuple[str, str], float]  # edges drawn back left -> height they pass under

    def href(self, url: str) -> dict[str, str]:
        # Old stand-alone viewers only know xlink:href; browsers prefer href.
        return {"href": url, "xlink:href": url} if self.standalone else {"href": url}


def _prefix(graph: nx.DiGraph) -> str:
    seed = "\n".join([str(graph.graph.get("root", "")), str(graph.graph.get("level", ""))])
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(seed.encode())
    for node in sorted(graph):
        digest.update(b"\n" + node.encode())
    return "lg-" + digest.hexdigest()[:8]


def _anchors(layout: Layout) -> dict[str, Box]:
    anchors = dict(layout.boxes)
    for cluster in layout.clusters.values():
        for node in cluster.fields:
            anchors[node] = cluster.box
    return anchors


# --- nodes ---------------------------------------------------------------------------


def _state(attrs: Mapping[str, Any]) -> str:
    return _token(attrs.get("state"), "unknown")


def _node_classes(ctx: _Context, node: str, attrs: Mapping[str, Any]) -> str:
    classes = ["node", f"node--{_token(attrs.get('kind'), 'dataset')}", f"state--{_state(attrs)}"]
    if attrs.get("kind") == "product" and attrs.get("status"):
        classes.append(f"status--{_token(attrs.get('status'), 'unknown')}")
    flags = {
        "is-root": _is_root(ctx.graph, node),
        "is-late": bool(attrs.get("late")),
        "is-pii": bool(attrs.get("pii")),
        "is-highlighted": node in ctx.highlight,
    }
    return " ".join(classes + [name for name, on in flags.items() if on])


def _is_root(graph: nx.DiGraph, node: str) -> bool:
    return node == graph.graph.get("root") or graph.nodes[node].get("side") == "root"


def describe_node(node: str, attrs: Mapping[str, Any], *, root: bool = False) -> str:
    """What a node's picture shows, in words: name, kind, state, lateness, personal data."""
    kind = str(attrs.get("kind") or "")
    parts = [f"{attrs.get('title') or node_label(node, attrs)} ({_KIND_WORDS.get(kind, kind)})"]
    if root:
        parts.append("the subject of this picture")
    if kind == "product":
        parts.append(f"status {attrs.get('status') or 'unknown'}")
    elif kind != "field" or attrs.get("state"):
        parts.append(_STATE_WORDS.get(_state(attrs), "run state unknown"))
    if attrs.get("type"):
        parts.append(f"type {attrs['type']}")
    if attrs.get("late"):
        parts.append(f"late ({attrs['late_reason']})" if attrs.get("late_reason") else "late")
    if attrs.get("pii"):
        parts.append("contains personal data")
    for side in ("upstream", "downstream"):
        if count := hidden_count(attrs, side):
            parts.append(f"{count} more {side} not shown")
    return ", ".join(parts)


def _presentation(attrs: Mapping[str, Any], root: bool) -> dict[str, object]:
    fill, stroke = _STATE_COLOURS.get(_state(attrs), _STATE_COLOURS["unknown"])
    if attrs.get("late") and _state(attrs) != "failed":
        fill, stroke = _LATE
    elif attrs.get("kind") == "field" and not attrs.get("state"):
        fill, stroke = _ROW
    return {"fill": fill, "stroke": stroke, "stroke-width": 3 if root else 1.2}


def _job_outline(box: Box) -> str:
    """A box with angled ends, so jobs read apart from datasets without colour."""
    left, right, mid = box.x + JOB_INSET, box.right - JOB_INSET, box.center_y
    points = [(left, box.y), (right, box.y), (box.right, mid), (right, box.bottom)]
    points += [(left, box.bottom), (box.x, mid)]
    return "M" + " L".join(f"{_num(x)},{_num(y)}" for x, y in points) + " Z"


def _shape(kind: str, box: Box, paint: Mapping[str, object]) -> str:
    base = {"class": "node-shape", **paint}
    if kind == "job":
        return _el("path", {**base, "d": _job_outline(box)})
    rect = {"x": box.x, "y": box.y, "width": box.width, "height": box.height}
    if kind == "field":
        return _el("rect", {**base, **rect})
    if kind == "product":
        inner = {"x": box.x + 3, "y": box.y + 3, "width": box.width - 6, "height": box.height - 6}
        stroke = paint["stroke"]
        outer = _el("rect", {**base, **rect, "rx": 3})
        return outer + _el(
            "rect",
            {"class": "node-shape-inner", **inner, "rx": 2, "fill": "none", "stroke": stroke},
        )
    return _el("rect", {**base, **rect, "rx": 6})


def _label(kind: str, box: Box, text: str) -> str:
    inset = JOB_INSET if kind == "job" else 0.0
    position = {"x": box.x + LABEL_PAD + inset, "y": box.center_y, "dy": "0.35em"}
    return _el("text", {"class": "node-label", **position, "fill": "#1f2328"}, _text(text))


def _tags(kind: str, box: Box, tags: tuple[str, ...]) -> str:
    """The PII and LATE badges, right-aligned inside the node."""
    right = box.right - LABEL_PAD - (JOB_INSET if kind == "job" else 0.0)
    drawn = []
    for tag in reversed(tags):
        right -= tag_width(tag)
        drawn.append(_tag(tag, right, box.center_y))
        right -= TAG_GAP
    return "".join(reversed(drawn))


def _tag(tag: str, x: float, center_y: float) -> str:
    width = tag_width(tag)
    pill = {"x": x, "y": center_y - TAG_HEIGHT / 2, "width": width, "height": TAG_HEIGHT}
    text = {"x": x + width / 2, "y": center_y, "dy": "0.35em", "text-anchor": "middle"}
    return _el(
        "g",
        {"class": f"tag tag--{tag.lower()}"},
        _el("rect", {**pill, "rx": 3, "fill": _TAG_COLOURS.get(tag, _MUTED)}),
        _el("text", {**text, "fill": "#ffffff", "font-size": TAG_FONT_SIZE}, _text(tag)),
    )


def _node(ctx: _Context, node: str) -> str:
    attrs = ctx.graph.nodes[node]
    box = ctx.layout.boxes[node]
    kind = str(attrs.get("kind") or "dataset")
    root = _is_root(ctx.graph, node)
    title = _el("title", {}, _text(describe_node(node, attrs, root=root)))
    drawing = (
        _shape(kind, box, _presentation(attrs, root))
        + _label(kind, box, truncate_label(node_label(node, attrs)))
        + _tags(kind, box, node_tags(attrs))
    )
    url = str(attrs.get("url") or "")
    body = _el("a", ctx.href(url), title, drawing) if url else title + drawing
    badges = _badge(ctx, node, attrs, "upstream") + _badge(ctx, node, attrs, "downstream")
    return _el("g", {"class": _node_classes(ctx, node, attrs), "data-node-id": node}, body, badges)


# --- "+N more" -----------------------------------------------------------------------


def _badge(ctx: _Context, node: str, attrs: Mapping[str, Any], side: str) -> str:
    count = hidden_count(attrs, side)
    if not count:
        return ""
    linked = ctx.expand_href is not None
    center_y = ctx.layout.boxes[node].center_y
    drawing = _badge_drawing(ctx.anchors[node], center_y, side, count, linked)
    name = node_label(node, attrs)
    data = {"class": "expand", "data-node-id": node, "data-side": side}
    if ctx.expand_href is None:
        title = _el("title", {}, _text(f"{count} more {side} of {name} not shown"))
        return _el("g", data, title, drawing)
    title = _el("title", {}, _text(f"Show {count} more {side} of {name}"))
    return _el("a", {**ctx.href(ctx.expand_href(node, side)), **data}, title, drawing)


def _badge_drawing(outer: Box, y: float, side: str, count: int, linked: bool) -> str:
    """A pill beside the node's outer edge (its cluster's, for a field), tied to it by a
    dashed stub."""
    width = badge_width(count)
    x = outer.x - BADGE_GAP - width if side == "upstream" else outer.right + BADGE_GAP
    stub = (x + width, outer.x) if side == "upstream" else (outer.right, x)
    pill = {"x": x, "y": y - BADGE_HEIGHT / 2, "width": width, "height": BADGE_HEIGHT}
    text = {"x": x + width / 2, "y": y, "dy": "0.35em", "text-anchor": "middle"}
    paint = {"font-size": BADGE_FONT_SIZE, "fill": _LINK if linked else _MUTED}
    stub_path = f"M{_num(stub[0])},{_num(y)} H{_num(stub[1])}"
    return (
        _el("path", {"class": "expand-stub", "d": stub_path, **_STUB})
        + _el("rect", {"class": "expand-pill", **pill, "rx": BADGE_HEIGHT / 2, **_PILL})
        + _el("text", {"class": "expand-label", **text, **paint}, _text(badge_text(count)))
    )


# --- edges ---------------------------------------------------------------------------


def _forward_path(points: list[tuple[float, float]]) -> str:
    """Cubic Béziers through the points, leaving and entering each one horizontally."""
    (x, y), rest = points[0], points[1:]
    out = [f"M{_num(x)},{_num(y)}"]
    for nx_, ny in rest:
        bend = (nx_ - x) / 2
        out.append(
            f"C{_num(x + bend)},{_num(y)} {_num(nx_ - bend)},{_num(ny)} {_num(nx_)},{_num(ny)}"
        )
        x, y = nx_, ny
    return " ".join(out)


def _loop_path(source: Box, target: Box, below: float) -> str:
    """An edge going back left (a cycle, or two rows of one cluster): out of the source's
    right side, under both, and into the target's left side."""
    sx, sy, tx, ty, reach = source.right, source.center_y, target.x, target.center_y, _LOOP_REACH
    return (
        f"M{_num(sx)},{_num(sy)} C{_num(sx + reach)},{_num(sy)} {_num(sx + reach)},{_num(below)}"
        f" {_num(sx)},{_num(below)} H{_num(tx)} C{_num(tx - reach)},{_num(below)}"
        f" {_num(tx - reach)},{_num(ty)} {_num(tx)},{_num(ty)}"
    )


def _edge_path(ctx: _Context, source: str, target: str) -> str:
    start, end = ctx.layout.boxes[source], ctx.layout.boxes[target]
    if end.x > start.right:
        route = ctx.layout.routes.get((source, target), [])
        return _forward_path([(start.right, start.center_y), *route, (end.x, end.center_y)])
    return _loop_path(start, end, ctx.loops[(source, target)])


def _loops(
    graph: nx.DiGraph, layout: Layout, anchors: Mapping[str, Box]
) -> dict[tuple[str, str], float]:
    """For each edge that must go back left, a height under every box it passes, each
    such edge a little lower than the previous so that they don't merge."""
    loops: dict[tuple[str, str], float] = {}
    for source, target in sorted(graph.edges()):
        start, end = layout.boxes[source], layout.boxes[target]
        if end.x > start.right:
            continue
        low, high = end.x - _LOOP_REACH, start.right + _LOOP_REACH
        passed = [box.bottom for box in anchors.values() if box.right >= low and box.x <= high]
        loops[(source, target)] = max(passed) + 12 + 6 * (len(loops) % 8)
    return loops


def describe_edge(graph: nx.DiGraph, attrs: Mapping[str, Any]) -> str:
    """A column edge's transformation in words, e.g. ``DIRECT / IDENTITY via job x``."""
    kinds = [str(attrs.get(key) or "") for key in ("transformation_type", "transformation_subtype")]
    text = " / ".join(kind for kind in kinds if kind) or "transformation unknown"
    job = str(attrs.get("job") or "")
    if job:
        text += f" via {node_label(job, graph.nodes[job]) if job in graph else job}"
    return text


def _edge(ctx: _Context, source: str, target: str, attrs: Mapping[str, Any]) -> str:
    kind = _token(attrs.get("kind"), "io")
    lit = source in ctx.highlight and target in ctx.highlight
    classes = f"edge edge--{kind}" + (" is-highlighted" if lit else "")
    marker = f"url(#{ctx.prefix}-arrow{'-lit' if lit else ''})"
    path = {
        "class": "edge-path",
        "d": _edge_path(ctx, source, target),
        "fill": "none",
        "stroke": _HIGHLIGHT_STROKE if lit else _EDGE_STROKE,
        "stroke-width": 2.5 if lit else 1.3,
        "stroke-dasharray": "5 4" if kind == "declared" else None,
        "marker-end": marker,
    }
    children = [_el("path", path)]
    if kind == "column":
        # A thin line is hard to point at: a wider invisible one carries the tooltip.
        hit = {"class": "edge-hit", "d": path["d"], "fill": "none", "stroke": "transparent"}
        title = _el("title", {}, _text(describe_edge(ctx.graph, attrs)))
        children = [title, _el("path", {**hit, "stroke-width": 10}), *children]
    data = {"class": classes, "data-source": source, "data-target": target}
    return _el("g", data, *children)


def _markers(prefix: str) -> str:
    def marker(suffix: str, colour: str) -> str:
        box = {"viewBox": "0 0 10 10", "refX": 9, "refY": 5, "markerWidth": 8, "markerHeight": 8}
        head = _el("path", {"d": "M0,0 L10,5 L0,10 z", "fill": colour})
        attrs = {"id": f"{prefix}-arrow{suffix}", "class": f"edge-arrow{suffix}", **box}
        return _el("marker", {**attrs, "markerUnits": "userSpaceOnUse", "orient": "auto"}, head)

    return _el("defs", {}, marker("", _EDGE_STROKE), marker("-lit", _HIGHLIGHT_STROKE))


# --- clusters ------------------------------------------------------------------------


def _cluster(cluster: Cluster) -> str:
    box = cluster.box
    frame = {"x": box.x, "y": box.y, "width": box.width, "height": box.height, "rx": 8}
    title = {"x": box.x + LABEL_PAD, "y": box.y + 14, "dy": "0.35em", "fill": "#1f2328"}
    return _el(
        "g",
        {"class": "cluster", "data-dataset-id": cluster.id},
        _el("title", {}, _text(f"{cluster.title} (dataset)")),
        _el("rect", {"class": "cluster-box", **frame, "fill": "#f6f8fa", "stroke": "#d1d9e0"}),
        _el(
            "text",
            {"class": "cluster-title", **title, "font-weight": 600},
            _text(truncate_label(cluster.label)),
        ),
    )


# --- the picture ---------------------------------------------------------------------


def _root_label(graph: nx.DiGraph) -> str:
    root = graph.graph.get("root")
    if root in graph:
        return node_label(root, graph.nodes[root])
    return str(root or "")


def default_title(graph: nx.DiGraph) -> str:
    root = _root_label(graph)
    if not root:
        return "Lineage graph"
    return _TITLES.get(str(graph.graph.get("level")), "Lineage of {}").format(root)


def default_description(graph: nx.DiGraph) -> str:
    """A sentence for screen readers: what is drawn, around what, and whether it was cut."""
    counts: dict[str, int] = {}
    for _, kind in graph.nodes(data="kind"):
        word = _KIND_WORDS.get(str(kind or "dataset"), str(kind))
        counts[word] = counts.get(word, 0) + 1
    what = ", ".join(f"{n} {word}{'s' if n != 1 else ''}" for word, n in sorted(counts.items()))
    edges = graph.number_of_edges()
    text = f"{what or 'Nothing'} joined by {edges} edge{'s' if edges != 1 else ''}"
    direction = {
        "upstream": "upstream",
        "downstream": "downstream",
        "both": "upstream and downstream",
    }
    if (side := direction.get(str(graph.graph.get("direction")))) and _root_label(graph):
        text += f", {side} of {_root_label(graph)}"
        if graph.graph.get("depth"):
            text += f" up to {graph.graph['depth']} hops"
    text += "."
    return text + _cut_short(graph.graph.get("truncated"))


def _cut_short(truncated: object) -> str:
    if isinstance(truncated, str):
        reasons = [truncated]
    elif isinstance(truncated, list | tuple):
        reasons = [str(reason) for reason in truncated]
    else:
        reasons = []
    if not reasons:
        return ""
    cut = " and ".join(_CUTS.get(reason, f"the {reason} limit") for reason in reasons)
    return f" Cut short by {cut}; “+N more” marks where neighbours were left out."


def stylesheet() -> str:
    """The picture's stylesheet, ``static/lineage/graph.css`` of this project."""
    try:
        return STYLESHEET.read_text(encoding="utf-8")
    except OSError:
        return ""


def _style() -> str:
    css = stylesheet().replace("]]>", "]]]]><![CDATA[>")
    return f"<style><![CDATA[\n{css}\n]]></style>"


def _root_attrs(ctx: _Context) -> dict[str, object]:
    level = _token(ctx.graph.graph.get("level"), "dataset")
    classes = f"lineage-graph lineage-graph--{level}" + (" has-highlight" if ctx.highlight else "")
    attrs: dict[str, object] = {"xmlns": SVG_NS}
    if ctx.standalone:
        attrs["xmlns:xlink"] = XLINK_NS
    width = ctx.layout.width
    height = max([ctx.layout.height, *(low + MARGIN for low in ctx.loops.values())])
    return attrs | {
        "class": classes,
        "viewBox": f"0 0 {_num(width)} {_num(height)}",
        "width": width,
        "height": height,
        # An image role would hide the links inside from assistive technology.
        "role": "group" if _interactive(ctx) else "img",
        "aria-labelledby": f"{ctx.prefix}-title {ctx.prefix}-desc",
        "font-family": FONT_FAMILY,
        "font-size": FONT_SIZE,
    }


def _interactive(ctx: _Context) -> bool:
    if any(url for _, url in ctx.graph.nodes(data="url")):
        return True
    sides = ("upstream", "downstream")
    hidden = any(hidden_count(a, s) for _, a in ctx.graph.nodes(data=True) for s in sides)
    return ctx.expand_href is not None and hidden


def render_svg(
    graph: nx.DiGraph,
    *,
    layout: Layout | None = None,
    highlight: Collection[str] = (),
    expand_href: ExpandHref | None = None,
    description: str = "",
    standalone: bool = False,
) -> str:
    """Draw a lineage subgraph as an ``<svg>`` element to inline in a page.

    ``highlight`` marks nodes (and the edges between two of them); ``expand_href(node,
    side)`` turns each "+N more" badge into a link; ``description`` replaces the generated
    one. ``standalone=True`` gives a complete SVG document with the stylesheet embedded.
    """
    layout = layout if layout is not None else layered_layout(graph)
    anchors = _anchors(layout)
    ctx = _Context(
        graph,
        layout,
        frozenset(node for node in highlight if node in graph),
        expand_href,
        _prefix(graph),
        standalone,
        anchors,
        _loops(graph, layout, anchors),
    )
    svg = _el("svg", _root_attrs(ctx), *_head(ctx, description), *_body(ctx))
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{svg}\n' if standalone else svg


def _head(ctx: _Context, description: str) -> list[str]:
    graph = ctx.graph
    head = [
        _el("title", {"id": f"{ctx.prefix}-title"}, _text(default_title(graph))),
        _el("desc", {"id": f"{ctx.prefix}-desc"}, _text(description or default_description(graph))),
    ]
    if ctx.standalone:
        # Opened on its own, the picture should not be transparent over a dark viewer.
        backdrop = {"class": "backdrop", "width": "100%", "height": "100%", "fill": "#ffffff"}
        head += [_style(), _el("rect", backdrop)]
    return head


def _body(ctx: _Context) -> list[str]:
    clusters = [_cluster(cluster) for _, cluster in sorted(ctx.layout.clusters.items())]
    edges = sorted(ctx.graph.edges(data=True), key=lambda edge: (edge[0], edge[1]))
    return [
        _markers(ctx.prefix),
        _el("g", {"class": "clusters"}, *clusters),
        _el("g", {"class": "edges"}, *[_edge(ctx, s, t, attrs) for s, t, attrs in edges]),
        _el("g", {"class": "nodes"}, *[_node(ctx, node) for node in sorted(ctx.graph)]),
    ]

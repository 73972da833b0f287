"""Lineage subgraphs as files: GraphML, Graphviz DOT and Mermaid, and impact lists as CSV.

The graph renderers take the subgraph described in :mod:`lineage.graph` and return text
that depends only on the graph's content, never on insertion order: nodes, edges and
attributes are emitted sorted, so the same answer always downloads as the same bytes.

Renderers are lenient: any attribute may be missing or ``None``, and a node without a
``label`` is shown by its id.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple
from urllib.parse import quote

import networkx as nx

__all__ = [
    "CSV_CONTENT_TYPE",
    "CSV_EXTENSION",
    "EXPORTERS",
    "PALETTE",
    "Exporter",
    "to_csv",
    "to_dot",
    "to_graphml",
    "to_mermaid",
]

# (stroke, fill) per run status; the names double as Mermaid class names.
PALETTE: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "failed": ("#c62828", "#ffebee"),
        "late": ("#ef8f00", "#fff3e0"),
        "running": ("#1565c0", "#e3f2fd"),
        "completed": ("#2e7d32", "#e8f5e9"),
    }
)

_TRUE_STRINGS = frozenset({"true", "1", "yes"})


# --- shared reading of the subgraph contract -------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_STRINGS
    return bool(value)


def _sorted_nodes(graph: nx.DiGraph) -> list[tuple[Any, dict[str, Any]]]:
    return sorted(graph.nodes(data=True), key=lambda item: str(item[0]))


def _sorted_edges(graph: nx.DiGraph) -> list[tuple[Any, Any, dict[str, Any]]]:
    return sorted(graph.edges(data=True), key=lambda item: (str(item[0]), str(item[1])))


def _label(node: Any, attrs: Mapping[str, Any]) -> str:
    return _text(attrs.get("label")) or str(node)


def _status(attrs: Mapping[str, Any]) -> str | None:
    """The one colour a node gets, worst news first: a failure outranks lateness."""
    state = _text(attrs.get("state")).upper()
    if state == "FAILED":
        return "failed"
    if _flag(attrs.get("late")):
        return "late"
    if state == "RUNNING":
        return "running"
    if state == "COMPLETED":
        return "completed"
    return None


def _is_root(graph: nx.DiGraph, node: Any, attrs: Mapping[str, Any]) -> bool:
    root = graph.graph.get("root")
    return (root is not None and str(root) == str(node)) or attrs.get("side") == "root"


def _edge_label(attrs: Mapping[str, Any]) -> str:
    return _text(attrs.get("transformation_type")) if attrs.get("kind") == "column" else ""


# Percent-encode everything that could close a quoted string, start a Mermaid entity
# (``#x;``) or be read as a Graphviz escape (``\N``); ``%`` stays so encoded URLs survive.
_URL_SAFE = "!#$%&'()*+,/:=?@[]~"


def _safe_url(url: Any) -> str:
    return quote(_text(url), safe=_URL_SAFE)


# --- GraphML ----------------------------------------------------------------------------

# XML 1.0 cannot carry most control characters, even escaped.
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# Graph keys networkx reserves for per-attribute defaults; parse_graphml sets them.
_NX_DEFAULTS = frozenset({"node_default", "edge_default"})


def _xml_text(value: str) -> str:
    return _XML_INVALID.sub("\ufffd", value)


def _graphml_value(value: Any) -> Any:
    """A value GraphML can type: bool, int, float or str; ``None`` is dropped by the caller."""
    for scalar in (bool, int, float):
        # The writer looks types up exactly, so it would refuse a subclass such as IntEnum.
        if isinstance(value, scalar):
            return scalar(value)
    if isinstance(value, list | tuple):
        return _xml_text(",".join(_text(item) for item in value))
    if isinstance(value, set | frozenset):
        return _xml_text(",".join(sorted(_text(item) for item in value)))
    if isinstance(value, dict):
        return _xml_text(json.dumps(value, sort_keys=True, default=str))
    return _xml_text(str(value))


def _graphml_attrs(attrs: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        _xml_text(str(key)): _graphml_value(value)
        for key, value in sorted(attrs.items(), key=lambda item: str(item[0]))
        if value is not None
    }


def _graphml_ready(graph: nx.DiGraph) -> nx.DiGraph:
    own = {key: value for key, value in graph.graph.items() if key not in _NX_DEFAULTS}
    ready = nx.DiGraph(**_graphml_attrs(own))
    for node, attrs in _sorted_nodes(graph):
        ready.add_node(_xml_text(str(node)), **_graphml_attrs(attrs))
    for source, target, attrs in _sorted_edges(graph):
        ready.add_edge(_xml_text(str(source)), _xml_text(str(target)), **_graphml_attrs(attrs))
    return ready


def to_graphml(graph: nx.DiGraph) -> str:
    """The subgraph as GraphML, graph, node and edge attributes included.

    ``nx.parse_graphml`` gives back the same node ids, edges and values, with these
    conversions: ``None`` values are left out, lists (``truncated``) become comma-separated
    strings, dicts become JSON, and characters XML 1.0 cannot hold become U+FFFD.
    """
    buffer = io.BytesIO()
    nx.write_graphml_xml(_graphml_ready(graph), buffer, encoding="utf-8")
    return buffer.getvalue().decode("utf-8")


# --- Graphviz DOT -----------------------------------------------------------------------

_DOT_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})

# (shape, style) per node kind.
_DOT_SHAPES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "dataset": ("box", "rounded"),
        "job": ("cds", ""),
        "product": ("box3d", ""),
        "field": ("note", ""),
    }
)


def _dot_quote(value: Any) -> str:
    """A DOT quoted string; the escaping is one-to-one, so distinct ids stay distinct."""
    return '"' + str(value).translate(_DOT_ESCAPES) + '"'


def _dot_attr_list(attrs: Mapping[str, str]) -> str:
    return ", ".join(f"{key}={_dot_quote(value)}" for key, value in attrs.items())


def _dot_node_attrs(graph: nx.DiGraph, node: Any, attrs: Mapping[str, Any]) -> dict[str, str]:
    shape, base_style = _DOT_SHAPES.get(_text(attrs.get("kind")), ("ellipse", ""))
    styles = [base_style] if base_style else []
    out = {"label": _label(node, attrs), "shape": shape}
    status = _status(attrs)
    if status is not None:
        styles.append("filled")
        out["color"], out["fillcolor"] = PALETTE[status]
    if _is_root(graph, node, attrs):
        styles.append("bold")
        out["penwidth"] = "2.5"
    if styles:
        out["style"] = ",".join(styles)
    if title := _text(attrs.get("title")):
        out["tooltip"] = title
    if url := _text(attrs.get("url")):
        out["URL"] = _safe_url(url)
    return out


def _dot_edge_attrs(attrs: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    if label := _edge_label(attrs):
        out["label"] = label
    if attrs.get("kind") == "declared":
        out["style"] = "dashed"
    return out


def _dot_statement(subject: str, attrs: Mapping[str, str]) -> str:
    return f"  {subject} [{_dot_attr_list(attrs)}];" if attrs else f"  {subject};"


def to_dot(graph: nx.DiGraph) -> str:
    """The subgraph as a Graphviz ``digraph`` laid out left to right.

    Shape follows the node kind, colour the run state (see :data:`PALETTE`), the root is
    drawn bold; ``tooltip`` is the title and ``URL`` the portal page when there is one.
    """
    lines = [
        "digraph lineage {",
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize="10"];',
        '  edge [fontname="Helvetica", fontsize="9"];',
    ]
    for node, attrs in _sorted_nodes(graph):
        lines.append(_dot_statement(_dot_quote(node), _dot_node_attrs(graph, node, attrs)))
    for source, target, attrs in _sorted_edges(graph):
        subject = f"{_dot_quote(source)} -> {_dot_quote(target)}"
        lines.append(_dot_statement(subject, _dot_edge_attrs(attrs)))
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- Mermaid ----------------------------------------------------------------------------

# Mermaid decodes ``#name;`` / ``#123;`` entities, so ``#`` itself must be one; the rest
# would end the label, split the statement, read as an escape, or turn into HTML and
# markdown in the picture.
_MERMAID_ESCAPES = str.maketrans(
    {
        '"': "#quot;",
        "\\": "#92;",
        "#": "#35;",
        "&": "#38;",
        ";": "#59;",
        "<": "#lt;",
        ">": "#gt;",
        "|": "#124;",
        "[": "#91;",
        "]": "#93;",
        "{": "#123;",
        "}": "#125;",
        "`": "#96;",
        "\r": "",
        "\n": "<br>",
    }
)

# (opening, closing) around the quoted label, per node kind.
_MERMAID_SHAPES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "dataset": ("[(", ")]"),
        "job": ("[[", "]]"),
        "product": ("[/", "/]"),
        "field": ("[", "]"),
    }
)


def _mermaid_text(value: Any) -> str:
    return '"' + str(value).translate(_MERMAID_ESCAPES) + '"'


def _mermaid_node(ref: str, node: Any, attrs: Mapping[str, Any]) -> str:
    opening, closing = _MERMAID_SHAPES.get(_text(attrs.get("kind")), ("[", "]"))
    return f"  {ref}{opening}{_mermaid_text(_label(node, attrs))}{closing}"


def _mermaid_edge(source: str, target: str, attrs: Mapping[str, Any]) -> str:
    if label := _edge_label(attrs):
        return f"  {source} -- {_mermaid_text(label)} --> {target}"
    arrow = "-.->" if attrs.get("kind") == "declared" else "-->"
    return f"  {source} {arrow} {target}"


def _mermaid_classes(graph: nx.DiGraph, refs: Mapping[Any, str]) -> list[str]:
    members: dict[str, list[str]] = {name: [] for name in [*PALETTE, "root"]}
    for node, attrs in _sorted_nodes(graph):
        if (status := _status(attrs)) is not None:
            members[status].append(refs[node])
        if _is_root(graph, node, attrs):
            members["root"].append(refs[node])
    definitions = [
        f"  classDef {name} stroke:{stroke},fill:{fill},color:#000"
        for name, (stroke, fill) in PALETTE.items()
    ]
    definitions.append("  classDef root stroke-width:3px,font-weight:bold")
    assignments = [f"  class {','.join(ids)} {name}" for name, ids in members.items() if ids]
    return definitions + assignments


def _mermaid_clicks(graph: nx.DiGraph, refs: Mapping[Any, str]) -> list[str]:
    return [
        f'  click {refs[node]} href "{_safe_url(url)}"'
        for node, attrs in _sorted_nodes(graph)
        if (url := _text(attrs.get("url")))
    ]


def to_mermaid(graph: nx.DiGraph) -> str:
    """The subgraph as a Mermaid ``flowchart LR``.

    Mermaid ids must be plain identifiers, so nodes are renamed ``n0``, ``n1``... in
    sorted node-id order and show their label, escaped with Mermaid entities, instead.
    """
    refs = {node: f"n{index}" for index, (node, _) in enumerate(_sorted_nodes(graph))}
    lines = ["flowchart LR"]
    lines += [_mermaid_node(refs[node], node, attrs) for node, attrs in _sorted_nodes(graph)]
    lines += [
        _mermaid_edge(refs[source], refs[target], attrs)
        for source, target, attrs in _sorted_edges(graph)
    ]
    lines += _mermaid_classes(graph, refs)
    lines += _mermaid_clicks(graph, refs)
    return "\n".join(lines) + "\n"


# --- registry ---------------------------------------------------------------------------


class Exporter(NamedTuple):
    """How to serve one graph format: ``render, content_type, extension = EXPORTERS[fmt]``."""

    render: Callable[[nx.DiGraph], str]
    content_type: str
    extension: str  # without the leading dot


EXPORTERS: Mapping[str, Exporter] = MappingProxyType(
    {
        "graphml": Exporter(to_graphml, "application/graphml+xml; charset=utf-8", "graphml"),
        "dot": Exporter(to_dot, "text/vnd.graphviz; charset=utf-8", "dot"),
        "mermaid": Exporter(to_mermaid, "text/vnd.mermaid; charset=utf-8", "mmd"),
    }
)


# --- CSV --------------------------------------------------------------------------------

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
CSV_EXTENSION = "csv"

# A spreadsheet runs a text cell starting with one of these as a formula.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> str:
    if isinstance(value, int | float):
        return str(value)  # numbers are data, not formulas: -3 stays -3
    text = "; ".join(map(_text, value)) if isinstance(value, list | tuple) else _text(value)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def to_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Rows as CSV under a header of ``columns``, in that order.

    A missing key or ``None`` is an empty cell, a list is joined with ``"; "``, and text
    that a spreadsheet would evaluate (``=cmd()``, ``@SUM(...)``...) gets a leading ``'``.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_csv_cell(column) for column in columns])
    for row in rows:
        writer.writerow([_csv_cell(row.get(column)) for column in columns])
    return buffer.getvalue()

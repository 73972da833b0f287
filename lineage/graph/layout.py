"""A layered layout of a lineage subgraph: the data flows from left to right.

The steps follow the classic layered (Sugiyama) recipe, kept small because a subgraph is
bounded by the service's cap:

1. Collapse nodes to *units*. A node is its own unit, except at the column level, where
   the fields of one dataset collapse into that dataset's cluster.
2. Break cycles by reversing the back edges of a deterministic depth-first search that
   starts at the root, so a cyclic answer is still laid out and every node is placed.
3. Layer the units by topological generations, then pull every source right, next to
   its nearest successor, so sources don't pile up in the first column.
4. Split edges spanning several layers with dummy units, then order each layer with
   barycenter sweeps (down and up), keeping the order with the fewest crossings.
5. Give coordinates: each layer is a column, units are stacked and centred in it; the
   fields of a cluster are rows ordered by the barycenter of their neighbours.

Everything the renderer needs to agree on (label truncation, badge texts and sizes) is
exported from here so boxes and drawings match.
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import networkx as nx

FONT_SIZE = 12.0
CHAR_WIDTH = 7.0  # a generous average for a 12px system sans-serif, so text fits its box
UPPER_CHAR_WIDTH = 8.4
LABEL_PAD = 10.0
NODE_HEIGHT = 34.0
NODE_MIN_WIDTH = 88.0
NODE_MAX_WIDTH = 210.0
MAX_LABEL_CHARS = int((NODE_MAX_WIDTH - 2 * LABEL_PAD) // CHAR_WIDTH)
JOB_INSET = 9.0  # how far a job's angled ends reach into its box

TAG_FONT_SIZE = 9.5
TAG_CHAR_WIDTH = 6.2
TAG_PAD = 4.0
TAG_GAP = 5.0
TAG_HEIGHT = 15.0

BADGE_FONT_SIZE = 11.0
BADGE_CHAR_WIDTH = 6.6
BADGE_PAD = 8.0
BADGE_HEIGHT = 20.0
BADGE_GAP = 10.0

ROW_HEIGHT = 24.0
CLUSTER_HEADER = 28.0
CLUSTER_PAD = 6.0
TITLE_CHAR_WIDTH = 7.8  # cluster titles are bold

LAYER_GAP = 56.0
NODE_GAP = 18.0
DUMMY_HEIGHT = 6.0
MARGIN = 16.0
SWEEPS = 4
DUMMIES_PER_UNIT = 2
FIELD_SWEEPS = 3

_CLUSTER = "\x00cluster:"
_DUMMY = "\x00dummy:"


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box, origin top-left, in SVG user units."""

    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height

    @property
    def center_y(self) -> float:
        return self.y + self.height / 2


@dataclass(frozen=True, slots=True)
class Cluster:
    """The box of one dataset at the column level, its fields stacked as rows inside."""

    id: str  # the dataset's node id, ``dataset:<namespace>:<name>``
    label: str
    title: str
    box: Box
    fields: tuple[str, ...]  # top to bottom


@dataclass(slots=True)
class Layout:
    boxes: dict[str, Box]
    width: float
    height: float
    layers: list[list[str]]
    clusters: dict[str, Cluster] = field(default_factory=dict)
    # Waypoints of edges spanning several layers: they run through reserved gaps.
    routes: dict[tuple[str, str], list[tuple[float, float]]] = field(default_factory=dict)


# --- what boxes and drawings share ---------------------------------------------------


def truncate_label(text: str, max_chars: int = MAX_LABEL_CHARS) -> str:
    """The label as drawn: at most ``max_chars`` characters, an ellipsis marking a cut.

    Qualified names differ at the end (``analytics.finance.fct_revenue_daily`` beside
    ``analytics.finance.fct_refunds``), so the cut keeps a short head and the tail.
    """
    if len(text) <= max_chars:
        return text
    head = min(8, max_chars // 4)
    tail = max_chars - head - 1
    return text[:head].rstrip() + "…" + text[len(text) - tail :].lstrip()


def node_label(node: str, attrs: Mapping[str, Any]) -> str:
    """The full (untruncated) label of a node, falling back to its name, then its id."""
    return str(attrs.get("label") or attrs.get("name") or node)


def node_tags(attrs: Mapping[str, Any]) -> tuple[str, ...]:
    """The small badges drawn inside a node, in drawing order."""
    tags: list[str] = []
    if attrs.get("pii"):
        tags.append("PII")
    if attrs.get("late"):
        tags.append("LATE")
    return tuple(tags)


def tag_width(tag: str) -> float:
    return len(tag) * TAG_CHAR_WIDTH + 2 * TAG_PAD


def hidden_count(attrs: Mapping[str, Any], side: str) -> int:
    """How many neighbours on ``side`` (upstream/downstream) the answer left out."""
    try:
        return max(0, int(attrs.get(f"hidden_{side}") or 0))
    except (TypeError, ValueError):
        return 0


def badge_text(count: int) -> str:
    return f"+{count} more"


def badge_width(count: int) -> float:
    return len(badge_text(count)) * BADGE_CHAR_WIDTH + 2 * BADGE_PAD


def text_width(text: str) -> float:
    """Estimated width of ``text`` at the label size: capitals and digits run wider than
    the average, so an upper-case warehouse name still fits its box."""
    wide = sum(1 for ch in text if ch.isupper() or ch.isdigit() or ch in "_@%&#MW")
    return len(text) * CHAR_WIDTH + wide * (UPPER_CHAR_WIDTH - CHAR_WIDTH)


def node_width(attrs: Mapping[str, Any], label: str) -> float:
    """Width of a node's box: its truncated label plus its badges, at least the minimum.

    Truncation bounds the label, so the width stays about ``NODE_MAX_WIDTH`` (a little
    more for an upper-case label) plus the badges and a job's angled ends.
    """
    text = text_width(truncate_label(label))
    tags = sum(tag_width(tag) + TAG_GAP for tag in node_tags(attrs))
    inset = JOB_INSET if attrs.get("kind") == "job" else 0.0
    return max(NODE_MIN_WIDTH, 2 * (LABEL_PAD + inset) + text + tags)


def is_column_level(graph: nx.DiGraph) -> bool:
    return graph.graph.get("level") == "column"


def cluster_id(attrs: Mapping[str, Any]) -> str:
    """The dataset node id a field belongs to."""
    return f"dataset:{attrs.get('namespace') or ''}:{attrs.get('dataset') or ''}"


# --- units ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Unit:
    key: str
    label: str
    width: float
    height: float
    members: list[str]  # graph nodes inside, rows top to bottom for a cluster
    left: float = 0.0  # room kept for "+N more" badges on each side
    right: float = 0.0


def _units(graph: nx.DiGraph) -> tuple[dict[str, str], dict[str, _Unit]]:
    """Map each node to its unit; at the column level fields collapse into clusters."""
    unit_of: dict[str, str] = {}
    members: dict[str, list[str]] = defaultdict(list)
    column = is_column_level(graph)
    for node, attrs in graph.nodes(data=True):
        key = _CLUSTER + cluster_id(attrs) if column and attrs.get("kind") == "field" else node
        unit_of[node] = key
        members[key].append(node)
    units = {key: _make_unit(graph, key, nodes) for key, nodes in members.items()}
    return unit_of, units


def _make_unit(graph: nx.DiGraph, key: str, nodes: list[str]) -> _Unit:
    if key.startswith(_CLUSTER):
        return _cluster_unit(graph, key, nodes)
    attrs = graph.nodes[key]
    label = node_label(key, attrs)
    unit = _Unit(key, label, node_width(attrs, label), NODE_HEIGHT, nodes)
    _reserve_badges(unit, [attrs])
    return unit


def _cluster_unit(graph: nx.DiGraph, key: str, nodes: list[str]) -> _Unit:
    label, _ = cluster_names(graph, key.removeprefix(_CLUSTER), graph.nodes[nodes[0]])
    labels = {node: node_label(node, graph.nodes[node]) for node in nodes}
    rows = sorted(nodes, key=lambda node: (labels[node], node))
    title_width = 2 * LABEL_PAD + len(truncate_label(label)) * TITLE_CHAR_WIDTH
    row_width = max(node_width(graph.nodes[node], labels[node]) for node in nodes)
    width = max(title_width, row_width + 2 * CLUSTER_PAD)
    height = CLUSTER_HEADER + len(rows) * ROW_HEIGHT + CLUSTER_PAD
    unit = _Unit(key, label, width, height, rows)
    _reserve_badges(unit, [graph.nodes[node] for node in nodes])
    return unit


def cluster_names(graph: nx.DiGraph, dataset_id: str, attrs: Mapping[str, Any]) -> tuple[str, str]:
    """(label, title) of a field's dataset: from its dataset node if the graph has one."""
    if dataset_id in graph:
        node = graph.nodes[dataset_id]
        label = node_label(dataset_id, node)
        return label, str(node.get("title") or label)
    name = str(attrs.get("dataset") or dataset_id)
    # A field's title is its dataset's followed by ".<field>".
    title, suffix = str(attrs.get("title") or ""), f".{attrs.get('field') or ''}"
    if len(title) > len(suffix) > 1 and title.endswith(suffix):
        return name, title.removesuffix(suffix)
    namespace = str(attrs.get("namespace") or "")
    return name, f"{namespace}:{name}" if namespace else name


def _reserve_badges(unit: _Unit, attrs: Iterable[Mapping[str, Any]]) -> None:
    for node in attrs:
        upstream, downstream = hidden_count(node, "upstream"), hidden_count(node, "downstream")
        if upstream:
            unit.left = max(unit.left, badge_width(upstream) + BADGE_GAP)
        if downstream:
            unit.right = max(unit.right, badge_width(downstream) + BADGE_GAP)


def _unit_graph(graph: nx.DiGraph, unit_of: Mapping[str, str]) -> nx.DiGraph:
    """The graph between units; parallel edges collapse into one with a weight."""
    weights: dict[tuple[str, str], int] = defaultdict(int)
    for source, target in graph.edges():
        # An edge inside a cluster does not order anything.
        if unit_of[source] != unit_of[target]:
            weights[(unit_of[source], unit_of[target])] += 1
    return _weighted(sorted(set(unit_of.values())), weights)


def _weighted(nodes: Iterable[str], weights: Mapping[tuple[str, str], int]) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from((s, t, {"weight": w}) for (s, t), w in weights.items() if s != t)
    return graph


# --- cycles and layers ---------------------------------------------------------------


def back_edges(graph: nx.DiGraph, start: str | None = None) -> set[tuple[str, str]]:
    """Back edges of a depth-first search from ``start``, then from the other nodes in
    sorted order, successors visited in sorted order. Reversing them leaves no cycle,
    because every remaining edge then points from a later to an earlier DFS finish."""
    state: dict[str, bool] = {}  # True while on the stack, False once finished
    found: set[tuple[str, str]] = set()
    starts = ([start] if start is not None and start in graph else []) + sorted(graph)
    for first in starts:
        if first not in state:
            _dfs(graph, first, state, found)
    return found


def _dfs(
    graph: nx.DiGraph, first: str, state: dict[str, bool], found: set[tuple[str, str]]
) -> None:
    state[first] = True
    stack = [(first, iter(sorted(graph.successors(first))))]
    while stack:
        node, successors = stack[-1]
        for successor in successors:
            if successor not in state:
                state[successor] = True
                stack.append((successor, iter(sorted(graph.successors(successor)))))
                break
            if state[successor]:
                found.add((node, successor))
        else:
            state[node] = False
            stack.pop()


def root_node(graph: nx.DiGraph) -> str | None:
    """The node asked about, or the first node standing for it (a product asked about at
    the dataset level is drawn as its datasets, each on the ``root`` side)."""
    root = graph.graph.get("root")
    if root in graph:
        return str(root)
    stand_ins = sorted(node for node, side in graph.nodes(data="side") if side == "root")
    return stand_ins[0] if stand_ins else None


def signed_hops(graph: nx.DiGraph, root: str | None) -> dict[str, int]:
    """Hops from the root, negative upstream and positive downstream.

    A node on a cycle through the root reaches it both ways and takes the nearer side
    (downstream on a tie). Nodes without a directed path to or from the root are absent.
    """
    if root is None or root not in graph:
        return {}
    hops = {
        node: -n
        for node, n in nx.single_source_shortest_path_length(
            graph.reverse(copy=False), root
        ).items()
    }
    for node, n in nx.single_source_shortest_path_length(graph, root).items():
        if node not in hops or n <= -hops[node]:
            hops[node] = n
    return hops


def _acyclic(units: nx.DiGraph, root: str | None) -> nx.DiGraph:
    """Units with cycles broken, in two passes.

    First every edge pointing from a farther-downstream to a farther-upstream unit (as
    seen from the root) is turned around, so a cycle through the root never drags the
    root's upstream to its right. What cycles remain lie among units equally far from
    the root, or away from it: the back edges of a depth-first search undo those.
    """
    hops = signed_hops(units, root)
    forward: dict[tuple[str, str], int] = defaultdict(int)
    for source, target, weight in units.edges(data="weight"):
        against = source in hops and target in hops and hops[source] > hops[target]
        forward[(target, source) if against else (source, target)] += weight
    reverse = back_edges(_weighted(units, forward), root)
    dag: dict[tuple[str, str], int] = defaultdict(int)
    for (source, target), weight in forward.items():
        dag[(target, source) if (source, target) in reverse else (source, target)] += weight
    return _weighted(units, dag)


def _ranks(dag: nx.DiGraph) -> dict[str, int]:
    """Layer index per unit: topological generations, sources pulled right."""
    rank = {node: i for i, layer in enumerate(nx.topological_generations(dag)) for node in layer}
    for node in dag:
        if dag.in_degree(node) == 0 and dag.out_degree(node) > 0:
            rank[node] = min(rank[successor] for successor in dag.successors(node)) - 1
    used = {value: i for i, value in enumerate(sorted(set(rank.values())))}
    return {node: used[value] for node, value in rank.items()}


# --- ordering ------------------------------------------------------------------------

_Adjacency = dict[str, list[tuple[str, int]]]


@dataclass(slots=True)
class _Proper:
    """The layered graph with dummies: every edge joins adjacent layers."""

    layers: list[list[str]]
    up: _Adjacency
    down: _Adjacency
    chains: dict[tuple[str, str], list[str]]  # long dag edge -> its dummies, left to right


def _proper(dag: nx.DiGraph, rank: Mapping[str, int]) -> _Proper:
    """Split long edges with dummies, shortest edges first.

    The dummies are capped at ``DUMMIES_PER_UNIT`` per unit so that a tangle of long edges
    (a cycle reversed across the whole picture) cannot make ordering slow; the longest
    edges then go without lanes and don't take part in ordering."""
    size = max(rank.values(), default=-1) + 1
    proper = _Proper([[] for _ in range(size)], defaultdict(list), defaultdict(list), {})
    for node in dag:
        proper.layers[rank[node]].append(node)
    budget = DUMMIES_PER_UNIT * len(dag)
    edges = sorted(dag.edges(data="weight"), key=lambda e: (rank[e[1]] - rank[e[0]], e[0], e[1]))
    for source, target, weight in edges:
        span = range(rank[source] + 1, rank[target])
        if len(span) > budget:
            break
        chain = [f"{_DUMMY}{budget - i}" for i in range(len(span))]
        budget -= len(span)
        for layer, dummy in zip(span, chain, strict=True):
            proper.layers[layer].append(dummy)
        if chain:
            proper.chains[(source, target)] = chain
        for upper, lower in pairwise([source, *chain, target]):
            proper.down[upper].append((lower, weight))
            proper.up[lower].append((upper, weight))
    return proper


def _order(proper: _Proper, labels: Mapping[str, str]) -> list[list[str]]:
    """Barycenter sweeps down then up; the order with the fewest crossings wins.

    Sweeping stops at zero crossings or after a sweep that did not improve: on
    lineage-sized graphs later sweeps rarely help and the cost is in the sorting."""
    layers = [
        sorted(layer, key=lambda node: (labels.get(node, ""), node)) for layer in proper.layers
    ]
    best, fewest = [list(layer) for layer in layers], _crossings(layers, proper.down)
    for _ in range(SWEEPS):
        if fewest == 0:
            break
        _sweep(layers, proper, labels)
        count = _crossings(layers, proper.down)
        if count >= fewest:
            break
        best, fewest = [list(layer) for layer in layers], count
    return best


def _sweep(layers: list[list[str]], proper: _Proper, labels: Mapping[str, str]) -> None:
    for i in range(1, len(layers)):
        layers[i] = _by_barycenter(layers[i], layers[i - 1], proper.up, labels)
    for i in range(len(layers) - 2, -1, -1):
        layers[i] = _by_barycenter(layers[i], layers[i + 1], proper.down, labels)


def _by_barycenter(
    layer: list[str], fixed: list[str], neighbours: _Adjacency, labels: Mapping[str, str]
) -> list[str]:
    position = {node: i for i, node in enumerate(fixed)}
    scale = len(fixed) / max(len(layer), 1)  # a node without neighbours keeps its place
    keyed = []
    for index, node in enumerate(layer):
        total = weighted = 0
        for other, weight in neighbours.get(node, ()):
            total += weight
            weighted += position[other] * weight
        center = weighted / total if total else index * scale
        keyed.append((center, labels.get(node, ""), node))
    keyed.sort()
    return [node for _, _, node in keyed]


def _crossings(layers: list[list[str]], down: _Adjacency) -> int:
    return sum(_crossings_between(a, b, down) for a, b in pairwise(layers))


def _crossings_between(upper: list[str], lower: list[str], down: _Adjacency) -> int:
    """Weighted crossings between two adjacent layers: going through the edges by their
    upper end, each one crosses every earlier edge whose lower end lies further down."""
    at = {node: i for i, node in enumerate(lower)}
    edges = sorted(
        (i, at[target], weight)
        for i, node in enumerate(upper)
        for target, weight in down.get(node, ())
    )
    ends: list[int] = []  # lower ends seen so far, sorted, repeated by weight
    count = 0
    for _, target, weight in edges:
        count += weight * (len(ends) - bisect_right(ends, target))
        for _ in range(weight):
            insort(ends, target)
    return count


# --- coordinates ---------------------------------------------------------------------


def _columns(layers: list[list[str]], units: Mapping[str, _Unit]) -> list[tuple[float, float]]:
    """(left x, width) of each layer's column, leaving room for badges and edges, then
    (right edge of the picture, 0) as a last entry."""
    columns: list[tuple[float, float]] = []
    cursor = MARGIN
    for layer in layers:
        real = [units[key] for key in layer if key in units]
        width = max((unit.width for unit in real), default=0.0)
        cursor += max((unit.left for unit in real), default=0.0)
        columns.append((cursor, width))
        cursor += width + max((unit.right for unit in real), default=0.0) + LAYER_GAP
    right = cursor - LAYER_GAP + MARGIN if layers else 2 * MARGIN
    return [*columns, (right, 0.0)]


def _stack(layer: list[str], units: Mapping[str, _Unit]) -> list[tuple[str, float, float]]:
    """(key, y offset, height) of each unit stacked top to bottom from 0."""
    placed: list[tuple[str, float, float]] = []
    cursor = 0.0
    for i, key in enumerate(layer):
        height = units[key].height if key in units else DUMMY_HEIGHT
        if i:
            # Lanes of long edges need less room than boxes.
            between_boxes = key in units and layer[i - 1] in units
            cursor += NODE_GAP if between_boxes else NODE_GAP / 2
        placed.append((key, cursor, height))
        cursor += height
    return placed


@dataclass(slots=True)
class _Placed:
    boxes: dict[str, Box]  # unit key -> box; dummies too
    width: float
    height: float


def _place(layers: list[list[str]], units: Mapping[str, _Unit]) -> _Placed:
    """Columns side by side; in each, the units stacked and centred vertically."""
    *columns, (right, _) = _columns(layers, units)
    stacks = [_stack(layer, units) for layer in layers]
    heights = [stack[-1][1] + stack[-1][2] if stack else 0.0 for stack in stacks]
    tallest = max(heights, default=0.0)
    boxes: dict[str, Box] = {}
    for (left, width), stack, height in zip(columns, stacks, heights, strict=True):
        top = MARGIN + (tallest - height) / 2
        for key, offset, own_height in stack:
            own = units[key].width if key in units else width
            boxes[key] = Box(left + (width - own) / 2, top + offset, own, own_height)
    return _Placed(boxes, right, tallest + 2 * MARGIN)


def _row_box(cluster: Box, row: int) -> Box:
    y = cluster.y + CLUSTER_HEADER + row * ROW_HEIGHT
    return Box(cluster.x + CLUSTER_PAD, y, cluster.width - 2 * CLUSTER_PAD, ROW_HEIGHT)


def _order_rows(
    graph: nx.DiGraph, layers: list[list[str]], units: Mapping[str, _Unit], placed: _Placed
) -> None:
    """Reorder the rows of each cluster by the mean height of the fields they touch."""
    clusters = [units[key] for layer in layers for key in layer if key.startswith(_CLUSTER)]
    center = _centers(units, placed)
    for sweep in range(FIELD_SWEEPS):
        for unit in clusters if sweep % 2 == 0 else reversed(clusters):
            unit.members = _rows_by_barycenter(graph, unit, center)
            box = placed.boxes[unit.key]
            for row, node in enumerate(unit.members):
                center[node] = _row_box(box, row).center_y


def _centers(units: Mapping[str, _Unit], placed: _Placed) -> dict[str, float]:
    center: dict[str, float] = {}
    for key, unit in units.items():
        box = placed.boxes[key]
        for row, node in enumerate(unit.members):
            cluster = key.startswith(_CLUSTER)
            center[node] = _row_box(box, row).center_y if cluster else box.center_y
    return center


def _rows_by_barycenter(graph: nx.DiGraph, unit: _Unit, center: Mapping[str, float]) -> list[str]:
    def key(node: str) -> tuple[float, str, str]:
        around = [center[other] for other in nx.all_neighbors(graph, node) if other not in inside]
        # fsum: the same mean whatever order the graph lists neighbours in
        mean = math.fsum(around) / len(around) if around else center[node]
        return mean, node_label(node, graph.nodes[node]), node

    inside = set(unit.members)
    return sorted(unit.members, key=key)


def _routes(
    graph: nx.DiGraph,
    unit_of: Mapping[str, str],
    chains: Mapping[tuple[str, str], list[str]],
    boxes: Mapping[str, Box],
) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """Waypoints of every graph edge whose units are joined through dummies."""
    routes: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for source, target in graph.edges():
        chain = chains.get((unit_of[source], unit_of[target]))
        if chain:
            routes[(source, target)] = [
                point for dummy in chain for point in _through(boxes[dummy])
            ]
    return routes


def _through(box: Box) -> tuple[tuple[float, float], tuple[float, float]]:
    """A long edge crosses a column straight, in the lane its dummy reserved."""
    return (box.x, box.center_y), (box.right, box.center_y)


def layered_layout(graph: nx.DiGraph) -> Layout:
    """Lay out a lineage subgraph: upstream left, downstream right, few crossings."""
    unit_of, units = _units(graph)
    root = root_node(graph)
    dag = _acyclic(_unit_graph(graph, unit_of), unit_of.get(root) if root else None)
    proper = _proper(dag, _ranks(dag))
    layers = _order(proper, {key: unit.label for key, unit in units.items()})
    placed = _place(layers, units)
    if is_column_level(graph):
        _order_rows(graph, layers, units, placed)
    return _assemble(graph, unit_of, units, layers, placed, proper.chains)


def _assemble(
    graph: nx.DiGraph,
    unit_of: Mapping[str, str],
    units: Mapping[str, _Unit],
    layers: list[list[str]],
    placed: _Placed,
    chains: Mapping[tuple[str, str], list[str]],
) -> Layout:
    boxes: dict[str, Box] = {}
    clusters: dict[str, Cluster] = {}
    for key, unit in units.items():
        box = placed.boxes[key]
        if not key.startswith(_CLUSTER):
            boxes[key] = box
            continue
        for row, node in enumerate(unit.members):
            boxes[node] = _row_box(box, row)
        dataset = key.removeprefix(_CLUSTER)
        label, title = cluster_names(graph, dataset, graph.nodes[unit.members[0]])
        clusters[dataset] = Cluster(dataset, label, title, box, tuple(unit.members))
    node_layers = [
        [node for key in layer if key in units for node in units[key].members] for layer in layers
    ]
    routes = _routes(graph, unit_of, chains, placed.boxes)
    return Layout(boxes, placed.width, placed.height, node_layers, clusters, routes)

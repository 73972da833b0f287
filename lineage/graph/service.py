"""Lineage subgraphs as the API and the portal ask for them.

``lineage_subgraph`` walks (or takes from the cache) the bounded neighbourhood of one
node at one level, then adds what changes with every run. The cache key holds the graph
generation (bumped by ingestion when it adds edges) and the catalog's stamp (bindings
and products), so a cached answer is never older than the graph it describes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any, Literal

import networkx as nx
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from catalog.models import DataProduct, DatasetField, Domain, PortBinding
from lineage.graph import describe
from lineage.graph.adjacency import ColumnAdjacency, IoAdjacency, ProductAdjacency, ProductIndex
from lineage.graph.ids import Key, Node, UnknownNode
from lineage.graph.walk import Adjacency, Walk, walk
from lineage.models import ColumnLineage, GraphGeneration

Level = Literal["dataset", "column", "product"]
Direction = Literal["upstream", "downstream", "both"]
LEVELS: tuple[Level, ...] = ("dataset", "column", "product")
DIRECTIONS: tuple[Direction, ...] = ("upstream", "downstream", "both")


class BadQuery(ValueError):
    """A question that cannot be asked of this node (a 400 naming ``field``)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class GraphQuery:
    node: Node
    level: Level
    direction: Direction
    depth: int
    cap: int

    @classmethod
    def asked(
        cls,
        node: Node,
        *,
        level: Level | None = None,
        direction: Direction | None = None,
        depth: int | None = None,
        cap: int | None = None,
    ) -> GraphQuery:
        """The question with what was not asked filled in from ``MESHPORT_GRAPH``."""
        return cls(
            node,
            level=level or "dataset",
            direction=direction or "both",
            depth=limits()["DEFAULT_DEPTH"] if depth is None else depth,
            cap=limits()["DEFAULT_CAP"] if cap is None else cap,
        )

    def cache_key(self, stamp: str) -> str:
        return f"graph:{stamp}:{_digest(repr(sorted(asdict(self).items())))}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def limits() -> Mapping[str, int]:
    return settings.MESHPORT_GRAPH  # type: ignore[no-any-return]


def graph_stamp() -> str:
    """What a cached walk depends on: the graph generation and the catalog's products and
    bindings, read in one statement (every answer asks)."""
    tables = {
        "generation": GraphGeneration._meta.db_table,
        "products": DataProduct._meta.db_table,
        "bindings": PortBinding._meta.db_table,
    }
    sql = (
        "SELECT (SELECT value FROM {generation} WHERE id = 1), "
        "(SELECT COUNT(*) FROM {products}), (SELECT MAX(updated_at) FROM {products}), "
        "(SELECT COUNT(*) FROM {bindings}), (SELECT MAX(id) FROM {bindings})"
    ).format(**{k: connection.ops.quote_name(v) for k, v in tables.items()})
    with connection.cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone()
    return _digest(repr(row))


def _cached(key: str, compute: Callable[[], Any]) -> Any:
    cache = caches["graph"]
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.set(key, found, limits()["CACHE_SECONDS"])
    return found


def product_index(stamp: str) -> ProductIndex:
    index: ProductIndex = _cached(f"products:{stamp}", ProductIndex.load)
    return index


def lineage_subgraph(query: GraphQuery, *, now: datetime | None = None) -> nx.DiGraph:
    """The described subgraph around ``query.node`` (see :mod:`lineage.graph`)."""
    stamp = graph_stamp()
    index = product_index(stamp)

    def compute() -> tuple[Walk, describe.Names]:
        reached = walk(
            adjacency(query.level, index),
            roots(query, index),
            direction=query.direction,
            depth=query.depth,
            cap=query.cap,
        )
        return reached, describe.names(reached.nodes, index)

    reached, named = _cached(query.cache_key(stamp), compute)
    meta = {
        "root": query.node.id,
        "level": query.level,
        "direction": query.direction,
        "depth": query.depth,
        "cap": query.cap,
    }
    graph, keys = describe.build(reached, named, meta)
    describe.add_run_states(graph, keys, now=now or timezone.now())
    return graph


def adjacency(level: Level, index: ProductIndex) -> Adjacency:
    if level == "column":
        return ColumnAdjacency()
    if level == "product":
        return ProductAdjacency(index)
    return IoAdjacency()


def roots(query: GraphQuery, index: ProductIndex) -> list[Key]:
    """Where a walk starts: the node itself, or what stands for it at the asked level (a
    product's bound datasets, a dataset's fields, a dataset's products)."""
    node, level = query.node, query.level
    if level == "dataset":
        if node.kind == "product":
            return [("dataset", pk) for pk in sorted(index.datasets.get(node.key[1], ()))]
        if node.kind == "field":
            return [("dataset", node.key[1])]
        return [node.key]
    if level == "column":
        if node.kind == "field":
            return [node.key]
        if node.kind == "dataset":
            return [("field", node.key[1], name) for name in dataset_fields(node.key[1])]
        raise BadQuery("nodeId", "column lineage starts at a dataset or a datasetField")
    if node.kind == "product":
        return [node.key]
    if node.kind in ("dataset", "field"):
        owners = sorted(index.owners.get(node.key[1], ()))
        if not owners:
            raise UnknownNode(f"no data product is bound to {node.id}")
        return [("product", pk) for pk in owners]
    raise BadQuery("level", "product lineage starts at a product, a dataset or a field")


def dataset_fields(dataset: int) -> list[str]:
    """The fields of a dataset: its schema, and those only column lineage names."""
    names = list(
        DatasetField.objects.filter(dataset_id=dataset)
        .order_by("ordinal")
        .values_list("name", flat=True)
    )
    extra = (
        ColumnLineage.objects.filter(output_dataset_id=dataset)
        .exclude(output_field="")
        .exclude(output_field__in=names)
        .order_by("output_field")
        .values_list("output_field", flat=True)
        .distinct()
    )
    return names + list(extra)


# --- filters ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """Keep the nodes that match (and what connects them to the root)."""

    namespaces: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    states: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.namespaces or self.domains or self.states)

    def matcher(self) -> Callable[[Mapping[str, Any]], bool]:
        domains = _with_subdomains(self.domains) if self.domains else set()

        def match(node: Mapping[str, Any]) -> bool:
            return (
                (not self.namespaces or node.get("namespace") in self.namespaces)
                and (not domains or node.get("domain") in domains)
                and (
                    not self.states
                    or node.get("state") in self.states
                    or ("late" in self.states and bool(node.get("late")))
                )
            )

        return match


def _with_subdomains(slugs: Collection[str]) -> set[str]:
    rows = Domain.objects.filter(Q(slug__in=slugs) | Q(parent__slug__in=slugs))
    return set(rows.values_list("slug", flat=True))


def keep_matching(graph: nx.DiGraph, filters: Filters) -> nx.DiGraph:
    """The subgraph of the root, the matching nodes and the nodes on their way to the
    root; ``filtered_out`` says how many nodes the filters removed."""
    if not filters:
        return graph
    match = filters.matcher()
    side = dict(graph.nodes(data="side"))
    keep = {n for n, s in side.items() if s == "root"}
    hits = [n for n, data in graph.nodes(data=True) if match(data)]
    # Upstream nodes lead to the root along their successors, downstream along predecessors.
    for start in hits:
        if start in keep:
            continue
        step = graph.successors if side[start] == "upstream" else graph.predecessors
        stack = [start]
        while stack:
            node = stack.pop()
            if node in keep:
                continue
            keep.add(node)
            stack.extend(n for n in step(node) if side[n] in (side[start], "root"))
    kept: nx.DiGraph = graph.subgraph(keep).copy()
    kept.graph["filtered_out"] = graph.number_of_nodes() - kept.number_of_nodes()
    return kept


# --- expanding a boundary node in place -------------------------------------------------


def expand(graph: nx.DiGraph, query: GraphQuery, node: Node, side: Direction) -> None:
    """Add one more hop beyond ``node`` on ``side`` into ``graph`` (a "+N more" clicked):
    the new nodes get distances counted from the graph's root."""
    if node.id not in graph or side == "both":
        return
    more = lineage_subgraph(replace(query, node=node, direction=side, depth=1))
    base = graph.nodes[node.id]["distance"]
    for other, data in more.nodes(data=True):
        if other not in graph:
            graph.add_node(other, **{**data, "side": side, "distance": base + data["distance"]})
    graph.add_edges_from(more.edges(data=True))
    graph.nodes[node.id][f"hidden_{side}"] = more.nodes[node.id][f"hidden_{side}"]
    cut = {*graph.graph["truncated"], *more.graph["truncated"]}
    still_cut = any(
        d["hidden_upstream"] or d["hidden_downstream"] for _, d in graph.nodes(data=True)
    )
    graph.graph["truncated"] = sorted(cut) if still_cut else []

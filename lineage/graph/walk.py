"""Directed, bounded breadth-first walks over an adjacency that answers in batches.

The walk never sees the whole graph: it asks the adjacency for the neighbours of one
frontier at a time (one SQL query per node kind and hop), and stops at the depth or the
node cap, remembering for every boundary node how many neighbours it left out.

Depth counts *hops*, and the adjacency says what a hop is by the cost of entering a
node: at the job/dataset level entering a job costs 1 and entering a dataset 0, so depth
2 upstream of a dataset is its writers, their inputs, the writers of those and their
inputs — two jobs deep, with the datasets each job reads. Cost-0 neighbours of a node
within the depth are always taken (while the cap allows), so a job never appears
without its inputs or outputs on the walked side.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from lineage.graph.ids import Key

Side = Literal["upstream", "downstream"]
Attrs = Mapping[str, Any]


class Adjacency(Protocol):
    """One graph level as stored: what a walk may ask about nodes, in batches."""

    def neighbours(
        self, keys: Sequence[Key], side: Side, among: Collection[Key] | None = None
    ) -> Mapping[Key, Sequence[tuple[Key, Attrs]]]:
        """Neighbours of each key on ``side`` with the edge's attributes, in a stable
        order; with ``among``, only those neighbours that are in it."""

    def count(self, keys: Sequence[Key], side: Side) -> Mapping[Key, int] | None:
        """How many neighbours each key has on ``side`` (``None``: not cheaper than
        :meth:`neighbours`, which the walk then uses)."""

    def cost(self, key: Key) -> int:
        """Hops spent entering ``key`` (0 or 1)."""

    def next_cost(self, key: Key, side: Side) -> int | None:
        """The cost of every neighbour of ``key`` on ``side`` when they all cost the
        same, else ``None``."""


@dataclass
class Walk:
    """What a walk reached: nodes with their side and distance, data-flow edges, and
    per boundary node the neighbours left out on each side."""

    nodes: dict[Key, tuple[str, int]] = field(default_factory=dict)
    edges: dict[tuple[Key, Key], Attrs] = field(default_factory=dict)
    hidden: dict[Key, dict[Side, int]] = field(default_factory=dict)
    truncated: set[str] = field(default_factory=set)

    def hide(self, key: Key, side: Side, n: int = 1) -> None:
        if n > 0:
            per_side = self.hidden.setdefault(key, {})
            per_side[side] = per_side.get(side, 0) + n


def _edge(key: Key, other: Key, side: Side) -> tuple[Key, Key]:
    return (other, key) if side == "upstream" else (key, other)


@dataclass
class _Side:
    adjacency: Adjacency
    walk: Walk
    side: Side
    depth: int
    cap: int
    stop: Callable[[Key], bool]

    def run(self, roots: Sequence[Key]) -> None:
        level, distance = list(roots), 0
        while level:
            level = self._level(level, distance)
            distance += 1

    def _level(self, queue: list[Key], distance: int) -> list[Key]:
        """Expand every node at ``distance`` (cost-0 neighbours join the same level);
        returns the next level."""
        following: list[Key] = []
        while queue:
            open_, boundary = self._split(queue, distance)
            self._count_boundary(boundary)
            found = self.adjacency.neighbours(open_, self.side) if open_ else {}
            queue = []
            for key in open_:
                for other, attrs in found.get(key, ()):
                    self._reach(key, other, attrs, distance, queue, following)
        return following

    def _split(self, keys: list[Key], distance: int) -> tuple[list[Key], list[Key]]:
        """Nodes to expand, and boundary nodes whose every neighbour would be cut."""
        open_: list[Key] = []
        boundary: list[Key] = []
        full = len(self.walk.nodes) >= self.cap
        for key in keys:
            if self.stop(key):
                continue
            cost = self.adjacency.next_cost(key, self.side)
            cut = full or (cost is not None and distance + cost > self.depth)
            (boundary if cut and cost is not None else open_).append(key)
        return open_, boundary

    def _count_boundary(self, keys: list[Key]) -> None:
        """Count what lies beyond ``keys``; edges to nodes already reached still show."""
        if not keys:
            return
        reached = self.walk.nodes.keys()
        present: Mapping[Key, Sequence[tuple[Key, Attrs]]]
        counts = self.adjacency.count(keys, self.side)
        if counts is None:
            # Fetching is the only way to count here: the edges to reached nodes come with it.
            found = self.adjacency.neighbours(keys, self.side)
            counts = {k: len(v) for k, v in found.items()}
            present = {k: [(o, a) for o, a in v if o in reached] for k, v in found.items()}
        else:
            present = self.adjacency.neighbours(keys, self.side, among=reached)
        for key in keys:
            shown = present.get(key, ())
            for other, attrs in shown:
                self.walk.edges[_edge(key, other, self.side)] = attrs
            beyond = counts.get(key, 0) - len(shown)
            if beyond > 0:
                self.walk.hide(key, self.side, beyond)
                self._cut(len(self.walk.nodes) >= self.cap)

    def _reach(
        self,
        key: Key,
        other: Key,
        attrs: Attrs,
        distance: int,
        same: list[Key],
        following: list[Key],
    ) -> None:
        walk = self.walk
        if other in walk.nodes:
            walk.edges[_edge(key, other, self.side)] = attrs
            return
        cost = self.adjacency.cost(other)
        if distance + cost > self.depth or len(walk.nodes) >= self.cap:
            walk.hide(key, self.side)
            self._cut(len(walk.nodes) >= self.cap)
            return
        walk.nodes[other] = (self.side, distance + cost)
        walk.edges[_edge(key, other, self.side)] = attrs
        (following if cost else same).append(other)

    def _cut(self, by_cap: bool) -> None:
        self.walk.truncated.add("cap" if by_cap else "depth")


def walk(
    adjacency: Adjacency,
    roots: Sequence[Key],
    *,
    direction: Literal["upstream", "downstream", "both"],
    depth: int,
    cap: int,
    stop: Callable[[Key], bool] | None = None,
) -> Walk:
    """Walk from ``roots`` on one side or both, within ``depth`` hops and ``cap`` nodes.

    ``stop`` marks nodes that are reached but never expanded (a product boundary). With
    ``both``, upstream gets half the cap and downstream what is left.
    """
    result = Walk(nodes={key: ("root", 0) for key in roots})
    never: Callable[[Key], bool] = lambda key: False  # noqa: E731
    sides: list[Side] = ["upstream", "downstream"] if direction == "both" else [direction]
    for side in sides:
        budget = cap if len(sides) == 1 or side == "downstream" else (cap + len(roots)) // 2
        _Side(adjacency, result, side, depth, max(budget, len(roots)), stop or never).run(roots)
    return result

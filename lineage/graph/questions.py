"""The questions people bring to lineage, answered from bounded subgraphs.

- impact: what is downstream of a dataset or a column, how far, and who owns it;
- root cause: which upstream jobs failed or are late;
- path: how data gets from one node to another, or that it does not within the depth.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import networkx as nx

from catalog.models import Dataset, TeamMember
from lineage.graph.ids import Node
from lineage.graph.service import BadQuery, GraphQuery, Level, lineage_subgraph
from lineage.models import Job, Run

IMPACT_COLUMNS = (
    "id",
    "kind",
    "distance",
    "namespace",
    "name",
    "field",
    "product",
    "owners",
    "state",
    "url",
)


def _owners_by_product(products: Iterable[str]) -> dict[str, list[str]]:
    """Owners of each product (by external id): its team's owner roles."""
    rows = (
        TeamMember.objects.filter(
            team__products__external_id__in=set(products), role__in=TeamMember.OWNER_ROLES
        )
        .order_by("person__username")
        .values_list("team__products__external_id", "person__name", "person__username", "role")
    )
    found: dict[str, list[str]] = defaultdict(list)
    for product, name, username, role in rows:
        label = f"{name or username} ({role.replace('_', ' ')})"
        if label not in found[product]:
            found[product].append(label)
    return found


def _declared_owners(graph: nx.DiGraph) -> dict[str, list[str]]:
    """Owners the producers declared (ownership facets) on datasets and jobs."""
    pks: dict[str, list[int]] = defaultdict(list)
    for _, data in graph.nodes(data=True):
        if data["kind"] in ("dataset", "job"):
            pks[data["kind"]].append(data["pk"])
    found: dict[str, list[str]] = {}
    for model, kind in ((Dataset, "dataset"), (Job, "job")):
        for pk, owners in model.objects.filter(pk__in=pks[kind]).values_list("pk", "owners"):
            names = [o.get("name", "") for o in owners or () if isinstance(o, dict)]
            found[f"{kind}:{pk}"] = [n for n in names if n]
    return found


def impact(query: GraphQuery) -> tuple[nx.DiGraph, list[dict[str, Any]]]:
    """Everything downstream of ``query.node`` with its distance, product and owners,
    nearest first. A field's impact is walked at the column level."""
    level = "column" if query.node.kind == "field" else query.level
    graph = lineage_subgraph(replace(query, direction="downstream", level=level))
    product_owners = _owners_by_product(
        d["product"] for _, d in graph.nodes(data=True) if d["product"]
    )
    declared = _declared_owners(graph)
    rows = []
    for node, data in graph.nodes(data=True):
        if data["side"] == "root":
            continue
        owners = product_owners.get(data["product"], []) or declared.get(
            f"{data['kind']}:{data['pk']}", []
        )
        rows.append(
            {
                "id": node,
                "kind": data["kind"],
                "distance": data["distance"],
                "namespace": data["namespace"],
                "name": data.get("dataset") or data["name"],
                "field": data.get("field", ""),
                "product": data["product"],
                "owners": owners,
                "state": data["state"],
                "url": data["url"],
            }
        )
    rows.sort(key=lambda r: (r["distance"], r["kind"] != "dataset", r["id"]))
    return graph, rows


def root_cause(query: GraphQuery) -> tuple[nx.DiGraph, list[dict[str, Any]]]:
    """Upstream jobs whose latest run failed or was aborted, or that are late, nearest
    first, with the run to open."""
    graph = lineage_subgraph(replace(query, direction="upstream", level="dataset"))
    suspects = {
        data["pk"]: node
        for node, data in graph.nodes(data=True)
        if data["kind"] == "job" and (data["state"] in ("FAILED", "ABORTED") or data["late"])
    }
    runs = _latest_runs(suspects)
    rows = []
    for pk, node in suspects.items():
        data, run = graph.nodes[node], runs.get(pk)
        rows.append(
            {
                "id": node,
                "distance": data["distance"],
                "state": data["state"],
                "late": data["late_reason"],
                "run": str(run.uuid) if run else None,
                "runUrl": run.get_absolute_url() if run else None,
                "endedAt": run.ended_at.isoformat() if run and run.ended_at else None,
                "error": run.error_message if run else "",
                "url": data["url"],
            }
        )
    rows.sort(key=lambda r: (r["distance"], r["id"]))
    return graph, rows


def _latest_runs(jobs: Iterable[int]) -> dict[int, Run]:
    latest = Job.objects.filter(pk__in=set(jobs)).values("latest_run_id")
    runs = Run.objects.filter(pk__in=latest).only("uuid", "job_id", "ended_at", "error_message")
    return {run.job_id: run for run in runs}


@dataclass(frozen=True)
class Path:
    nodes: list[str]
    graph: nx.DiGraph | None

    @property
    def found(self) -> bool:
        return bool(self.nodes)


def path_level(source: Node, target: Node) -> Level:
    """The level two nodes meet at: fields in the column graph, products among products."""
    kinds = {source.kind, target.kind}
    if "field" in kinds:
        if kinds != {"field"}:
            raise BadQuery("to", "a path from a field leads to another field")
        return "column"
    if "product" in kinds:
        if kinds != {"product"}:
            raise BadQuery("to", "a path from a product leads to another product")
        return "product"
    return "dataset"


def path_between(source: Node, target: Node, *, depth: int, cap: int) -> Path:
    """The shortest directed path from ``source`` to ``target`` (downstream), else from
    ``target`` to ``source``; no path within ``depth`` hops gives an empty path."""
    level = path_level(source, target)
    for start, end in ((source, target), (target, source)):
        query = GraphQuery(start, level=level, direction="downstream", depth=depth, cap=cap)
        graph = lineage_subgraph(query)
        if end.id in graph:
            nodes = nx.shortest_path(graph, start.id, end.id)
            return Path(nodes, graph.subgraph(nodes).copy())
    return Path([], None)

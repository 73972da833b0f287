"""Subgraphs in Marquez's shapes: ``GET /api/v1/lineage`` and ``/api/v1/column-lineage``.

``{"graph": [{"id", "type", "data", "inEdges": [{"origin", "destination"}], "outEdges"}]}``
with ``DATASET``/``JOB`` nodes carrying Marquez's ``DatasetData``/``JobData``, and
``DATASET_FIELD`` nodes carrying ``ColumnLineageNodeData``. Node data comes from a fixed
number of queries whatever the size of the graph.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import networkx as nx

from catalog.models import Dataset, DatasetField
from lineage.marquez import JOB_TYPES, field_json, tag_names
from lineage.models import Job, JobDataset, Run

_TYPES = {"dataset": "DATASET", "job": "JOB", "field": "DATASET_FIELD"}


def _edges(graph: nx.DiGraph, node: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    incoming = [{"origin": s, "destination": node} for s in sorted(graph.predecessors(node))]
    outgoing = [{"origin": node, "destination": t} for t in sorted(graph.successors(node))]
    return incoming, outgoing


def marquez_graph(graph: nx.DiGraph) -> dict[str, Any]:
    """``GET /api/v1/lineage``: datasets and jobs, with Meshport's truncation added."""
    pks = defaultdict(list)
    for _, data in graph.nodes(data=True):
        pks[data["kind"]].append(data["pk"])
    data = {("dataset", pk): d for pk, d in _dataset_data(pks["dataset"]).items()}
    data.update({("job", pk): d for pk, d in _job_data(pks["job"]).items()})
    nodes = []
    for node, attrs in sorted(graph.nodes(data=True)):
        incoming, outgoing = _edges(graph, node)
        nodes.append(
            {
                "id": node,
                "type": _TYPES[attrs["kind"]],
                "data": data.get((attrs["kind"], attrs["pk"])),
                "inEdges": incoming,
                "outEdges": outgoing,
            }
        )
    return {"graph": nodes, **_cut(graph)}


def _cut(graph: nx.DiGraph) -> dict[str, Any]:
    hidden = {
        node: {"upstream": a["hidden_upstream"], "downstream": a["hidden_downstream"]}
        for node, a in graph.nodes(data=True)
        if a["hidden_upstream"] or a["hidden_downstream"]
    }
    return {"truncated": graph.graph["truncated"], "hidden": hidden}


def _dataset_data(pks: list[int]) -> dict[int, dict[str, Any]]:
    fields = defaultdict(list)
    rows = DatasetField.objects.filter(dataset_id__in=pks).order_by("ordinal", "id")
    for pk, *field in rows.values_list("dataset_id", "name", "type", "description", "tags"):
        fields[pk].append(field_json(*field))
    found = {}
    for ds in Dataset.objects.filter(pk__in=pks).select_related("namespace").defer("facets"):
        found[ds.pk] = {
            "id": {"namespace": ds.namespace.name, "name": ds.name},
            "type": ds.type,
            "name": ds.name,
            "physicalName": ds.physical_name or ds.name,
            "createdAt": _iso(ds.created_at),
            "updatedAt": _iso(ds.updated_at),
            "namespace": ds.namespace.name,
            "sourceName": ds.source_name or "default",
            "fields": fields[ds.pk],
            "tags": tag_names(ds.tags),
            "lastModifiedAt": _iso(ds.last_modified_at),
            "description": ds.description or None,
            "lastLifecycleState": ds.lifecycle_state or None,
        }
    return found


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _job_data(pks: list[int]) -> dict[int, dict[str, Any]]:
    io: dict[int, dict[str, list[dict[str, str]]]] = defaultdict(lambda: defaultdict(list))
    for job_pk, direction, ns, name in (
        JobDataset.objects.filter(job_id__in=pks)
        .order_by("dataset__namespace__name", "dataset__name")
        .values_list("job_id", "direction", "dataset__namespace__name", "dataset__name")
    ):
        io[job_pk][direction].append({"namespace": ns, "name": name})
    jobs = list(
        Job.objects.filter(pk__in=pks)
        .select_related("namespace", "parent")
        .defer("facets", "sql", "parent__facets", "parent__sql")
    )
    runs = _latest_runs(jobs)
    found = {}
    for job in jobs:
        prefix = f"{job.parent.name}." if job.parent else ""
        found[job.pk] = {
            "id": {"namespace": job.namespace.name, "name": job.name},
            "type": JOB_TYPES.get(job.type.upper(), "BATCH"),
            "name": job.name,
            "simpleName": job.name.removeprefix(prefix) if prefix else job.name,
            "parentJobName": job.parent.name if job.parent else None,
            "createdAt": _iso(job.created_at),
            "updatedAt": _iso(job.updated_at),
            "namespace": job.namespace.name,
            "inputs": io[job.pk]["input"],
            "outputs": io[job.pk]["output"],
            "location": job.source_code_location.get("url"),
            "description": job.description or None,
            "latestRun": runs.get(job.latest_run_id) if job.latest_run_id else None,
        }
    return found


_RUN_FIELDS = (
    "pk",
    "uuid",
    "created_at",
    "updated_at",
    "nominal_start_time",
    "nominal_end_time",
    "state",
    "started_at",
    "ended_at",
)


def _latest_runs(jobs: list[Job]) -> dict[int, dict[str, Any]]:
    """Each job's latest run as Marquez's ``Run`` without its facets and dataset versions:
    a graph carries hundreds of them, and ``/api/v1/jobs/runs/{id}`` has the rest."""
    ids = [j.latest_run_id for j in jobs if j.latest_run_id]
    found = {}
    for row in Run.objects.filter(pk__in=ids).values(*_RUN_FIELDS) if ids else ():
        started, ended = row["started_at"], row["ended_at"]
        found[row["pk"]] = {
            "id": str(row["uuid"]),
            "createdAt": _iso(row["created_at"]),
            "updatedAt": _iso(row["updated_at"]),
            "nominalStartTime": _iso(row["nominal_start_time"]),
            "nominalEndTime": _iso(row["nominal_end_time"]),
            "state": row["state"],
            "startedAt": _iso(started),
            "endedAt": _iso(ended),
            "durationMs": int((ended - started).total_seconds() * 1000)
            if started and ended
            else None,
        }
    return found


def marquez_column_graph(graph: nx.DiGraph) -> dict[str, Any]:
    """``GET /api/v1/column-lineage``: one ``DATASET_FIELD`` node per field, listing the
    fields it is derived from (with how) in ``inputFields``."""
    nodes = []
    for node, attrs in sorted(graph.nodes(data=True)):
        inputs = []
        for source in sorted(graph.predecessors(node)):
            edge, src = graph.edges[source, node], graph.nodes[source]
            inputs.append(
                {
                    "namespace": src["namespace"],
                    "dataset": src["dataset"],
                    "datasetVersion": None,
                    "field": src["field"],
                    "transformationDescription": edge.get("description") or None,
                    "transformationType": edge.get("transformation_type") or None,
                }
            )
        incoming, outgoing = _edges(graph, node)
        nodes.append(
            {
                "id": node,
                "type": "DATASET_FIELD",
                "data": {
                    "namespace": attrs["namespace"],
                    "dataset": attrs["dataset"],
                    "datasetVersion": None,
                    "field": attrs["field"],
                    "fieldType": attrs["type"] or None,
                    "transformationDescription": inputs[0]["transformationDescription"]
                    if inputs
                    else None,
                    "transformationType": inputs[0]["transformationType"] if inputs else None,
                    "inputFields": inputs,
                },
                "inEdges": incoming,
                "outEdges": outgoing,
            }
        )
    return {"graph": nodes, **_cut(graph)}

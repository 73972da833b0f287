"""From a walk's keys to the described subgraph (see :mod:`lineage.graph`).

What names a node (ids, labels, urls, products, PII) depends only on the graph and the
catalog, so it is cached with the walk; what a run changes (states, lateness) is read
fresh on every answer, in two queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache
from typing import Any, cast
from urllib.parse import quote

import networkx as nx
from django.db.models import F
from django.urls import reverse

from catalog.models import DataProduct, Dataset, DatasetField, PortBinding
from catalog.tags import says_pii
from lineage.graph.adjacency import ProductIndex
from lineage.graph.ids import Key, dataset_id, field_id, job_id, product_id
from lineage.graph.walk import Walk
from lineage.models import Job
from lineage.selectors import job_lateness

Names = dict[Key, dict[str, Any]]

# Worst first: the state a dataset shows when several jobs write it.
_STATE_RANK = {"FAILED": 0, "ABORTED": 1, "RUNNING": 2, "NEW": 3, "COMPLETED": 4}


@cache
def _url_pattern(name: str) -> tuple[str, str]:
    """The URL of ``name`` split around its one argument: reversing it once instead of
    for every node of every answer."""
    marker = "9876543210123"  # digits, so that int converters accept it too
    head, _, tail = reverse(name, args=[marker]).partition(marker)
    return head, tail


def _url(name: str, arg: object) -> str:
    head, tail = _url_pattern(name)
    return f"{head}{quote(str(arg), safe='/')}{tail}"


def names(keys: Iterable[Key], index: ProductIndex) -> Names:
    """What each node is called and where it lives, a query per kind."""
    by_kind: dict[str, list[Key]] = defaultdict(list)
    for key in keys:
        by_kind[key[0]].append(key)
    found: Names = {}
    dataset_pks = {k[1] for k in by_kind["dataset"]} | {k[1] for k in by_kind["field"]}
    datasets = _datasets(dataset_pks, index)
    found.update({k: datasets[k[1]] for k in by_kind["dataset"] if k[1] in datasets})
    found.update(_jobs([k[1] for k in by_kind["job"]]))
    found.update(_fields(by_kind["field"], datasets))
    found.update(_products([k[1] for k in by_kind["product"]]))
    return found


def _datasets(pks: set[int], index: ProductIndex) -> dict[int, dict[str, Any]]:
    if not pks:
        return {}
    rows = list(
        Dataset.objects.filter(pk__in=pks).values(
            "pk", "namespace__name", "name", "subtype", "tags"
        )
    )
    owners = _product_ids({p for pk in pks for p in index.owners.get(pk, ())})
    # Only a dataset bound to a product has a contract to declare personal fields.
    bound = {(r["namespace__name"], r["name"]): r["pk"] for r in rows if r["pk"] in index.owners}
    contract_pii = _contract_pii(bound) if bound else {}
    found = {}
    for row in rows:
        ns, name, pk = row["namespace__name"], row["name"], row["pk"]
        tagged, tagged_fields = _tagged_pii(row["tags"])
        pii_fields = contract_pii.get(pk, set()) | tagged_fields
        products = sorted(owners[p] for p in index.owners.get(pk, ()) if p in owners)
        product, domain = products[0] if products else ("", "")
        found[pk] = {
            "kind": "dataset",
            "namespace": ns,
            "name": name,
            "label": name,
            "title": f"{ns}:{name}",
            "url": _url("catalog:dataset-detail", pk),
            "type": row["subtype"],
            "product": product,
            "domain": domain,
            "pii": tagged or bool(pii_fields),
            "pii_fields": sorted(pii_fields),
        }
    return found


def _product_ids(pks: set[int]) -> dict[int, tuple[str, str]]:
    """(external id, domain slug) of each product."""
    rows = DataProduct.objects.filter(pk__in=pks).values_list("pk", "external_id", "domain__slug")
    return {pk: (external_id, domain or "") for pk, external_id, domain in rows}


def _contract_pii(keys: Mapping[tuple[str, str], int]) -> dict[int, set[str]]:
    """Fields a bound contract declares personal, by dataset pk (datasets by name)."""
    rows = (
        PortBinding.objects.filter(
            namespace__in={ns for ns, _ in keys},
            name__in={n for _, n in keys},
            port__contract__schema_objects__name=F("object_name"),
            port__contract__schema_objects__properties__pii=True,
        )
        .values_list("namespace", "name", "port__contract__schema_objects__properties__path")
        .distinct()
    )
    found: dict[int, set[str]] = defaultdict(set)
    for ns, name, path in rows:
        if (ns, name) in keys:
            found[keys[(ns, name)]].add(path)
    return found


def _tagged_pii(tags: Iterable[Any]) -> tuple[bool, set[str]]:
    """(the dataset is tagged personal, the fields tagged personal) from a tags facet,
    whose entries may name a field."""
    whole, fields = False, set()
    for tag in tags or ():
        if says_pii([tag]):
            if isinstance(tag, dict) and tag.get("field"):
                fields.add(str(tag["field"]))
            else:
                whole = True
    return whole, fields


def _jobs(pks: list[int]) -> Names:
    rows = Job.objects.filter(pk__in=pks).values("pk", "namespace__name", "name")
    return {
        ("job", row["pk"]): {
            "kind": "job",
            "namespace": row["namespace__name"],
            "name": row["name"],
            "label": row["name"],
            "title": f"{row['namespace__name']}:{row['name']}",
            "url": _url("lineage:job-detail", row["pk"]),
        }
        for row in rows
    }


def _fields(keys: list[Key], datasets: Mapping[int, dict[str, Any]]) -> Names:
    fields = cast(list[tuple[str, int, str]], keys)
    types = {
        (pk, name): kind
        for pk, name, kind in DatasetField.objects.filter(
            dataset_id__in={k[1] for k in fields}
        ).values_list("dataset_id", "name", "type")
    }
    found: Names = {}
    for key in fields:
        dataset = datasets.get(key[1])
        if dataset is None:
            continue
        found[key] = {
            "kind": "field",
            "namespace": dataset["namespace"],
            "name": key[2],
            "dataset": dataset["name"],
            "field": key[2],
            "label": key[2],
            "title": f"{dataset['title']}.{key[2]}",
            "url": dataset["url"],
            "type": types.get((key[1], key[2]), ""),
            "product": dataset["product"],
            "domain": dataset["domain"],
            "pii": key[2] in dataset["pii_fields"],
        }
    return found


def _products(pks: list[int]) -> Names:
    rows = DataProduct.objects.filter(pk__in=pks).values(
        "pk", "external_id", "name", "status", "domain__slug"
    )
    return {
        ("product", row["pk"]): {
            "kind": "product",
            "namespace": "",
            "name": row["external_id"],
            "label": row["name"] or row["external_id"],
            "title": f"{row['name']} ({row['external_id']})",
            "url": _url("catalog:product-detail", row["external_id"]),
            "status": row["status"],
            "product": row["external_id"],
            "domain": row["domain__slug"] or "",
        }
        for row in rows
    }


def node_id(key: Key, attrs: Mapping[str, Any]) -> str:
    kind = attrs["kind"]
    if kind == "dataset":
        return dataset_id(attrs["namespace"], attrs["name"])
    if kind == "job":
        return job_id(attrs["namespace"], attrs["name"])
    if kind == "field":
        return field_id(attrs["namespace"], attrs["dataset"], attrs["field"])
    return product_id(attrs["name"])


_DEFAULTS = {"pii": False, "product": "", "domain": "", "type": "", "status": ""}


def build(walk: Walk, named: Names, meta: Mapping[str, Any]) -> tuple[nx.DiGraph, dict[str, Key]]:
    """The described subgraph (node ids as keys, the contract's attributes), and the
    traversal key of each node id."""
    graph = nx.DiGraph(**meta, truncated=sorted(walk.truncated))
    ids: dict[Key, str] = {}
    for key, (side, distance) in walk.nodes.items():
        attrs = named.get(key)
        if attrs is None:  # deleted since the walk was cached
            continue
        ids[key] = node_id(key, attrs)
        hidden = walk.hidden.get(key, {})
        graph.add_node(
            ids[key],
            **{k: v for k, v in attrs.items() if k != "pii_fields"},
            **{k: v for k, v in _DEFAULTS.items() if k not in attrs},
            pk=key[1],
            side=side,
            distance=distance,
            hidden_upstream=hidden.get("upstream", 0),
            hidden_downstream=hidden.get("downstream", 0),
            state="",
            late=False,
            late_reason="",
        )
    for (source, target), edge in walk.edges.items():
        if source in ids and target in ids:
            graph.add_edge(ids[source], ids[target], **edge)
    return graph, {node: key for key, node in ids.items()}


def add_run_states(graph: nx.DiGraph, keys: Mapping[str, Key], *, now: datetime) -> None:
    """Latest run state and lateness of each job, and the worst of its writers' on each
    dataset: the part of a picture that changes with every run."""
    jobs = {keys[node][1]: node for node, kind in graph.nodes(data="kind") if kind == "job"}
    if not jobs:
        return
    states = dict(Job.objects.filter(pk__in=jobs).values_list("pk", "latest_run__state"))
    late = job_lateness(list(jobs), now=now)
    for pk, node in jobs.items():
        graph.nodes[node].update(
            state=states.get(pk) or "", late=pk in late, late_reason=late.get(pk, "")
        )
    for node, data in graph.nodes(data=True):
        if data["kind"] != "dataset":
            continue
        writers = [graph.nodes[w] for w in graph.predecessors(node)]
        known = [w["state"] for w in writers if w["state"]]
        if known:
            data["state"] = min(known, key=lambda s: _STATE_RANK.get(s, 5))
        data["late"] = any(w["late"] for w in writers)

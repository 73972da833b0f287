"""Node ids as the API speaks them, and the rows they name.

``dataset:<namespace>:<name>`` cannot be split on ``:`` alone: namespaces hold ports
(``kafka://broker:9092``) and names hold colons too (``topic:proj:topic``, ARNs). Every
split is a candidate and the database says which one exists, in two queries whatever
the number of colons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from catalog.models import DataProduct, Dataset, DatasetField
from lineage.models import ColumnLineage, Job

Kind = Literal["dataset", "job", "field", "product"]

# Internal keys of the traversal: ("dataset", pk), ("job", pk), ("product", pk) and
# ("field", dataset pk, field name).
Key = tuple[str, int] | tuple[str, int, str]

_PREFIXES: dict[str, Kind] = {
    "dataset": "dataset",
    "job": "job",
    "datasetField": "field",
    "product": "product",
}
EXPECTED = (
    "dataset:<namespace>:<name>, job:<namespace>:<name>, "
    "datasetField:<namespace>:<dataset>:<field> or product:<id>"
)


class InvalidNodeId(ValueError):
    """The value is not a node id at all (a 400)."""


class UnknownNode(LookupError):
    """The id is well formed but names nothing Meshport knows (a 404)."""


@dataclass(frozen=True)
class Node:
    """A resolved node: its canonical id and the traversal key."""

    id: str
    kind: Kind
    key: Key


def dataset_id(namespace: str, name: str) -> str:
    return f"dataset:{namespace}:{name}"


def job_id(namespace: str, name: str) -> str:
    return f"job:{namespace}:{name}"


def field_id(namespace: str, dataset: str, field: str) -> str:
    return f"datasetField:{namespace}:{dataset}:{field}"


def product_id(external_id: str) -> str:
    return f"product:{external_id}"


def split_kind(value: str) -> tuple[Kind, str]:
    prefix, sep, rest = value.partition(":")
    kind = _PREFIXES.get(prefix)
    if not sep or kind is None or not rest:
        raise InvalidNodeId(f"expected {EXPECTED}, got {value!r}")
    return kind, rest


def _splits(text: str) -> list[tuple[str, str]]:
    """Every ``(left, right)`` split of ``text`` at one of its colons, both non-empty."""
    return [
        (text[:i], text[i + 1 :])
        for i, ch in enumerate(text)
        if ch == ":" and 0 < i < len(text) - 1
    ]


def resolve(value: str) -> Node:
    """The node ``value`` names; raises :class:`InvalidNodeId` or :class:`UnknownNode`."""
    kind, rest = split_kind(value)
    if kind == "product":
        product = DataProduct.objects.filter(external_id=rest).values_list("pk", flat=True)
        pk = product.first()
        if pk is None:
            raise UnknownNode(f"no data product {rest!r}")
        return Node(product_id(rest), kind, ("product", pk))
    if kind == "field":
        return _resolve_field(rest)
    candidates = _splits(rest)
    if not candidates:
        raise InvalidNodeId(f"expected {EXPECTED}, got {value!r}")
    model = Dataset if kind == "dataset" else Job
    found = _existing(model, candidates)
    if not found:
        raise UnknownNode(f"no {kind} {rest!r}")
    # Two readings of one id that both exist: the longer namespace is the likelier one.
    (namespace, name), pk = max(found.items(), key=lambda item: len(item[0][0]))
    make = dataset_id if kind == "dataset" else job_id
    return Node(make(namespace, name), kind, (kind, pk))


def _existing(
    model: type[Dataset] | type[Job], pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    rows = model.objects.filter(
        namespace__name__in={ns for ns, _ in pairs}, name__in={n for _, n in pairs}
    ).values_list("namespace__name", "name", "pk")
    wanted = set(pairs)
    return {(ns, name): pk for ns, name, pk in rows if (ns, name) in wanted}


def _resolve_field(rest: str) -> Node:
    triples = [(ns, ds, field) for ns, tail in _splits(rest) for ds, field in _splits(tail)]
    if not triples:
        raise InvalidNodeId(f"expected {EXPECTED}, got 'datasetField:{rest}'")
    datasets = _existing(Dataset, [(ns, ds) for ns, ds, _ in triples])
    if not datasets:
        raise UnknownNode(f"no dataset holding the field {rest!r}")
    readings = [(t, datasets[t[:2]]) for t in triples if t[:2] in datasets]
    for (ns, ds, field), pk in sorted(readings, key=lambda r: -len(r[0][0])):
        if _field_known(pk, field):
            return Node(field_id(ns, ds, field), "field", ("field", pk, field))
    (ns, ds, field), _ = readings[0]
    raise UnknownNode(f"dataset {ns}:{ds} has no field {field!r}")


def _field_known(dataset_pk: int, field: str) -> bool:
    """A field is known from the dataset's schema or from column lineage naming it."""
    return (
        DatasetField.objects.filter(dataset_id=dataset_pk, name=field).exists()
        or ColumnLineage.objects.filter(output_dataset_id=dataset_pk, output_field=field).exists()
        or ColumnLineage.objects.filter(input_dataset_id=dataset_pk, input_field=field).exists()
    )

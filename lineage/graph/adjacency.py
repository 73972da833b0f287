"""The three graph levels as the database stores them, answered in batches.

- :class:`IoAdjacency`: jobs and datasets over ``JobDataset`` (indexed both ways: the
  unique ``(job, dataset, direction)`` and ``(dataset, direction)``).
- :class:`ColumnAdjacency`: fields over ``ColumnLineage`` (its unique key starts with the
  output field, and ``(input_dataset, input_field)`` is indexed).
- :class:`ProductAdjacency`: data products, linked where a bound dataset of one reaches a
  bound dataset of another through jobs (observed), or where an input port names
  another product's contract (declared).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from django.db import connection

from catalog.models import DataProduct, DatasetField, Port
from lineage.graph.ids import Key, job_id
from lineage.graph.walk import Attrs, Side, walk
from lineage.models import ColumnLineage, Direction, JobDataset
from lineage.selectors import product_datasets

_IO: Attrs = {"kind": "io"}
_EDGES = JobDataset._meta.db_table


def _ids(keys: Collection[Key], kind: str) -> list[int]:
    return [k[1] for k in keys if k[0] == kind]


def _query(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _marks(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


class IoAdjacency:
    """Datasets and jobs. Entering a job is a hop; its inputs or outputs come with it.

    The walk asks a few hundred small questions per answer, so they go to the database
    as plain SQL over the two indexes (``(dataset, direction)`` and the unique
    ``(job, dataset, direction)``) rather than through the ORM's query compiler.
    """

    # (kind of the known end, side) → (direction of the stored edge, column of the other end)
    _ROUTES = {
        ("dataset", "upstream"): (Direction.OUTPUT, "job"),
        ("dataset", "downstream"): (Direction.INPUT, "job"),
        ("job", "upstream"): (Direction.INPUT, "dataset"),
        ("job", "downstream"): (Direction.OUTPUT, "dataset"),
    }

    def neighbours(
        self, keys: Sequence[Key], side: Side, among: Collection[Key] | None = None
    ) -> dict[Key, list[tuple[Key, Attrs]]]:
        found: dict[Key, list[tuple[Key, Attrs]]] = defaultdict(list)
        for kind in ("dataset", "job"):
            ids = _ids(keys, kind)
            if not ids:
                continue
            direction, other = self._ROUTES[(kind, side)]
            sql = (
                f"SELECT {kind}_id, {other}_id FROM {_EDGES} "
                f"WHERE direction = %s AND {kind}_id IN ({_marks(ids)})"
            )
            params: list[Any] = [str(direction), *ids]
            if among is not None:
                present = _ids(among, other)
                if not present:
                    continue
                # The unary plus keeps SQLite from probing the unique index once per
                # (known, present) pair: the known side's index narrows enough.
                sql += f" AND +{other}_id IN ({_marks(present)})"
                params += present
            for mine, theirs in _query(f"{sql} ORDER BY {other}_id", params):
                found[(kind, mine)].append(((other, theirs), _IO))
        return found

    def count(self, keys: Sequence[Key], side: Side) -> dict[Key, int]:
        counts: dict[Key, int] = {}
        for kind in ("dataset", "job"):
            ids = _ids(keys, kind)
            if ids:
                direction, _ = self._ROUTES[(kind, side)]
                rows = _query(
                    f"SELECT {kind}_id, COUNT(*) FROM {_EDGES} "
                    f"WHERE direction = %s AND {kind}_id IN ({_marks(ids)}) GROUP BY {kind}_id",
                    [str(direction), *ids],
                )
                counts.update({(kind, pk): n for pk, n in rows})
        return counts

    def cost(self, key: Key) -> int:
        return 1 if key[0] == "job" else 0

    def next_cost(self, key: Key, side: Side) -> int:
        return 1 if key[0] == "dataset" else 0


def _transformation(kind: str, subtype: str) -> str:
    return f"{kind}/{subtype}" if subtype else kind


class _EveryEdgeAHop:
    """A level where every edge is a hop and counting costs as much as fetching."""

    def count(self, keys: Sequence[Key], side: Side) -> None:
        return None

    def cost(self, key: Key) -> int:
        return 1

    def next_cost(self, key: Key, side: Side) -> int:
        return 1


class ColumnAdjacency(_EveryEdgeAHop):
    """Fields. Every edge is a hop. A dataset-wide dependency (``columnLineage.dataset``:
    a filter or join key) feeds every field of its output dataset."""

    _COLUMNS = (*ColumnLineage.KEY, "description", "job__namespace__name", "job__name")

    def neighbours(
        self, keys: Sequence[Key], side: Side, among: Collection[Key] | None = None
    ) -> dict[Key, list[tuple[Key, Attrs]]]:
        wanted = {cast(tuple[str, int, str], k) for k in keys if k[0] == "field"}
        datasets = {k[1] for k in wanted}
        if not datasets:
            return {}
        upstream = side == "upstream"
        lookup = "output_dataset_id__in" if upstream else "input_dataset_id__in"
        rows = ColumnLineage.objects.filter(**{lookup: datasets}).order_by("id")
        edges: dict[tuple[Key, Key], dict[str, Any]] = {}
        wide_targets: list[tuple[Key, int, dict[str, Any]]] = []
        for row in rows.values_list(*self._COLUMNS):
            out_ds, out_f, in_ds, in_f = row[:4]
            attrs = self._attrs(row, dataset_wide=not out_f)
            if upstream:
                for mine in self._fed(wanted, out_ds, out_f):
                    self._merge(edges, mine, ("field", in_ds, in_f), attrs)
            elif ("field", in_ds, in_f) in wanted:
                mine = ("field", in_ds, in_f)
                if out_f:
                    self._merge(edges, mine, ("field", out_ds, out_f), attrs)
                else:
                    wide_targets.append((mine, out_ds, attrs))
        self._spread(edges, wide_targets)
        found: dict[Key, list[tuple[Key, Attrs]]] = defaultdict(list)
        allowed = set(among) if among is not None else None
        for (mine, other), attrs in edges.items():
            if allowed is None or other in allowed:
                found[mine].append((other, attrs))
        return found

    @staticmethod
    def _fed(wanted: set[tuple[str, int, str]], dataset: int, field: str) -> list[Key]:
        if field:
            return [("field", dataset, field)] if ("field", dataset, field) in wanted else []
        return [k for k in sorted(wanted) if k[1] == dataset]

    def _attrs(self, row: tuple[Any, ...], *, dataset_wide: bool) -> dict[str, Any]:
        return {
            "kind": "column",
            "transformation_type": row[4],
            "transformation_subtype": row[5],
            "description": row[6],
            "job": job_id(row[7], row[8]) if row[8] else "",
            "dataset_wide": dataset_wide,
        }

    @staticmethod
    def _merge(
        edges: dict[tuple[Key, Key], dict[str, Any]], mine: Key, other: Key, attrs: dict[str, Any]
    ) -> None:
        """One edge per pair of fields; ``transformations`` lists every way it is derived."""
        known = edges.setdefault((mine, other), {**attrs, "transformations": ""})
        label = _transformation(attrs["transformation_type"], attrs["transformation_subtype"])
        names = known["transformations"].split(", ") if known["transformations"] else []
        if label and label not in names:
            known["transformations"] = ", ".join([*names, label])

    @staticmethod
    def _spread(
        edges: dict[tuple[Key, Key], dict[str, Any]],
        wide: list[tuple[Key, int, dict[str, Any]]],
    ) -> None:
        if not wide:
            return
        fields: dict[int, list[str]] = defaultdict(list)
        for ds, name in (
            DatasetField.objects.filter(dataset_id__in={w[1] for w in wide})
            .order_by("dataset_id", "ordinal")
            .values_list("dataset_id", "name")
        ):
            fields[ds].append(name)
        for mine, ds, attrs in wide:
            for name in fields.get(ds, ()):
                ColumnAdjacency._merge(edges, mine, ("field", ds, name), attrs)


@dataclass
class ProductIndex:
    """Every product's bound datasets and declared feeds: small (one row per binding and
    per port), loaded in four queries and cached with the graph."""

    datasets: dict[int, list[int]] = field(default_factory=dict)  # product → dataset pks
    owners: dict[int, set[int]] = field(default_factory=dict)  # dataset → product pks
    declared: set[tuple[int, int]] = field(default_factory=set)  # (upstream, downstream)

    @classmethod
    def load(cls) -> ProductIndex:
        index = cls()
        for product, pk in product_datasets():
            index.datasets.setdefault(product, []).append(pk)
            index.owners.setdefault(pk, set()).add(product)
        index._load_declared()
        return index

    def _load_declared(self) -> None:
        by_contract: dict[str, set[int]] = defaultdict(set)
        for product, contract in Port.objects.filter(direction=Port.Direction.OUTPUT).values_list(
            "product_id", "contract_external_id"
        ):
            if contract:
                by_contract[contract].add(product)
        by_name = dict(DataProduct.objects.values_list("external_id", "pk"))
        inputs = Port.objects.filter(direction=Port.Direction.INPUT).values_list(
            "product_id", "contract_external_id", "source_product"
        )
        for product, contract, source in inputs:
            feeds = set(by_contract.get(contract, ())) if contract else set()
            if source in by_name:
                feeds.add(by_name[source])
            self.declared.update((up, product) for up in feeds if up != product)


class ProductAdjacency(_EveryEdgeAHop):
    """Products. Two products are linked when jobs carry data from a bound dataset of one
    to a bound dataset of the other (through at most ``reach`` jobs, across datasets no
    product owns), or when one declares the other as an input."""

    def __init__(self, index: ProductIndex, *, reach: int = 3, cap: int = 2000):
        self.index, self.reach, self.cap = index, reach, cap

    def neighbours(
        self, keys: Sequence[Key], side: Side, among: Collection[Key] | None = None
    ) -> dict[Key, list[tuple[Key, Attrs]]]:
        found: dict[Key, list[tuple[Key, Attrs]]] = {}
        allowed = set(among) if among is not None else None
        for key in keys:
            links = self._observed(key[1], side)
            for other in self._declared(key[1], side):
                links.setdefault(other, {"kind": "declared"})
            found[key] = [
                (("product", pk), attrs)
                for pk, attrs in sorted(links.items())
                if allowed is None or ("product", pk) in allowed
            ]
        return found

    def _declared(self, product: int, side: Side) -> list[int]:
        if side == "upstream":
            return [up for up, down in self.index.declared if down == product]
        return [down for up, down in self.index.declared if up == product]

    def _observed(self, product: int, side: Side) -> dict[int, Attrs]:
        roots: list[Key] = [("dataset", pk) for pk in self.index.datasets.get(product, ())]
        if not roots:
            return {}
        owners = self.index.owners

        def elsewhere(key: Key) -> bool:
            return key[0] == "dataset" and bool(owners.get(key[1], set()) - {product})

        reached = walk(
            IoAdjacency(), roots, direction=side, depth=self.reach, cap=self.cap, stop=elsewhere
        )
        links: dict[int, Attrs] = {}
        for key in reached.nodes:
            if elsewhere(key):
                for other in sorted(owners[key[1]] - {product}):
                    links[other] = {"kind": "product"}
        return links

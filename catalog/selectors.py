"""Catalog reads shared by the portal pages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db.models import (
    Count,
    Exists,
    OuterRef,
    Q,
    prefetch_related_objects,
)
from django.db.models.query import QuerySet
from django.http import Http404

from catalog.consumers import Consumer, DatasetRef, find_consumers
from catalog.models import (
    DataProduct,
    Dataset,
    DatasetField,
    DatasetLifecycleEvent,
    DatasetSymlink,
    DatasetVersion,
    Namespace,
    Ownership,
    Port,
    PortBinding,
    ProductRevision,
)
from catalog.roles import persons_of, teams_of


def catalog_counts() -> dict[str, int]:
    return {
        "namespaces": Namespace.objects.count(),
        "datasets": Dataset.objects.count(),
    }


def datasets_recently_updated(*, limit: int = 10) -> list[Dataset]:
    return list(Dataset.objects.select_related("namespace").order_by("-updated_at")[:limit])


def namespaces_with_dataset_counts() -> list[Namespace]:
    return list(
        Namespace.objects.annotate(dataset_count=Count("datasets"))
        .filter(dataset_count__gt=0)
        .order_by("name")
    )


def namespace_get(*, name: str) -> Namespace | None:
    return Namespace.objects.filter(name=name).first()


def dataset_list(*, namespace: Namespace | None = None, name: str = "") -> QuerySet[Dataset]:
    datasets = Dataset.objects.select_related("namespace").order_by("namespace__name", "name")
    if namespace is not None:
        datasets = datasets.filter(namespace=namespace)
    if name:
        datasets = datasets.filter(name__icontains=name)
    return datasets


def dataset_get(*, pk: int) -> Dataset | None:
    return Dataset.objects.select_related("namespace", "current_version").filter(pk=pk).first()


@dataclass(frozen=True)
class SchemaRow:
    name: str  # dotted path
    leaf: str  # last segment, shown indented under its parent
    depth: int
    type: str
    description: str


def dataset_schema(*, dataset: Dataset) -> list[SchemaRow]:
    rows = []
    for f in DatasetField.objects.filter(dataset=dataset).order_by("ordinal", "id"):
        leaf = f.name[len(f.parent_name) + 1 :] if f.parent_name else f.name
        rows.append(SchemaRow(f.name, leaf, f.depth, f.type, f.description))
    return rows


@dataclass
class VersionRow:
    version: DatasetVersion
    field_count: int
    is_first: bool = False
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    retyped: list[str] = field(default_factory=list)


def _field_types(fields: Any) -> dict[str, str]:
    if not isinstance(fields, list):
        return {}
    return {
        str(f.get("name")): str(f.get("type") or "")
        for f in fields
        if isinstance(f, dict) and f.get("name") is not None
    }


def dataset_versions(*, dataset: Dataset, limit: int = 20) -> list[VersionRow]:
    """The latest schema versions, each with what changed since the one before it."""
    versions = list(
        DatasetVersion.objects.filter(dataset=dataset).order_by("-created_at", "-id")[: limit + 1]
    )
    rows = []
    for i, version in enumerate(versions[:limit]):
        current = _field_types(version.fields)
        row = VersionRow(version=version, field_count=len(current))
        if i + 1 < len(versions):
            before = _field_types(versions[i + 1].fields)
            row.added = [n for n in current if n not in before]
            row.removed = [n for n in before if n not in current]
            row.retyped = [n for n in current if n in before and before[n] != current[n]]
        else:
            row.is_first = True
        rows.append(row)
    return rows


def dataset_lifecycle(*, dataset: Dataset, limit: int = 50) -> list[DatasetLifecycleEvent]:
    return list(DatasetLifecycleEvent.objects.filter(dataset=dataset)[:limit])


def dataset_symlinks(*, dataset: Dataset) -> list[DatasetSymlink]:
    return list(DatasetSymlink.objects.filter(dataset=dataset).order_by("namespace", "name"))


def datasets_without_owners(*, limit: int = 100) -> tuple[list[Dataset], int]:
    """Live datasets nobody holds a role on (from their ownership facet or a steward)."""
    held = Ownership.objects.filter(dataset=OuterRef("pk"))
    orphans = Dataset.objects.filter(is_deleted=False).filter(~Exists(held))
    return (
        list(orphans.select_related("namespace").order_by("namespace__name", "name")[:limit]),
        orphans.count(),
    )


# --- data products ------------------------------------------------------------------------


def product_list() -> QuerySet[DataProduct]:
    return DataProduct.objects.select_related("domain", "team").order_by("name", "external_id")


def products_of_user(*, user: User, limit: int = 10) -> list[DataProduct]:
    """Products the user holds a role on (directly or through a team of theirs), or whose
    team counts them among its members (one query)."""
    persons = persons_of(user).values("pk")
    held = Ownership.objects.filter(
        Q(person__in=persons) | Q(team__in=teams_of(user).values("pk")), product__isnull=False
    )
    return list(
        DataProduct.objects.filter(
            Q(pk__in=held.values("product_id")) | Q(team__members__person__in=persons)
        )
        .distinct()
        .select_related("domain")
        .order_by("name", "external_id")[:limit]
    )


def product_get(*, external_id: str) -> DataProduct | None:
    return (
        DataProduct.objects.select_related("domain__parent", "team", "active_revision")
        .filter(external_id=external_id)
        .first()
    )


def product_revisions(*, product: DataProduct) -> QuerySet[ProductRevision]:
    return product.revisions.order_by("-number").defer("files", "normalized")


def product_revision_get(*, product: DataProduct, number: int) -> ProductRevision | None:
    return product.revisions.filter(number=number).first()


def product_feeds(*, product: DataProduct) -> tuple[list[DataProduct], list[DataProduct]]:
    """(upstream, downstream) products: an input port naming a contract of another
    product's output port, or naming that product outright, is a feed."""
    inputs = list(product.ports.filter(direction=Port.Direction.INPUT))
    contract_ids = {p.contract_external_id for p in inputs if p.contract_external_id}
    named = {p.source_product for p in inputs if p.source_product}
    upstream = DataProduct.objects.filter(
        Q(ports__direction=Port.Direction.OUTPUT, ports__contract_external_id__in=contract_ids)
        | Q(external_id__in=named)
    ).exclude(pk=product.pk)
    outputs = product.ports.filter(direction=Port.Direction.OUTPUT)
    own_contracts = {p.contract_external_id for p in outputs if p.contract_external_id}
    downstream = DataProduct.objects.filter(
        Q(ports__direction=Port.Direction.INPUT, ports__contract_external_id__in=own_contracts)
        | Q(ports__direction=Port.Direction.INPUT, ports__source_product=product.external_id)
    ).exclude(pk=product.pk)
    return (
        list(upstream.distinct().select_related("domain").order_by("name")),
        list(downstream.distinct().select_related("domain").order_by("name")),
    )


def product_with_parts(product: DataProduct) -> DataProduct:
    """The product with its ports (and bindings) and contracts (with objects, properties
    and SLA lines) prefetched: a fixed number of queries for any size."""
    prefetch_related_objects(
        [product],
        "ports__bindings",
        "contracts__schema_objects__properties",
        "contracts__sla",
    )
    return product


def revision_pair(
    *, product: DataProduct, old: int | None, new: int | None
) -> tuple[ProductRevision, ProductRevision]:
    """Revisions ``old`` and ``new`` of the product; ``new`` defaults to the active one and
    ``old`` to the revision before ``new``. Raises Http404 when one does not exist."""
    revisions = product.revisions.all()
    if new is None:
        new = product.active_revision.number if product.active_revision else None
    newer = revisions.filter(number=new).first() if new is not None else None
    if newer is None:
        raise Http404(f"No revision {new} of {product.external_id!r}.")
    if old is None:
        older = revisions.filter(number__lt=newer.number).order_by("-number").first() or newer
    else:
        found = revisions.filter(number=old).first()
        if found is None:
            raise Http404(f"No revision {old} of {product.external_id!r}.")
        older = found
    return older, newer


def products_publishing(datasets: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The product (external id) whose output port binds each ``(namespace, name)``."""
    keys = set(datasets)
    if not keys:
        return {}
    rows = PortBinding.objects.filter(
        namespace__in={ns for ns, _ in keys},
        name__in={n for _, n in keys},
        port__direction=Port.Direction.OUTPUT,
    ).values_list("namespace", "name", "port__product__external_id")
    return {(ns, name): pid for ns, name, pid in rows if (ns, name) in keys}


def consumers_with_products(
    refs: Sequence[DatasetRef], *, exclude: str
) -> dict[DatasetRef, list[tuple[Consumer, list[str]]]]:
    """The consumers of each dataset (see :mod:`catalog.consumers`), each with the
    products (external ids, ``exclude`` left out) publishing the datasets it writes."""
    found = find_consumers(refs)
    publishers = products_publishing(
        w for consumers in found.values() for c in consumers for w in c.writes
    )
    return {
        ref: [
            (c, sorted({publishers[w] for w in c.writes if w in publishers} - {exclude}))
            for c in consumers
        ]
        for ref, consumers in found.items()
    }


def product_lineage(*, product: DataProduct) -> dict[str, Any]:
    """Declared feeds (input ports) and observed consumers (jobs reading the datasets the
    product's output ports bind to, and the products those jobs write into)."""
    upstream, downstream = product_feeds(product=product)
    bindings = list(
        PortBinding.objects.filter(port__product=product)
        .select_related("port")
        .order_by("port__name", "namespace", "name")
    )
    refs = [DatasetRef(b.namespace, b.name) for b in bindings]
    found = consumers_with_products(refs, exclude=product.external_id)
    observed: set[str] = set()
    datasets = []
    for binding, ref in zip(bindings, refs, strict=True):
        consumers = []
        for c, products in found.get(ref, []):
            observed.update(products)
            consumers.append(
                {
                    "job": c.job,
                    "jobUrl": c.job_url,
                    "via": c.via,
                    "writes": [list(w) for w in c.writes],
                    "products": products,
                }
            )
        datasets.append(
            {
                "port": binding.port.name,
                "object": binding.object_name,
                "namespace": binding.namespace,
                "name": binding.name,
                "consumers": consumers,
            }
        )
    return {
        "upstream": [p.external_id for p in upstream],
        "downstream": [p.external_id for p in downstream],
        "observedDownstream": sorted(observed - {p.external_id for p in downstream}),
        "datasets": datasets,
    }

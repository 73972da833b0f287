"""Reads for the portal's data product and domain pages.

Each function reads in a fixed number of queries, whatever the size of a product (its
ports, contracts, columns) or of a page of products: the page tests pin the counts.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any
from urllib.parse import urlsplit

from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery

from catalog import selectors
from catalog.descriptors.diff import SEVERITIES, Change, diff_documents
from catalog.models import (
    Contract,
    DataProduct,
    Dataset,
    Domain,
    Namespace,
    Ownership,
    OwnershipChange,
    Person,
    Port,
    PortBinding,
    ProductRevision,
    ProductStatus,
    SchemaObject,
    SchemaProperty,
    SlaProperty,
    Team,
    TeamMember,
)
from catalog.ownership_selectors import (
    owner_parties,
    owner_prefetch,
    ownership_history,
    ownerships_of,
)

# Links from descriptors are shown as links only with these schemes: a descriptor is
# untrusted text, and ``javascript:`` in an href would run in the portal's origin.
SAFE_SCHEMES = ("http", "https", "mailto")
RECENT_REVISIONS = 10


def _members() -> Prefetch[Any]:
    return Prefetch("members", queryset=TeamMember.objects.select_related("person"))


# --- lists --------------------------------------------------------------------------------


@dataclass
class ProductRow:
    product: DataProduct
    owners: list[Person | Team]


def products_with_owners(products: QuerySet[DataProduct]) -> QuerySet[DataProduct]:
    """``products`` with their ownerships in an owner role prefetched (one query per page)."""
    return products.prefetch_related(owner_prefetch())


def owners_of(rows: Iterable[Ownership]) -> list[Person | Team]:
    """The people and teams among ownerships ``rows`` in an owner role, each once."""
    return owner_parties(rows)


def product_rows(products: Iterable[DataProduct]) -> list[ProductRow]:
    """Rows of a product table: each product with the parties owning it (none: flagged)."""
    return [ProductRow(p, owners_of(getattr(p, "owner_rows", []))) for p in products]


@dataclass(frozen=True)
class StatusCount:
    status: str
    label: str
    count: int


def product_status_counts(products: QuerySet[DataProduct]) -> list[StatusCount]:
    """How many of ``products`` have each status, every status listed (one query)."""
    counts = dict(products.order_by().values_list("status").annotate(n=Count("pk", distinct=True)))
    return [StatusCount(s.value, s.label, counts.get(s.value, 0)) for s in ProductStatus]


def products_recently_updated(*, limit: int = 5) -> list[DataProduct]:
    return list(DataProduct.objects.select_related("domain").order_by("-updated_at")[:limit])


@dataclass
class DomainNode:
    domain: Domain
    product_count: int  # its own products
    children: list[DomainNode] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.product_count + sum(child.total for child in self.children)


def domain_tree() -> list[DomainNode]:
    """Top-level domains, each with its sub-domains nested, and product counts (one query)."""
    domains = Domain.objects.annotate(product_count=Count("products")).order_by("name", "slug")
    nodes = {d.pk: DomainNode(d, d.product_count) for d in domains}
    roots: list[DomainNode] = []
    for node in nodes.values():
        parent = nodes.get(node.domain.parent_id) if node.domain.parent_id else None
        (parent.children if parent else roots).append(node)
    return roots


def domain_choices() -> list[tuple[str, str]]:
    """``(slug, label)`` for a filter's select: sub-domains after their parent, indented."""
    out = []

    def walk(nodes: list[DomainNode], depth: int) -> None:
        for node in nodes:
            out.append((node.domain.slug, "\u2003" * depth + node.domain.name))
            walk(node.children, depth + 1)

    walk(domain_tree(), 0)
    return out


def domain_get(*, slug: str) -> Domain | None:
    return Domain.objects.select_related("parent").filter(slug=slug).first()


@dataclass
class DomainPage:
    children: Sequence[Domain]
    products: list[ProductRow]
    teams: list[Team]
    ownerships: list[Ownership] = field(default_factory=list)


def domain_page(*, domain: Domain) -> DomainPage:
    """A domain's sub-domains, its and their products, and the teams working in them."""
    children = list(domain.children.annotate(product_count=Count("products")).order_by("name"))
    scope = [domain.pk, *(child.pk for child in children)]
    products = products_with_owners(selectors.product_list().filter(domain__in=scope))
    teams = (
        Team.objects.filter(Q(domain__in=scope) | Q(products__domain__in=scope))
        .distinct()
        .order_by("name")
        .prefetch_related(_members())
    )
    return DomainPage(children, product_rows(products), list(teams), ownerships_of(domain))


# --- a product ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SupportLink:
    channel: str
    href: str  # "" when the url is not safe to link
    url: str
    tool: str
    scope: str
    description: str


def support_links(support: Sequence[Mapping[str, Any]]) -> list[SupportLink]:
    links = []
    for s in support:
        url = str(s.get("url") or "")
        safe = urlsplit(url).scheme.lower() in SAFE_SCHEMES
        links.append(
            SupportLink(
                channel=str(s.get("channel") or url or "—"),
                href=url if safe else "",
                url=url,
                tool=str(s.get("tool") or ""),
                scope=str(s.get("scope") or ""),
                description=str(s.get("description") or ""),
            )
        )
    return links


@dataclass(frozen=True)
class QualityRow:
    scope: str  # "contract", an object name, or object.property
    name: str
    type: str
    dimension: str
    severity: str
    description: str
    definition: str


def _definition_text(definition: Mapping[str, Any]) -> str:
    parts = []
    for key, value in definition.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}: {text}")
    return " · ".join(parts)


def _quality_row(scope: str, rule: Mapping[str, Any]) -> QualityRow:
    return QualityRow(
        scope=scope,
        name=str(rule.get("name") or ""),
        type=str(rule.get("type") or ""),
        dimension=str(rule.get("dimension") or ""),
        severity=str(rule.get("severity") or ""),
        description=str(rule.get("description") or ""),
        definition=_definition_text(rule.get("definition") or {}),
    )


def _property_quality(scope: str, props: Iterable[Mapping[str, Any]]) -> list[QualityRow]:
    rows = []
    for prop in props:
        where = f"{scope}.{prop.get('path') or prop.get('name')}"
        rows += [_quality_row(where, q) for q in prop.get("quality") or []]
        rows += _property_quality(scope, prop.get("properties") or [])
        if isinstance(prop.get("items"), Mapping):
            rows += _property_quality(scope, prop["items"].get("properties") or [])
    return rows


def contract_quality(normalized: Mapping[str, Any]) -> dict[str, list[QualityRow]]:
    """Every quality rule of each contract of a normalized product, by contract id:
    the contract's own, its objects' and its properties' (the tables keep only the
    first)."""
    out: dict[str, list[QualityRow]] = {}
    for contract in normalized.get("contracts") or []:
        rows = [_quality_row("contract", q) for q in contract.get("quality") or []]
        for obj in contract.get("objects") or []:
            rows += [_quality_row(obj.get("name", ""), q) for q in obj.get("quality") or []]
            rows += _property_quality(obj.get("name", ""), obj.get("properties") or [])
        out[str(contract.get("id"))] = rows
    return out


@dataclass(frozen=True)
class ServerRow:
    name: str
    type: str
    environment: str
    description: str
    attributes: list[tuple[str, str]]


def server_rows(servers: Iterable[Mapping[str, Any]]) -> list[ServerRow]:
    return [
        ServerRow(
            name=str(s.get("name") or ""),
            type=str(s.get("type") or ""),
            environment=str(s.get("environment") or ""),
            description=str(s.get("description") or ""),
            attributes=[(str(k), str(v)) for k, v in (s.get("attributes") or {}).items()],
        )
        for s in servers
    ]


@dataclass(frozen=True)
class SlaRow:
    kind: str
    property: str  # as written, when it says more than the kind
    value: str  # value and unit, e.g. "4 h"
    raw: str  # as declared, when it reads differently from ``value``
    element: str


def sla_rows(lines: Iterable[SlaProperty]) -> list[SlaRow]:
    rows = []
    for line in lines:
        value = "" if line.value is None else str(line.value)
        value = f"{value} {line.unit}".strip() if value else ""
        rows.append(
            SlaRow(
                kind=line.kind,
                property=line.property if line.property.lower() != line.kind else "",
                value=value,
                raw=line.raw if line.raw.strip() != value else "",
                element=line.element,
            )
        )
    return rows


@dataclass
class ContractView:
    contract: Contract
    objects: list[SchemaObject]
    servers: list[ServerRow]
    quality: list[QualityRow]
    sla: list[SlaRow] = field(default_factory=list)
    shown: bool = False  # already shown under an earlier port of the page


@dataclass(frozen=True)
class BindingRow:
    binding: PortBinding
    dataset: Dataset | None  # the catalog dataset of that namespace and name, if known


@dataclass
class PortView:
    port: Port
    contract: ContractView | None
    bindings: list[BindingRow]
    source: DataProduct | None = None  # input ports: the product read, when registered


@dataclass
class ProductPage:
    members: list[TeamMember]
    owners: list[Person | Team]
    ownerships: list[Ownership]
    history: list[OwnershipChange]
    support: list[SupportLink]
    output_ports: list[PortView]
    input_ports: list[PortView]
    unported_contracts: list[ContractView]
    upstream: list[DataProduct]
    downstream: list[DataProduct]
    revisions: list[ProductRevision]
    more_revisions: bool


def _contracts(product: DataProduct) -> dict[int, ContractView]:
    properties = SchemaProperty.objects.order_by("ordinal", "id")
    objects = SchemaObject.objects.order_by("ordinal", "id").prefetch_related(
        Prefetch("properties", queryset=properties)
    )
    contracts = product.contracts.order_by("external_id").prefetch_related(
        Prefetch("schema_objects", queryset=objects), "sla"
    )
    normalized = product.active_revision.normalized if product.active_revision else {}
    quality = contract_quality(normalized)
    return {
        c.pk: ContractView(
            contract=c,
            objects=list(c.schema_objects.all()),
            servers=server_rows(c.servers),
            quality=quality.get(c.external_id) or [_quality_row("contract", q) for q in c.quality],
            sla=sla_rows(c.sla.all()),
        )
        for c in contracts
    }


NAMESPACES_PER_QUERY = 200


def datasets_by_name(keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Dataset]:
    """The catalog datasets named by ``(namespace, name)`` pairs: one query per 200
    namespaces."""
    found: dict[tuple[str, str], Dataset] = {}
    for match in _by_name(keys):
        for d in Dataset.objects.filter(match).select_related("namespace"):
            found[(d.namespace.name, d.name)] = d
    return found


def bound_datasets() -> list[tuple[int, str, str, int | None]]:
    """Every port binding as ``(product pk, namespace, name, dataset pk or None)``, in one
    query: each binding finds its dataset through the unique ``(namespace, name)`` index
    (~5 ms for the 2,698 bindings at 100k assets, against ~30 ms to build and read the
    same match as name lists per namespace)."""
    namespace = Namespace.objects.filter(name=OuterRef(OuterRef("namespace"))).values("pk")[:1]
    dataset = (
        Dataset.objects.filter(namespace_id=Subquery(namespace), name=OuterRef("name"))
        .order_by()
        .values("pk")[:1]
    )
    rows = (
        PortBinding.objects.order_by("pk")
        .annotate(dataset_pk=Subquery(dataset))
        .values_list("port__product_id", "namespace", "name", "dataset_pk")
    )
    return list(rows)


def _by_name(keys: Iterable[tuple[str, str]]) -> Iterator[Q]:
    """The filters matching ``(namespace, name)`` pairs, one per 200 namespaces.

    Names are asked for by namespace id, which the unique ``(namespace, name)`` index
    answers. One OR per pair made SQLite refuse more than 1,000 pairs (its expression tree
    is as deep as the chain of ORs), and matching the namespace's name in a join scanned
    every dataset (~190 ms for the 2,698 bindings of 1,500 products among 66k datasets)."""
    names: dict[str, set[str]] = defaultdict(set)
    for ns, name in keys:
        names[ns].add(name)
    namespaces = sorted(names)
    for start in range(0, len(namespaces), NAMESPACES_PER_QUERY):
        yield reduce(
            or_,
            (
                Q(namespace_id=_namespace_pk(ns), name__in=sorted(names[ns]))
                for ns in namespaces[start : start + NAMESPACES_PER_QUERY]
            ),
        )


def _namespace_pk(name: str) -> Subquery:
    return Subquery(Namespace.objects.filter(name=name).values("pk")[:1])


def _ports(
    product: DataProduct, contracts: Mapping[int, ContractView], upstream: list[DataProduct]
) -> tuple[list[PortView], list[PortView]]:
    ports = list(
        product.ports.order_by("direction", "name", "version").prefetch_related("bindings")
    )
    datasets = datasets_by_name(
        (b.namespace, b.name) for port in ports for b in port.bindings.all()
    )
    by_id = {p.external_id: p for p in upstream}
    # An input port naming another product's output contract reads that product.
    wanted = {
        p.contract_external_id
        for p in ports
        if p.direction == Port.Direction.INPUT and p.contract_external_id
    }
    publisher = (
        dict(
            Port.objects.filter(direction=Port.Direction.OUTPUT, contract_external_id__in=wanted)
            .exclude(product=product)
            .values_list("contract_external_id", "product__external_id")
        )
        if wanted
        else {}
    )
    outputs, inputs = [], []
    for port in ports:
        view = PortView(
            port=port,
            contract=contracts.get(port.contract_id) if port.contract_id else None,
            bindings=[
                BindingRow(b, datasets.get((b.namespace, b.name))) for b in port.bindings.all()
            ],
        )
        if port.direction == Port.Direction.OUTPUT:
            outputs.append(view)
        else:
            view.source = by_id.get(port.source_product) or by_id.get(
                publisher.get(port.contract_external_id, "")
            )
            inputs.append(view)
    return outputs, inputs


def _mark_repeated_contracts(ports: list[PortView]) -> None:
    """A contract served by several ports is shown in full under the first one only."""
    seen: set[int] = set()
    for view in ports:
        if view.contract is None:
            continue
        if view.contract.contract.pk in seen:
            view.contract = ContractView(view.contract.contract, [], [], [], shown=True)
        seen.add(view.contract.contract.pk)


def product_page(*, product: DataProduct) -> ProductPage:
    """Everything a product page shows besides the product row itself."""
    members = (
        list(TeamMember.objects.filter(team=product.team).select_related("person"))
        if product.team
        else []
    )
    contracts = _contracts(product)
    upstream, downstream = selectors.product_feeds(product=product)
    outputs, inputs = _ports(product, contracts, upstream)
    _mark_repeated_contracts(outputs)
    served = {view.contract.contract.pk for view in outputs if view.contract}
    revisions = list(selectors.product_revisions(product=product)[: RECENT_REVISIONS + 1])
    rows = ownerships_of(product)
    return ProductPage(
        members=members,
        owners=owners_of(rows),
        ownerships=rows,
        history=ownership_history(product),
        support=support_links(product.support),
        output_ports=outputs,
        input_ports=inputs,
        unported_contracts=[v for pk, v in contracts.items() if pk not in served],
        upstream=upstream,
        downstream=downstream,
        revisions=revisions[:RECENT_REVISIONS],
        more_revisions=len(revisions) > RECENT_REVISIONS,
    )


# --- revisions, reports, diffs ------------------------------------------------------------


def revision_previous(*, revision: ProductRevision) -> ProductRevision | None:
    return (
        ProductRevision.objects.filter(product_id=revision.product_id, number__lt=revision.number)
        .order_by("-number")
        .first()
    )


def revision_numbers(*, product: DataProduct) -> list[int]:
    return list(product.revisions.order_by("-number").values_list("number", flat=True))


@dataclass
class FindingGroup:
    severity: str
    findings: list[dict[str, Any]]


def report_groups(report: Iterable[Mapping[str, Any]]) -> list[FindingGroup]:
    """Findings of a breaking-change report by severity, breaking first; empty groups left
    out."""
    groups: dict[str, FindingGroup] = {s: FindingGroup(s, []) for s in SEVERITIES}
    for finding in report:
        severity = str(finding.get("severity") or "info")
        groups.setdefault(severity, FindingGroup(severity, [])).findings.append(dict(finding))
    return [group for group in groups.values() if group.findings]


@dataclass(frozen=True)
class DiffValue:
    text: str
    block: bool  # a dict or a list: shown as formatted JSON
    summary: str = ""


@dataclass(frozen=True)
class DiffRow:
    path: str  # within its section
    kind: str  # added / removed / changed
    old: DiffValue | None
    new: DiffValue | None


@dataclass
class DiffSection:
    label: str
    rows: list[DiffRow]


# Top-level fields of a normalized product, in the words of the page.
SECTION_LABELS = {
    "input_ports": "Input ports",
    "output_ports": "Output ports",
    "contracts": "Contract",
    "team": "Team",
    "support": "Support",
    "custom_properties": "Custom properties",
    "raw": "Other descriptor fields",
}
# Parse warnings are shown beside the revision; as a diff they are noise.
DIFF_IGNORED = ("warnings",)


def _diff_value(value: Any) -> DiffValue | None:
    if value is None:
        return None
    if isinstance(value, dict | list):
        text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)
        size = len(value)
        noun = "field" if isinstance(value, dict) else "item"
        summary = f"{size} {noun}{'' if size == 1 else 's'}"
        if isinstance(value, dict) and value.get("name"):
            kind = value.get("logical_type") or value.get("type") or ""
            summary = f"{value['name']}{f' ({kind})' if kind else ''} · {summary}"
        return DiffValue(text, True, summary)
    return DiffValue(json.dumps(value, ensure_ascii=False, default=str), False)


def _split_section(path: str) -> tuple[str, str]:
    """(section label, rest of the path): each contract is a section of its own."""
    if path.startswith("contracts[") and (end := path.find("]")) > 0:
        return f"Contract {path[len('contracts[') : end]}", path[end + 1 :].lstrip(".")
    field_name = path.split(".", 1)[0].split("[", 1)[0]
    if field_name in SECTION_LABELS:
        return SECTION_LABELS[field_name], path[len(field_name) :].lstrip(".")
    return "Product", path


def diff_sections(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[DiffSection]:
    """The structural diff of two normalized documents, grouped by top-level section
    (product fields first, then ports, then each contract)."""
    changes: list[Change] = diff_documents(
        {k: v for k, v in old.items() if k not in DIFF_IGNORED},
        {k: v for k, v in new.items() if k not in DIFF_IGNORED},
    )
    sections: dict[str, DiffSection] = {}
    for change in changes:
        label, rest = _split_section(change.path)
        row = DiffRow(
            rest or "(whole)", change.kind, _diff_value(change.old), _diff_value(change.new)
        )
        sections.setdefault(label, DiffSection(label, [])).rows.append(row)
    return sorted(sections.values(), key=_section_order)


def _section_order(section: DiffSection) -> tuple[int, str]:
    order = ["Product", *SECTION_LABELS.values()]
    for i, prefix in enumerate(order):
        if section.label == prefix or section.label.startswith(prefix + " "):
            return i, section.label
    return len(order), section.label


def revision_files(revision: ProductRevision) -> list[tuple[str, str]]:
    files = revision.files if isinstance(revision.files, dict) else {}
    return sorted((str(name), str(text)) for name, text in files.items())

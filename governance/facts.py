"""What checks know about a product, loaded for many products at once.

Checks are pure functions of :class:`ProductFacts`, so a scorecard run over 10k products
costs a dozen queries per batch of products, not one per product and check. Facts come
from three places: the product's active descriptor (its normalized revision), the
registry (owners, bindings, revisions, SLOs) and lineage (who writes and reads the bound
datasets, how their runs went, what the latest assertions said).

:func:`facts_for_products` loads registered products; :func:`facts_for_spec` builds the
facts of a descriptor that is not registered yet (shift-left), from the descriptor itself
plus what the registry and lineage already know about its datasets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from django.db.models import OuterRef, Q, Subquery

from catalog.descriptors.binding import bind_product
from catalog.descriptors.diff import breaking_changes
from catalog.descriptors.model import Product, product_from_dict, to_dict
from catalog.models import DataProduct, Ownership, Port, PortBinding, ProductRevision
from catalog.models import Dataset as CatalogDataset
from governance.models import Slo, SloState
from governance.slo import major
from lineage.models import TERMINAL_STATES, DataQualityAssertion, Direction, Job, JobDataset, Run
from lineage.selectors import datasets_by_key

HORIZON = timedelta(days=28)  # how far back runs are loaded; checks look at less


@dataclass(frozen=True)
class Owner:
    role: str
    kind: str  # person / team
    name: str
    contact: str = ""


@dataclass(frozen=True)
class Bound:
    """An output port's dataset, and the lineage dataset it is (``None``: never seen)."""

    port: str
    namespace: str
    name: str
    dataset_id: int | None

    @property
    def label(self) -> str:
        return f"{self.namespace}:{self.name}"


@dataclass(frozen=True)
class RunFact:
    ended_at: datetime
    state: str
    job: str  # namespace:name


@dataclass(frozen=True)
class AssertionFact:
    dataset: str
    assertion: str
    column: str
    success: bool
    severity: str


@dataclass(frozen=True)
class SloFact:
    name: str
    kind: str
    state: str
    attainment_28d: float | None
    objective: float


@dataclass(frozen=True)
class Related:
    """A product at the other end of a port or of lineage."""

    external_id: str
    name: str
    status: str
    via: str  # input port / lineage


@dataclass
class ProductFacts:
    pk: int | None  # None: a descriptor not registered yet
    spec: Product
    status: str
    domain: str
    now: datetime
    revised_at: datetime | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)
    owners: list[Owner] = field(default_factory=list)
    bound: list[Bound] = field(default_factory=list)
    runs: list[RunFact] = field(default_factory=list)  # producing runs, oldest first
    assertions: list[AssertionFact] = field(default_factory=list)  # latest per dataset
    slos: list[SloFact] = field(default_factory=list)
    upstream: list[Related] = field(default_factory=list)
    consumer_products: list[Related] = field(default_factory=list)
    consumer_jobs: list[str] = field(default_factory=list)
    # Revisions that accepted a breaking change without a new major version, since the
    # last major version: {"revision", "version", "findings"}
    unversioned_breaks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def external_id(self) -> str:
        return self.spec.id

    @property
    def blast_radius(self) -> int:
        """Consumers a problem here reaches: reading jobs and products."""
        return len(self.consumer_jobs) + len(self.consumer_products)

    @cached_property
    def fields(self) -> dict[str, Any]:
        """What declarative rules see: the descriptor's fields, and a few counted facts."""
        spec = asdict(self.spec)
        for drop in ("raw", "warnings", "format_version", "status_raw"):
            spec.pop(drop, None)
        return {
            **spec,
            "status": self.status,
            "domain": self.domain or self.spec.domain,
            "owners": [o.name for o in self.owners],
            "consumers": [p.external_id for p in self.consumer_products] + self.consumer_jobs,
            "upstream": [p.external_id for p in self.upstream],
            "slos": [s.name for s in self.slos],
            "datasets": [b.label for b in self.bound],
        }


# --- loading ------------------------------------------------------------------------------


@dataclass
class _Subject:
    """A product to load facts for; ``bindings`` given for a descriptor not registered
    (else read from the registry)."""

    facts: ProductFacts
    bindings: list[tuple[str, str, str]] | None = None


def facts_for_products(
    products: Sequence[DataProduct], *, now: datetime, horizon: timedelta = HORIZON
) -> list[ProductFacts]:
    """Facts of registered products (load them with ``select_related("active_revision",
    "domain")``), in a fixed number of queries."""
    subjects = [
        _Subject(
            ProductFacts(
                pk=product.pk,
                spec=product_from_dict(product.active_revision.normalized)
                if product.active_revision
                else Product(id=product.external_id, format=product.format, name=product.name),
                status=product.status,
                domain=product.domain.slug if product.domain else "",
                now=now,
                revised_at=product.active_revision.created_at if product.active_revision else None,
                warnings=list(product.active_revision.warnings) if product.active_revision else [],
            )
        )
        for product in products
    ]
    _Loader(subjects, now, horizon).load()
    return [s.facts for s in subjects]


def facts_for_spec(
    spec: Product,
    *,
    now: datetime,
    warnings: Iterable[dict[str, Any]] = (),
    horizon: timedelta = HORIZON,
) -> ProductFacts:
    """Facts of a descriptor as if it were registered now: its own owners, ports and
    bindings, and what the registry and lineage know about the product and its datasets."""
    existing = (
        DataProduct.objects.filter(external_id=spec.id).select_related("active_revision").first()
    )
    facts = ProductFacts(
        pk=existing.pk if existing else None,
        spec=spec,
        status=spec.status or "draft",
        domain=spec.domain,
        now=now,
        revised_at=now,
        warnings=list(warnings),
    )
    bindings, _ = bind_product(spec)
    subject = _Subject(facts, [(b.port_name, b.namespace, b.name) for b in bindings])
    _Loader([subject], now, horizon).load()
    facts.owners = _declared_owners(spec) + [o for o in facts.owners if o.kind == "team"]
    facts.slos = _slos_once_registered(spec, existing)
    if existing is not None and existing.active_revision is not None:
        facts.unversioned_breaks = _break_of(existing.active_revision, spec)
    return facts


def _slos_once_registered(spec: Product, existing: DataProduct | None) -> list[SloFact]:
    """The SLOs the product has once the descriptor is registered, as registration syncs
    them: those added through the API or admin, and the ones its contracts declare (a line
    declared before keeps its state; a new one is not measured yet)."""
    from governance.services import declared_slos  # it imports the SLO machinery

    rows = list(existing.slos.all()) if existing is not None else []
    slos = [_slo_fact(s) for s in rows if s.source != Slo.Source.CONTRACT and s.enabled]
    declared = {s.key: s for s in rows if s.source == Slo.Source.CONTRACT}
    objective = Slo._meta.get_field("objective").get_default()
    for line in declared_slos(to_dict(spec)):
        row = declared.get(line.key)
        if row is None:
            slos.append(SloFact(line.name[:255], line.kind, SloState.UNKNOWN, None, objective))
        elif row.enabled:
            slos.append(
                SloFact(line.name[:255], line.kind, row.state, row.attainment_28d, row.objective)
            )
    return slos


def _slo_fact(slo: Slo) -> SloFact:
    return SloFact(slo.name, slo.kind, slo.state, slo.attainment_28d, slo.objective)


def _declared_owners(spec: Product) -> list[Owner]:
    answering = {r.value for r in Ownership.OWNER_ROLES}
    return [
        Owner(m.role, "person", m.name or m.username, m.email)
        for m in spec.team.members
        if m.role in answering and not m.date_out
    ]


def _break_of(active: ProductRevision, spec: Product) -> list[dict[str, Any]]:
    """The descriptor's breaking changes against the active revision, when its major
    version stays the same."""
    old = product_from_dict(active.normalized)
    findings = [f for f in breaking_changes(old, spec) if f.severity == "breaking"]
    if not findings or (major(spec.version) or 0) > (major(old.version) or 0):
        return []
    messages = [f.message for f in findings]
    return [{"revision": None, "version": spec.version, "findings": messages[:5]}]


class _Loader:
    def __init__(self, subjects: list[_Subject], now: datetime, horizon: timedelta) -> None:
        self.subjects = subjects
        self.now = now
        self.horizon = horizon
        self.by_pk = {s.facts.pk: s.facts for s in subjects if s.facts.pk is not None}
        self.producers: dict[int, set[int]] = defaultdict(set)  # dataset → jobs writing it

    def load(self) -> None:
        self._owners()
        self._bound()
        self._runs()
        self._assertions()
        self._slos()
        self._upstream()
        self._consumers()
        self._revisions()

    def _owners(self) -> None:
        rows = Ownership.objects.filter(
            product_id__in=self.by_pk, role__in=Ownership.OWNER_ROLES
        ).values_list(
            "product_id", "role", "person__username", "person__name", "person__email", "team__name"
        )
        for pk, role, username, name, email, team in rows:
            owner = (
                Owner(role, "team", team)
                if team
                else Owner(role, "person", name or username, email or "")
            )
            self.by_pk[pk].owners.append(owner)

    def _bound(self) -> None:
        wanted: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
        rows = PortBinding.objects.filter(
            port__product_id__in=self.by_pk, port__direction=Port.Direction.OUTPUT
        ).values_list("port__product_id", "port__name", "namespace", "name")
        for pk, port, namespace, name in rows:
            wanted[pk].append((port, namespace, name))
        lists = [
            (s, s.bindings if s.bindings is not None else wanted[s.facts.pk or 0])
            for s in self.subjects
        ]
        found = datasets_by_key({(ns, name) for _, triples in lists for _, ns, name in triples})
        for subject, triples in lists:
            subject.facts.bound = [
                Bound(port, ns, name, found[(ns, name)].pk if (ns, name) in found else None)
                for port, ns, name in sorted(set(triples))
            ]

    def _dataset_ids(self) -> set[int]:
        return {b.dataset_id for s in self.subjects for b in s.facts.bound if b.dataset_id}

    def _runs(self) -> None:
        rows = JobDataset.objects.filter(
            dataset_id__in=self._dataset_ids(), direction=Direction.OUTPUT
        ).values_list("dataset_id", "job_id")
        for dataset_id, job_id in rows:
            self.producers[dataset_id].add(job_id)
        jobs = {job for found in self.producers.values() for job in found}
        labels = {
            pk: f"{ns}:{name}"
            for pk, ns, name in Job.objects.filter(pk__in=jobs).values_list(
                "pk", "namespace__name", "name"
            )
        }
        by_job: dict[int, list[RunFact]] = defaultdict(list)
        ended = Run.objects.filter(
            job_id__in=jobs, ended_at__gte=self.now - self.horizon
        ).order_by()
        for job_id, at, state in ended.values_list("job_id", "ended_at", "state"):
            if state in TERMINAL_STATES and at is not None and at <= self.now:
                by_job[job_id].append(RunFact(at, state, labels.get(job_id, "")))
        for subject in self.subjects:
            mine = {
                j for b in subject.facts.bound if b.dataset_id for j in self.producers[b.dataset_id]
            }
            subject.facts.runs = sorted(
                (run for job in mine for run in by_job[job]), key=lambda r: r.ended_at
            )

    def _assertions(self) -> None:
        ids = self._dataset_ids()
        latest = (
            CatalogDataset.objects.filter(pk__in=ids)
            .annotate(
                run=Subquery(
                    DataQualityAssertion.objects.filter(dataset_id=OuterRef("pk"))
                    .order_by("-observed_at")
                    .values("run_id")[:1]
                )
            )
            .values_list("pk", "run")
        )
        pairs = {(pk, run) for pk, run in latest if run is not None}
        rows = DataQualityAssertion.objects.filter(
            dataset_id__in={pk for pk, _ in pairs}, run_id__in={run for _, run in pairs}
        ).values_list("dataset_id", "run_id", "assertion", "column", "success", "severity")
        by_dataset: dict[int, list[tuple[str, str, bool, str]]] = defaultdict(list)
        for pk, run, assertion, column, success, severity in rows:
            if (pk, run) in pairs:
                by_dataset[pk].append((assertion, column, success, severity))
        for subject in self.subjects:
            subject.facts.assertions = [
                AssertionFact(b.label, *row)
                for b in subject.facts.bound
                if b.dataset_id
                for row in sorted(by_dataset[b.dataset_id])
            ]

    def _slos(self) -> None:
        rows = Slo.objects.filter(product_id__in=self.by_pk, enabled=True).values_list(
            "product_id", "name", "kind", "state", "attainment_28d", "objective"
        )
        for pk, name, kind, state, attainment, objective in rows:
            self.by_pk[pk].slos.append(SloFact(name, kind, state, attainment, objective))

    def _upstream(self) -> None:
        """Products it reads: named by its input ports (a contract, or a product), or
        publishing a dataset that its producing jobs read (lineage)."""
        contracts = {p.contract_id for s in self.subjects for p in s.facts.spec.input_ports}
        named = {p.source_product for s in self.subjects for p in s.facts.spec.input_ports}
        publishing = self._contract_publishers(contracts - {""}, named - {""})
        readers = JobDataset.objects.filter(
            job_id__in={j for found in self.producers.values() for j in found},
            direction=Direction.INPUT,
        ).values_list("job_id", "dataset__namespace__name", "dataset__name")
        reads: dict[int, set[tuple[str, str]]] = defaultdict(set)
        for job_id, ns, name in readers:
            reads[job_id].add((ns, name))
        publishers = self._publishers({key for keys in reads.values() for key in keys})
        for subject in self.subjects:
            facts = subject.facts
            found: dict[str, Related] = {}
            for port in facts.spec.input_ports:
                for key in (port.contract_id, port.source_product):
                    related = publishing.get(key)
                    if key and related and related.external_id != facts.external_id:
                        found.setdefault(related.external_id, related)
            jobs = {j for b in facts.bound if b.dataset_id for j in self.producers[b.dataset_id]}
            for dataset in sorted({key for job in jobs for key in reads[job]}):
                for related in publishers.get(dataset, []):
                    if related.external_id != facts.external_id:
                        found.setdefault(related.external_id, related)
            facts.upstream = list(found.values())

    @staticmethod
    def _contract_publishers(contracts: set[str], products: set[str]) -> dict[str, Related]:
        """By contract id (and by product id): the product publishing it."""
        out: dict[str, Related] = {}
        rows = Port.objects.filter(
            direction=Port.Direction.OUTPUT, contract_external_id__in=contracts
        ).values_list(
            "contract_external_id", "product__external_id", "product__name", "product__status"
        )
        for contract, external_id, name, status in rows:
            out[contract] = Related(external_id, name, status, "input port")
        for external_id, name, status in DataProduct.objects.filter(
            external_id__in=products
        ).values_list("external_id", "name", "status"):
            out.setdefault(external_id, Related(external_id, name, status, "input port"))
        return out

    def _publishers(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], list[Related]]:
        """The products whose output ports are bound to each dataset key."""
        out: dict[tuple[str, str], list[Related]] = defaultdict(list)
        if not keys:
            return out
        rows = PortBinding.objects.filter(
            namespace__in={ns for ns, _ in keys},
            name__in={name for _, name in keys},
            port__direction=Port.Direction.OUTPUT,
        ).values_list(
            "namespace",
            "name",
            "port__product__external_id",
            "port__product__name",
            "port__product__status",
        )
        for ns, name, external_id, product_name, status in rows:
            if (ns, name) in keys:
                out[(ns, name)].append(Related(external_id, product_name, status, "lineage"))
        return out

    def _consumers(self) -> None:
        """Who reads it: products whose input ports name its contracts (or it), and the
        jobs that read its bound datasets."""
        contracts = {
            p.contract_id: s.facts.external_id
            for s in self.subjects
            for p in s.facts.spec.output_ports
            if p.contract_id
        }
        ids = {s.facts.external_id for s in self.subjects}
        reading: dict[str, dict[str, Related]] = defaultdict(dict)
        rows = Port.objects.filter(direction=Port.Direction.INPUT).filter(
            Q(contract_external_id__in=contracts) | Q(source_product__in=ids)
        ).values_list(
            "contract_external_id", "source_product", "product__external_id", "product__name",
            "product__status",
        )  # fmt: skip
        for contract, source, external_id, name, status in rows:
            for read in {contracts.get(contract), source if source in ids else None} - {None}:
                assert read is not None
                if read != external_id:
                    reading[read][external_id] = Related(external_id, name, status, "input port")
        jobs: dict[int, set[str]] = defaultdict(set)
        readers = JobDataset.objects.filter(
            dataset_id__in=self._dataset_ids(), direction=Direction.INPUT
        ).values_list("dataset_id", "job__namespace__name", "job__name")
        for dataset_id, ns, name in readers:
            jobs[dataset_id].add(f"{ns}:{name}")
        for subject in self.subjects:
            facts = subject.facts
            found = reading[facts.external_id]
            facts.consumer_products = [found[k] for k in sorted(found)]
            facts.consumer_jobs = sorted(
                {label for b in facts.bound if b.dataset_id for label in jobs[b.dataset_id]}
            )

    def _revisions(self) -> None:
        revisions: dict[int, list[tuple[int, str, bool]]] = defaultdict(list)
        rows = ProductRevision.objects.filter(product_id__in=self.by_pk).order_by(
            "product_id", "number"
        )
        for pk, number, version, accepted in rows.values_list(
            "product_id", "number", "version", "breaking_accepted"
        ):
            revisions[pk].append((number, version, accepted))
        reports = {
            (pk, number): report
            for pk, number, report in rows.filter(breaking_accepted=True).values_list(
                "product_id", "number", "report"
            )
        }
        for pk, found in revisions.items():
            self.by_pk[pk].unversioned_breaks = _unversioned(pk, found, reports)


def _unversioned(
    pk: int, revisions: list[tuple[int, str, bool]], reports: Mapping[tuple[int, int], Any]
) -> list[dict[str, Any]]:
    """Breaks accepted without a higher major version than the revision before, and not
    answered by a major version since."""
    breaks: list[dict[str, Any]] = []
    current: int | None = None
    for number, version, accepted in revisions:
        new = major(version)
        bumped = new is not None and (current is None or new > current)
        if bumped:
            breaks = []
        if accepted and not bumped:
            findings = [
                f.get("message", "")
                for f in reports.get((pk, number)) or []
                if f.get("severity") == "breaking"
            ]
            breaks.append({"revision": number, "version": version, "findings": findings[:5]})
        current = new if new is not None else current
    return breaks

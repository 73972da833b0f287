"""A synthetic mesh of registered products for the scorecard benchmark, written straight
to the tables.

Each product has an active revision (its normalized descriptor: purpose, usage, tags,
support, team, one output port with an ODCS contract of 12 columns, input ports to the
products before it), ports and a binding to its own dataset, owners, maybe SLOs; in
lineage, one job writes the product's dataset and reads its upstream products' datasets,
with a run history and, for some datasets, assertion results. The mix varies (missing
owners, short descriptions, unclassified personal columns, failing runs, deprecated
upstreams) so that every check both passes and fails somewhere.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from catalog.descriptors.model import (
    Contract,
    Member,
    Port,
    Product,
    Property,
    SchemaObject,
    Server,
    SlaProperty,
    SupportChannel,
    Team,
    to_dict,
)
from catalog.models import (
    DataProduct,
    Dataset,
    Domain,
    Namespace,
    Ownership,
    Person,
    PortBinding,
    ProductRevision,
)
from catalog.models import Port as PortRow
from governance.models import Slo, SloKind
from lineage.models import DataQualityAssertion, Direction, Job, JobDataset, Run, RunState

NAMESPACE = "bench://scorecards"
RUN_NAMESPACE = uuid.UUID("5c0f2a1e-7d4b-4e9a-9c3d-2b1a0f9e8d71")
CHUNK = 1_000  # products per transaction
COLUMNS = (
    ("id", "integer", "internal"),
    ("customer_email", "string", "restricted"),
    ("first_name", "string", "restricted"),
    ("country", "string", "public"),
    ("amount", "number", "internal"),
    ("currency", "string", "public"),
    ("created_at", "timestamp", "internal"),
    ("updated_at", "timestamp", "internal"),
    ("status", "string", "internal"),
    ("channel", "string", "internal"),
    ("phone", "string", "restricted"),
    ("note", "string", "internal"),
)


@dataclass
class Scale:
    products: int = 10_000
    runs: int = 20  # per product's job, over the last 14 days
    domains: int = 20


def write_mesh(scale: Scale, *, now: datetime | None = None, seed: int = 7) -> dict[str, int]:
    now = now or timezone.now()
    rng = random.Random(seed)
    namespace = Namespace.objects.create(name=NAMESPACE)
    domains = Domain.objects.bulk_create(
        [Domain(slug=f"domain-{d:02d}", name=f"Domain {d}") for d in range(scale.domains)]
    )
    persons = Person.objects.bulk_create(
        [Person(username=f"person{p:04d}", name=f"Person {p}") for p in range(500)]
    )
    counts = {"products": 0, "runs": 0, "assertions": 0}
    for start in range(0, scale.products, CHUNK):
        with transaction.atomic():
            _write_chunk(
                range(start, min(start + CHUNK, scale.products)),
                scale,
                namespace,
                domains,
                persons,
                now,
                rng,
                counts,
            )
    return counts


def product_id(i: int) -> str:
    return f"bench-{i:05d}"


def table(i: int) -> str:
    return f"analytics.table_{i:05d}"


def make_product(i: int, domain: str, rng: random.Random) -> Product:
    pid = product_id(i)
    columns = [
        Property(
            name=name,
            path=name,
            logical_type=logical,
            description=f"The {name.replace('_', ' ')}" if rng.random() < 0.9 else "",
            classification=classification if rng.random() < 0.85 else "",
        )
        for name, logical, classification in COLUMNS
    ]
    contract = Contract(
        id=f"{pid}-contract",
        format="odcs",
        version="1.0.0",
        status="active",
        objects=[SchemaObject(name=f"table_{i:05d}", physical_name=table(i), properties=columns)],
        servers=[
            Server(name="prod", type="postgres", attributes={"host": "db", "database": "analytics"})
        ],
        sla=[SlaProperty(kind="latency", property="latency", value=6, unit="h")]
        if rng.random() < 0.6
        else [],
    )
    upstream = [j for j in (i - 1, i - 7) if j >= 0 and rng.random() < 0.7]
    members = (
        [Member(username=f"person{rng.randrange(500):04d}", role="owner")]
        if rng.random() < 0.85
        else []
    )
    return Product(
        id=pid,
        format="odps",
        name=f"Product {i}",
        version=f"1.{i % 7}.0" if rng.random() < 0.9 else "next",
        status="active" if rng.random() < 0.9 else rng.choice(["draft", "deprecated"]),
        domain=domain,
        purpose=f"Everything about synthetic subject {i}, for benchmarks."
        if rng.random() < 0.9
        else "tbd",
        usage="Join on id; amounts are in the currency column." if rng.random() < 0.8 else "",
        tags=rng.sample(["sales", "finance", "gdpr", "core", "gold", "raw"], rng.randrange(0, 3)),
        support=[SupportChannel(channel="#data", url="https://chat.example/data")]
        if rng.random() < 0.7
        else [],
        team=Team(name=f"{domain} team", members=members),
        input_ports=[
            Port(name=f"in-{j}", version="1.0.0", contract_id=f"{product_id(j)}-contract")
            for j in upstream
        ],
        output_ports=[Port(name="main", version="1.0.0", contract_id=contract.id)],
        contracts=[contract],
    )


def _write_chunk(
    indexes: range,
    scale: Scale,
    namespace: Namespace,
    domains: list[Domain],
    persons: list[Person],
    now: datetime,
    rng: random.Random,
    counts: dict[str, int],
) -> None:
    specs = {i: make_product(i, domains[i % len(domains)].slug, rng) for i in indexes}
    products = DataProduct.objects.bulk_create(
        [
            DataProduct(
                external_id=spec.id,
                name=spec.name,
                version=spec.version,
                status=spec.status,
                domain=domains[i % len(domains)],
                format="odps",
                purpose=spec.purpose,
                usage=spec.usage,
                tags=spec.tags,
            )
            for i, spec in specs.items()
        ]
    )
    by_index = dict(zip(specs, products, strict=True))
    revisions = ProductRevision.objects.bulk_create(
        [
            ProductRevision(
                product=by_index[i],
                number=1,
                version=spec.version,
                content_hash=f"{i:064d}",
                files={},
                normalized=to_dict(spec),
                actor="bench",
                source="bench",
                created_at=now - timedelta(days=rng.randrange(0, 300)),
            )
            for i, spec in specs.items()
        ]
    )
    for product, revision in zip(products, revisions, strict=True):
        product.active_revision = revision
    DataProduct.objects.bulk_update(products, ["active_revision"])
    _ports(specs, by_index)
    Ownership.objects.bulk_create(
        [
            Ownership(
                product=by_index[i],
                person=persons[int(m.username[6:])],
                role="owner",
                source="descriptor",
            )
            for i, spec in specs.items()
            for m in spec.team.members
        ],
        ignore_conflicts=True,
    )
    Slo.objects.bulk_create(
        [
            Slo(
                product=by_index[i],
                key=f"{spec.id}:freshness",
                name="Freshness",
                kind=SloKind.FRESHNESS,
                threshold_seconds=6 * 3600,
                state="met",
                attainment_28d=rng.choice([1.0, 0.999, 0.97]),
                evaluated_at=now,
            )
            for i, spec in specs.items()
            if spec.contracts[0].sla
        ]
    )
    _lineage(specs, namespace, scale, now, rng, counts)
    counts["products"] += len(specs)


def _ports(specs: dict[int, Product], by_index: dict[int, DataProduct]) -> None:
    rows = [
        PortRow(
            product=by_index[i],
            direction=direction,
            name=port.name,
            version=port.version,
            contract_external_id=port.contract_id,
        )
        for i, spec in specs.items()
        for direction, ports in (("input", spec.input_ports), ("output", spec.output_ports))
        for port in ports
    ]
    PortRow.objects.bulk_create(rows)
    PortBinding.objects.bulk_create(
        [
            PortBinding(
                port=row,
                object_name=f"table_{i:05d}",
                namespace=NAMESPACE,
                name=table(i),
                source="derived",
            )
            for row in rows
            if row.direction == "output"
            for i in [int(row.contract_external_id[6:11])]
        ]
    )


def _lineage(
    specs: dict[int, Product],
    namespace: Namespace,
    scale: Scale,
    now: datetime,
    rng: random.Random,
    counts: dict[str, int],
) -> None:
    datasets = Dataset.objects.bulk_create(
        [
            Dataset(namespace=namespace, name=table(i), schema_hash="h0")
            for i in specs
            if rng.random() < 0.95
        ]
    )
    by_name = {d.name: d for d in datasets}
    known = dict(Dataset.objects.filter(namespace=namespace).values_list("name", "pk"))
    jobs = Job.objects.bulk_create([Job(namespace=namespace, name=f"build_{i:05d}") for i in specs])
    links = []
    for (i, spec), job in zip(specs.items(), jobs, strict=True):
        if table(i) in by_name:
            links.append(JobDataset(job=job, dataset=by_name[table(i)], direction=Direction.OUTPUT))
        for port in spec.input_ports:
            upstream = table(int(port.contract_id[6:11]))
            if upstream in known:
                links.append(
                    JobDataset(job=job, dataset_id=known[upstream], direction=Direction.INPUT)
                )
    JobDataset.objects.bulk_create(links, ignore_conflicts=True)
    runs, checked = [], []
    every = timedelta(days=14) / scale.runs
    for (i, _spec), job in zip(specs.items(), jobs, strict=True):
        flaky = rng.random() < 0.1
        stale = rng.random() < 0.05  # stopped running a week ago
        for n in range(scale.runs):
            ended = now - every * (scale.runs - n) - (timedelta(days=7) if stale else timedelta(0))
            failed = rng.random() < (0.3 if flaky else 0.01)
            runs.append(
                Run(
                    uuid=uuid.uuid5(RUN_NAMESPACE, f"{i}:{n}"),
                    job=job,
                    state=RunState.FAILED if failed else RunState.COMPLETED,
                    started_at=ended - timedelta(minutes=5),
                    ended_at=ended,
                    transitioned_at=ended,
                    events_count=2,
                    created_at=ended - timedelta(minutes=5),
                    updated_at=ended,
                )
            )
        if table(i) in by_name and rng.random() < 0.3:
            checked.append((len(runs) - 1, by_name[table(i)].pk, ended))
    Run.objects.bulk_create(runs, batch_size=2_000)
    DataQualityAssertion.objects.bulk_create(
        [
            DataQualityAssertion(
                run=runs[index],
                dataset_id=dataset,
                assertion=name,
                column="id",
                success=rng.random() > 0.05,
                severity="error",
                observed_at=at,
            )
            for index, dataset, at in checked
            for name in ("not_null", "unique", "accepted_values")
        ],
        batch_size=2_000,
    )
    counts["runs"] += len(runs)
    counts["assertions"] += 3 * len(checked)

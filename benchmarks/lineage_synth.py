"""A synthetic lineage mesh of a given scale, written straight into the tables.

This is a benchmark fixture, not the ingestion path: the rows are what ingestion would
have projected from OpenLineage events (namespaces, datasets and their fields, jobs with
their latest run, job↔dataset edges, the latest run's inputs and outputs, column lineage),
written with large prepared ``executemany`` inserts, 50,000 rows per transaction, so that
a million-node mesh takes minutes instead of the hours its events would.

    python -m benchmarks.lineage_synth --scale 100k --manifest /tmp/mesh/lineage-mesh.json

runs the migrations of the data dir named by ``MESHPORT_DATA_DIR`` (or ``DATABASE_URL``),
writes the mesh into it (the catalog must hold no namespaces, datasets or jobs yet), and
writes a manifest: counts, timings, and samples of node ids to query (late and early
datasets, fields with column lineage...). ``benchmarks/lineage.py`` drives it.

The shape, deterministic for a scale and ``--seed``:

- a layered DAG: source datasets in layer 0 (operational databases, Kafka topics, landing
  buckets), then layers of jobs, each writing 1–3 new datasets of its own layer (the lake
  first, the warehouse later) and reading 1–4 datasets, mostly from the previous layer and
  less and less from the three before it;
- popular "hub" tables (0.4% of the datasets, in the first layers: dimensions, calendars)
  that most jobs also read one or two of, with Zipf popularity: the most read ones have
  thousands of readers;
- a few cycles, as real graphs have them: ~0.5% of jobs read one of their own outputs, and
  ~0.05% also write back into an input of the job upstream of them;
- ~5 fields per dataset; ~60% of jobs report column lineage: each output field from 1–2
  input fields (DIRECT/IDENTITY when an input has a field of that name, otherwise
  DIRECT/TRANSFORMATION or AGGREGATION, plus INDIRECT ones), taken mostly from the
  job's inputs other than hubs, and some dataset-wide INDIRECT/JOIN or FILTER dependencies;
- every job has a latest run, ~5% FAILED and the rest COMPLETED, set as its ``latest_run``.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import math
import os
import random
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

MESH_FORMAT = 1  # bump when the shape changes, so kept stores are not reused by mistake
CHUNK = 50_000  # rows per transaction
SAMPLES = 1_000  # node ids per kind kept in the manifest
ANCHOR = datetime(2024, 6, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Scale:
    name: str
    datasets: int
    jobs: int
    layers: int
    namespaces: int  # of datasets; jobs have their own few


SCALES = {
    "small": Scale("small", 3_000, 1_500, 8, 12),
    "100k": Scale("100k", 100_000, 50_000, 16, 36),
    "1m": Scale("1m", 660_000, 340_000, 20, 44),
}

# --- names -----------------------------------------------------------------------------

# Dataset namespaces by tier, expanded with instance numbers up to the scale's count.
_SOURCE_NS = (
    "postgres://orders-db{}.prod.internal:5432",
    "mysql://crm-db{}.prod.internal:3306",
    "kafka://broker{}.prod.internal:9092",
    "postgres://billing-db{}.prod.internal:5432",
    "s3://acme-landing{}",
    "mongodb://catalog{}.prod.internal:27017",
)
_LAKE_NS = (
    "s3://acme-lake-raw{}",
    "gs://acme-lake-eu{}",
    "hdfs://namenode{}.prod:8020",
    "abfss://lake{}@acmestorage.dfs.core.windows.net",
)
_WAREHOUSE_NS = (
    "snowflake://acme-prod{}.eu-west-1",
    "bigquery{}",
    "redshift://analytics{}.eu-west-1:5439",
    "postgres://dwh{}.prod.internal:5432",
)
# (namespace, integration, jobType facet, processing type, name pattern)
_JOB_NS = (
    ("airflow-prod", "AIRFLOW", "TASK", "BATCH", "dag_{g:04d}.{e}_task_{i}"),
    ("airflow-finance", "AIRFLOW", "TASK", "BATCH", "finance_dag_{g:03d}.{e}_{i}"),
    ("dbt://analytics", "DBT", "MODEL", "BATCH", "model.analytics.{e}_{i}"),
    ("spark://etl.prod:7077", "SPARK", "JOB", "BATCH", "etl_{e}_{i}"),
    ("flink://streaming.prod:8081", "FLINK", "JOB", "STREAMING", "stream_{e}_{i}"),
    ("dagster/marketing", "DAGSTER", "JOB", "BATCH", "marketing.{e}_asset_{i}"),
)
_ENTITIES = [
    "orders",
    "customers",
    "payments",
    "invoices",
    "shipments",
    "products",
    "inventory",
    "sessions",
    "clicks",
    "refunds",
    "accounts",
    "subscriptions",
    "campaigns",
    "leads",
    "tickets",
    "reviews",
    "carts",
    "prices",
    "stores",
    "suppliers",
    "employees",
    "ledger",
    "fx_rates",
    "devices",
    "events",
]
_SUFFIXES = [
    "raw",
    "clean",
    "daily",
    "hourly",
    "agg",
    "snapshot",
    "dim",
    "fact",
    "enriched",
    "summary",
]
_KEYS = ("id", "customer_id", "order_id", "event_id", "account_id", "product_id")
# Field name -> type. Names repeat across schemas, so outputs often keep an input's name.
_FIELD_TYPES = {
    "id": "BIGINT",
    "customer_id": "BIGINT",
    "order_id": "BIGINT",
    "event_id": "VARCHAR(36)",
    "account_id": "BIGINT",
    "product_id": "BIGINT",
    "amount": "NUMERIC(18,2)",
    "currency": "CHAR(3)",
    "quantity": "INTEGER",
    "status": "VARCHAR(16)",
    "country": "CHAR(2)",
    "created_at": "TIMESTAMP",
    "updated_at": "TIMESTAMP",
    "event_date": "DATE",
    "email": "VARCHAR(320)",
    "phone": "VARCHAR(32)",
    "first_name": "VARCHAR(100)",
    "last_name": "VARCHAR(100)",
    "ip_address": "VARCHAR(45)",
    "channel": "VARCHAR(32)",
    "revenue": "NUMERIC(18,2)",
    "discount": "NUMERIC(18,2)",
    "score": "DOUBLE",
    "is_active": "BOOLEAN",
    "region": "VARCHAR(32)",
    "category": "VARCHAR(64)",
    "sku": "VARCHAR(32)",
    "price": "NUMERIC(18,2)",
    "tax": "NUMERIC(18,2)",
    "duration_ms": "BIGINT",
    "device": "VARCHAR(32)",
    "campaign_id": "BIGINT",
    "store_id": "BIGINT",
    "payload": "JSON",
    "version": "INTEGER",
}
_PII = frozenset({"email", "phone", "first_name", "last_name", "ip_address"})
_SCHEMAS = 1_000  # distinct schemas datasets draw from


# --- the plan: pure Python, no database ---------------------------------------------------


@dataclass
class Mesh:
    """The whole mesh as parallel lists; datasets and jobs are numbered from 0."""

    scale: Scale
    seed: int
    namespaces: list[str] = field(default_factory=list)  # datasets' first, then jobs'
    schemas: list[tuple[str, ...]] = field(default_factory=list)  # field names
    ds_namespace: list[int] = field(default_factory=list)
    ds_name: list[str] = field(default_factory=list)
    ds_layer: list[int] = field(default_factory=list)
    ds_schema: list[int] = field(default_factory=list)
    ds_producer: list[int] = field(default_factory=list)  # job index, -1 for sources
    job_namespace: list[int] = field(default_factory=list)
    job_name: list[str] = field(default_factory=list)
    job_layer: list[int] = field(default_factory=list)
    job_inputs: list[tuple[int, ...]] = field(default_factory=list)
    job_outputs: list[tuple[int, ...]] = field(default_factory=list)
    job_failed: list[bool] = field(default_factory=list)
    job_columns: list[bool] = field(default_factory=list)  # reports column lineage
    hubs: list[int] = field(default_factory=list)
    hub_set: set[int] = field(default_factory=set)

    def dataset_id(self, index: int) -> str:
        return f"dataset:{self.namespaces[self.ds_namespace[index]]}:{self.ds_name[index]}"

    def field_id(self, index: int, name: str) -> str:
        return (
            f"datasetField:{self.namespaces[self.ds_namespace[index]]}:{self.ds_name[index]}:{name}"
        )

    def readers(self) -> list[int]:
        """How many jobs read each dataset."""
        counts = [0] * len(self.ds_name)
        for inputs in self.job_inputs:
            for d in inputs:
                counts[d] += 1
        return counts

    def own_outputs(self, job: int) -> list[int]:
        """The outputs ``job`` made (not those it writes back into upstream)."""
        return [d for d in self.job_outputs[job] if self.ds_producer[d] == job]


def build_plan(scale: Scale, seed: int = 42) -> Mesh:
    rng = random.Random(seed)
    mesh = Mesh(scale=scale, seed=seed)
    tiers = _namespaces(mesh, scale.namespaces)
    mesh.schemas = [_schema(rng) for _ in range(_SCHEMAS)]
    writes = _writes_per_job(rng, scale)
    jobs_per_layer = _spread(scale.jobs, scale.layers)
    layer_ranges = _datasets(mesh, rng, tiers, writes, jobs_per_layer)
    _jobs(mesh, rng, jobs_per_layer)
    _hubs(mesh, rng, layer_ranges)
    _inputs(mesh, rng, layer_ranges)
    return mesh


def _namespaces(mesh: Mesh, count: int) -> list[list[int]]:
    """Dataset namespaces (source, lake and warehouse tiers), then the jobs' namespaces."""
    shares = (0.4, 0.25, 0.35)
    tiers: list[list[int]] = []
    for templates, share in zip((_SOURCE_NS, _LAKE_NS, _WAREHOUSE_NS), shares, strict=True):
        indices = []
        for n in range(max(len(templates), round(count * share))):
            instance = n // len(templates)
            suffix = f"-{instance + 1}" if instance else ""
            mesh.namespaces.append(templates[n % len(templates)].format(suffix))
            indices.append(len(mesh.namespaces) - 1)
        tiers.append(indices)
    mesh.namespaces.extend(ns for ns, *_ in _JOB_NS)
    return tiers


def _schema(rng: random.Random) -> tuple[str, ...]:
    width = rng.choices((3, 4, 5, 6, 7, 8), weights=(10, 20, 30, 20, 12, 8))[0]
    others = [n for n in _FIELD_TYPES if n not in _KEYS and n not in _PII]
    fields = [rng.choice(_KEYS), *rng.sample(others, width - 1)]
    if rng.random() < 0.15:  # personal data in one table out of seven or so
        fields[-1] = rng.choice(sorted(_PII))
    return tuple(fields)


def _writes_per_job(rng: random.Random, scale: Scale) -> list[int]:
    """1–3 outputs per job: with ~7% of the datasets as sources, they make up the rest."""
    target = scale.datasets - round(scale.datasets * 0.07)
    extra = min(target - scale.jobs, 2 * scale.jobs)
    writes = [1] * scale.jobs
    slots = list(range(scale.jobs)) * 2
    rng.shuffle(slots)
    for job in slots[:extra]:
        writes[job] += 1
    return writes


def _spread(total: int, layers: int) -> list[int]:
    """Jobs per layer 1..layers-1 (none in layer 0): widest in the middle."""
    weights = [0.0] + [1 + 0.6 * math.sin(math.pi * k / layers) for k in range(1, layers)]
    counts = [int(total * w / sum(weights)) for w in weights]
    counts[len(counts) // 2] += total - sum(counts)
    return counts


def _datasets(
    mesh: Mesh,
    rng: random.Random,
    tiers: list[list[int]],
    writes: list[int],
    jobs_per_layer: list[int],
) -> list[tuple[int, int]]:
    """Sources first, then each job's outputs in job order; returns (start, size) per layer."""
    sources = mesh.scale.datasets - sum(writes)
    ranges = [(0, sources)]
    for _ in range(sources):
        _add_dataset(mesh, rng, tiers[0], 0, -1)
    job = 0
    for layer in range(1, mesh.scale.layers):
        start = len(mesh.ds_name)
        # The lake in the first layers, the warehouse (with some lake) after them.
        pool = tiers[1] if layer <= 2 else tiers[2] + tiers[2] + tiers[1]
        for _ in range(jobs_per_layer[layer]):
            first = len(mesh.ds_name)
            for _ in range(writes[job]):
                _add_dataset(mesh, rng, pool, layer, job)
            mesh.job_outputs.append(tuple(range(first, len(mesh.ds_name))))
            job += 1
        ranges.append((start, len(mesh.ds_name) - start))
    return ranges


def _add_dataset(mesh: Mesh, rng: random.Random, pool: list[int], layer: int, job: int) -> None:
    index = len(mesh.ds_name)
    namespace = rng.choice(pool)
    ns = mesh.namespaces[namespace]
    entity, suffix = rng.choice(_ENTITIES), rng.choice(_SUFFIXES)
    if ns.startswith(("s3://", "gs://", "hdfs://", "abfss://")):
        name = f"{'landing' if layer == 0 else 'lake'}/{entity}/{suffix}_{index:07d}"
    elif ns.startswith("kafka://"):
        name = f"{entity}.{suffix}.v1-{index:07d}"
    else:
        name = f"{'raw' if layer == 0 else 'analytics'}_{entity}.{entity}_{suffix}_{index:07d}"
    mesh.ds_namespace.append(namespace)
    mesh.ds_name.append(name)
    mesh.ds_layer.append(layer)
    mesh.ds_schema.append(rng.randrange(_SCHEMAS))
    mesh.ds_producer.append(job)


def _jobs(mesh: Mesh, rng: random.Random, jobs_per_layer: list[int]) -> None:
    first_job_ns = len(mesh.namespaces) - len(_JOB_NS)
    index = 0
    for layer, count in enumerate(jobs_per_layer):
        for _ in range(count):
            kind = rng.randrange(len(_JOB_NS))
            pattern = _JOB_NS[kind][4]
            mesh.job_namespace.append(first_job_ns + kind)
            mesh.job_name.append(
                pattern.format(g=index // 40, e=rng.choice(_ENTITIES), i=f"{index:07d}")
            )
            mesh.job_layer.append(layer)
            mesh.job_failed.append(rng.random() < 0.05)
            mesh.job_columns.append(rng.random() < 0.6)
            index += 1


def _hubs(mesh: Mesh, rng: random.Random, layer_ranges: list[tuple[int, int]]) -> None:
    """Popular tables: 70% sources, 30% from layers 1–2 (conformed dimensions)."""
    count = max(20, mesh.scale.datasets // 250)
    early = [d for layer in (1, 2) for d in range(*_span(layer_ranges[layer]))]
    mesh.hubs = rng.sample(range(layer_ranges[0][1]), count - count * 3 // 10)
    mesh.hubs += rng.sample(early, count * 3 // 10)
    rng.shuffle(mesh.hubs)  # the Zipf rank: first is the most read
    mesh.hub_set = set(mesh.hubs)


def _span(layer_range: tuple[int, int]) -> tuple[int, int]:
    return layer_range[0], layer_range[0] + layer_range[1]


def _inputs(mesh: Mesh, rng: random.Random, layer_ranges: list[tuple[int, int]]) -> None:
    zipf = list(itertools.accumulate(1 / rank for rank in range(1, len(mesh.hubs) + 1)))
    for job, layer in enumerate(mesh.job_layer):
        picked: dict[int, None] = {}  # ordered set
        for _ in range(rng.choices((1, 2, 3, 4), cum_weights=(10, 35, 70, 100))[0]):
            back = rng.choices((1, 2, 3, 4), cum_weights=(60, 85, 95, 100))[0]
            start, size = layer_ranges[max(0, layer - back)]
            # Skewed within a layer too: a few tables of each layer are read much more.
            picked[start + int(size * rng.random() ** 1.6)] = None
        for _ in range(rng.choices((0, 1, 2), cum_weights=(30, 70, 100))[0]):
            hub = _pick_hub(mesh, rng, zipf, layer)
            if hub is not None:
                picked[hub] = None
        outputs = mesh.job_outputs[job]
        if rng.random() < 0.005:
            picked[rng.choice(outputs)] = None  # reads what it writes
        mesh.job_inputs.append(tuple(picked))
        if rng.random() < 0.0005:
            _write_back(mesh, rng, job)


def _pick_hub(mesh: Mesh, rng: random.Random, zipf: list[float], layer: int) -> int | None:
    for _ in range(3):
        hub = mesh.hubs[bisect.bisect(zipf, rng.random() * zipf[-1])]
        if mesh.ds_layer[hub] < layer:
            return hub
    return None


def _write_back(mesh: Mesh, rng: random.Random, job: int) -> None:
    """Also write into an input of the job upstream: a cycle of two jobs."""
    fed = [d for d in mesh.job_inputs[job] if mesh.ds_producer[d] not in (-1, job)]
    if not fed:
        return
    upstream = mesh.ds_producer[rng.choice(fed)]
    target = rng.choice(mesh.job_inputs[upstream])
    if target not in mesh.job_outputs[job]:
        mesh.job_outputs[job] = (*mesh.job_outputs[job], target)


# --- column lineage -------------------------------------------------------------------------

_OTHER_DIRECT = (("DIRECT", "TRANSFORMATION"), ("DIRECT", "AGGREGATION"))
_SECOND = (
    ("DIRECT", "TRANSFORMATION"),
    ("INDIRECT", "CONDITIONAL"),
    ("INDIRECT", "GROUP_BY"),
    ("INDIRECT", "WINDOW"),
)
_DATASET_WIDE = (("INDIRECT", "JOIN"), ("INDIRECT", "FILTER"), ("INDIRECT", "SORT"))

# (output dataset, output field, input dataset, input field, type, subtype)
ColumnEdge = tuple[int, str, int, str, str, str]


def column_edges(mesh: Mesh, job: int, rng: random.Random) -> list[ColumnEdge]:
    """The column lineage ``job`` reports for its own outputs (none if it reports none)."""
    if not mesh.job_columns[job]:
        return []
    own = mesh.own_outputs(job)
    inputs = [d for d in mesh.job_inputs[job] if d not in own]
    # Columns come mostly from the job's own upstream; hubs add a lookup column here and
    # there. Were hubs picked as often, most chains would stop at a source after one hop.
    local = _fields(mesh, [d for d in inputs if d not in mesh.hub_set])
    sources = local or _fields(mesh, inputs)
    if not sources:
        return []
    hubs = _fields(mesh, [d for d in inputs if d in mesh.hub_set]) or sources
    by_name: dict[str, list[tuple[int, str]]] = {}
    for source in sources:
        by_name.setdefault(source[1], []).append(source)
    edges: dict[ColumnEdge, None] = {}
    for out in own:
        for name in mesh.schemas[mesh.ds_schema[out]]:
            same = by_name.get(name)
            if same:
                src, kind = rng.choice(same), ("DIRECT", "IDENTITY")
            else:
                src, kind = rng.choice(sources), rng.choice(_OTHER_DIRECT)
            edges[(out, name, *src, *kind)] = None
            if rng.random() < 0.35:
                second = rng.choice(hubs if rng.random() < 0.2 else sources)
                edges[(out, name, *second, *rng.choice(_SECOND))] = None
        if rng.random() < 0.3:
            # A join key or filter: every column of the output depends on it.
            key = rng.choice(sources)[0]
            edges[(out, "", key, _key_field(mesh, key), *rng.choice(_DATASET_WIDE))] = None
    return list(edges)


def _fields(mesh: Mesh, datasets: list[int]) -> list[tuple[int, str]]:
    return [(d, name) for d in datasets for name in mesh.schemas[mesh.ds_schema[d]]]


def _key_field(mesh: Mesh, dataset: int) -> str:
    return mesh.schemas[mesh.ds_schema[dataset]][0]


# --- writing ------------------------------------------------------------------------------
# Django is imported inside the functions from here on: benchmarks/lineage.py imports this
# module for its scales without configuring Django.


class _Table:
    """A prepared INSERT of one model: per-row values for ``varying`` (already as the
    database wants them), every other column at a value prepared once."""

    def __init__(self, model: Any, varying: Sequence[str], **fixed: Any) -> None:
        from django.db import connection

        from meshport.prepared import concrete_field

        self.model = model
        named = [concrete_field(model, name) for name in varying]
        rest = [f for f in model._meta.concrete_fields if f not in named and not f.primary_key]
        self.tail = tuple(
            f.get_db_prep_save(fixed.get(f.name, f.get_default()), connection) for f in rest
        )
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in [*named, *rest])
        marks = ", ".join(["%s"] * (len(named) + len(rest)))
        self.sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({marks})"
        self.rows = 0

    def insert(self, rows: Iterable[tuple[Any, ...]]) -> None:
        from django.db import connection

        params = [row + self.tail for row in rows]
        with connection.cursor() as cursor:
            cursor.executemany(self.sql, params)
        self.rows += len(params)


def _chunks(items: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _prep(model: Any, name: str, value: Any) -> Any:
    """``value`` as the database wants it in ``model.name``."""
    from django.db import connection

    from meshport.prepared import concrete_field

    return concrete_field(model, name).get_db_prep_save(value, connection)


def write_mesh(mesh: Mesh, *, progress: bool = False) -> dict[str, int]:
    """Write ``mesh`` into the (empty) catalog; returns the rows written per table."""
    from django.db import transaction

    from catalog.models import Dataset, DatasetField, Namespace
    from lineage.models import ColumnLineage, GraphGeneration, Job, JobDataset, Run, RunDataset

    for model in (Namespace, Dataset, Job):
        if model.objects.exists():
            raise RuntimeError(f"the mesh goes into an empty catalog; {model.__name__} isn't")
    steps = (
        ("namespaces", _write_namespaces),
        ("datasets", _write_datasets),
        ("fields", _write_fields),
        ("jobs and runs", _write_jobs),
        ("edges", _write_edges),
        ("column lineage", _write_columns),
    )
    counts: dict[str, int] = {}
    for label, step in steps:
        started = time.perf_counter()
        for table in step(mesh):
            counts[table.model._meta.model_name] = table.rows
        if progress:
            print(f"  {label}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    with transaction.atomic():
        _reset_sequences(
            [Namespace, Dataset, DatasetField, Job, Run, JobDataset, RunDataset, ColumnLineage]
        )
        # Cached graphs of an earlier generation must not survive the new edges.
        GraphGeneration.bump()
    return counts


def _reset_sequences(models: list[Any]) -> None:
    from django.core.management.color import no_style
    from django.db import connection

    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(sql)


def _write_namespaces(mesh: Mesh) -> list[_Table]:
    from django.db import transaction

    from catalog.models import Namespace

    table = _Table(Namespace, ("id", "name", "owner_name"))
    with transaction.atomic():
        table.insert((n + 1, name, "data-platform") for n, name in enumerate(mesh.namespaces))
    return [table]


def _write_datasets(mesh: Mesh) -> list[_Table]:
    from django.db import transaction

    from catalog.models import Dataset

    varying = (
        "id",
        "namespace_id",
        "name",
        "physical_name",
        "type",
        "subtype",
        "source_name",
        "tags",
        "last_modified_at",
    )
    table = _Table(Dataset, varying, created_at=ANCHOR, updated_at=ANCHOR)
    no_tags = _prep(Dataset, "tags", [])
    pii_tags = _prep(Dataset, "tags", [{"key": "pii", "value": "true", "source": "CLASSIFIER"}])
    pii_schemas = {i for i, s in enumerate(mesh.schemas) if _PII & set(s)}
    modified = _prep(Dataset, "last_modified_at", ANCHOR)
    written_ok = {
        d
        for job, outputs in enumerate(mesh.job_outputs)
        if not mesh.job_failed[job]
        for d in outputs
    }

    def rows() -> Iterator[tuple[Any, ...]]:
        for d, name in enumerate(mesh.ds_name):
            ns = mesh.namespaces[mesh.ds_namespace[d]]
            stream = ns.startswith("kafka://")
            yield (
                d + 1,
                mesh.ds_namespace[d] + 1,
                name,
                name,
                "STREAM" if stream else "DB_TABLE",
                "TOPIC" if stream else ("VIEW" if d % 7 == 0 and mesh.ds_layer[d] else "TABLE"),
                ns,
                pii_tags if mesh.ds_schema[d] in pii_schemas else no_tags,
                modified if d in written_ok else None,
            )

    for chunk in _chunks(rows()):
        with transaction.atomic():
            table.insert(chunk)
    return [table]


def _write_fields(mesh: Mesh) -> list[_Table]:
    from django.db import transaction

    from catalog.models import DatasetField

    table = _Table(DatasetField, ("dataset_id", "name", "type", "ordinal"))

    def rows() -> Iterator[tuple[Any, ...]]:
        for d, schema in enumerate(mesh.ds_schema):
            for ordinal, name in enumerate(mesh.schemas[schema]):
                yield (d + 1, name, _FIELD_TYPES[name], ordinal)

    for chunk in _chunks(rows()):
        with transaction.atomic():
            table.insert(chunk)
    return [table]


def _write_jobs(mesh: Mesh) -> list[_Table]:
    """Jobs and their latest run, in the same transactions (each points at the other)."""
    from django.db import connection, transaction

    from lineage.models import Job, Run
    from meshport.prepared import concrete_field

    jobs = _Table(
        Job,
        (
            "id",
            "namespace_id",
            "name",
            "type",
            "integration",
            "job_type",
            "latest_run_id",
            "latest_run_at",
        ),
        created_at=ANCHOR - timedelta(days=30),
        updated_at=ANCHOR,
    )
    runs = _Table(
        Run,
        (
            "id",
            "uuid",
            "job_id",
            "state",
            "started_at",
            "ended_at",
            "transitioned_at",
            "nominal_start_time",
            "error_message",
            "created_at",
            "updated_at",
        ),
        events_count=2,
    )
    rng = random.Random(mesh.seed + 1)
    uuid_field = concrete_field(Run, "uuid")
    # Runs start on the minute within the last day; the timestamps are prepared once.
    minutes = [_prep(Run, "started_at", ANCHOR - timedelta(minutes=m)) for m in range(1441)]
    job_ns = {len(mesh.namespaces) - len(_JOB_NS) + k: spec for k, spec in enumerate(_JOB_NS)}
    for chunk in _chunks(range(len(mesh.job_name))):
        job_rows, run_rows = [], []
        for j in chunk:
            _, integration, job_type, processing, _ = job_ns[mesh.job_namespace[j]]
            start = rng.randrange(60, 1441)
            end = start - rng.randint(1, 60)
            failed = mesh.job_failed[j]
            run_uuid = uuid_field.get_db_prep_save(
                uuid.UUID(int=rng.getrandbits(128), version=4), connection
            )
            job_rows.append(
                (
                    j + 1,
                    mesh.job_namespace[j] + 1,
                    mesh.job_name[j],
                    processing,
                    integration,
                    job_type,
                    j + 1,
                    minutes[start],
                )
            )
            run_rows.append(
                (
                    j + 1,
                    run_uuid,
                    j + 1,
                    "FAILED" if failed else "COMPLETED",
                    minutes[start],
                    minutes[end],
                    minutes[end],
                    minutes[start + (-start) % 60],  # the hour it was scheduled for
                    "Task exited with return code 1: upstream table is locked" if failed else "",
                    minutes[start],
                    minutes[end],
                )
            )
        with transaction.atomic():
            jobs.insert(job_rows)
            runs.insert(run_rows)
    return [jobs, runs]


def _write_edges(mesh: Mesh) -> list[_Table]:
    """Job↔dataset edges, and the same inputs and outputs on each job's latest run."""
    from django.db import transaction

    from lineage.models import JobDataset, RunDataset

    edges = _Table(
        JobDataset,
        ("job_id", "dataset_id", "direction"),
        first_seen_at=ANCHOR - timedelta(days=30),
        last_seen_at=ANCHOR,
    )
    io = _Table(RunDataset, ("run_id", "dataset_id", "direction"))

    def rows() -> Iterator[tuple[int, int, str]]:
        for j, inputs in enumerate(mesh.job_inputs):
            for d in inputs:
                yield (j + 1, d + 1, "input")
            for d in mesh.job_outputs[j]:
                yield (j + 1, d + 1, "output")

    for chunk in _chunks(rows()):
        with transaction.atomic():
            edges.insert(chunk)
            io.insert(chunk)  # run id = job id
    return [edges, io]


def _write_columns(mesh: Mesh) -> list[_Table]:
    from django.db import transaction

    from lineage.models import ColumnLineage

    table = _Table(
        ColumnLineage,
        (*ColumnLineage.KEY, "job_id"),
        updated_at=ANCHOR,
    )
    rng = random.Random(mesh.seed + 2)

    def rows() -> Iterator[tuple[Any, ...]]:
        for j in range(len(mesh.job_name)):
            for out, out_field, src, src_field, kind, sub in column_edges(mesh, j, rng):
                yield (out + 1, out_field, src + 1, src_field, kind, sub, j + 1)

    for chunk in _chunks(rows()):
        with transaction.atomic():
            table.insert(chunk)
    return [table]


# --- samples for the benchmark ----------------------------------------------------------------


def samples(mesh: Mesh, count: int = SAMPLES) -> dict[str, list[str]]:
    """Node ids to start queries from, shuffled, ``count`` of each kind at most."""
    rng = random.Random(mesh.seed + 3)
    layers = mesh.scale.layers
    late = [d for d, layer in enumerate(mesh.ds_layer) if layer >= layers - 3]
    early = [d for d, layer in enumerate(mesh.ds_layer) if layer <= 2]
    middle = [d for d, layer in enumerate(mesh.ds_layer) if abs(layer - layers // 2) <= 1]
    readers = mesh.readers()
    quiet = [d for d in late if mesh.ds_producer[d] >= 0 and readers[d] <= 3]
    fields = [
        mesh.field_id(d, name)
        for j in range(len(mesh.job_name))
        if mesh.job_columns[j] and mesh.job_layer[j] >= layers - 3
        for d in mesh.own_outputs(j)
        for name in mesh.schemas[mesh.ds_schema[d]]
    ]

    def pick(items: list[Any]) -> list[Any]:
        return rng.sample(items, min(count, len(items)))

    return {
        "late_datasets": [mesh.dataset_id(d) for d in pick(late)],
        "early_datasets": [mesh.dataset_id(d) for d in pick(early)],
        "middle_datasets": [mesh.dataset_id(d) for d in pick(middle)],
        "late_fields": pick(fields),
        # Freshness posts read these: late, few readers, so a new reader is not capped away.
        "quiet_datasets": [mesh.dataset_id(d) for d in pick(quiet)],
    }


def shape(mesh: Mesh) -> dict[str, Any]:
    """Figures that describe the mesh: edges, hubs, cycles."""
    readers = sorted(mesh.readers(), reverse=True)
    return {
        "namespaces": len(mesh.namespaces),
        "layers": mesh.scale.layers,
        "nodes": len(mesh.ds_name) + len(mesh.job_name),
        "job_dataset_edges": sum(
            len(i) + len(o) for i, o in zip(mesh.job_inputs, mesh.job_outputs, strict=True)
        ),
        "most_read": readers[:5],
        "datasets_with_100_readers": sum(1 for r in readers if r >= 100),
        "self_cycles": sum(
            1 for j, inputs in enumerate(mesh.job_inputs) if set(inputs) & set(mesh.job_outputs[j])
        ),
        "write_backs": sum(
            1
            for j in range(len(mesh.job_name))
            if len(mesh.own_outputs(j)) < len(mesh.job_outputs[j])
        ),
    }


# --- command line -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a synthetic lineage mesh.")
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--manifest", type=Path, required=True, help="where to write it")
    args = parser.parse_args(argv)

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meshport.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrated = time.perf_counter()
    mesh = build_plan(SCALES[args.scale], args.seed)
    planned = time.perf_counter()
    print(f"planned {args.scale} in {planned - migrated:.1f} s", file=sys.stderr, flush=True)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            # A larger page cache for this connection only: the index inserts are random.
            cursor.execute("PRAGMA cache_size=-1048576")
    counts = write_mesh(mesh, progress=True)
    written = time.perf_counter()
    manifest = {
        "format": MESH_FORMAT,
        "scale": args.scale,
        "seed": args.seed,
        "counts": counts,
        "shape": shape(mesh),
        "seconds": {
            "migrate": round(migrated - started, 1),
            "plan": round(planned - migrated, 1),
            "write": round(written - planned, 1),
            "total": round(written - started, 1),
        },
        "samples": samples(mesh),
    }
    args.manifest.write_text(json.dumps(manifest, indent=1))
    summary = {k: manifest[k] for k in ("scale", "counts", "shape", "seconds")}
    sys.stdout.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()

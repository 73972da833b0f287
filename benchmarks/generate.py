"""A synthetic data mesh as a stream of OpenLineage events, for load tests.

``N`` jobs over ``M`` datasets, each job reading 1-3 datasets and writing 1-2, with the
facets real producers send: schema and dataSource on every dataset, outputStatistics on
outputs, columnLineage on about a third of the jobs, nominalTime and a parent facet on
the Airflow tasks. Every run is a START then a COMPLETE (about 3% FAIL with a stack trace);
a dataset's schema gains a column now and then and, three columns on, drops them again:
each change makes a new dataset version, and events are alike in size and shape wherever
in the stream they come from, so that a measurement after a long history and one after a
short history ingest the same kind of events. Run
ids are UUIDv7 made the way openlineage-python's Airflow and dbt integrations make them
(:func:`generate_static_uuid` of the run's time and identity), so they grow with time as
a real producer's do.

The same seed gives the same events, byte for byte. ``first_run`` picks where in the
stream to begin, so that a pre-filled history and the measured events never overlap.

    python -m benchmarks.generate --events 100000 --jobs 200 --datasets 600 > events.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from openlineage.client.uuid import generate_static_uuid

PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.30.0/client/python"
SPEC = "https://openlineage.io/spec"
RUN_EVENT_SCHEMA = f"{SPEC}/2-0-2/OpenLineage.json#/$defs/RunEvent"
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
SCHEMA_STEPS = 4  # a dataset's schemas: its own columns, then with 1, 2 and 3 added

_DOMAINS = ["sales", "marketing", "finance", "logistics", "customer", "product", "hr", "risk"]
_STORES = [
    ("postgres://{domain}-db:5432", "{domain}.public.{table}", "TABLE"),
    ("snowflake://acme.eu-west-1", "ANALYTICS.{DOMAIN}.{TABLE}", "TABLE"),
    ("s3://acme-lake", "curated/{domain}/{table}", "FILE"),
    ("kafka://broker:9092", "{domain}.{table}.v1", "TOPIC"),
]
_TABLES = [
    "orders",
    "order_items",
    "customers",
    "invoices",
    "payments",
    "shipments",
    "sessions",
    "campaigns",
    "products",
    "refunds",
    "ledger",
    "inventory",
    "accounts",
    "events",
]
_COLUMNS = [
    ("id", "BIGINT"),
    ("customer_id", "BIGINT"),
    ("order_id", "BIGINT"),
    ("email", "VARCHAR"),
    ("phone", "VARCHAR"),
    ("birth_date", "DATE"),
    ("amount", "DECIMAL(18,2)"),
    ("currency", "CHAR(3)"),
    ("status", "VARCHAR"),
    ("country_code", "CHAR(2)"),
    ("created_at", "TIMESTAMP"),
    ("updated_at", "TIMESTAMP"),
    ("quantity", "INTEGER"),
    ("sku", "VARCHAR"),
    ("channel", "VARCHAR"),
    ("region", "VARCHAR"),
    ("score", "DOUBLE"),
    ("is_active", "BOOLEAN"),
    ("source_system", "VARCHAR"),
    ("event_ts", "TIMESTAMP"),
]
_ORCHESTRATORS = [
    ("airflow://{domain}", "AIRFLOW", "TASK"),
    ("dbt://{domain}", "DBT", "MODEL"),
    ("spark://{domain}-cluster", "SPARK", "SQL_JOB"),
]
_STACK = (
    "Traceback (most recent call last):\n"
    '  File "/opt/airflow/dags/{dag}.py", line 84, in execute\n'
    "    cursor.execute(sql)\n"
    "psycopg2.errors.QueryCanceled: canceling statement due to statement timeout\n"
)


def _facet(name: str, version: str = "1-0-1", kind: str = "") -> dict[str, str]:
    return {
        "_producer": PRODUCER,
        "_schemaURL": f"{SPEC}/facets/{version}/{name}.json#/$defs/{kind or name}",
    }


@dataclass
class _Dataset:
    namespace: str
    name: str
    dataset_type: str
    columns: list[tuple[str, str]]
    base_rows: int


@dataclass
class _Job:
    namespace: str
    name: str
    integration: str
    job_type: str
    domain: str
    inputs: list[int]
    outputs: list[int]
    column_lineage: bool
    parent: str | None  # the DAG of an Airflow task


class MeshGenerator:
    """Builds the mesh once from the seed, then turns run numbers into events."""

    def __init__(
        self,
        *,
        jobs: int = 200,
        datasets: int = 600,
        seed: int = 42,
        schema_change_every: int = 50_000,
        interval_seconds: int = 60,
    ):
        if jobs < 1 or datasets < 2:
            raise ValueError("need at least one job and two datasets")
        self.seed = seed
        self.schema_change_every = schema_change_every
        self.interval = timedelta(seconds=interval_seconds)
        rng = random.Random(seed)
        self.datasets = [self._make_dataset(rng, i) for i in range(datasets)]
        self.jobs = [self._make_job(rng, i, datasets) for i in range(jobs)]
        self._facets_cache: dict[tuple[int, int], dict[str, Any]] = {}

    @staticmethod
    def _make_dataset(rng: random.Random, index: int) -> _Dataset:
        domain = _DOMAINS[index % len(_DOMAINS)]
        ns_tpl, name_tpl, dataset_type = _STORES[rng.randrange(len(_STORES))]
        table = f"{rng.choice(_TABLES)}_{index}"
        name = name_tpl.format(
            domain=domain, DOMAIN=domain.upper(), table=table, TABLE=table.upper()
        )
        columns = rng.sample(_COLUMNS, rng.randint(4, 10))
        return _Dataset(
            ns_tpl.format(domain=domain), name, dataset_type, columns, rng.randint(1_000, 5_000_000)
        )

    @staticmethod
    def _make_job(rng: random.Random, index: int, datasets: int) -> _Job:
        domain = _DOMAINS[index % len(_DOMAINS)]
        ns_tpl, integration, job_type = _ORCHESTRATORS[rng.randrange(len(_ORCHESTRATORS))]
        dag = f"{domain}_pipeline_{index // 5}"
        name = f"{dag}.task_{index}" if integration == "AIRFLOW" else f"{domain}.model_{index}"
        picks = rng.sample(range(datasets), rng.randint(2, 4))
        n_out = 1 if len(picks) < 4 else 2
        return _Job(
            namespace=ns_tpl.format(domain=domain),
            name=name,
            integration=integration,
            job_type=job_type,
            domain=domain,
            inputs=picks[n_out:],
            outputs=picks[:n_out],
            column_lineage=rng.random() < 0.35,
            parent=dag if integration == "AIRFLOW" else None,
        )

    # --- events -------------------------------------------------------------------------

    def started(self, run: int) -> datetime:
        return EPOCH + self.interval * run

    def run_id(self, run: int) -> str:
        return str(generate_static_uuid(self.started(run), f"{self.seed}:{run}".encode()))

    def events(self, count: int, *, first_run: int = 0) -> Iterator[dict[str, Any]]:
        """``count`` events: START and COMPLETE (or FAIL) of runs ``first_run``, ``+1``..."""
        run = first_run
        produced = 0
        while produced < count:
            start, end = self.run_events(run)
            yield start
            produced += 1
            if produced < count:
                yield end
                produced += 1
            run += 1

    def run_events(self, run: int) -> tuple[dict[str, Any], dict[str, Any]]:
        rng = random.Random(f"{self.seed}:{run}")
        job = self.jobs[run % len(self.jobs)]
        started = self.started(run)
        ended = started + timedelta(seconds=rng.randint(5, 900))
        failed = rng.random() < 0.03
        run_facets: dict[str, Any] = {
            "nominalTime": {
                **_facet("NominalTimeRunFacet"),
                "nominalStartTime": _iso(started.replace(second=0)),
            },
            "processing_engine": {
                **_facet("ProcessingEngineRunFacet", "1-1-1"),
                "name": job.integration.title(),
                "version": "2.10.2",
                "openlineageAdapterVersion": "1.30.0",
            },
        }
        if job.parent:
            day = started.replace(hour=0, minute=0, second=0, microsecond=0)
            dag_run = generate_static_uuid(day, f"{self.seed}:{job.parent}:{day}".encode())
            run_facets["parent"] = {
                **_facet("ParentRunFacet", "1-1-0"),
                "run": {"runId": str(dag_run)},
                "job": {"namespace": job.namespace, "name": job.parent},
            }
        job_facets = {
            "jobType": {
                **_facet("JobTypeJobFacet", "2-0-3"),
                "processingType": "BATCH",
                "integration": job.integration,
                "jobType": job.job_type,
            },
            "ownership": {
                **_facet("OwnershipJobFacet"),
                "owners": [{"name": f"team:{job.domain}-data", "type": "TEAM"}],
            },
        }
        run_id = self.run_id(run)
        start = self._event("START", started, run_id, run_facets, job, job_facets, run, None)
        end_facets = dict(run_facets)
        if failed:
            end_facets["errorMessage"] = {
                **_facet("ErrorMessageRunFacet"),
                "message": "canceling statement due to statement timeout",
                "programmingLanguage": "python",
                "stackTrace": _STACK.format(dag=job.parent or job.name),
            }
        end = self._event(
            "FAIL" if failed else "COMPLETE", ended, run_id, end_facets, job, job_facets, run, rng
        )
        return start, end

    def _event(
        self,
        event_type: str,
        at: datetime,
        run_id: str,
        run_facets: dict[str, Any],
        job: _Job,
        job_facets: dict[str, Any],
        run: int,
        rng: random.Random | None,
    ) -> dict[str, Any]:
        """START events name the datasets; terminal ones describe them (``rng`` given)."""
        inputs = [self._ref(d, run, rng, "input") for d in job.inputs]
        outputs = [
            self._ref(d, run, rng, "output", job if job.column_lineage else None)
            for d in job.outputs
        ]
        return {
            "eventType": event_type,
            "eventTime": _iso(at),
            "producer": PRODUCER,
            "schemaURL": RUN_EVENT_SCHEMA,
            "run": {"runId": run_id, "facets": run_facets},
            "job": {"namespace": job.namespace, "name": job.name, "facets": job_facets},
            "inputs": inputs,
            "outputs": outputs,
        }

    def _ref(
        self,
        index: int,
        run: int,
        rng: random.Random | None,
        direction: str,
        job: _Job | None = None,
    ) -> dict[str, Any]:
        ds = self.datasets[index]
        ref: dict[str, Any] = {"namespace": ds.namespace, "name": ds.name}
        if rng is None:
            return ref
        ref["facets"] = self._dataset_facets(index, run)
        if direction == "output":
            growth = 1 + run / 1_000_000
            ref["outputFacets"] = {
                "outputStatistics": {
                    **_facet("OutputStatisticsOutputDatasetFacet", "1-0-2"),
                    "rowCount": int(ds.base_rows * growth) + rng.randint(0, 1000),
                    "size": int(ds.base_rows * growth * 180),
                }
            }
            if job is not None:
                ref["facets"] = {**ref["facets"], "columnLineage": self._column_lineage(ds, job)}
        return ref

    def _columns(self, index: int, run: int) -> list[tuple[str, str]]:
        ds = self.datasets[index]
        # Datasets change schema at different runs, not all at once: each goes through
        # SCHEMA_STEPS schemas in turn, one every `period` runs, at a phase of its own.
        period = self.schema_change_every
        cycle = period * SCHEMA_STEPS
        extra = (run + index * 7919) % cycle // period if period else 0
        return ds.columns + [(f"added_col_{i}", "VARCHAR") for i in range(extra)]

    def _dataset_facets(self, index: int, run: int) -> dict[str, Any]:
        columns = self._columns(index, run)
        key = (index, len(columns))
        cached = self._facets_cache.get(key)
        if cached is not None:
            return cached
        ds = self.datasets[index]
        facets = {
            "schema": {
                **_facet("SchemaDatasetFacet", "1-1-1"),
                "fields": [
                    {"name": name, "type": ctype, "description": f"{name.replace('_', ' ')}"}
                    for name, ctype in columns
                ],
            },
            "dataSource": {
                **_facet("DatasourceDatasetFacet"),
                "name": ds.namespace,
                "uri": ds.namespace,
            },
            "datasetType": {
                **_facet("DatasetTypeDatasetFacet", "1-0-0"),
                "datasetType": ds.dataset_type,
            },
        }
        self._facets_cache[key] = facets
        return facets

    def _column_lineage(self, ds: _Dataset, job: _Job) -> dict[str, Any]:
        source = self.datasets[job.inputs[0]] if job.inputs else ds
        fields = {}
        for name, _ in ds.columns[:4]:
            fields[name] = {
                "inputFields": [
                    {
                        "namespace": source.namespace,
                        "name": source.name,
                        "field": source.columns[0][0],
                        "transformations": [{"type": "DIRECT", "subtype": "IDENTITY"}],
                    }
                ]
            }
        return {**_facet("ColumnLineageDatasetFacet", "1-2-0"), "fields": fields}


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--datasets", type=int, default=600)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--first-run", type=int, default=0)
    parser.add_argument("--output", "-o", default="-", help="file to write, - for stdout")
    args = parser.parse_args(argv)
    mesh = MeshGenerator(jobs=args.jobs, datasets=args.datasets, seed=args.seed)
    out = sys.stdout if args.output == "-" else open(args.output, "w")  # noqa: SIM115
    try:
        for event in mesh.events(args.events, first_run=args.first_run):
            out.write(json.dumps(event, separators=(",", ":")))
            out.write("\n")
    finally:
        if out is not sys.stdout:
            out.close()


if __name__ == "__main__":
    main()

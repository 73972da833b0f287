"""A synthetic run history for the SLO benchmark, written straight to the tables.

One dataset per SLO; every job writes two datasets and runs on a fixed cadence over
``days`` days up to ``now``, so that ``runs`` runs are stored. What the SLO kinds read is
there: runs with their state and end time, output rows (``RunDataset``), row counts
(``DatasetStatistics``) and, for the datasets under a quality SLO, assertion results. Some
jobs pause for a while (freshness breaches), ~3% of runs fail, some row counts drop.
Raw events are not written: no SLO reads them.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from catalog.models import Dataset, DatasetVersion, Namespace
from governance.models import DAY, Slo, SloKind
from lineage.models import (
    DataQualityAssertion,
    DatasetStatistics,
    Direction,
    Job,
    JobDataset,
    Run,
    RunDataset,
    RunState,
)

NAMESPACE = "bench://slo"
RUN_NAMESPACE = uuid.UUID("8a1d3c55-2b9e-4f0e-b1a7-5d6c7e8f9a01")
CHUNK = 5_000  # runs per transaction
# Kinds in proportion: out of 20 SLOs, 9 freshness, 4 volume, 3 quality, 4 pipeline success.
KIND_CYCLE = (
    [SloKind.FRESHNESS] * 9
    + [SloKind.VOLUME] * 4
    + [SloKind.QUALITY] * 3
    + [SloKind.PIPELINE_SUCCESS] * 4
)


@dataclass
class Scale:
    slos: int
    runs: int
    days: int = 35

    @property
    def jobs(self) -> int:
        return max(1, self.slos // 2)


def write_history(scale: Scale, *, now: datetime | None = None, seed: int = 11) -> dict[str, int]:
    """Datasets, jobs, runs and their signals, then one SLO per dataset."""
    now = now or timezone.now()
    rng = random.Random(seed)
    namespace = Namespace.objects.create(name=NAMESPACE)
    datasets = _datasets(namespace, scale.slos)
    jobs = _jobs(namespace, scale.jobs, datasets)
    quality = {pk for i, pk in enumerate(datasets) if KIND_CYCLE[i % 20] == SloKind.QUALITY}
    per_job = max(1, scale.runs // len(jobs))
    every = timedelta(seconds=scale.days * DAY / per_job)
    first = now - timedelta(days=scale.days)
    next_pk = (Run.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    batch: list[tuple[int, int, int]] = []  # (job index, run number, run pk)
    for number in range(per_job):
        for j in range(len(jobs)):
            batch.append((j, number, next_pk))
            next_pk += 1
            if len(batch) >= CHUNK:
                _write_runs(batch, jobs, datasets, quality, first, every, rng)
                batch = []
    _write_runs(batch, jobs, datasets, quality, first, every, rng)
    _reset_run_sequence()
    _slos(datasets, now)
    return {"datasets": len(datasets), "jobs": len(jobs), "runs": per_job * len(jobs)}


def _datasets(namespace: Namespace, count: int) -> list[int]:
    rows = [
        Dataset(namespace=namespace, name=f"warehouse.table_{i:06d}", schema_hash="h0")
        for i in range(count)
    ]
    Dataset.objects.bulk_create(rows, batch_size=2_000)
    pks = list(
        Dataset.objects.filter(namespace=namespace).order_by("name").values_list("pk", flat=True)
    )
    fields = [{"name": "id", "type": "bigint"}, {"name": "amount", "type": "decimal"}]
    DatasetVersion.objects.bulk_create(
        [DatasetVersion(dataset_id=pk, schema_hash="h0", fields=fields) for pk in pks],
        batch_size=2_000,
    )
    return pks


def _jobs(namespace: Namespace, count: int, datasets: list[int]) -> list[tuple[int, list[int]]]:
    Job.objects.bulk_create(
        [Job(namespace=namespace, name=f"etl.job_{i:06d}") for i in range(count)], batch_size=2_000
    )
    pks = list(
        Job.objects.filter(namespace=namespace).order_by("name").values_list("pk", flat=True)
    )
    jobs = [(pk, datasets[2 * i : 2 * i + 2] or datasets[-1:]) for i, pk in enumerate(pks)]
    JobDataset.objects.bulk_create(
        [
            JobDataset(job_id=pk, dataset_id=ds, direction=Direction.OUTPUT)
            for pk, outputs in jobs
            for ds in outputs
        ],
        batch_size=5_000,
    )
    return jobs


def _write_runs(
    batch: list[tuple[int, int, int]],
    jobs: list[tuple[int, list[int]]],
    datasets: list[int],
    quality: set[int],
    first: datetime,
    every: timedelta,
    rng: random.Random,
) -> None:
    runs: list[Run] = []
    io: list[RunDataset] = []
    stats: list[DatasetStatistics] = []
    checks: list[DataQualityAssertion] = []
    for j, number, pk in batch:
        if _paused(j, number):
            continue
        job_pk, outputs = jobs[j]
        ended = first + every * number + timedelta(seconds=j % 600)
        failed = rng.random() < 0.03
        runs.append(_run(pk, job_pk, j, number, ended, failed))
        for ds in outputs:
            io.append(RunDataset(run_id=pk, dataset_id=ds, direction=Direction.OUTPUT))
            rows = 1_000_000 + (ds % 1000) * 1000 + number * 10
            if rng.random() < 0.01:
                rows //= 10  # a partial load
            stats.append(
                DatasetStatistics(
                    run_id=pk,
                    dataset_id=ds,
                    direction=Direction.OUTPUT,
                    row_count=rows,
                    observed_at=ended,
                )
            )
            if ds in quality:
                checks.extend(_assertions(pk, ds, ended, rng))
    with transaction.atomic():
        Run.objects.bulk_create(runs, batch_size=2_000)
        RunDataset.objects.bulk_create(io, batch_size=5_000)
        DatasetStatistics.objects.bulk_create(stats, batch_size=5_000)
        DataQualityAssertion.objects.bulk_create(checks, batch_size=5_000)


def _paused(job: int, number: int) -> bool:
    """One job in 50 stops for 12 runs in the middle of the history."""
    return job % 50 == 7 and 100 <= number % 400 < 112


def _run(pk: int, job_pk: int, j: int, number: int, ended: datetime, failed: bool) -> Run:
    started = ended - timedelta(minutes=10)
    return Run(
        pk=pk,
        uuid=uuid.uuid5(RUN_NAMESPACE, f"{j}:{number}"),
        job_id=job_pk,
        state=RunState.FAILED if failed else RunState.COMPLETED,
        started_at=started,
        ended_at=ended,
        transitioned_at=ended,
        events_count=2,
        created_at=started,
        updated_at=ended,
    )


def _assertions(run: int, dataset: int, at: datetime, rng: random.Random) -> Iterator[Any]:
    for name in ("not_null", "unique", "accepted_values"):
        yield DataQualityAssertion(
            run_id=run,
            dataset_id=dataset,
            assertion=name,
            column="id",
            success=rng.random() > 0.02,
            severity="error",
            observed_at=at,
        )


def _reset_run_sequence() -> None:
    from django.core.management.color import no_style

    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Run]):
            cursor.execute(sql)


def _slos(datasets: list[int], now: datetime) -> None:
    names = dict(Dataset.objects.filter(pk__in=datasets).values_list("pk", "name"))
    Slo.objects.bulk_create(
        [_slo(i, names[pk], now) for i, pk in enumerate(datasets)], batch_size=2_000
    )


def _slo(index: int, name: str, now: datetime) -> Slo:
    kind = KIND_CYCLE[index % 20]
    values: dict[str, Any] = {  # type: ignore[assignment]
        SloKind.FRESHNESS: {"threshold_seconds": 6 * 3600},
        SloKind.VOLUME: {"min_rows": 500_000, "tolerance": 0.5},
        SloKind.QUALITY: {"target": 1.0},
        SloKind.PIPELINE_SUCCESS: {"target": 0.95, "window_seconds": 7 * DAY},
    }[kind]
    return Slo(
        name=f"{kind} {index}",
        kind=kind,
        namespace=NAMESPACE,
        dataset_name=name,
        created_at=now - timedelta(days=30),
        **values,
    )

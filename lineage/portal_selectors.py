"""Lineage reads for the portal pages (runs, jobs, and lineage panels on catalog pages)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar, overload

from django.db.models import (
    Case,
    Exists,
    F,
    IntegerField,
    Model,
    OuterRef,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.db.models.query import QuerySet

from catalog.models import DataProduct, Dataset, Namespace, PortBinding
from lineage.models import (
    DataQualityAssertion,
    DatasetStatistics,
    Direction,
    Job,
    JobDataset,
    LineageEvent,
    Run,
    RunDataset,
    RunState,
)

M = TypeVar("M", bound=Model)

# Runs that need attention are listed before the others.
ATTENTION_STATES = (RunState.FAILED, RunState.ABORTED)


def format_duration(ms: int | None) -> str:
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


@dataclass(frozen=True)
class RunRow:
    """A run as listed: the row plus what the templates cannot compute."""

    run: Run

    @property
    def duration(self) -> str:
        return format_duration(self.run.duration_ms)


def run_rows(runs: Iterable[Run]) -> list[RunRow]:
    return [RunRow(run) for run in runs]


# --- counts and lists -------------------------------------------------------------------


def lineage_counts() -> dict[str, int]:
    return {
        "jobs": Job.objects.count(),
        "runs": Run.objects.count(),
        "events": LineageEvent.objects.count(),
    }


def runs_failed_recently(*, limit: int = 10) -> list[RunRow]:
    runs = (
        Run.objects.filter(state=RunState.FAILED)
        .select_related("job__namespace")
        .order_by("-updated_at", "-id")[:limit]
    )
    return run_rows(runs)


def runs_recent(*, limit: int = 8) -> list[RunRow]:
    runs = Run.objects.select_related("job__namespace").order_by("-updated_at", "-id")[:limit]
    return run_rows(runs)


def namespaces_with_jobs() -> list[Namespace]:
    return list(Namespace.objects.filter(Exists(Job.objects.filter(namespace=OuterRef("pk")))))


class KeysFirst(Sequence[M]):
    """A sorted queryset that :class:`~django.core.paginator.Paginator` reads a page of in
    two steps: the primary keys of the page, sorted by the database on narrow rows without
    the joins, then those rows with their joins. Sorting the joined rows (every run with
    its job and namespace, ~230k) took ~100 ms; the keys alone ~30 ms."""

    ordered = True  # what Paginator asks of a queryset

    def __init__(self, queryset: QuerySet[M]) -> None:
        self.queryset = queryset

    def __len__(self) -> int:
        return self.queryset.count()

    @overload
    def __getitem__(self, index: int) -> M: ...

    @overload
    def __getitem__(self, index: slice) -> list[M]: ...

    def __getitem__(self, index: int | slice) -> M | list[M]:
        if isinstance(index, int):
            return self.queryset[index]
        keys = list(self.queryset.values_list("pk", flat=True)[index])
        rows = {row.pk: row for row in self.queryset.filter(pk__in=keys)}
        return [rows[key] for key in keys if key in rows]

    def __iter__(self) -> Iterator[M]:
        return iter(self.queryset)


def run_list(*, state: str = "", namespace: Namespace | None = None) -> KeysFirst[Run]:
    """Runs that failed or were aborted first, then the most recent first."""
    runs = Run.objects.select_related("job__namespace")
    if state:
        runs = runs.filter(state=state)
    if namespace is not None:
        runs = runs.filter(job__namespace=namespace)
    attention = Case(
        When(state__in=ATTENTION_STATES, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return KeysFirst(
        runs.annotate(
            attention=attention, at=Coalesce("started_at", "ended_at", "created_at")
        ).order_by("attention", "-at", "-id")
    )


# --- a run ------------------------------------------------------------------------------


def run_get(*, run_uuid: uuid.UUID) -> Run | None:
    return (
        Run.objects.select_related("job__namespace", "parent__job__namespace")
        .filter(uuid=run_uuid)
        .first()
    )


def run_children(*, run: Run, limit: int = 100) -> list[RunRow]:
    return run_rows(
        run.children.select_related("job__namespace").order_by("created_at", "id")[:limit]
    )


@dataclass(frozen=True)
class IoRow:
    io: RunDataset
    stats: DatasetStatistics | None


def run_io(*, run: Run) -> tuple[list[IoRow], list[IoRow]]:
    """The run's inputs and outputs, each with the statistics the run reported for it."""
    stats = {(s.dataset_id, s.direction): s for s in DatasetStatistics.objects.filter(run=run)}
    inputs: list[IoRow] = []
    outputs: list[IoRow] = []
    for io in (
        RunDataset.objects.filter(run=run)
        .select_related("dataset__namespace")
        .order_by("dataset__namespace__name", "dataset__name")
    ):
        row = IoRow(io, stats.get((io.dataset_id, io.direction)))
        (inputs if io.direction == Direction.INPUT else outputs).append(row)
    return inputs, outputs


def run_assertions(*, run: Run) -> list[DataQualityAssertion]:
    return list(
        DataQualityAssertion.objects.filter(run=run)
        .select_related("dataset__namespace")
        .order_by("success", "dataset__name", "assertion", "id")
    )


RUN_EVENTS_SHOWN = 50


def run_events(*, run: Run, limit: int = RUN_EVENTS_SHOWN) -> list[LineageEvent]:
    return list(
        LineageEvent.objects.filter(run_uuid=run.uuid)
        .defer("payload")
        .order_by("event_time", "id")[:limit]
    )


def run_events_purged(*, run: Run, shown: list[LineageEvent]) -> int:
    """How many of the events the run was projected from are no longer in the raw log
    (``purge_events``): the page says so instead of listing fewer than it counts."""
    stored = len(shown)
    if stored >= RUN_EVENTS_SHOWN:
        stored = LineageEvent.objects.filter(run_uuid=run.uuid).count()
    return max(0, run.events_count - stored)


# --- a job ------------------------------------------------------------------------------


def job_get(*, pk: int) -> Job | None:
    return (
        Job.objects.select_related("namespace", "parent__namespace", "latest_run")
        .filter(pk=pk)
        .first()
    )


def job_datasets(*, job: Job) -> tuple[list[JobDataset], list[JobDataset]]:
    """The datasets the job reads and writes, across all its runs."""
    edges = (
        JobDataset.objects.filter(job=job)
        .select_related("dataset__namespace")
        .order_by("dataset__namespace__name", "dataset__name")
    )
    inputs = [e for e in edges if e.direction == Direction.INPUT]
    return inputs, [e for e in edges if e.direction == Direction.OUTPUT]


def job_runs(*, job: Job, limit: int = 20) -> list[RunRow]:
    return run_rows(Run.objects.filter(job=job).order_by("-created_at", "-id")[:limit])


def job_children(*, job: Job, limit: int = 100) -> list[Job]:
    return list(Job.objects.filter(parent=job).select_related("namespace", "latest_run")[:limit])


@dataclass(frozen=True)
class SourceLine:
    label: str
    value: str
    href: str = ""


def source_code_lines(location: dict[str, object]) -> list[SourceLine]:
    """The sourceCodeLocation facet as label/value lines; only http(s) URLs become links."""
    lines = []
    for key, value in location.items():
        text = str(value)
        is_link = key in {"url", "repoUrl"} and text.startswith(("https://", "http://"))
        lines.append(SourceLine(key, text, text if is_link else ""))
    return lines


# --- a dataset (panel on the catalog page) ----------------------------------------------


def dataset_jobs(*, dataset: Dataset) -> tuple[list[JobDataset], list[JobDataset]]:
    """Jobs that write the dataset (producers) and jobs that read it (consumers)."""
    edges = (
        JobDataset.objects.filter(dataset=dataset)
        .select_related("job__namespace", "job__latest_run")
        .order_by("job__namespace__name", "job__name")
    )
    producers = [e for e in edges if e.direction == Direction.OUTPUT]
    return producers, [e for e in edges if e.direction == Direction.INPUT]


@dataclass(frozen=True)
class DatasetRunRow:
    io: RunDataset

    @property
    def duration(self) -> str:
        return format_duration(self.io.run.duration_ms)


def dataset_runs(*, dataset: Dataset, limit: int = 20) -> list[DatasetRunRow]:
    """The latest runs that read or wrote the dataset (newest runs first)."""
    ios = (
        RunDataset.objects.filter(dataset=dataset)
        .select_related("run__job__namespace")
        .order_by("-run_id", "direction")[:limit]
    )
    return [DatasetRunRow(io) for io in ios]


def dataset_statistics(*, dataset: Dataset, limit: int = 10) -> list[DatasetStatistics]:
    return list(
        DatasetStatistics.objects.filter(dataset=dataset)
        .select_related("run")
        .order_by("-observed_at", "-id")[:limit]
    )


def dataset_assertions(*, dataset: Dataset, limit: int = 20) -> list[DataQualityAssertion]:
    return list(
        DataQualityAssertion.objects.filter(dataset=dataset)
        .select_related("run")
        .order_by("-observed_at", "-id")[:limit]
    )


# --- governance ------------------------------------------------------------------------


def jobs_latest_run_failed(*, limit: int = 100) -> tuple[list[Job], int]:
    jobs = Job.objects.filter(latest_run__state=RunState.FAILED)
    return (
        list(
            jobs.select_related("namespace", "latest_run").order_by(
                F("latest_run_at").desc(nulls_last=True), "id"
            )[:limit]
        ),
        jobs.count(),
    )


@dataclass
class QualityFailure:
    dataset: Dataset
    run_id: int
    observed_at: datetime
    failed: list[DataQualityAssertion] = field(default_factory=list)

    @property
    def run(self) -> Run | None:
        return self.failed[0].run if self.failed else None


def datasets_failing_quality(*, limit: int = 100) -> tuple[list[QualityFailure], int]:
    """Datasets whose latest assertions (those of the last run that checked them) fail.

    Only datasets with assertions are looked at (``pk__in``): most datasets have none,
    and asking each of them for its latest run cost ~40 ms at 66k datasets."""
    latest = DataQualityAssertion.objects.filter(dataset=OuterRef("pk")).order_by(
        "-observed_at", "-id"
    )
    checked = DataQualityAssertion.objects.values("dataset_id")
    failing = (
        Dataset.objects.filter(pk__in=checked)
        .annotate(
            checked_by=Subquery(latest.values("run_id")[:1]),
            checked_at=Subquery(latest.values("observed_at")[:1]),
        )
        .filter(
            Exists(
                DataQualityAssertion.objects.filter(
                    dataset=OuterRef("pk"), run_id=OuterRef("checked_by"), success=False
                )
            )
        )
    )
    rows = {
        d.pk: QualityFailure(d, d.checked_by, d.checked_at)
        for d in failing.select_related("namespace").order_by("-checked_at", "id")[:limit]
    }
    for a in (
        DataQualityAssertion.objects.filter(
            dataset_id__in=rows, run_id__in={r.run_id for r in rows.values()}, success=False
        )
        .select_related("run")
        .order_by("assertion", "id")
    ):
        row = rows[a.dataset_id]
        # A run may report the same assertion in several events; list it once.
        seen = {(f.assertion, f.column) for f in row.failed}
        if a.run_id == row.run_id and (a.assertion, a.column) not in seen:
            row.failed.append(a)
    return list(rows.values()), failing.count()


@dataclass
class BoundDataset:
    """A product's bound dataset as lineage sees it: the last run that wrote it."""

    namespace: str
    name: str
    port: str
    dataset: Dataset | None
    last_run: Run | None


def product_datasets(*, product: DataProduct) -> list[BoundDataset]:
    """Each dataset the product's output ports bind to, with the last run writing it —
    three queries whatever the number of bindings."""
    bindings = list(
        PortBinding.objects.filter(port__product=product)
        .select_related("port")
        .order_by("port__name", "namespace", "name")
    )
    if not bindings:
        return []
    last_write = (
        RunDataset.objects.filter(dataset=OuterRef("pk"), direction=Direction.OUTPUT)
        .order_by("-run__created_at", "-run_id")
        .values("run_id")[:1]
    )
    datasets = {
        (d.namespace.name, d.name): d
        for d in Dataset.objects.filter(
            namespace__name__in={b.namespace for b in bindings},
            name__in={b.name for b in bindings},
        )
        .select_related("namespace")
        .annotate(last_run_id=Subquery(last_write))
    }
    runs = Run.objects.select_related("job").in_bulk(
        [d.last_run_id for d in datasets.values() if d.last_run_id]  # type: ignore[attr-defined]
    )
    found = []
    for b in bindings:
        dataset = datasets.get((b.namespace, b.name))
        run_id = getattr(dataset, "last_run_id", None)
        found.append(BoundDataset(b.namespace, b.name, b.port.name, dataset, runs.get(run_id)))
    return found

"""Lineage reads shared by views: querysets shaped so that listing them costs a fixed
number of queries, whatever the number of rows."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import F, Prefetch, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from catalog.consumers import Consumer, DatasetRef
from catalog.models import Dataset, DatasetField, DatasetSymlink, DatasetVersion, Namespace
from catalog.product_selectors import bound_datasets, datasets_by_name
from lineage.models import (
    ColumnLineage,
    Job,
    JobDataset,
    LineageEvent,
    Run,
    RunDataset,
    RunState,
)
from lineage.portal_selectors import format_duration

# --- namespaces -------------------------------------------------------------------------


def namespace_list() -> QuerySet[Namespace]:
    return Namespace.objects.order_by("name", "id")


def namespace_get(*, name: str) -> Namespace | None:
    return Namespace.objects.filter(name=name).first()


# --- datasets ---------------------------------------------------------------------------


def _dataset_queryset() -> QuerySet[Dataset]:
    """Datasets with their namespace, current version id, fields and column lineage."""
    return (
        Dataset.objects.select_related("namespace")
        .annotate(current_version_uuid=F("current_version__version"))
        .prefetch_related(
            Prefetch("schema_fields", queryset=DatasetField.objects.order_by("ordinal", "id")),
            Prefetch(
                "column_inputs",
                # A dataset-wide dependency (no output field) has no column to hang on.
                queryset=ColumnLineage.objects.exclude(output_field="")
                .select_related("input_dataset__namespace")
                .only(
                    "output_dataset_id",
                    "output_field",
                    "input_field",
                    "transformation_type",
                    "transformation_subtype",
                    "description",
                    "input_dataset__name",
                    "input_dataset__namespace__name",
                )
                .order_by("output_field", "id"),
            ),
        )
    )


def dataset_list(*, namespace: Namespace) -> QuerySet[Dataset]:
    return _dataset_queryset().filter(namespace=namespace).order_by("name", "id")


def dataset_get(*, namespace: Namespace, name: str) -> Dataset | None:
    return _dataset_queryset().filter(namespace=namespace, name=name).first()


def dataset_version_list(*, namespace: Namespace, name: str) -> QuerySet[DatasetVersion] | None:
    """The dataset's schema versions, newest first; ``None`` when there is no such dataset."""
    dataset_id = (
        Dataset.objects.filter(namespace=namespace, name=name).values_list("pk", flat=True).first()
    )
    if dataset_id is None:
        return None
    return (
        DatasetVersion.objects.filter(dataset_id=dataset_id)
        .select_related("dataset__namespace")
        .order_by("-created_at", "-id")
    )


# --- jobs and runs ----------------------------------------------------------------------


def _run_io_prefetch(lookup: str) -> Prefetch:
    return Prefetch(
        lookup,
        queryset=RunDataset.objects.select_related("dataset__namespace", "version")
        .only(
            "run_id",
            "direction",
            "facets",
            "dataset__name",
            "dataset__namespace__name",
            "version__version",
            "version__facets",
        )
        .order_by("id"),
    )


def run_queryset() -> QuerySet[Run]:
    return Run.objects.select_related("job__namespace").prefetch_related(_run_io_prefetch("io"))


def _job_queryset() -> QuerySet[Job]:
    return Job.objects.select_related(
        "namespace", "parent__namespace", "latest_run__job__namespace"
    ).prefetch_related(
        Prefetch(
            "dataset_edges",
            queryset=JobDataset.objects.select_related("dataset__namespace")
            .only("job_id", "direction", "dataset__name", "dataset__namespace__name")
            .order_by("dataset__namespace__name", "dataset__name"),
        ),
        _run_io_prefetch("latest_run__io"),
    )


def job_list(*, namespace: Namespace) -> QuerySet[Job]:
    return _job_queryset().filter(namespace=namespace).order_by("name", "id")


def job_get(*, namespace: Namespace, name: str) -> Job | None:
    return _job_queryset().filter(namespace=namespace, name=name).first()


def job_run_list(*, namespace: Namespace, name: str) -> QuerySet[Run] | None:
    """The job's runs, the latest started first and runs not started yet last; ``None``
    when there is no such job."""
    job_id = Job.objects.filter(namespace=namespace, name=name).values_list("pk", flat=True).first()
    if job_id is None:
        return None
    return (
        run_queryset()
        .filter(job_id=job_id)
        .order_by(F("started_at").desc(nulls_last=True), "-created_at", "-id")
    )


def run_get(*, run_id: uuid.UUID) -> Run | None:
    return run_queryset().filter(uuid=run_id).first()


def runs_by_uuid(*, uuids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, Run]:
    wanted = {u for u in uuids if u is not None}
    if not wanted:
        return {}
    return {run.uuid: run for run in run_queryset().filter(uuid__in=wanted)}


def run_facets(*, run: Run, kind: str) -> dict[str, Any]:
    """The ``run`` or ``job`` facets the run's events carried, merged in event-time order
    so that the latest value of each facet wins.

    The raw events may have been purged (``manage.py purge_events``): then the projection
    answers for them — the run's facets as merged at ingestion, the job's as last
    described. Run facets start from the projection and the stored events are laid over
    it; every projected facet came from one of those events, so a run whose events are
    all kept answers exactly as if read from the events alone.
    """
    facets: dict[str, Any] = dict(run.facets) if kind == "run" else {}
    payloads = (
        LineageEvent.objects.filter(run_uuid=run.uuid, kind=LineageEvent.Kind.RUN)
        .order_by("event_time", "id")
        .values_list("payload", flat=True)
    )
    seen = False
    for payload in payloads:
        seen = True
        section = payload.get(kind) if isinstance(payload, dict) else None
        found = section.get("facets") if isinstance(section, dict) else None
        if isinstance(found, dict):
            facets.update(found)
    if kind == "job" and not seen:
        return dict(run.job.facets)
    return facets


# --- raw events -------------------------------------------------------------------------


def lineage_event_list() -> QuerySet[LineageEvent]:
    """Run events as posted, the latest event time first."""
    return LineageEvent.objects.filter(kind=LineageEvent.Kind.RUN).order_by("-event_time", "-id")


# --- consumers (catalog asks through catalog.consumers) ---------------------------------


def dataset_consumers(refs: Sequence[DatasetRef]) -> dict[DatasetRef, list[Consumer]]:
    """Jobs reading each referenced dataset, narrowed by column lineage where it exists.

    A job with column lineage from the dataset reads exactly the fields those edges name:
    it is affected by a change to ``ref.field`` only if it reads that field (or a field
    nested in it). A job that reads the dataset without column lineage may read anything,
    so it is listed too, marked ``via="dataset"``.
    """
    keys = {(ref.namespace, ref.name) for ref in refs}
    datasets = datasets_by_key(keys)
    if not datasets:
        return {}
    ids = [d.pk for d in datasets.values()]
    readers: dict[int, set[int]] = {}
    for job_id, dataset_id in JobDataset.objects.filter(
        dataset_id__in=ids, direction="input"
    ).values_list("job_id", "dataset_id"):
        readers.setdefault(dataset_id, set()).add(job_id)
    read_fields: dict[tuple[int, int], set[str]] = {}
    for job_id, dataset_id, field in ColumnLineage.objects.filter(
        input_dataset_id__in=ids, job__isnull=False
    ).values_list("job_id", "input_dataset_id", "input_field"):
        read_fields.setdefault((dataset_id, job_id), set()).add(field)
        readers.setdefault(dataset_id, set()).add(job_id)
    job_ids = set().union(*readers.values()) if readers else set()
    jobs = Job.objects.select_related("namespace").in_bulk(job_ids)
    writes: dict[int, list[tuple[str, str]]] = {}
    for job_id, ns, name in JobDataset.objects.filter(
        job_id__in=job_ids, direction="output"
    ).values_list("job_id", "dataset__namespace__name", "dataset__name"):
        writes.setdefault(job_id, []).append((ns, name))
    found: dict[DatasetRef, list[Consumer]] = {}
    for ref in refs:
        dataset = datasets.get((ref.namespace, ref.name))
        if dataset is None:
            continue
        consumers = []
        for job_id in sorted(readers.get(dataset.pk, ())):
            fields = read_fields.get((dataset.pk, job_id))
            if fields is not None and ref.field:
                hit = sorted(f for f in fields if f == ref.field or f.startswith(ref.field + "."))
                if not hit:
                    continue
                via = "column"
            else:
                hit, via = [], "dataset"
            job = jobs[job_id]
            consumers.append(
                Consumer(
                    job=f"{job.namespace.name}:{job.name}",
                    job_url=job.get_absolute_url(),
                    reads=f"{ref.namespace}:{ref.name}",
                    via=via,
                    fields=hit,
                    writes=sorted(writes.get(job_id, [])),
                )
            )
        found[ref] = consumers
    return found


def datasets_by_key(keys: set[tuple[str, str]]) -> dict[tuple[str, str], Dataset]:
    """Datasets by ``(namespace, name)``, also when the key is a symlink of one."""
    found = datasets_by_name(keys)
    for key, link in _symlinks(keys - found.keys()):
        found[key] = link.dataset
    return found


def product_datasets() -> list[tuple[int, int]]:
    """``(product pk, dataset pk)`` for every port binding naming a known dataset, by name
    or through a symlink."""
    rows = bound_datasets()
    missing = {(ns, name) for _, ns, name, pk in rows if pk is None}
    linked = {key: link.dataset_id for key, link in _symlinks(missing)}
    return [
        (product, pk if pk is not None else linked[(ns, name)])
        for product, ns, name, pk in rows
        if pk is not None or (ns, name) in linked
    ]


def _symlinks(keys: set[tuple[str, str]]) -> Iterator[tuple[tuple[str, str], DatasetSymlink]]:
    """The symlinks named by ``keys``, with their datasets."""
    if not keys:
        return
    links = DatasetSymlink.objects.filter(
        namespace__in={ns for ns, _ in keys}, name__in={n for _, n in keys}
    ).select_related("dataset")
    for link in links:
        if (link.namespace, link.name) in keys:
            yield (link.namespace, link.name), link


# --- lateness ---------------------------------------------------------------------------

# Runs of a job looked at to learn its rhythm, and how far past it counts as late.
_RHYTHM_RUNS = 10
_LATE_FACTOR = 2
_MIN_OVERRUN = timedelta(minutes=15)
_NOMINAL_SLACK = timedelta(minutes=30)


def job_lateness(job_ids: Collection[int], *, now: datetime) -> dict[int, str]:
    """Jobs that are overdue, with why, learnt from each job's own last runs (one query).

    A job is late when its latest run
    - is still running after twice its usual duration (median of its recent completed
      runs; at least 15 minutes over), or
    - started more than 30 minutes after its ``nominalStartTime``, or
    - is older than twice the usual gap between its runs (median of the recent gaps, at
      least three runs known): the next run should have come by now.
    """
    runs: dict[int, list[dict[str, Any]]] = {}
    for row in _recent_runs(list(job_ids)):
        runs.setdefault(row["job_id"], []).append(row)
    found = {}
    for job, rows in runs.items():
        rows.sort(key=_run_time, reverse=True)
        reason = _late_reason(rows, now)
        if reason:
            found[job] = reason
    return found


_RUN_COLUMNS = ("job_id", "state", "created_at", "started_at", "ended_at", "nominal_start_time")


def _recent_runs(job_ids: list[int]) -> list[dict[str, Any]]:
    """The last runs of each job, in plain SQL: graph answers ask this for hundreds of
    jobs at a time, and the ORM's window query costs five times as much to build."""
    if not job_ids:
        return []
    columns = ", ".join(_RUN_COLUMNS)
    sql = (
        f"SELECT {columns} FROM (SELECT {columns}, ROW_NUMBER() OVER "
        "(PARTITION BY job_id ORDER BY COALESCE(started_at, ended_at, created_at) DESC) "
        "AS recent "
        f"FROM {Run._meta.db_table} WHERE job_id IN ({', '.join(['%s'] * len(job_ids))})) "
        "ranked WHERE recent <= %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*job_ids, _RHYTHM_RUNS])
        rows = cursor.fetchall()
    return [
        {
            **dict(zip(_RUN_COLUMNS[:2], row[:2], strict=True)),
            **{c: _datetime(v) for c, v in zip(_RUN_COLUMNS[2:], row[2:], strict=True)},
        }
        for row in rows
    ]


def _datetime(value: Any) -> datetime | None:
    """A timestamp column as read by a raw cursor (SQLite gives it naive, in UTC)."""
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else parse_datetime(str(value))
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


def _median(values: list[timedelta]) -> timedelta:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _run_time(row: dict[str, Any]) -> datetime:
    """When a run happened, by its events (a run known only by COMPLETE has no start)."""
    return row["started_at"] or row["ended_at"] or row["created_at"]  # type: ignore[no-any-return]


def _late_reason(rows: list[dict[str, Any]], now: datetime) -> str:
    def human(delta: timedelta) -> str:
        return format_duration(int(delta.total_seconds() * 1000))

    latest = rows[0]
    durations = [
        r["ended_at"] - r["started_at"]
        for r in rows
        if r["state"] == RunState.COMPLETED and r["started_at"] and r["ended_at"]
    ]
    started = _run_time(latest)
    if latest["state"] in (RunState.RUNNING, RunState.NEW) and durations:
        usual = _median(durations)
        if now - started > max(usual * _LATE_FACTOR, usual + _MIN_OVERRUN):
            return f"running for {human(now - started)}, usually {human(usual)}"
    nominal = latest["nominal_start_time"]
    if nominal and latest["started_at"] and latest["started_at"] - nominal > _NOMINAL_SLACK:
        return f"started {human(latest['started_at'] - nominal)} after its scheduled time"
    starts = [_run_time(r) for r in rows]
    gaps = [a - b for a, b in itertools.pairwise(starts) if a > b]
    if len(gaps) >= 2:
        usual_gap = _median(gaps)
        if now - starts[0] > usual_gap * _LATE_FACTOR + _MIN_OVERRUN:
            return f"no run for {human(now - starts[0])}, usually every {human(usual_gap)}"
    return ""

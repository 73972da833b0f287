"""Project validated event facts into namespaces, jobs, runs, datasets and edges.

A batch is projected set-wise, in three steps, so that its cost is a handful of queries
rather than a dozen per event:

1. **load** every namespace, job, dataset (directly or through a symlink) and run the batch
   names, inserting the missing ones (``INSERT ... ON CONFLICT DO NOTHING`` then read:
   race-free across processes);
2. **apply** the events in order, in memory: the run state machine, latest descriptions,
   edges, run I/O, statistics, assertions, column lineage;
3. **flush** with bulk upserts and bulk updates of the rows that changed.

Schema changes (a new dataset version) and lifecycle changes are rare and written as they
are met. The projector must run inside ``transaction.atomic()`` together with the raw
insert, so that a failure rolls back both.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from django.db import models
from django.utils import timezone

from catalog.models import (
    Dataset,
    DatasetField,
    DatasetLifecycleEvent,
    DatasetSymlink,
    DatasetVersion,
    Namespace,
    Ownership,
)
from catalog.ownership import entries_from_facet, ownerships_sync
from catalog.search.outbox import search_outbox_add
from lineage.facets import DatasetFacts, EventFacts, JobFacts, RunFacts
from lineage.models import (
    ChangeOutbox,
    ColumnLineage,
    DataQualityAssertion,
    DatasetStatistics,
    Direction,
    GraphGeneration,
    Job,
    JobDataset,
    Run,
    RunDataset,
)
from meshport.prepared import insert_rows, new_row, select_where, update_rows

Key = tuple[str, str]

_RUN_FIELDS = [
    "job",
    "state",
    "started_at",
    "ended_at",
    "transitioned_at",
    "nominal_start_time",
    "nominal_end_time",
    "error_message",
    "error_language",
    "stack_trace",
    "parent",
    "root_uuid",
    "facets",
    "events_count",
    "updated_at",
]


class _Dirty:
    """Rows changed in memory, with the union of their changed fields."""

    def __init__(self) -> None:
        self.rows: dict[int, models.Model] = {}
        self.fields: set[str] = set()

    def set(self, row: models.Model, changes: dict[str, Any]) -> None:
        for attr, value in changes.items():
            setattr(row, attr, value)
        self.rows[row.pk] = row
        self.fields.update(changes)

    def flush(self, model: type[models.Model]) -> None:
        if self.rows:
            update_rows(model, self.rows.values(), sorted(self.fields))


class Projector:
    def __init__(self) -> None:
        self.now = timezone.now()
        self.namespaces: dict[str, int] = {}
        self.jobs: dict[Key, Job] = {}
        self.datasets: dict[Key, Dataset] = {}
        self.runs: dict[uuid.UUID, Run] = {}
        self._dirty_jobs = _Dirty()
        self._dirty_datasets = _Dirty()
        self._touched_runs: dict[int, Run] = {}
        self._job_edges: dict[tuple[int, int, str], dict[str, Any]] = {}
        self._run_io: dict[tuple[int, int, str], tuple[dict[str, Any], int | None]] = {}
        self._stats: dict[tuple[int, int, str], dict[str, Any]] = {}
        self._assertions: dict[tuple[int, int, str, str], dict[str, Any]] = {}
        self._columns: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._symlinks: dict[Key, dict[str, Any]] = {}
        # Datasets whose ownership facet changed: (dataset, owners, the job that said so).
        self._owners: dict[int, tuple[Dataset, list[dict[str, str]], str]] = {}
        self._earliest: datetime | None = None
        self._bare_runs: set[Key] = set()

    # --- 1. load ----------------------------------------------------------------------

    def project(self, batch: Sequence[EventFacts]) -> None:
        self._load(batch)
        for facts in batch:
            self._apply(facts)
        self._flush()

    def _load(self, batch: Sequence[EventFacts]) -> None:
        job_keys: set[Key] = set()
        dataset_keys: set[Key] = set()
        declared_links: dict[Key, Key] = {}
        run_jobs: dict[uuid.UUID, Key] = {}
        for facts in batch:
            if facts.job:
                job_keys.add((facts.job.namespace, facts.job.name))
            if facts.run and facts.job:
                run_jobs.setdefault(facts.run.run_id, (facts.job.namespace, facts.job.name))
                parent = facts.run.parent
                if parent is not None:
                    job_keys.add((parent.job_namespace, parent.job_name))
                    run_jobs.setdefault(parent.run_id, (parent.job_namespace, parent.job_name))
            for ds in facts.datasets:
                dataset_keys.add((ds.namespace, ds.name))
                for link in ds.symlinks:
                    declared_links.setdefault(
                        (link["namespace"], link["name"]), (ds.namespace, ds.name)
                    )
                dataset_keys.update((e.input_namespace, e.input_name) for e in ds.column_edges)
        self._load_namespaces({ns for ns, _ in job_keys | dataset_keys})
        self._load_jobs(job_keys)
        self._load_datasets(dataset_keys, declared_links)
        self._load_runs(run_jobs)

    def _load_namespaces(self, names: set[str]) -> None:
        def fetch(wanted: Collection[str]) -> None:
            self.namespaces.update(
                select_where(Namespace, {"name": wanted}, columns=("name", "id"))
            )

        fetch(names)
        missing = names - self.namespaces.keys()
        if missing:
            insert_rows(
                Namespace,
                [
                    new_row(Namespace, name=n, created_at=self.now, updated_at=self.now)
                    for n in sorted(missing)
                ],
                unique=["name"],
            )
            fetch(missing)

    def _fetch_keyed(self, model: type[Any], keys: set[Key]) -> dict[Key, Any]:
        """Rows of ``model`` whose ``(namespace name, name)`` is in ``keys``."""
        if not keys:
            return {}
        ns_names = {self.namespaces[ns]: ns for ns, _ in keys}
        rows = select_where(
            model, {"namespace": ns_names.keys(), "name": {name for _, name in keys}}
        )
        found = {}
        for row in rows:
            key = (ns_names[row.namespace_id], row.name)
            if key in keys:
                found[key] = row
        return found

    def _load_jobs(self, keys: set[Key]) -> None:
        self.jobs.update(self._fetch_keyed(Job, keys))
        missing = keys - self.jobs.keys()
        if missing:
            insert_rows(
                Job,
                [
                    new_row(
                        Job,
                        namespace_id=self.namespaces[ns],
                        name=name,
                        created_at=self.now,
                        updated_at=self.now,
                    )
                    for ns, name in sorted(missing)
                ],
                unique=["namespace", "name"],
            )
            self.jobs.update(self._fetch_keyed(Job, missing))

    def _load_datasets(self, keys: set[Key], declared_links: dict[Key, Key]) -> None:
        self.datasets.update(self._fetch_keyed(Dataset, keys))
        missing = keys - self.datasets.keys()
        if missing:
            # An identifier seen before as a symlink is the dataset it points to.
            links = (
                DatasetSymlink.objects.filter(
                    namespace__in={ns for ns, _ in missing}, name__in={n for _, n in missing}
                )
                .select_related("dataset")
                .order_by()
            )
            for link in links:
                if (link.namespace, link.name) in missing:
                    self.datasets[(link.namespace, link.name)] = link.dataset
            missing = keys - self.datasets.keys()
        # A symlink declared in this batch names a dataset loaded above (or made below).
        aliases = {
            key: declared_links[key]
            for key in missing
            if key in declared_links and declared_links[key] not in declared_links
        }
        missing -= aliases.keys()
        if missing:
            insert_rows(
                Dataset,
                [
                    new_row(
                        Dataset,
                        namespace_id=self.namespaces[ns],
                        name=name,
                        physical_name=name,
                        created_at=self.now,
                        updated_at=self.now,
                    )
                    for ns, name in sorted(missing)
                ],
                unique=["namespace", "name"],
            )
            self.datasets.update(self._fetch_keyed(Dataset, missing))
        for alias, target in aliases.items():
            self.datasets[alias] = self.datasets[target]
        # One row may be reachable by several keys (a symlink): share the instance.
        by_pk: dict[int, Dataset] = {}
        for key, row in self.datasets.items():
            self.datasets[key] = by_pk.setdefault(row.pk, row)

    def _load_runs(self, run_jobs: dict[uuid.UUID, Key]) -> None:
        if not run_jobs:
            return
        self.runs = {r.uuid: r for r in select_where(Run, {"uuid": run_jobs}, for_update=True)}
        missing = run_jobs.keys() - self.runs.keys()
        if missing:
            insert_rows(
                Run,
                [
                    new_row(
                        Run,
                        uuid=run_id,
                        job_id=self.jobs[run_jobs[run_id]].pk,
                        created_at=self.now,
                        updated_at=self.now,
                    )
                    for run_id in sorted(missing)
                ],
                unique=["uuid"],
            )
            self.runs.update(
                {r.uuid: r for r in select_where(Run, {"uuid": missing}, for_update=True)}
            )

    # --- 2. apply -----------------------------------------------------------------------

    def _apply(self, facts: EventFacts) -> None:
        event = facts.event
        if self._earliest is None or event.event_time < self._earliest:
            self._earliest = event.event_time
        if (
            facts.run is not None
            and facts.job
            and not any(d.direction == "output" for d in facts.datasets)
        ):
            # A run that names no output (a FAIL often does) still counts for its job's
            # outputs: the worker looks them up.
            self._bare_runs.add((facts.job.namespace, facts.job.name))
        job = self._describe_job(facts.job) if facts.job else None
        run = None
        if facts.run is not None and job is not None:
            run = self._apply_run(facts.run, job, event.event_type, event.event_time)
        # Who declared the owners, in history: the job (its node id), else the event kind.
        actor = f"job:{facts.job.namespace}:{facts.job.name}" if facts.job else "openlineage"
        for ds_facts in facts.datasets:
            dataset = self._describe_dataset(ds_facts, event.event_time, run, actor)
            if job is not None and ds_facts.direction:
                self._link(job, run, dataset, ds_facts, event.event_type, event.event_time)

    def _describe_job(self, facts: JobFacts) -> Job:
        job = self.jobs[(facts.namespace, facts.name)]
        changes: dict[str, Any] = {}
        for attr, value in (
            ("description", facts.description),
            ("sql", facts.sql),
            ("integration", facts.integration),
            ("job_type", facts.job_type),
            ("type", facts.processing_type),
            ("source_code_location", facts.source_code_location),
            ("owners", facts.owners),
            ("tags", facts.tags),
        ):
            if value is not None and getattr(job, attr) != value:
                changes[attr] = value
        if facts.facets:
            merged = {**job.facets, **facts.facets}
            if merged != job.facets:
                changes["facets"] = merged
        if changes:
            changes["updated_at"] = self.now
            self._dirty_jobs.set(job, changes)
        return job

    def _apply_run(self, facts: RunFacts, job: Job, event_type: str, at: datetime) -> Run:
        run = self.runs[facts.run_id]
        if run.job_id != job.pk:
            # A placeholder made from a child's parent facet names the job it was told.
            run.job = job
        run.apply_event(event_type, at)
        if facts.facets:
            run.facets = {**run.facets, **facts.facets}
        if facts.nominal_start:
            run.nominal_start_time = facts.nominal_start
            run.nominal_end_time = facts.nominal_end
        if facts.error_message is not None:
            run.error_message = facts.error_message
            run.error_language = facts.error_language
            run.stack_trace = facts.stack_trace
        parent = facts.parent
        if parent is not None and parent.run_id != run.uuid:
            parent_run = self.runs[parent.run_id]
            parent_job = self.jobs[(parent.job_namespace, parent.job_name)]
            run.parent = parent_run
            run.root_uuid = parent.root_run_id or parent_run.root_uuid or parent_run.uuid
            if job.parent_id != parent_job.pk and parent_job.pk != job.pk:
                self._dirty_jobs.set(job, {"parent_id": parent_job.pk})
        run.events_count += 1
        run.updated_at = self.now
        self._touched_runs[run.pk] = run
        started = run.started_at or at
        is_latest = (
            job.latest_run_id == run.pk or job.latest_run_at is None or started >= job.latest_run_at
        )
        if is_latest and (job.latest_run_id, job.latest_run_at) != (run.pk, started):
            self._dirty_jobs.set(job, {"latest_run_id": run.pk, "latest_run_at": started})
        return run

    def _describe_dataset(
        self, facts: DatasetFacts, at: datetime, run: Run | None, actor: str
    ) -> Dataset:
        dataset = self.datasets[(facts.namespace, facts.name)]
        changes: dict[str, Any] = {}
        for attr, value in (
            ("description", facts.description),
            ("owners", facts.owners),
            ("tags", facts.tags),
            ("source_name", facts.source_name),
            ("source_uri", facts.source_uri),
            ("subtype", facts.subtype),
        ):
            if value is not None and getattr(dataset, attr) != value:
                changes[attr] = value
        if facts.subtype is not None:
            kind = Dataset.Type.STREAM if facts.is_stream else Dataset.Type.DB_TABLE
            if kind != dataset.type:
                changes["type"] = kind
        if facts.facets:
            merged = {**dataset.facets, **facts.facets}
            if merged != dataset.facets:
                changes["facets"] = merged
        run_uuid = run.uuid if run else None
        if facts.fields is not None and facts.schema_hash != dataset.schema_hash:
            changes.update(self._new_version(dataset, facts, run_uuid))
        if facts.lifecycle_state:
            changes.update(self._lifecycle(dataset, facts, at, run_uuid))
        elif facts.direction == Direction.OUTPUT and dataset.is_deleted:
            # Written again after a DROP (or a rename away): the dataset exists again.
            changes.update({"is_deleted": False, "lifecycle_state": ""})
        for link in facts.symlinks:
            self._symlinks[(link["namespace"], link["name"])] = new_row(
                DatasetSymlink, dataset_id=dataset.pk, created_at=self.now, **link
            )
        if "owners" in changes:
            self._owners[dataset.pk] = (dataset, changes["owners"], actor)
        if changes:
            changes["updated_at"] = self.now
            self._dirty_datasets.set(dataset, changes)
        return dataset

    def _new_version(
        self, dataset: Dataset, facts: DatasetFacts, run_uuid: uuid.UUID | None
    ) -> dict[str, Any]:
        assert facts.fields is not None
        lookup = {"dataset_id": dataset.pk, "schema_hash": facts.schema_hash}
        version = DatasetVersion.objects.filter(**lookup).first()
        if version is None:
            DatasetVersion.objects.bulk_create(
                [
                    DatasetVersion(
                        **lookup,
                        fields=[f.__dict__ for f in facts.fields],
                        facets=facts.facets,
                        lifecycle_state=facts.lifecycle_state,
                        run_uuid=run_uuid,
                        created_at=self.now,
                    )
                ],
                ignore_conflicts=True,
            )
            version = DatasetVersion.objects.get(**lookup)
        DatasetField.objects.filter(dataset_id=dataset.pk).delete()
        insert_rows(
            DatasetField,
            [
                new_row(
                    DatasetField,
                    dataset_id=dataset.pk,
                    name=f.name[:1024],
                    parent_name=(f.parent or "")[:1024],
                    type=f.type[:255],
                    description=f.description,
                    ordinal=f.ordinal,
                )
                for f in facts.fields
            ],
            unique=["dataset", "name"],  # a schema may repeat a field name; the first wins
        )
        return {"current_version_id": version.pk, "schema_hash": facts.schema_hash}

    def _lifecycle(
        self, dataset: Dataset, facts: DatasetFacts, at: datetime, run_uuid: uuid.UUID | None
    ) -> dict[str, Any]:
        state = facts.lifecycle_state
        if (
            run_uuid is not None
            and DatasetLifecycleEvent.objects.filter(
                dataset=dataset, state=state, run_uuid=run_uuid
            ).exists()
        ):
            # START, RUNNING and COMPLETE of one run repeat the facet: one change.
            return {"lifecycle_state": state, "is_deleted": state == "DROP"}
        DatasetLifecycleEvent.objects.create(
            dataset=dataset,
            state=state,
            related_namespace=facts.previous_namespace,
            related_name=facts.previous_name,
            run_uuid=run_uuid,
            occurred_at=at,
        )
        if state == "RENAME" and facts.previous_name:
            previous = Dataset.objects.filter(
                namespace__name=facts.previous_namespace or facts.namespace,
                name=facts.previous_name,
            ).first()
            if previous is not None and previous.pk != dataset.pk:
                DatasetLifecycleEvent.objects.create(
                    dataset=previous,
                    state="RENAMED",
                    related_namespace=facts.namespace,
                    related_name=facts.name,
                    run_uuid=run_uuid,
                    occurred_at=at,
                )
                previous = self._cached_dataset(previous)
                self._dirty_datasets.set(
                    previous,
                    {"lifecycle_state": "RENAMED", "is_deleted": True, "updated_at": self.now},
                )
        return {"lifecycle_state": state, "is_deleted": state == "DROP"}

    def _cached_dataset(self, row: Dataset) -> Dataset:
        for cached in self.datasets.values():
            if cached.pk == row.pk:
                return cached
        return row

    def _link(
        self,
        job: Job,
        run: Run | None,
        dataset: Dataset,
        facts: DatasetFacts,
        event_type: str,
        at: datetime,
    ) -> None:
        direction = facts.direction
        key = (job.pk, dataset.pk, direction)
        self._job_edges[key] = {
            "job_id": job.pk,
            "dataset_id": dataset.pk,
            "direction": direction,
            "first_seen_at": self.now,
            "last_seen_at": self.now,
        }
        if direction == Direction.OUTPUT:
            self._column_lineage(job, dataset, facts)
        if run is None:
            return
        io_key = (run.pk, dataset.pk, direction)
        # Dataset facets (schema, dataSource...) live on the dataset and its versions; a
        # run's I/O row keeps what is particular to the run: the input/output facets.
        previous, _ = self._run_io.get(io_key, ({}, None))
        self._run_io[io_key] = ({**previous, **facts.io_facets}, dataset.current_version_id)
        if facts.stats is not None:
            self._stats[io_key] = {
                "run_id": run.pk,
                "dataset_id": dataset.pk,
                "direction": direction,
                "row_count": facts.stats.row_count,
                "bytes": facts.stats.bytes,
                "file_count": facts.stats.file_count,
                "column_metrics": facts.stats.column_metrics,
                "observed_at": at,
            }
        for a in facts.assertions:
            row: dict[str, Any] = {
                "run_id": run.pk,
                "dataset_id": dataset.pk,
                "assertion": a.assertion[:1024],
                "column": a.column[:1024],
                "success": a.success,
                "severity": a.severity[:16],
                "observed_at": at,
            }
            self._assertions[(run.pk, dataset.pk, a.assertion[:1024], a.column[:1024])] = row
        if (
            direction == Direction.OUTPUT
            and event_type == "COMPLETE"
            and (dataset.last_modified_at is None or at > dataset.last_modified_at)
        ):
            self._dirty_datasets.set(dataset, {"last_modified_at": at})

    def _column_lineage(self, job: Job, dataset: Dataset, facts: DatasetFacts) -> None:
        for edge in facts.column_edges:
            source = self.datasets[(edge.input_namespace, edge.input_name)]
            row = {
                "output_dataset_id": dataset.pk,
                "output_field": edge.output_field[:1024],
                "input_dataset_id": source.pk,
                "input_field": edge.input_field[:1024],
                "transformation_type": edge.type[:32],
                "transformation_subtype": edge.subtype[:64],
                "description": edge.description,
                "masking": edge.masking,
                "job_id": job.pk,
                "updated_at": self.now,
            }
            # PostgreSQL refuses an upsert that names the same row twice: keep the last.
            self._columns[tuple(list(row.values())[:6])] = row

    # --- 3. flush -----------------------------------------------------------------------

    def _flush(self) -> None:
        if self._adds_edges():
            GraphGeneration.bump()
        if self._job_edges:
            insert_rows(
                JobDataset,
                list(self._job_edges.values()),
                unique=["job", "dataset", "direction"],
                update=["last_seen_at"],
            )
        self._flush_run_io()
        if self._stats:
            insert_rows(
                DatasetStatistics,
                list(self._stats.values()),
                unique=["run", "dataset", "direction"],
                update=["row_count", "bytes", "file_count", "column_metrics", "observed_at"],
            )
        insert_rows(
            DataQualityAssertion,
            list(self._assertions.values()),
            unique=["run", "dataset", "assertion", "column"],
            update=["success", "severity", "observed_at"],
        )
        insert_rows(
            ColumnLineage,
            list(self._columns.values()),
            unique=[name.removesuffix("_id") for name in ColumnLineage.KEY],
            update=["description", "masking", "job", "updated_at"],
        )
        insert_rows(DatasetSymlink, list(self._symlinks.values()), unique=["namespace", "name"])
        if self._touched_runs:
            update_rows(Run, list(self._touched_runs.values()), _RUN_FIELDS)
        self._dirty_jobs.flush(Job)
        self._dirty_datasets.flush(Dataset)
        self._flush_owners()
        # Every job and dataset of the batch changed (times, runs, readers): the search
        # writer rebuilds their documents after this transaction commits.
        search_outbox_add(
            [f"job:{job.pk}" for job in self.jobs.values()]
            + [f"dataset:{dataset.pk}" for dataset in self.datasets.values()]
        )
        if self._earliest is not None:
            row = new_row(
                ChangeOutbox,
                job_ids=sorted({self.jobs[key].pk for key in self._bare_runs}),
                dataset_ids=sorted({dataset.pk for dataset in self.datasets.values()}),
                since=self._earliest,
                created_at=self.now,
            )
            insert_rows(ChangeOutbox, [row])

    def _adds_edges(self) -> bool:
        """Whether this batch brings a job↔dataset or column edge the graph lacks: two
        indexed reads, so that repeated runs of known pipelines leave cached graphs valid."""
        if self._job_edges:
            known = set(
                select_where(
                    JobDataset,
                    {"job": {k[0] for k in self._job_edges}},
                    columns=("job", "dataset", "direction"),
                )
            )
            if not self._job_edges.keys() <= known:
                return True
        if self._columns:
            known = set(
                select_where(
                    ColumnLineage,
                    {"output_dataset": {k[0] for k in self._columns}},
                    columns=ColumnLineage.KEY,
                )
            )
            return not self._columns.keys() <= known
        return False

    def _flush_owners(self) -> None:
        """Sync the ownerships of the datasets whose facet changed: nothing to do (and no
        query) on the usual batch, which repeats what its pipelines said before."""
        if not self._owners:
            return
        ownerships_sync(
            wanted={ds: entries_from_facet(owners) for ds, owners, _ in self._owners.values()},
            source=Ownership.Source.OPENLINEAGE,
            actor="openlineage",
            actors={ds: actor for ds, _, actor in self._owners.values()},
        )

    def _flush_run_io(self) -> None:
        if not self._run_io:
            return
        existing = {
            (io.run_id, io.dataset_id, io.direction): io
            for io in select_where(RunDataset, {"run": {k[0] for k in self._run_io}})
        }
        new, changed = [], []
        for key, (facets, version_id) in self._run_io.items():
            io = existing.get(key)
            if io is None:
                new.append(
                    {
                        "run_id": key[0],
                        "dataset_id": key[1],
                        "direction": key[2],
                        "facets": facets,
                        "version_id": version_id,
                    }
                )
                continue
            merged = {**io.facets, **facets}
            if merged != io.facets or io.version_id != version_id:
                io.facets, io.version_id = merged, version_id
                changed.append(io)
        insert_rows(RunDataset, new, unique=["run", "dataset", "direction"])
        if changed:
            update_rows(RunDataset, changed, ["facets", "version"])

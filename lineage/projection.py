"""Project validated event facts into namespaces, jobs, runs, datasets and edges.

A :class:`Projector` lives for one transaction and caches the rows it has touched, so a
batch of events about the same jobs and datasets costs few queries. It must only be used
inside ``transaction.atomic()``: on rollback the projector is thrown away with it.
"""

from __future__ import annotations

import uuid
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
)
from lineage.facets import DatasetFacts, EventFacts, JobFacts, RunFacts
from lineage.models import (
    ColumnLineage,
    DataQualityAssertion,
    DatasetStatistics,
    Direction,
    Job,
    JobDataset,
    Run,
    RunDataset,
)


def _get_or_insert(model: type[models.Model], lookup: dict[str, Any], **defaults: Any) -> Any:
    """Fetch a row by its unique key, inserting it first when missing.

    ``INSERT ... ON CONFLICT DO NOTHING`` then a read is race-free across processes, where
    ``get_or_create`` can fail with IntegrityError when two writers create the same row.
    """
    row = model._default_manager.filter(**lookup).first()
    if row is None:
        model._default_manager.bulk_create([model(**lookup, **defaults)], ignore_conflicts=True)
        row = model._default_manager.get(**lookup)
    return row


class Projector:
    def __init__(self) -> None:
        self.now = timezone.now()
        self._namespaces: dict[str, int] = {}
        self._jobs: dict[tuple[str, str], Job] = {}
        self._datasets: dict[tuple[str, str], Dataset] = {}

    # --- entities -------------------------------------------------------------------

    def namespace_id(self, name: str) -> int:
        if name not in self._namespaces:
            ns = _get_or_insert(Namespace, {"name": name}, created_at=self.now, updated_at=self.now)
            self._namespaces[name] = ns.pk
        return self._namespaces[name]

    def job(self, namespace: str, name: str) -> Job:
        key = (namespace, name)
        if key not in self._jobs:
            self._jobs[key] = _get_or_insert(
                Job,
                {"namespace_id": self.namespace_id(namespace), "name": name},
                created_at=self.now,
                updated_at=self.now,
            )
        return self._jobs[key]

    def dataset(self, namespace: str, name: str) -> Dataset:
        """The dataset known as ``(namespace, name)``, directly or through a symlink."""
        key = (namespace, name)
        if key not in self._datasets:
            ns_id = self.namespace_id(namespace)
            dataset = Dataset.objects.filter(namespace_id=ns_id, name=name).first()
            if dataset is None:
                link = DatasetSymlink.objects.filter(namespace=namespace, name=name).first()
                if link is not None:
                    dataset = Dataset.objects.get(pk=link.dataset_id)
            if dataset is None:
                dataset = _get_or_insert(
                    Dataset,
                    {"namespace_id": ns_id, "name": name},
                    physical_name=name,
                    created_at=self.now,
                    updated_at=self.now,
                )
            self._datasets[key] = dataset
        return self._datasets[key]

    # --- events ---------------------------------------------------------------------

    def apply(self, facts: EventFacts) -> None:
        event = facts.event
        job = self._describe_job(facts.job) if facts.job else None
        run = self._project_run(facts.run, job, event.event_type, event.event_time) if (
            facts.run and job
        ) else None
        for ds_facts in facts.datasets:
            dataset = self._describe_dataset(ds_facts, event.event_time, run)
            if job is None or not ds_facts.direction:
                continue
            self._link(job, run, dataset, ds_facts, event.event_type, event.event_time)
        if run is not None:
            run.save()

    def _describe_job(self, facts: JobFacts) -> Job:
        job = self.job(facts.namespace, facts.name)
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
            _update(job, changes)
        return job

    def _project_run(self, facts: RunFacts, job: Job, event_type: str, at: datetime) -> Run:
        run = Run.objects.select_for_update().filter(uuid=facts.run_id).first()
        if run is None:
            Run.objects.bulk_create(
                [Run(uuid=facts.run_id, job=job, created_at=self.now, updated_at=self.now)],
                ignore_conflicts=True,
            )
            run = Run.objects.select_for_update().get(uuid=facts.run_id)
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
        if facts.parent is not None:
            self._attach_parent(run, job, facts)
        run.events_count += 1
        run.updated_at = self.now
        started = run.started_at or at
        if job.latest_run_id == run.pk or job.latest_run_at is None or started >= job.latest_run_at:
            if (job.latest_run_id, job.latest_run_at) != (run.pk, started):
                _update(job, {"latest_run_id": run.pk, "latest_run_at": started})
        return run

    def _attach_parent(self, run: Run, job: Job, facts: RunFacts) -> None:
        parent = facts.parent
        assert parent is not None
        if parent.run_id == run.uuid:
            return
        parent_job = self.job(parent.job_namespace, parent.job_name)
        parent_run = _get_or_insert(
            Run, {"uuid": parent.run_id}, job=parent_job, created_at=self.now, updated_at=self.now
        )
        run.parent = parent_run
        run.root_uuid = parent.root_run_id or parent_run.root_uuid or parent_run.uuid
        if job.parent_id != parent_job.pk and parent_job.pk != job.pk:
            _update(job, {"parent_id": parent_job.pk})

    def _describe_dataset(self, facts: DatasetFacts, at: datetime, run: Run | None) -> Dataset:
        dataset = self.dataset(facts.namespace, facts.name)
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
        for link in facts.symlinks:
            DatasetSymlink.objects.bulk_create(
                [DatasetSymlink(dataset=dataset, created_at=self.now, **link)],
                ignore_conflicts=True,
            )
        if changes:
            changes["updated_at"] = self.now
            _update(dataset, changes)
        return dataset

    def _new_version(
        self, dataset: Dataset, facts: DatasetFacts, run_uuid: uuid.UUID | None
    ) -> dict[str, Any]:
        assert facts.fields is not None
        version = _get_or_insert(
            DatasetVersion,
            {"dataset_id": dataset.pk, "schema_hash": facts.schema_hash},
            fields=[f.__dict__ for f in facts.fields],
            facets=facts.facets,
            lifecycle_state=facts.lifecycle_state,
            run_uuid=run_uuid,
            created_at=self.now,
        )
        DatasetField.objects.filter(dataset_id=dataset.pk).delete()
        DatasetField.objects.bulk_create(
            [
                DatasetField(
                    dataset_id=dataset.pk,
                    name=f.name[:1024],
                    parent_name=f.parent or "",
                    type=f.type[:255],
                    description=f.description,
                    ordinal=f.ordinal,
                )
                for f in facts.fields
            ],
            ignore_conflicts=True,  # a schema may repeat a field name; the first wins
        )
        return {"current_version_id": version.pk, "schema_hash": facts.schema_hash}

    def _lifecycle(
        self, dataset: Dataset, facts: DatasetFacts, at: datetime, run_uuid: uuid.UUID | None
    ) -> dict[str, Any]:
        state = facts.lifecycle_state
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
                _update(previous, {"lifecycle_state": "RENAMED", "is_deleted": True})
        return {"lifecycle_state": state, "is_deleted": state == "DROP"}

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
        JobDataset.objects.bulk_create(
            [
                JobDataset(
                    job=job,
                    dataset=dataset,
                    direction=direction,
                    first_seen_at=self.now,
                    last_seen_at=self.now,
                )
            ],
            update_conflicts=True,
            unique_fields=["job", "dataset", "direction"],
            update_fields=["last_seen_at"],
        )
        if direction == Direction.OUTPUT:
            self._column_lineage(job, dataset, facts)
        if run is None:
            return
        self._run_io(run, dataset, facts)
        if facts.stats is not None:
            DatasetStatistics.objects.bulk_create(
                [
                    DatasetStatistics(
                        run=run,
                        dataset=dataset,
                        direction=direction,
                        row_count=facts.stats.row_count,
                        bytes=facts.stats.bytes,
                        file_count=facts.stats.file_count,
                        column_metrics=facts.stats.column_metrics,
                        observed_at=at,
                    )
                ],
                update_conflicts=True,
                unique_fields=["run", "dataset", "direction"],
                update_fields=["row_count", "bytes", "file_count", "column_metrics", "observed_at"],
            )
        if facts.assertions:
            DataQualityAssertion.objects.bulk_create(
                [
                    DataQualityAssertion(
                        run=run,
                        dataset=dataset,
                        assertion=a.assertion[:1024],
                        column=a.column[:1024],
                        success=a.success,
                        severity=a.severity[:16],
                        observed_at=at,
                    )
                    for a in facts.assertions
                ]
            )
        if direction == Direction.OUTPUT and event_type == "COMPLETE" and (
            dataset.last_modified_at is None or at > dataset.last_modified_at
        ):
            _update(dataset, {"last_modified_at": at})

    def _run_io(self, run: Run, dataset: Dataset, facts: DatasetFacts) -> None:
        facets = {**facts.facets, **facts.io_facets}
        io = RunDataset.objects.filter(run=run, dataset=dataset, direction=facts.direction).first()
        if io is None:
            RunDataset.objects.bulk_create(
                [
                    RunDataset(
                        run=run,
                        dataset=dataset,
                        direction=facts.direction,
                        version_id=dataset.current_version_id,
                        facets=facets,
                    )
                ],
                ignore_conflicts=True,
            )
            return
        merged = {**io.facets, **facets}
        if merged != io.facets or io.version_id != dataset.current_version_id:
            io.facets, io.version_id = merged, dataset.current_version_id
            io.save(update_fields=["facets", "version"])

    def _column_lineage(self, job: Job, dataset: Dataset, facts: DatasetFacts) -> None:
        if not facts.column_edges:
            return
        rows = {}
        for row in (
            ColumnLineage(
                output_dataset=dataset,
                output_field=edge.output_field[:1024],
                input_dataset=self.dataset(edge.input_namespace, edge.input_name),
                input_field=edge.input_field[:1024],
                transformation_type=edge.type[:32],
                transformation_subtype=edge.subtype[:64],
                description=edge.description,
                masking=edge.masking,
                job=job,
                updated_at=self.now,
            )
            for edge in facts.column_edges
        ):
            # PostgreSQL refuses an upsert that names the same row twice.
            key = (
                row.output_field,
                row.input_dataset_id,
                row.input_field,
                row.transformation_type,
                row.transformation_subtype,
            )
            rows[key] = row
        ColumnLineage.objects.bulk_create(
            list(rows.values()),
            update_conflicts=True,
            unique_fields=[
                "output_dataset",
                "output_field",
                "input_dataset",
                "input_field",
                "transformation_type",
                "transformation_subtype",
            ],
            update_fields=["description", "masking", "job", "updated_at"],
        )


def _update(instance: models.Model, changes: dict[str, Any]) -> None:
    """Write only the changed columns, and keep the cached instance in step."""
    type(instance)._default_manager.filter(pk=instance.pk).update(**changes)
    for attr, value in changes.items():
        setattr(instance, attr, value)

"""OpenLineage as stored: the raw event log and what it projects to.

A foreign key that leads a unique constraint or an index of its model is not indexed a
second time (``db_index=False``): the longer index answers the same lookups, and every
index is one more B-tree each ingested event writes to.
"""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.urls import reverse
from django.utils import timezone

from catalog.models import Dataset, DatasetVersion, Namespace


class LineageEvent(models.Model):
    """One accepted OpenLineage event, exactly as posted. Append-only.

    ``hash`` is the SHA-256 of the event's canonical JSON; posting the same event again is
    a no-op that only bumps ``duplicates``. The dedupe key is ``(event_time, hash)``: the
    hash decides, and the event's own time, which the canonical JSON contains, puts each
    new key next to the latest ones instead of at a random place in an index that grows
    with history.
    """

    class Kind(models.TextChoices):
        RUN = "run"
        DATASET = "dataset"
        JOB = "job"

    hash = models.CharField(max_length=64)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    event_type = models.CharField(max_length=16, blank=True)
    event_time = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    producer = models.CharField(max_length=2048)
    schema_url = models.CharField(max_length=2048, blank=True)
    run_uuid = models.UUIDField(null=True, blank=True)
    job_namespace = models.CharField(max_length=1024, blank=True)
    job_name = models.CharField(max_length=1024, blank=True)
    token_name = models.CharField(max_length=100, blank=True)
    payload = models.JSONField()
    warnings = models.JSONField(default=list, blank=True)
    duplicates = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["event_time", "hash"], name="event_time_hash_uniq")
        ]
        indexes = [
            models.Index(fields=["received_at", "id"], name="event_received_idx"),
            models.Index(fields=["run_uuid"], name="event_run_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.event_type} {self.event_time:%Y-%m-%d %H:%M:%S}"


class Job(models.Model):
    """A job identified by ``(namespace, name)`` with its latest described facets."""

    namespace = models.ForeignKey(
        Namespace, on_delete=models.PROTECT, related_name="jobs", db_index=False
    )
    name = models.CharField(max_length=1024)
    # jobType facet: processingType BATCH/STREAMING, integration (DBT, SPARK...), jobType.
    type = models.CharField(max_length=32, default="BATCH")
    integration = models.CharField(max_length=64, blank=True)
    job_type = models.CharField(max_length=64, blank=True)
    description = models.TextField(blank=True)
    sql = models.TextField(blank=True)
    source_code_location = models.JSONField(default=dict, blank=True)
    owners = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=list, blank=True)
    facets = models.JSONField(default=dict, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    latest_run = models.ForeignKey(
        "Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    latest_run_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["namespace__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["namespace", "name"], name="job_ns_name_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.namespace.name}:{self.name}"

    def get_absolute_url(self) -> str:
        return reverse("lineage:job-detail", args=[self.pk])

    @property
    def node_id(self) -> str:
        return f"job:{self.namespace.name}:{self.name}"


class RunState(models.TextChoices):
    NEW = "NEW"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"


TERMINAL_STATES = frozenset({RunState.COMPLETED, RunState.FAILED, RunState.ABORTED})


class Run(models.Model):
    """One run of a job: a state machine fed by events that may arrive in any order."""

    uuid = models.UUIDField(unique=True)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="runs", db_index=False)
    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.NEW)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # eventTime of the event that set the current state: a later event wins.
    transitioned_at = models.DateTimeField(null=True, blank=True)
    nominal_start_time = models.DateTimeField(null=True, blank=True)
    nominal_end_time = models.DateTimeField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    error_language = models.CharField(max_length=64, blank=True)
    stack_trace = models.TextField(blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    root_uuid = models.UUIDField(null=True, blank=True)
    facets = models.JSONField(default=dict, blank=True)
    events_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["job", "-created_at"], name="run_job_created_idx"),
            models.Index(fields=["state", "-updated_at"], name="run_state_idx"),
            models.Index(fields=["-updated_at"], name="run_updated_idx"),
        ]

    def __str__(self) -> str:
        return str(self.uuid)

    def get_absolute_url(self) -> str:
        return reverse("lineage:run-detail", args=[self.uuid])

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    _EVENT_STATES = {
        "START": RunState.RUNNING,
        "RUNNING": RunState.RUNNING,
        "COMPLETE": RunState.COMPLETED,
        "FAIL": RunState.FAILED,
        "ABORT": RunState.ABORTED,
    }

    def apply_event(self, event_type: str, at: datetime) -> None:
        """Move the state machine for one event, whatever order events arrive in.

        A terminal state never goes back to RUNNING; START only ever fills in the start
        time; between two terminal events the later eventTime wins. OTHER (or no
        eventType) carries facets only.
        """
        if event_type == "START" and (self.started_at is None or at < self.started_at):
            self.started_at = at
        target = self._EVENT_STATES.get(event_type)
        if target is None:
            return
        newer = self.transitioned_at is None or at >= self.transitioned_at
        if target in TERMINAL_STATES:
            if not self.is_terminal or newer:
                self.state, self.transitioned_at, self.ended_at = target, at, at
        elif not self.is_terminal:
            if self.started_at is None:
                self.started_at = at
            if newer:
                self.state, self.transitioned_at = target, at

    @property
    def duration_ms(self) -> int | None:
        if self.started_at and self.ended_at:
            return int((self.ended_at - self.started_at).total_seconds() * 1000)
        return None


class Direction(models.TextChoices):
    INPUT = "input"
    OUTPUT = "output"


class JobDataset(models.Model):
    """A job→dataset edge (the job reads or writes the dataset), kept across runs."""

    job = models.ForeignKey(
        Job, on_delete=models.CASCADE, related_name="dataset_edges", db_index=False
    )
    dataset = models.ForeignKey(
        Dataset, on_delete=models.CASCADE, related_name="job_edges", db_index=False
    )
    direction = models.CharField(max_length=8, choices=Direction.choices)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "dataset", "direction"], name="job_dataset_uniq")
        ]
        indexes = [models.Index(fields=["dataset", "direction"], name="job_dataset_ds_idx")]


class RunDataset(models.Model):
    """A run's input or output, with the dataset version it saw and the I/O facets."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="io", db_index=False)
    dataset = models.ForeignKey(
        Dataset, on_delete=models.CASCADE, related_name="run_io", db_index=False
    )
    direction = models.CharField(max_length=8, choices=Direction.choices)
    version = models.ForeignKey(
        DatasetVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    facets = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "dataset", "direction"], name="run_dataset_uniq")
        ]
        indexes = [models.Index(fields=["dataset", "direction", "run"], name="run_dataset_ds_idx")]


class ColumnLineage(models.Model):
    """``output_dataset.output_field`` is derived from ``input_dataset.input_field``.

    An empty ``output_field`` is a dataset-wide dependency (``columnLineage.dataset``: a
    filter or join key that affects every column).
    """

    output_dataset = models.ForeignKey(
        Dataset, on_delete=models.CASCADE, related_name="column_inputs", db_index=False
    )
    output_field = models.CharField(max_length=1024, blank=True)
    input_dataset = models.ForeignKey(
        Dataset, on_delete=models.CASCADE, related_name="column_outputs", db_index=False
    )
    input_field = models.CharField(max_length=1024)
    transformation_type = models.CharField(max_length=32, blank=True)
    transformation_subtype = models.CharField(max_length=64, blank=True)
    description = models.TextField(blank=True)
    masking = models.BooleanField(default=False)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(default=timezone.now)

    # The columns identifying an edge (its unique constraint), as column names.
    KEY = (
        "output_dataset_id",
        "output_field",
        "input_dataset_id",
        "input_field",
        "transformation_type",
        "transformation_subtype",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "output_dataset",
                    "output_field",
                    "input_dataset",
                    "input_field",
                    "transformation_type",
                    "transformation_subtype",
                ],
                name="column_lineage_uniq",
            )
        ]
        indexes = [
            models.Index(fields=["input_dataset", "input_field"], name="column_lineage_in_idx")
        ]


class DataQualityAssertion(models.Model):
    """One ``dataQualityAssertions`` entry of a run on a dataset."""

    run = models.ForeignKey(
        Run, on_delete=models.CASCADE, related_name="assertions", db_index=False
    )
    dataset = models.ForeignKey(
        Dataset, on_delete=models.CASCADE, related_name="assertions", db_index=False
    )
    assertion = models.CharField(max_length=1024)
    column = models.CharField(max_length=1024, blank=True)
    success = models.BooleanField()
    severity = models.CharField(max_length=16, blank=True)
    observed_at = models.DateTimeField()

    class Meta:
        ordering = ["-observed_at", "-id"]
        constraints = [
            # START and COMPLETE of one run often repeat the same assertions.
            models.UniqueConstraint(
                fields=["run", "dataset", "assertion", "column"], name="assertion_uniq"
            )
        ]
        indexes = [models.Index(fields=["dataset", "-observed_at"], name="assertion_ds_idx")]


class DatasetStatistics(models.Model):
    """What a run says about a dataset's size: input/output statistics and quality metrics."""

    run = models.ForeignKey(
        Run, on_delete=models.CASCADE, related_name="statistics", db_index=False
    )
    dataset = models.ForeignKey(
        Dataset, on_delete=models.CASCADE, related_name="statistics", db_index=False
    )
    direction = models.CharField(max_length=8, choices=Direction.choices)
    row_count = models.BigIntegerField(null=True, blank=True)
    bytes = models.BigIntegerField(null=True, blank=True)
    file_count = models.BigIntegerField(null=True, blank=True)
    column_metrics = models.JSONField(default=dict, blank=True)
    observed_at = models.DateTimeField()

    class Meta:
        ordering = ["-observed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "dataset", "direction"], name="dataset_statistics_uniq"
            )
        ]
        indexes = [models.Index(fields=["dataset", "-observed_at"], name="statistics_ds_idx")]


class GraphGeneration(models.Model):
    """The version of the lineage graph's shape: one row, bumped by ingestion in the
    transaction that adds a job↔dataset or column edge.

    Cached subgraphs are keyed by it, so the next query after an ingest that changed the
    graph misses the cache and sees the new edges, while events that only repeat known
    edges (most of them) leave every cached answer valid.
    """

    value = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    @classmethod
    def current(cls) -> int:
        return cls.objects.filter(pk=1).values_list("value", flat=True).first() or 0

    @classmethod
    def bump(cls) -> None:
        now = timezone.now()
        if not cls.objects.filter(pk=1).update(value=models.F("value") + 1, updated_at=now):
            cls.objects.get_or_create(pk=1, defaults={"value": 1, "updated_at": now})


class ChangeOutbox(models.Model):
    """What one ingest transaction touched, for follow-up work done outside the request.

    Written in the same transaction as the projection (one row per transaction, whatever
    the batch size), so it commits or rolls back with it; the worker reads and deletes
    rows to re-evaluate what depends on these jobs and datasets (SLOs). ``since`` is the
    earliest event time in the transaction: a late event changes the past from there on.
    """

    job_ids = models.JSONField(default=list)
    dataset_ids = models.JSONField(default=list)
    since = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

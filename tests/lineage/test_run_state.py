"""What events project to: run state under reordering and repeats, the job/run hierarchy,
dataset versions, aliases and history, column lineage, quality and statistics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rest_framework.test import APIClient

from catalog.models import (
    Dataset,
    DatasetField,
    DatasetLifecycleEvent,
    DatasetSymlink,
    DatasetVersion,
)
from lineage.models import (
    ColumnLineage,
    DataQualityAssertion,
    DatasetStatistics,
    Job,
    JobDataset,
    LineageEvent,
    Run,
    RunDataset,
)
from tests.conftest import run_event

RUN = "0190f2c4-7d1a-7c9e-9a44-7e1f3c2b8a01"
PARENT = "0190f2c4-0000-7000-8000-00000000aaaa"
ROOT = "0190f2c4-0000-7000-8000-00000000bbbb"
PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.20.0/client/python"


def at(clock: str) -> str:
    return f"2024-05-01T{clock}Z"


def utc(clock: str) -> datetime:
    return datetime.fromisoformat(f"2024-05-01T{clock}+00:00")


def ingest(client: APIClient, *events: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/lineage/batch", list(events), format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["failed"] == 0
    return response.json()


def ingest_each(client: APIClient, *events: dict[str, Any]) -> None:
    for event in events:
        response = client.post("/api/v1/lineage", event, format="json")
        assert response.status_code in (200, 201), response.json()


def step(event_type: str, clock: str, **kwargs: Any) -> dict[str, Any]:
    return run_event(event_type, run_id=RUN, event_time=at(clock), **kwargs)


def dataset(name: str, namespace: str = "postgres://db:5432", **facets: Any) -> dict[str, Any]:
    return {"namespace": namespace, "name": name, "facets": facets}


def schema(*fields: Any) -> dict[str, Any]:
    return {"fields": [f if isinstance(f, dict) else {"name": f[0], "type": f[1]} for f in fields]}


def the_run() -> Run:
    return Run.objects.get(uuid=RUN)


# --- run state machine -------------------------------------------------------------------


def test_it_completes_a_run_whose_complete_arrives_before_its_start(pipeline: APIClient) -> None:
    ingest_each(pipeline, step("COMPLETE", "10:05:00"), step("START", "10:00:00"))

    run = the_run()
    assert run.state == "COMPLETED"
    assert (run.started_at, run.ended_at) == (utc("10:00:00"), utc("10:05:00"))
    assert run.duration_ms == 300_000
    assert run.events_count == 2


def test_it_keeps_a_completed_run_completed_when_start_is_resent(pipeline: APIClient) -> None:
    ingest_each(
        pipeline,
        step("START", "10:00:00"),
        step("COMPLETE", "10:05:00"),
        step("START", "10:00:30"),  # a retry of the START, sent late
    )

    run = the_run()
    assert run.state == "COMPLETED"
    assert (run.started_at, run.ended_at) == (utc("10:00:00"), utc("10:05:00"))


def test_it_keeps_the_later_terminal_state_when_an_older_complete_follows_a_fail(
    pipeline: APIClient,
) -> None:
    ingest_each(pipeline, step("FAIL", "10:05:00"), step("COMPLETE", "10:03:00"))

    run = the_run()
    assert run.state == "FAILED"
    assert run.ended_at == utc("10:05:00")


def test_it_takes_a_newer_terminal_state_over_an_older_one(pipeline: APIClient) -> None:
    ingest_each(pipeline, step("FAIL", "10:05:00"), step("COMPLETE", "10:07:00"))

    assert (the_run().state, the_run().ended_at) == ("COMPLETED", utc("10:07:00"))


def test_it_never_moves_a_failed_run_back_to_running(pipeline: APIClient) -> None:
    ingest_each(pipeline, step("START", "10:00:00"), step("FAIL", "10:01:00"))
    ingest_each(pipeline, step("RUNNING", "10:02:00"))

    run = the_run()
    assert run.state == "FAILED"
    assert run.ended_at == utc("10:01:00")
    assert run.events_count == 3


def test_it_moves_an_aborted_run_to_aborted(pipeline: APIClient) -> None:
    ingest_each(pipeline, step("START", "10:00:00"), step("ABORT", "10:01:00"))

    assert the_run().state == "ABORTED"


def test_it_takes_only_facets_from_an_other_event(pipeline: APIClient) -> None:
    ingest_each(pipeline, step("START", "10:00:00"))
    other = step("OTHER", "10:01:00", run_facets={"custom": {"retries": 2}})
    ingest_each(pipeline, other)

    run = the_run()
    assert run.state == "RUNNING"
    assert run.transitioned_at == utc("10:00:00")
    assert run.facets["custom"] == {"retries": 2}


def test_it_leaves_a_run_new_when_it_has_only_seen_other(pipeline: APIClient) -> None:
    event = step("OTHER", "10:00:00")
    del event["eventType"]  # eventType is optional; no type is the same as OTHER

    ingest_each(pipeline, event)

    run = the_run()
    assert (run.state, run.started_at, run.ended_at) == ("NEW", None, None)


def test_it_changes_nothing_when_the_same_batch_is_posted_twice(pipeline: APIClient) -> None:
    output = dataset("public.daily", schema=schema(("day", "DATE")))
    batch = [
        step("START", "10:00:00", inputs=[dataset("public.orders")]),
        step("COMPLETE", "10:05:00", inputs=[dataset("public.orders")], outputs=[output]),
    ]
    ingest(pipeline, *batch)

    def counts() -> list[int]:
        return [
            m.objects.count()
            for m in (Job, Run, Dataset, DatasetVersion, JobDataset, RunDataset, LineageEvent)
        ]

    before = counts()
    again = ingest(pipeline, *batch)

    assert (again["accepted"], again["duplicates"]) == (0, 2)
    assert counts() == before == [1, 1, 2, 1, 2, 2, 2]
    assert the_run().events_count == 2
    assert sorted(LineageEvent.objects.values_list("duplicates", flat=True)) == [1, 1]


# --- hierarchy, nominal time, errors ---------------------------------------------------


def parent_facet(root: bool = False) -> dict[str, Any]:
    facet: dict[str, Any] = {
        "run": {"runId": PARENT},
        "job": {"namespace": "airflow", "name": "daily_dag"},
    }
    if root:
        facet["root"] = {"run": {"runId": ROOT}, "job": {"namespace": "airflow", "name": "root"}}
    return facet


def test_it_creates_a_placeholder_parent_from_the_parent_facet(pipeline: APIClient) -> None:
    child = step(
        "START",
        "10:00:00",
        job=("airflow", "daily_dag.load"),
        run_facets={"parent": parent_facet()},
    )

    ingest(pipeline, child)

    run = the_run()
    parent = Run.objects.get(uuid=PARENT)
    assert run.parent == parent
    assert str(run.root_uuid) == PARENT
    assert (parent.job.name, parent.state, parent.events_count) == ("daily_dag", "NEW", 0)
    assert run.job.parent == parent.job


def test_it_fills_the_placeholder_parent_when_its_own_events_arrive(pipeline: APIClient) -> None:
    child = step(
        "START",
        "10:00:10",
        job=("airflow", "daily_dag.load"),
        run_facets={"parent": parent_facet(root=True)},
    )
    parent_start = run_event(
        "START", run_id=PARENT, job=("airflow", "daily_dag"), event_time=at("10:00:00")
    )

    ingest(pipeline, child, parent_start)

    parent = Run.objects.get(uuid=PARENT)
    assert (parent.state, parent.started_at) == ("RUNNING", utc("10:00:00"))
    assert str(the_run().root_uuid) == ROOT
    assert Run.objects.count() == 2
    assert list(parent.children.values_list("uuid", flat=True)) == [the_run().uuid]


def test_it_records_the_nominal_time(pipeline: APIClient) -> None:
    nominal = {"nominalStartTime": at("09:00:00"), "nominalEndTime": at("10:00:00")}

    ingest(pipeline, step("START", "10:00:00", run_facets={"nominalTime": nominal}))

    run = the_run()
    assert (run.nominal_start_time, run.nominal_end_time) == (utc("09:00:00"), utc("10:00:00"))


def test_it_records_the_error_message_of_a_failed_run(pipeline: APIClient) -> None:
    error = {
        "message": "division by zero",
        "programmingLanguage": "python",
        "stackTrace": "Traceback (most recent call last): ...",
    }

    ingest(pipeline, step("FAIL", "10:00:00", run_facets={"errorMessage": error}))

    run = the_run()
    assert (run.state, run.error_message, run.error_language) == (
        "FAILED",
        "division by zero",
        "python",
    )
    assert run.stack_trace.startswith("Traceback")


# --- datasets: versions, fields, aliases, history ----------------------------------------


def write(clock: str, out: dict[str, Any], run_id: str | None = None) -> dict[str, Any]:
    return run_event("COMPLETE", run_id=run_id, event_time=at(clock), outputs=[out])


def test_it_makes_a_new_version_only_when_the_schema_changes(pipeline: APIClient) -> None:
    same = dataset("public.orders", schema=schema(("id", "INT"), ("amount", "NUMERIC")))
    changed = dataset("public.orders", schema=schema(("id", "INT"), ("amount", "FLOAT")))
    ingest(pipeline, write("10:00:00", same), write("11:00:00", same), write("12:00:00", same))

    orders = Dataset.objects.get(name="public.orders")
    assert orders.versions.count() == 1
    first = orders.current_version

    ingest(pipeline, write("13:00:00", changed))

    orders.refresh_from_db()
    assert orders.versions.count() == 2
    assert orders.current_version != first
    assert [f["type"] for f in orders.current_version.fields] == ["INT", "FLOAT"]
    io_versions = RunDataset.objects.order_by("run__created_at", "run__id").values_list(
        "version_id", flat=True
    )
    assert list(io_versions) == [first.pk, first.pk, first.pk, orders.current_version_id]


def test_it_stores_nested_fields_with_dotted_names(pipeline: APIClient) -> None:
    address = {
        "name": "address",
        "type": "STRUCT",
        "fields": [
            {"name": "street", "type": "STRING"},
            {"name": "geo", "type": "STRUCT", "fields": [{"name": "lat", "type": "DOUBLE"}]},
        ],
    }

    ingest(pipeline, write("10:00:00", dataset("customers", schema=schema(("id", "INT"), address))))

    fields = DatasetField.objects.filter(dataset__name="customers").order_by("ordinal")
    assert [(f.name, f.parent_name, f.type, f.depth) for f in fields] == [
        ("id", "", "INT", 0),
        ("address", "", "STRUCT", 0),
        ("address.street", "address", "STRING", 1),
        ("address.geo", "address", "STRUCT", 1),
        ("address.geo.lat", "address.geo", "DOUBLE", 2),
    ]


def symlinked_write_and_read() -> tuple[dict[str, Any], dict[str, Any]]:
    symlinks = {
        "identifiers": [{"namespace": "hive://metastore", "name": "sales.orders", "type": "TABLE"}]
    }
    files = dataset("/warehouse/sales/orders", "hdfs://cluster", symlinks=symlinks)
    reader = run_event(
        "COMPLETE",
        job=("tests", "reader"),
        event_time=at("11:00:00"),
        inputs=[dataset("sales.orders", "hive://metastore")],
    )
    return write("10:00:00", files), reader


def test_it_resolves_a_symlink_to_the_one_dataset(pipeline: APIClient) -> None:
    writer, reader = symlinked_write_and_read()
    ingest(pipeline, writer)
    ingest(pipeline, reader)

    only = Dataset.objects.get()
    assert (only.namespace.name, only.name) == ("hdfs://cluster", "/warehouse/sales/orders")
    assert list(DatasetSymlink.objects.values_list("dataset", "namespace", "name", "type")) == [
        (only.pk, "hive://metastore", "sales.orders", "TABLE")
    ]
    assert JobDataset.objects.get(job__name="reader").dataset == only


def test_it_resolves_a_symlink_declared_earlier_in_the_same_batch(pipeline: APIClient) -> None:
    ingest(pipeline, *symlinked_write_and_read())

    assert Dataset.objects.count() == 1


def test_it_keeps_a_dropped_dataset_and_its_history(pipeline: APIClient) -> None:
    table = dataset("public.tmp", schema=schema(("id", "INT")))
    drop = dataset("public.tmp", lifecycleStateChange={"lifecycleStateChange": "DROP"})
    ingest(pipeline, write("10:00:00", table), write("11:00:00", drop))

    tmp = Dataset.objects.get(name="public.tmp")
    assert (tmp.is_deleted, tmp.lifecycle_state) == (True, "DROP")
    assert list(tmp.lifecycle.values_list("state", "occurred_at")) == [("DROP", utc("11:00:00"))]
    assert tmp.versions.count() == 1
    assert [f.name for f in tmp.schema_fields.all()] == ["id"]
    assert RunDataset.objects.filter(dataset=tmp).count() == 2


def test_it_revives_a_dropped_dataset_that_is_written_again(pipeline: APIClient) -> None:
    drop = dataset("public.tmp", lifecycleStateChange={"lifecycleStateChange": "DROP"})
    table = dataset("public.tmp", schema=schema(("id", "INT")))
    ingest(pipeline, write("10:00:00", drop), write("11:00:00", table))

    assert Dataset.objects.get(name="public.tmp").is_deleted is False


def test_it_records_both_sides_of_a_rename(pipeline: APIClient) -> None:
    rename = {
        "lifecycleStateChange": "RENAME",
        "previousIdentifier": {"namespace": "postgres://db:5432", "name": "public.clients"},
    }
    ingest(
        pipeline,
        write("10:00:00", dataset("public.clients", schema=schema(("id", "INT")))),
        write("11:00:00", dataset("public.customers", lifecycleStateChange=rename), RUN),
    )

    old = Dataset.objects.get(name="public.clients")
    new = Dataset.objects.get(name="public.customers")
    assert (old.is_deleted, old.lifecycle_state) == (True, "RENAMED")
    assert (new.is_deleted, new.lifecycle_state) == (False, "RENAME")
    assert list(new.lifecycle.values_list("state", "related_name", "run_uuid")) == [
        ("RENAME", "public.clients", the_run().uuid)
    ]
    assert list(old.lifecycle.values_list("state", "related_name")) == [
        ("RENAMED", "public.customers")
    ]
    assert old.versions.count() == 1


def test_it_records_a_lifecycle_change_once_per_run(pipeline: APIClient) -> None:
    create = dataset("public.t1", lifecycleStateChange={"lifecycleStateChange": "CREATE"})
    ingest(
        pipeline,
        step("START", "10:00:00", outputs=[create]),
        step("RUNNING", "10:00:01", outputs=[create]),
        step("COMPLETE", "10:00:02", outputs=[create]),
    )

    assert DatasetLifecycleEvent.objects.filter(dataset__name="public.t1").count() == 1


# --- column lineage, quality, statistics -------------------------------------------------


def input_field(name: str, field: str, *transformations: tuple[str, str, bool]) -> dict:
    return {
        "namespace": "postgres://db:5432",
        "name": name,
        "field": field,
        "transformations": [
            {"type": t, "subtype": s, "description": f"{t} {s}".lower(), "masking": m}
            for t, s, m in transformations
        ],
    }


def test_it_stores_column_lineage_with_transformations(pipeline: APIClient) -> None:
    column_lineage = {
        "fields": {
            "total": {
                "inputFields": [
                    input_field("public.orders", "amount", ("DIRECT", "AGGREGATION", False))
                ]
            },
            "email": {
                "inputFields": [
                    input_field("public.customers", "email", ("DIRECT", "TRANSFORMATION", True))
                ]
            },
        },
        "dataset": [input_field("public.orders", "country", ("INDIRECT", "FILTER", False))],
    }
    out = dataset("public.report", columnLineage=column_lineage)

    ingest(pipeline, step("COMPLETE", "10:00:00", outputs=[out]))

    rows = ColumnLineage.objects.order_by("output_field").values_list(
        "output_field",
        "input_dataset__name",
        "input_field",
        "transformation_type",
        "transformation_subtype",
        "masking",
        "description",
    )
    assert list(rows) == [
        ("", "public.orders", "country", "INDIRECT", "FILTER", False, "indirect filter"),
        (
            "email",
            "public.customers",
            "email",
            "DIRECT",
            "TRANSFORMATION",
            True,
            "direct transformation",
        ),
        ("total", "public.orders", "amount", "DIRECT", "AGGREGATION", False, "direct aggregation"),
    ]
    assert set(ColumnLineage.objects.values_list("output_dataset__name", "job__name")) == {
        ("public.report", "job")
    }
    # An input only named by column lineage still becomes a dataset.
    assert Dataset.objects.filter(name="public.customers").exists()


def test_it_reads_the_deprecated_transformation_type(pipeline: APIClient) -> None:
    legacy = {
        "fields": {
            "id": {
                "inputFields": [{"namespace": "pg", "name": "src", "field": "id"}],
                "transformationType": "IDENTITY",
                "transformationDescription": "identical",
            }
        }
    }

    ingest(pipeline, step("COMPLETE", "10:00:00", outputs=[dataset("dst", columnLineage=legacy)]))

    row = ColumnLineage.objects.get()
    assert (row.transformation_type, row.transformation_subtype, row.description) == (
        "IDENTITY",
        "",
        "identical",
    )


def test_it_stores_assertions_from_dataset_facets_and_input_facets(pipeline: APIClient) -> None:
    checked = {
        "namespace": "postgres://db:5432",
        "name": "public.orders",
        "facets": {
            "dataQualityAssertions": {
                "assertions": [{"assertion": "not_null", "success": True, "column": "id"}]
            }
        },
        "inputFacets": {
            "dataQualityAssertions": {
                "assertions": [
                    {"assertion": "unique", "success": False, "column": "id", "severity": "error"},
                    {"assertion": "row_count > 0", "success": True},
                ]
            }
        },
    }

    ingest(pipeline, step("COMPLETE", "10:00:00", inputs=[checked]))

    rows = DataQualityAssertion.objects.order_by("assertion").values_list(
        "dataset__name", "assertion", "column", "success", "severity", "run__uuid", "observed_at"
    )
    run = the_run().uuid
    assert list(rows) == [
        ("public.orders", "not_null", "id", True, "", run, utc("10:00:00")),
        ("public.orders", "row_count > 0", "", True, "", run, utc("10:00:00")),
        ("public.orders", "unique", "id", False, "error", run, utc("10:00:00")),
    ]


def test_it_stores_output_and_input_statistics(pipeline: APIClient) -> None:
    source = {
        "namespace": "s3://bucket",
        "name": "raw/orders",
        "inputFacets": {
            "inputStatistics": {"rowCount": 100, "size": 4096, "fileCount": 3},
        },
    }
    target = {
        "namespace": "postgres://db:5432",
        "name": "public.orders",
        "outputFacets": {"outputStatistics": {"rowCount": 98, "size": 2048}},
    }

    ingest(pipeline, step("COMPLETE", "10:00:00", inputs=[source], outputs=[target]))

    rows = DatasetStatistics.objects.order_by("direction").values_list(
        "dataset__name", "direction", "row_count", "bytes", "file_count", "observed_at"
    )
    assert list(rows) == [
        ("raw/orders", "input", 100, 4096, 3, utc("10:00:00")),
        ("public.orders", "output", 98, 2048, None, utc("10:00:00")),
    ]


def test_it_stores_data_quality_metrics_with_column_metrics(pipeline: APIClient) -> None:
    metrics = {
        "rowCount": 1000,
        "bytes": 1048576,
        "columnMetrics": {"id": {"nullCount": 0, "distinctCount": 1000}},
    }
    source = {
        "namespace": "postgres://db:5432",
        "name": "public.orders",
        "inputFacets": {"dataQualityMetrics": metrics},
    }

    ingest(pipeline, step("COMPLETE", "10:00:00", inputs=[source]))

    stats = DatasetStatistics.objects.get()
    assert (stats.direction, stats.row_count, stats.bytes) == ("input", 1000, 1048576)
    assert stats.column_metrics == {"id": {"nullCount": 0, "distinctCount": 1000}}


def test_it_keeps_one_statistics_row_per_run_and_dataset(pipeline: APIClient) -> None:
    def counted(rows: int, event_type: str, clock: str) -> dict[str, Any]:
        stats = {"outputStatistics": {"rowCount": rows}}
        out = {"namespace": "pg", "name": "t", "outputFacets": stats}
        return step(event_type, clock, outputs=[out])

    ingest(pipeline, counted(10, "RUNNING", "10:00:00"), counted(25, "COMPLETE", "10:01:00"))

    stats = DatasetStatistics.objects.get()
    assert (stats.row_count, stats.observed_at) == (25, utc("10:01:00"))


def test_it_marks_the_last_successful_write_of_an_output(pipeline: APIClient) -> None:
    out = dataset("public.daily")
    ingest(
        pipeline,
        write("10:00:00", out),
        run_event("FAIL", event_time=at("12:00:00"), outputs=[out]),
        write("09:00:00", out),  # an older run reported late
    )

    assert Dataset.objects.get().last_modified_at == utc("10:00:00")


# --- DatasetEvent and JobEvent -----------------------------------------------------------


def test_it_projects_a_dataset_event_onto_the_dataset_alone(pipeline: APIClient) -> None:
    event = {
        "eventTime": at("10:00:00"),
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
        "dataset": dataset(
            "public.orders",
            schema=schema(("id", "INT")),
            documentation={"description": "Every order placed"},
            datasetType={"datasetType": "VIEW"},
        ),
    }

    response = pipeline.post("/api/v1/lineage", event, format="json")

    assert response.status_code == 201
    orders = Dataset.objects.get()
    assert (orders.description, orders.subtype, orders.type) == (
        "Every order placed",
        "VIEW",
        "DB_TABLE",
    )
    assert [f.name for f in orders.schema_fields.all()] == ["id"]
    assert orders.current_version.run_uuid is None
    assert LineageEvent.objects.get().kind == "dataset"
    assert not (Job.objects.exists() or Run.objects.exists() or JobDataset.objects.exists())


def test_it_projects_a_job_event_onto_the_job_and_its_edges(pipeline: APIClient) -> None:
    event = {
        "eventTime": at("10:00:00"),
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent",
        "job": {
            "namespace": "analytics",
            "name": "daily_orders",
            "facets": {
                "sql": {"query": "INSERT INTO daily SELECT * FROM orders"},
                "jobType": {
                    "processingType": "STREAMING",
                    "integration": "FLINK",
                    "jobType": "JOB",
                },
            },
        },
        "inputs": [dataset("public.orders")],
        "outputs": [
            dataset("public.daily", "kafka://broker:9092", datasetType={"datasetType": "TOPIC"})
        ],
    }

    response = pipeline.post("/api/v1/lineage", event, format="json")

    assert response.status_code == 201
    job = Job.objects.get()
    assert (job.sql, job.type, job.integration, job.job_type) == (
        "INSERT INTO daily SELECT * FROM orders",
        "STREAMING",
        "FLINK",
        "JOB",
    )
    assert sorted(job.dataset_edges.values_list("dataset__name", "direction")) == [
        ("public.daily", "output"),
        ("public.orders", "input"),
    ]
    assert Dataset.objects.get(name="public.daily").type == "STREAM"
    assert LineageEvent.objects.get().kind == "job"
    assert not Run.objects.exists()

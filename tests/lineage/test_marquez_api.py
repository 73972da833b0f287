"""The Marquez-compatible read API answers with Marquez's JSON shapes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient

from catalog.models import DatasetVersion
from lineage.services import lineage_events_ingest
from tests.conftest import run_event

pytestmark = pytest.mark.django_db

API = "/api/v1"
WAREHOUSE = "postgres://db:5432"
LAKE = "s3://bucket"
RAW_ORDERS = "raw/orders/2024"
ARN = "arn:aws:s3:::bucket/exports/part-0.parquet"
DAILY = "analytics.public.daily_orders"
LAKE_DATASETS = "/namespaces/s3:%2F%2Fbucket/datasets"  # how clients encode s3://bucket
JOB = ("etl", "daily_orders")
RUN_OK = "0190f2c4-7d1a-7c9e-9a44-7e1f3c2b8a01"
RUN_FAILED = "0190f2c4-7d1a-7c9e-9a44-7e1f3c2b8a02"

NAMESPACE_KEYS = {"name", "createdAt", "updatedAt", "ownerName", "description", "isHidden"}
DATASET_KEYS = {
    "id", "type", "name", "physicalName", "createdAt", "updatedAt", "namespace", "sourceName",
    "fields", "tags", "lastModifiedAt", "lastLifecycleState", "description", "currentVersion",
    "columnLineage", "facets", "deleted",
}  # fmt: skip
VERSION_KEYS = {
    "id", "type", "name", "physicalName", "createdAt", "version", "namespace", "sourceName",
    "fields", "tags", "lifecycleState", "description", "createdByRun", "facets",
}  # fmt: skip
JOB_KEYS = {
    "id", "type", "name", "simpleName", "parentJobName", "createdAt", "updatedAt", "namespace",
    "inputs", "outputs", "location", "description", "latestRun", "facets", "currentVersion",
    "labels", "tags", "parentJobUuid",
}  # fmt: skip
RUN_KEYS = {
    "id", "createdAt", "updatedAt", "nominalStartTime", "nominalEndTime", "state", "startedAt",
    "endedAt", "durationMs", "args", "jobVersion", "inputDatasetVersions",
    "outputDatasetVersions", "context", "facets",
}  # fmt: skip


def _facet(**body: Any) -> dict[str, Any]:
    return {"_producer": "https://example.com/tests", "_schemaURL": "https://example.com/f", **body}


def _schema(*names: str) -> dict[str, Any]:
    return _facet(fields=[{"name": n, "type": "VARCHAR", "description": f"the {n}"} for n in names])


def _orders_events() -> list[dict[str, Any]]:
    """``etl/daily_orders`` reads two lake files and writes a warehouse table, twice:
    once successfully, then a run that fails."""
    raw = {"namespace": LAKE, "name": RAW_ORDERS, "facets": {"schema": _schema("id", "amount")}}
    arn = {"namespace": LAKE, "name": ARN}
    daily = {
        "namespace": WAREHOUSE,
        "name": DAILY,
        "facets": {
            "schema": _schema("id", "total"),
            "documentation": _facet(description="Orders per day."),
            "dataSource": _facet(name="warehouse", uri=WAREHOUSE),
            "columnLineage": _facet(
                fields={
                    "total": {
                        "inputFields": [{"namespace": LAKE, "name": RAW_ORDERS, "field": "amount"}],
                        "transformationType": "AGGREGATION",
                        "transformationDescription": "sum of amount",
                    }
                }
            ),
        },
    }
    job_facets = {
        "documentation": _facet(description="Daily order totals."),
        "sourceCodeLocation": _facet(type="git", url="https://git.example.com/etl/orders.py"),
        "sql": _facet(query="SELECT 1"),
    }
    nominal = {"nominalTime": _facet(nominalStartTime="2024-05-01T00:00:00Z")}
    error = {"errorMessage": _facet(message="disk full", programmingLanguage="python")}
    io: dict[str, Any] = {"inputs": [raw, arn], "outputs": [daily], "job": JOB}
    return [
        run_event(
            "START",
            run_id=RUN_OK,
            event_time="2024-05-01T10:00:00Z",
            run_facets=nominal,
            job_facets=job_facets,
            **io,
        ),
        run_event("COMPLETE", run_id=RUN_OK, event_time="2024-05-01T10:05:00Z", **io),
        run_event("START", run_id=RUN_FAILED, event_time="2024-05-02T10:00:00Z", **io),
        run_event(
            "FAIL", run_id=RUN_FAILED, event_time="2024-05-02T10:01:00Z", run_facets=error, job=JOB
        ),
    ]


@pytest.fixture
def orders(pipeline: APIClient) -> None:
    response = pipeline.post(f"{API}/lineage/batch", _orders_events(), format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["accepted"] == 4


def _get(client: APIClient, url: str, status: int = 200, **params: Any) -> Any:
    response = client.get(f"{API}{url}", params)
    assert response.status_code == status, response.content
    return response.json()


# --- namespaces -------------------------------------------------------------------------


def test_it_lists_namespaces_in_marquez_shape(orders: None, anonymous: APIClient) -> None:
    body = _get(anonymous, "/namespaces")
    assert set(body) == {"namespaces"}
    assert [ns["name"] for ns in body["namespaces"]] == ["etl", WAREHOUSE, LAKE]
    etl = body["namespaces"][0]
    assert set(etl) == NAMESPACE_KEYS
    assert etl["ownerName"] == "anonymous"
    assert etl["description"] is None
    assert etl["isHidden"] is False
    assert etl["createdAt"].endswith("Z")


def test_it_finds_a_namespace_whose_slashes_arrive_encoded(
    orders: None, anonymous: APIClient
) -> None:
    assert _get(anonymous, "/namespaces/s3:%2F%2Fbucket")["name"] == LAKE
    assert _get(anonymous, "/namespaces/postgres:%2F%2Fdb:5432")["name"] == WAREHOUSE


# --- datasets ---------------------------------------------------------------------------


def test_it_lists_datasets_with_marquez_fields(orders: None, anonymous: APIClient) -> None:
    body = _get(anonymous, "/namespaces/postgres:%2F%2Fdb:5432/datasets")
    assert body["totalCount"] == 1
    dataset = body["datasets"][0]
    assert set(dataset) == DATASET_KEYS
    version = DatasetVersion.objects.get(dataset__name=DAILY)
    assert dataset["id"] == {"namespace": WAREHOUSE, "name": DAILY}
    assert dataset["type"] == "DB_TABLE"
    assert dataset["physicalName"] == DAILY
    assert dataset["sourceName"] == "warehouse"
    assert dataset["fields"] == [
        {"name": "id", "type": "VARCHAR", "tags": [], "description": "the id"},
        {"name": "total", "type": "VARCHAR", "tags": [], "description": "the total"},
    ]
    assert dataset["description"] == "Orders per day."
    assert dataset["currentVersion"] == str(version.version)
    assert dataset["lastModifiedAt"] == "2024-05-01T10:05:00Z"
    assert dataset["lastLifecycleState"] == ""
    assert dataset["deleted"] is False
    assert set(dataset["facets"]) >= {"schema", "documentation", "dataSource", "columnLineage"}


def test_it_groups_column_lineage_by_output_column(orders: None, anonymous: APIClient) -> None:
    dataset = _get(anonymous, f"/namespaces/postgres:%2F%2Fdb:5432/datasets/{DAILY}")
    assert dataset["columnLineage"] == [
        {
            "name": "total",
            "inputFields": [
                {
                    "namespace": LAKE,
                    "dataset": RAW_ORDERS,
                    "field": "amount",
                    "transformationDescription": "sum of amount",
                    "transformationType": "AGGREGATION",
                }
            ],
        }
    ]


def test_it_answers_null_column_lineage_and_default_source_when_none(
    orders: None, anonymous: APIClient
) -> None:
    dataset = _get(anonymous, f"{LAKE_DATASETS}/raw%2Forders%2F2024")
    assert dataset["name"] == RAW_ORDERS
    assert dataset["columnLineage"] is None
    assert dataset["sourceName"] == "default"
    assert dataset["description"] is None


def test_it_finds_a_dataset_named_by_an_arn(orders: None, anonymous: APIClient) -> None:
    encoded = ARN.replace("/", "%2F")
    dataset = _get(anonymous, f"{LAKE_DATASETS}/{encoded}")
    assert dataset["id"] == {"namespace": LAKE, "name": ARN}
    assert dataset["fields"] == []
    assert dataset["currentVersion"] is None


def test_it_filters_datasets_by_name_and_type(orders: None, anonymous: APIClient) -> None:
    assert _get(anonymous, LAKE_DATASETS, name="ORDERS")["totalCount"] == 1
    assert _get(anonymous, LAKE_DATASETS, type="db_table")["totalCount"] == 2
    assert _get(anonymous, LAKE_DATASETS, type="STREAM")["totalCount"] == 0
    body = _get(anonymous, LAKE_DATASETS, 400, type="VIEW")
    assert [e["path"] for e in body["errors"]] == ["type"]


def test_it_lists_versions_of_a_dataset_whose_name_has_slashes(
    orders: None, anonymous: APIClient
) -> None:
    body = _get(anonymous, f"{LAKE_DATASETS}/raw%2Forders%2F2024/versions")
    assert body["totalCount"] == 1
    version = body["versions"][0]
    assert set(version) == VERSION_KEYS
    stored = DatasetVersion.objects.get(dataset__name=RAW_ORDERS)
    assert version["id"] == {"namespace": LAKE, "name": RAW_ORDERS, "version": str(stored.version)}
    assert version["version"] == str(stored.version)
    assert [f["name"] for f in version["fields"]] == ["id", "amount"]
    assert version["lifecycleState"] is None
    assert version["createdByRun"]["id"] == RUN_OK
    assert set(version["createdByRun"]) == RUN_KEYS


def test_it_keeps_a_new_version_per_schema_change(anonymous: APIClient) -> None:
    run = str(uuid.uuid4())
    lineage_events_ingest(
        payloads=[
            run_event(
                run_id=run,
                event_time=f"2024-05-0{day}T10:00:00Z",
                outputs=[{"namespace": "lake", "name": "t", "facets": {"schema": _schema(*cols)}}],
            )
            for day, cols in ((1, ["a"]), (2, ["a", "b"]), (3, ["a", "b"]))
        ]
    )
    body = _get(anonymous, "/namespaces/lake/datasets/t/versions")
    assert body["totalCount"] == 2
    assert [len(v["fields"]) for v in body["versions"]] == [2, 1]


def test_it_treats_names_ending_in_a_list_suffix_as_names(anonymous: APIClient) -> None:
    lineage_events_ingest(
        payloads=[
            run_event(
                job=("etl", "nightly/runs"),
                outputs=[{"namespace": "lake", "name": "x/versions"}],
            )
        ]
    )
    assert _get(anonymous, "/namespaces/lake/datasets/x%2Fversions")["name"] == "x/versions"
    assert _get(anonymous, "/namespaces/etl/jobs/nightly%2Fruns")["name"] == "nightly/runs"


# --- jobs and runs ----------------------------------------------------------------------


def test_it_routes_a_job_whose_name_holds_slashes_and_route_words(
    anonymous: APIClient,
) -> None:
    job = ("airflow://prod", "dags/datasets/export")
    lineage_events_ingest(payloads=[run_event(run_id=RUN_OK, job=job)])
    url = "/namespaces/airflow:%2F%2Fprod/jobs/dags%2Fdatasets%2Fexport"
    assert _get(anonymous, url)["id"] == {"namespace": job[0], "name": job[1]}
    assert [r["id"] for r in _get(anonymous, f"{url}/runs")["runs"]] == [RUN_OK]


def test_it_shows_a_job_with_its_io_and_latest_run(orders: None, anonymous: APIClient) -> None:
    job = _get(anonymous, "/namespaces/etl/jobs/daily_orders")
    assert set(job) == JOB_KEYS
    assert job["id"] == {"namespace": "etl", "name": "daily_orders"}
    assert job["type"] == "BATCH"
    assert job["simpleName"] == "daily_orders"
    assert job["parentJobName"] is None
    assert job["parentJobUuid"] is None
    assert job["inputs"] == [
        {"namespace": LAKE, "name": ARN},
        {"namespace": LAKE, "name": RAW_ORDERS},
    ]
    assert job["outputs"] == [{"namespace": WAREHOUSE, "name": DAILY}]
    assert job["location"] == "https://git.example.com/etl/orders.py"
    assert job["description"] == "Daily order totals."
    assert job["latestRun"]["id"] == RUN_FAILED
    assert job["latestRun"]["state"] == "FAILED"
    assert job["currentVersion"] is None
    assert job["labels"] == []
    assert set(job["facets"]) == {"documentation", "sourceCodeLocation", "sql"}


def test_it_names_a_child_job_after_its_parent(anonymous: APIClient) -> None:
    parent = {"run": {"runId": str(uuid.uuid4())}, "job": {"namespace": "etl", "name": "dag"}}
    lineage_events_ingest(
        payloads=[run_event(job=("etl", "dag.task"), run_facets={"parent": _facet(**parent)})]
    )
    job = _get(anonymous, "/namespaces/etl/jobs/dag.task")
    assert job["parentJobName"] == "dag"
    assert job["simpleName"] == "task"
    assert uuid.UUID(job["parentJobUuid"])


def test_it_lists_jobs_with_total_count(orders: None, anonymous: APIClient) -> None:
    body = _get(anonymous, "/namespaces/etl/jobs")
    assert body["totalCount"] == 1
    assert body["jobs"][0]["name"] == "daily_orders"
    assert _get(anonymous, "/namespaces/etl/jobs", name="nightly")["totalCount"] == 0


def test_it_lists_runs_latest_first_and_filters_by_state(
    orders: None, anonymous: APIClient
) -> None:
    body = _get(anonymous, "/namespaces/etl/jobs/daily_orders/runs")
    assert body["totalCount"] == 2
    assert [(r["id"], r["state"]) for r in body["runs"]] == [
        (RUN_FAILED, "FAILED"),
        (RUN_OK, "COMPLETED"),
    ]
    failed = _get(anonymous, "/namespaces/etl/jobs/daily_orders/runs", state="failed")
    assert [r["id"] for r in failed["runs"]] == [RUN_FAILED]
    bad = _get(anonymous, "/namespaces/etl/jobs/daily_orders/runs", 400, state="EXPLODED")
    assert [e["path"] for e in bad["errors"]] == ["state"]


def test_it_shows_a_completed_run_with_its_dataset_versions(
    orders: None, anonymous: APIClient
) -> None:
    run = _get(anonymous, f"/jobs/runs/{RUN_OK}")
    assert set(run) == RUN_KEYS
    assert run["state"] == "COMPLETED"
    assert run["startedAt"] == "2024-05-01T10:00:00Z"
    assert run["endedAt"] == "2024-05-01T10:05:00Z"
    assert run["durationMs"] == 300_000
    assert run["nominalStartTime"] == "2024-05-01T00:00:00Z"
    assert run["nominalEndTime"] is None
    assert run["args"] == {} and run["context"] == {}
    assert run["jobVersion"] == {"namespace": "etl", "name": "daily_orders", "version": None}
    raw_version = str(DatasetVersion.objects.get(dataset__name=RAW_ORDERS).version)
    inputs = {
        (i["datasetVersionId"]["name"], i["datasetVersionId"]["version"])
        for i in run["inputDatasetVersions"]
    }
    assert inputs == {(RAW_ORDERS, raw_version), (ARN, None)}
    output = run["outputDatasetVersions"][0]
    assert output["datasetVersionId"]["namespace"] == WAREHOUSE
    assert "schema" in output["facets"]


def test_it_shows_a_failed_run_with_its_error_facet(orders: None, anonymous: APIClient) -> None:
    run = _get(anonymous, f"/jobs/runs/{RUN_FAILED}")
    assert run["state"] == "FAILED"
    assert run["durationMs"] == 60_000
    assert run["facets"]["errorMessage"]["message"] == "disk full"


def test_it_returns_run_and_job_facets_of_a_run(orders: None, anonymous: APIClient) -> None:
    run_facets = _get(anonymous, f"/jobs/runs/{RUN_OK}/facets", type="run")
    assert run_facets == {
        "runId": RUN_OK,
        "facets": {"nominalTime": _facet(nominalStartTime="2024-05-01T00:00:00Z")},
    }
    job_facets = _get(anonymous, f"/jobs/runs/{RUN_OK}/facets", type="JOB")
    assert job_facets["runId"] == RUN_OK
    assert set(job_facets["facets"]) == {"documentation", "sourceCodeLocation", "sql"}


def test_it_requires_a_known_facet_type(orders: None, anonymous: APIClient) -> None:
    for params in ({}, {"type": "dataset"}):
        body = _get(anonymous, f"/jobs/runs/{RUN_OK}/facets", 400, **params)
        assert [e["path"] for e in body["errors"]] == ["type"]


# --- errors and paging ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/namespaces/nowhere",
        "/namespaces/nowhere/datasets",
        "/namespaces/etl/datasets/missing",
        "/namespaces/etl/datasets/missing/versions",
        "/namespaces/nowhere/jobs",
        "/namespaces/etl/jobs/missing",
        "/namespaces/etl/jobs/missing/runs",
        f"/jobs/runs/{uuid.UUID(int=1)}",
        f"/jobs/runs/{uuid.UUID(int=1)}/facets?type=run",
    ],
)
def test_it_answers_404_json_for_unknown_things(
    orders: None, anonymous: APIClient, url: str
) -> None:
    body = _get(anonymous, url, 404)
    assert set(body) == {"error"}
    assert "not found" in body["error"]
    assert "/versions" not in body["error"] and "/runs" not in body["error"]


def test_it_rejects_a_run_id_that_is_not_a_uuid(anonymous: APIClient) -> None:
    body = _get(anonymous, "/jobs/runs/not-a-uuid", 400)
    assert [e["path"] for e in body["errors"]] == ["id"]


def test_it_pages_with_limit_and_offset(orders: None, anonymous: APIClient) -> None:
    body = _get(anonymous, "/namespaces/etl/jobs/daily_orders/runs", limit=1, offset=1)
    assert body["totalCount"] == 2
    assert [r["id"] for r in body["runs"]] == [RUN_OK]
    assert _get(anonymous, LAKE_DATASETS, limit=0)["datasets"] == []


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"limit": "-1"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"offset": "-5"}, "offset"),
        ({"offset": "1e9"}, "offset"),
    ],
)
def test_it_rejects_bad_paging_parameters(
    orders: None, anonymous: APIClient, params: dict[str, str], path: str
) -> None:
    for url in ("/namespaces", "/namespaces/etl/jobs", "/events/lineage"):
        body = _get(anonymous, url, 400, **params)
        assert [e["path"] for e in body["errors"]] == [path]


# --- raw events -------------------------------------------------------------------------


def _event_times(body: dict[str, Any]) -> list[str]:
    return [e["eventTime"] for e in body["events"]]


def test_it_lists_raw_events_latest_first(orders: None, anonymous: APIClient) -> None:
    body = _get(anonymous, "/events/lineage")
    assert list(body) == ["events", "totalCount"]
    assert body["totalCount"] == 4
    assert _event_times(body) == [
        "2024-05-02T10:01:00Z",
        "2024-05-02T10:00:00Z",
        "2024-05-01T10:05:00Z",
        "2024-05-01T10:00:00Z",
    ]
    assert body["events"][-1] == _orders_events()[0]


def test_it_filters_raw_events_by_event_time(orders: None, anonymous: APIClient) -> None:
    body = _get(
        anonymous,
        "/events/lineage",
        after="2024-05-01T10:05:00Z",
        before="2024-05-02T10:01:00Z",
        sortDirection="asc",
    )
    assert body["totalCount"] == 2
    assert _event_times(body) == ["2024-05-01T10:05:00Z", "2024-05-02T10:00:00Z"]


def test_it_reads_an_offset_whose_plus_sign_was_not_escaped(
    orders: None, anonymous: APIClient
) -> None:
    response = anonymous.get(f"{API}/events/lineage?after=2024-05-02T12:00:00+02:00")
    assert response.status_code == 200
    assert response.json()["totalCount"] == 2


def test_it_rejects_bad_event_filters(orders: None, anonymous: APIClient) -> None:
    for params, path in (
        ({"before": "yesterday"}, "before"),
        ({"after": "2024-13-45"}, "after"),
        ({"sortDirection": "sideways"}, "sortDirection"),
    ):
        body = _get(anonymous, "/events/lineage", 400, **params)
        assert [e["path"] for e in body["errors"]] == [path]


# --- query counts -----------------------------------------------------------------------


def _busy_warehouse(size: int) -> None:
    """``size`` jobs, each run once, reading from a namespace of its own and writing its own
    table and a new schema of a shared one; and a ``repeat`` job run ``size`` times."""
    events = []
    for i in range(size):
        run = str(uuid.uuid4())
        outputs = [
            {
                "namespace": "wh",
                "name": f"out_{i}",
                "facets": {
                    "schema": _schema("id", f"c{i}"),
                    "columnLineage": _facet(
                        fields={
                            f"c{i}": {
                                "inputFields": [{"namespace": "wh", "name": "src", "field": "id"}]
                            }
                        }
                    ),
                },
            },
            {"namespace": "wh", "name": "shared", "facets": {"schema": _schema(f"v{i}")}},
        ]
        inputs = [{"namespace": "wh", "name": "src"}, {"namespace": f"source_{i}", "name": "feed"}]
        io: dict[str, Any] = {"inputs": inputs, "outputs": outputs}
        events += [
            run_event("START", run_id=run, job=("etl", f"job_{i}"), **io),
            run_event("COMPLETE", run_id=run, job=("etl", f"job_{i}"), **io),
            run_event("COMPLETE", job=("etl", "repeat"), **io),
        ]
    result = lineage_events_ingest(payloads=events)
    assert result.accepted == len(events)


LIST_QUERIES = {
    "/namespaces": 1,
    "/namespaces/wh/datasets": 5,
    "/namespaces/wh/datasets/shared/versions": 6,
    "/namespaces/etl/jobs": 5,
    "/namespaces/etl/jobs/repeat/runs": 5,
    "/events/lineage": 2,
}


@pytest.mark.parametrize("size", [1, 5])
@pytest.mark.parametrize("url", list(LIST_QUERIES))
def test_list_endpoints_cost_a_fixed_number_of_queries(
    anonymous: APIClient, django_assert_num_queries: Any, url: str, size: int
) -> None:
    _busy_warehouse(size)
    with django_assert_num_queries(LIST_QUERIES[url]):
        body = _get(anonymous, url)
    listed = next(value for value in body.values() if isinstance(value, list))
    assert len(listed) >= size

"""The lineage pages: runs, a run, a job."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from lineage.models import Job, Run
from lineage.services import lineage_event_ingest
from tests.conftest import run_event

pytestmark = pytest.mark.django_db

WAREHOUSE = "postgres://warehouse:5432"


def ingest(event_type: str = "COMPLETE", **kwargs: Any) -> str:
    """Post one run event and return its run id."""
    kwargs.setdefault("run_id", str(uuid.uuid4()))
    lineage_event_ingest(payload=run_event(event_type, **kwargs))
    return kwargs["run_id"]


def run_of(run_id: str) -> Run:
    return Run.objects.get(uuid=run_id)


def failure(message: str, trace: str = "") -> dict[str, Any]:
    return {
        "errorMessage": {
            "message": message,
            "programmingLanguage": "PYTHON",
            "stackTrace": trace,
        }
    }


def output(name: str, rows: int | None = None, **facets: Any) -> dict[str, Any]:
    ref: dict[str, Any] = {"namespace": WAREHOUSE, "name": name, "facets": facets}
    if rows is not None:
        ref["outputFacets"] = {"outputStatistics": {"rowCount": rows, "size": 2048}}
    return ref


# --- runs -----------------------------------------------------------------------------


def test_it_shows_how_to_send_lineage_when_there_are_no_runs(client: Client) -> None:
    response = client.get("/lineage/runs/")
    assert response.status_code == 200
    assert b"No runs yet." in response.content


def test_it_lists_failed_runs_before_newer_completed_ones(client: Client) -> None:
    ingest("FAIL", job=("etl", "broken_job"), event_time="2024-05-01T08:00:00Z")
    ingest("COMPLETE", job=("etl", "healthy_job"), event_time="2024-05-02T08:00:00Z")
    ingest("ABORT", job=("etl", "aborted_job"), event_time="2024-05-01T07:00:00Z")

    text = client.get("/lineage/runs/").content.decode()

    assert text.index("broken_job") < text.index("aborted_job") < text.index("healthy_job")
    assert 'class="badge badge-failed"' in text
    assert 'class="badge badge-completed"' in text


def test_it_lists_recent_runs_first(client: Client) -> None:
    ingest(job=("etl", "yesterday_job"), event_time="2024-05-01T08:00:00Z")
    ingest(job=("etl", "today_job"), event_time="2024-05-02T08:00:00Z")

    text = client.get("/lineage/runs/").content.decode()

    assert text.index("today_job") < text.index("yesterday_job")


def test_it_shows_duration_and_namespace(client: Client) -> None:
    run_id = ingest("START", job=("sales", "timed_job"), event_time="2024-05-01T08:00:00Z")
    ingest("COMPLETE", run_id=run_id, job=("sales", "timed_job"), event_time="2024-05-01T08:02:30Z")

    text = client.get("/lineage/runs/").content.decode()

    assert "2 min 30 s" in text
    assert ">sales<" in text


def test_it_filters_runs_by_state_and_namespace(client: Client) -> None:
    ingest("FAIL", job=("sales", "sales_failed"))
    ingest("COMPLETE", job=("sales", "sales_ok"))
    ingest("FAIL", job=("finance", "finance_failed"))

    text = client.get("/lineage/runs/", {"state": "failed", "namespace": "sales"}).content.decode()

    assert "sales_failed" in text
    assert "sales_ok" not in text
    assert "finance_failed" not in text


@pytest.mark.parametrize(
    "params",
    [
        {"state": "EXPLODED"},
        {"namespace": "no-such-namespace"},
        {"namespace": "bad\x00value"},
        {"page": "abc"},
        {"page": "-1"},
        {"page": "99999999999999999999"},
        {"state": "x" * 5000},
    ],
)
def test_it_never_fails_on_bad_parameters(client: Client, params: dict[str, str]) -> None:
    ingest(job=("etl", "some_job"))
    response = client.get("/lineage/runs/", params)
    assert response.status_code == 200
    assert b"some_job" in response.content


def test_it_says_which_filter_it_ignored(client: Client) -> None:
    ingest(job=("etl", "some_job"))
    text = client.get("/lineage/runs/", {"state": "EXPLODED"}).content.decode()
    assert "Unknown run state “EXPLODED”" in text


def test_it_paginates_runs_by_fifty(client: Client) -> None:
    for i in range(52):
        ingest(job=("etl", f"job_{i:02d}"), event_time=f"2024-05-01T10:{i:02d}:00Z")

    first = client.get("/lineage/runs/").content.decode()
    second = client.get("/lineage/runs/", {"page": "2"}).content.decode()

    assert "Page 1 of 2" in first
    assert "job_51" in first and "job_01" not in first
    assert "job_01" in second and "job_00" in second


def test_the_runs_page_query_count_does_not_grow_with_runs(
    client: Client, django_assert_max_num_queries: Any
) -> None:
    for i in range(30):
        ingest(
            "FAIL" if i % 3 else "COMPLETE",
            job=(f"ns{i % 4}", f"job_{i}"),
            outputs=[output(f"table_{i}")],
        )
    # The namespace, the count, the page's run ids (sorted without joins), its runs with
    # their jobs, and the namespaces with jobs.
    with django_assert_max_num_queries(5):
        response = client.get("/lineage/runs/", {"namespace": "ns1"})
    assert response.status_code == 200
    with django_assert_max_num_queries(5):
        client.get("/lineage/runs/")


# --- a run ----------------------------------------------------------------------------


def test_it_shows_the_error_message_and_stack_trace(client: Client) -> None:
    run_id = ingest(
        "FAIL",
        job=("etl", "orders"),
        run_facets=failure("relation <raw.orders> does not exist", "Traceback\n  line 7"),
    )

    response = client.get(f"/lineage/runs/{run_id}/")

    assert response.status_code == 200
    text = response.content.decode()
    assert "relation &lt;raw.orders&gt; does not exist" in text
    assert "Traceback\n  line 7" in text
    assert "badge-failed" in text


def test_it_shows_inputs_and_outputs_with_row_counts(client: Client) -> None:
    run_id = ingest(
        job=("etl", "orders"),
        inputs=[{"namespace": WAREHOUSE, "name": "raw.orders"}],
        outputs=[output("clean.orders", rows=123456)],
    )

    text = client.get(f"/lineage/runs/{run_id}/").content.decode()

    assert "raw.orders" in text
    assert "clean.orders" in text
    assert "123,456" in text
    assert text.index("raw.orders") < text.index("Outputs") < text.index("clean.orders")


def test_it_links_the_parent_run_and_lists_child_runs(client: Client) -> None:
    parent_id = ingest("START", job=("airflow", "daily_dag"))
    child_id = ingest(
        job=("airflow", "daily_dag.load_task"),
        run_facets={
            "parent": {
                "run": {"runId": parent_id},
                "job": {"namespace": "airflow", "name": "daily_dag"},
            }
        },
    )

    child_page = client.get(f"/lineage/runs/{child_id}/").content.decode()
    parent_page = client.get(f"/lineage/runs/{parent_id}/").content.decode()

    assert f"/lineage/runs/{parent_id}/" in child_page
    assert "Child runs" in parent_page
    assert f"/lineage/runs/{child_id}/" in parent_page


def test_it_shows_the_run_assertions_nominal_time_and_raw_facets(client: Client) -> None:
    run_id = ingest(
        job=("dbt", "test_orders"),
        inputs=[
            {
                "namespace": WAREHOUSE,
                "name": "clean.orders",
                "inputFacets": {
                    "dataQualityAssertions": {
                        "assertions": [
                            {"assertion": "not_null", "success": True, "column": "id"},
                            {"assertion": "unique", "success": False, "column": "id"},
                        ]
                    }
                },
            }
        ],
        run_facets={"nominalTime": {"nominalStartTime": "2024-05-01T09:00:00Z"}},
    )

    text = client.get(f"/lineage/runs/{run_id}/").content.decode()

    assert "not_null" in text and "unique" in text
    assert "2024-05-01 09:00" in text
    assert "&quot;nominalStartTime&quot;: &quot;2024-05-01T09:00:00Z&quot;" in text


def test_an_unknown_run_is_404(client: Client) -> None:
    assert client.get(f"/lineage/runs/{uuid.uuid4()}/").status_code == 404
    assert client.get("/lineage/runs/not-a-uuid/").status_code == 404


# --- a job ----------------------------------------------------------------------------


def test_it_shows_the_job_description_sql_owners_and_source(client: Client) -> None:
    ingest(
        job=("dbt", "orders_model"),
        inputs=[{"namespace": WAREHOUSE, "name": "raw.orders"}],
        outputs=[output("clean.orders")],
        job_facets={
            "documentation": {"description": "Cleans the orders feed."},
            "sql": {"query": "SELECT id FROM raw.orders WHERE amount > 0"},
            "ownership": {"owners": [{"name": "team:sales", "type": "TEAM"}]},
            "sourceCodeLocation": {
                "type": "git",
                "url": "https://git.example.com/shop/orders.sql",
                "path": "models/orders.sql",
            },
        },
    )
    job = Job.objects.get(name="orders_model")

    text = client.get(f"/lineage/jobs/{job.pk}/").content.decode()

    assert "Cleans the orders feed." in text
    assert "SELECT id FROM raw.orders WHERE amount &gt; 0" in text
    assert "team:sales" in text
    assert 'href="https://git.example.com/shop/orders.sql"' in text
    assert "raw.orders" in text and "clean.orders" in text
    assert "badge-completed" in text


def test_it_does_not_link_source_urls_that_are_not_http(client: Client) -> None:
    ingest(
        job=("dbt", "sneaky"),
        job_facets={"sourceCodeLocation": {"type": "git", "url": "javascript:alert(1)"}},
    )
    job = Job.objects.get(name="sneaky")

    text = client.get(f"/lineage/jobs/{job.pk}/").content.decode()

    assert "javascript:alert(1)" in text
    assert 'href="javascript:' not in text


def test_it_lists_the_last_runs_of_the_job(client: Client) -> None:
    failed = ingest("FAIL", job=("etl", "nightly"), run_facets=failure("disk full"))
    ok = ingest("COMPLETE", job=("etl", "nightly"))
    job = Job.objects.get(name="nightly")

    text = client.get(f"/lineage/jobs/{job.pk}/").content.decode()

    assert f"/lineage/runs/{failed}/" in text and f"/lineage/runs/{ok}/" in text
    assert "disk full" in text


def test_an_unknown_job_is_404(client: Client) -> None:
    assert client.get("/lineage/jobs/999999/").status_code == 404
    assert client.get("/lineage/jobs/99999999999999999999999/").status_code == 404


def test_the_product_page_shows_the_last_run_writing_each_bound_dataset(
    client: Client, pipeline: APIClient
) -> None:
    from catalog.services import data_product_register
    from tests.catalog.test_product_api import PG, orders_bundle

    data_product_register(files=orders_bundle(), actor="tests", source="api")
    event = run_event(
        "FAIL",
        job=("sales", "load_orders"),
        outputs=[{"namespace": PG, "name": "shop.public.orders"}],
    )
    assert pipeline.post("/api/v1/lineage", event, format="json").status_code == 201

    page = client.get("/products/orders/").content.decode()

    assert "Datasets in lineage" in page
    assert "load_orders" in page and "FAILED" in page
    assert f"/lineage/runs/{event['run']['runId']}/" in page


def test_job_run_and_dataset_pages_show_their_raw_facets_or_say_none_were_sent(
    client: Client,
) -> None:
    from catalog.models import Dataset

    event = run_event(
        "COMPLETE",
        job=("tests", "with_facets"),
        run_facets={"custom_run": {"answer": 42}},
        job_facets={"custom_job": {"flag": True}},
        outputs=[{"namespace": "tests", "name": "bare"}],
    )
    lineage_event_ingest(payload=event)
    run = Run.objects.get(uuid=event["run"]["runId"])
    dataset = Dataset.objects.get(name="bare")

    run_page = client.get(run.get_absolute_url()).content.decode()
    job_page = client.get(run.job.get_absolute_url()).content.decode()
    dataset_page = client.get(dataset.get_absolute_url()).content.decode()

    assert "Raw run facets" in run_page and "custom_run" in run_page
    assert "Raw job facets" in job_page and "custom_job" in job_page
    assert "No facets were sent for this dataset." in dataset_page

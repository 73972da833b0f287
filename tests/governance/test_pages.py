"""The governance page: what needs a steward's attention, from lineage as it is."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client

from lineage.services import lineage_event_ingest
from tests.conftest import run_event

pytestmark = pytest.mark.django_db

WAREHOUSE = "postgres://warehouse:5432"
OWNED = {"ownership": {"owners": [{"name": "team:sales", "type": "TEAM"}]}}


def ingest(event_type: str = "COMPLETE", **kwargs: Any) -> None:
    kwargs.setdefault("run_id", str(uuid.uuid4()))
    lineage_event_ingest(payload=run_event(event_type, **kwargs))


def checked(name: str, *results: tuple[str, bool]) -> dict[str, Any]:
    """An input whose dataQualityAssertions report ``results`` as (assertion, success)."""
    return {
        "namespace": WAREHOUSE,
        "name": name,
        "inputFacets": {
            "dataQualityAssertions": {
                "assertions": [{"assertion": a, "success": ok, "column": "id"} for a, ok in results]
            }
        },
    }


def section(text: str, anchor: str) -> str:
    """The HTML of one section of the page, to tell apart what each list holds."""
    start = text.index(f'<section id="{anchor}">')
    return text[start : text.index("</section>", start)]


def test_the_empty_page_says_nothing_has_arrived_yet(client: Client) -> None:
    response = client.get("/governance/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Nothing to review yet" in text
    assert "No job is failing." in text


def test_it_lists_datasets_without_owners(client: Client) -> None:
    ingest(
        outputs=[
            {"namespace": WAREHOUSE, "name": "orphan_table"},
            {"namespace": WAREHOUSE, "name": "owned_table", "facets": OWNED},
        ]
    )

    unowned = section(client.get("/governance/").content.decode(), "unowned")

    assert "orphan_table" in unowned
    assert "owned_table" not in unowned


def test_it_lists_jobs_whose_latest_run_failed(client: Client) -> None:
    ingest("FAIL", job=("etl", "recovered_job"), event_time="2024-05-01T08:00:00Z")
    ingest("COMPLETE", job=("etl", "recovered_job"), event_time="2024-05-02T08:00:00Z")
    ingest(
        "FAIL",
        job=("etl", "broken_job"),
        run_facets={"errorMessage": {"message": "out of memory", "programmingLanguage": "JVM"}},
    )

    failing = section(client.get("/governance/").content.decode(), "failing-jobs")

    assert "broken_job" in failing and "out of memory" in failing
    assert "recovered_job" not in failing


def test_it_lists_datasets_whose_latest_assertions_fail(client: Client) -> None:
    ingest(
        job=("dbt", "tests"),
        inputs=[checked("fixed_table", ("unique", False)), checked("bad_table", ("unique", True))],
        event_time="2024-05-01T08:00:00Z",
    )
    ingest(
        job=("dbt", "tests"),
        inputs=[
            checked("fixed_table", ("unique", True)),
            checked("bad_table", ("unique", True), ("not_null", False)),
        ],
        event_time="2024-05-02T08:00:00Z",
    )

    failing = section(client.get("/governance/").content.decode(), "failing-quality")

    assert "bad_table" in failing and "not_null" in failing
    assert "unique" not in failing
    assert "fixed_table" not in failing


def test_the_page_query_count_does_not_grow_with_problems(
    client: Client, django_assert_max_num_queries: Any
) -> None:
    for i in range(20):
        ingest(
            "FAIL",
            job=("etl", f"job_{i}"),
            inputs=[checked(f"checked_{i}", ("unique", False))],
            outputs=[{"namespace": WAREHOUSE, "name": f"orphan_{i}"}],
        )
    with django_assert_max_num_queries(9):
        response = client.get("/governance/")
    text = response.content.decode()
    assert "job_19" in text and "checked_19" in text and "orphan_19" in text

"""Every OpenLineage fixture we hold, posted through the real endpoints.

Each event is accepted (2xx) or, when it is listed in EXPECTED_REJECTED, refused with a
4xx naming the offending field; nothing is a 5xx. Files that are not posted are counted
per reason against SKIPPED_FILES, so no fixture silently disappears.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from rest_framework.test import APIClient

from lineage.models import LineageEvent
from tests.lineage import fixture_corpus as fc

# How many files are left out, and why. A change in the fixtures or in the corpus rules
# must show up here.
SKIPPED_FILES = {
    fc.NOT_EVENT_SCHEMA: 50,
    fc.NOT_EVENT_API_RESPONSE: 4,
    fc.NOT_EVENT_FACET: 47,
    fc.EXPRESSION_PLACEHOLDER: 8,
    fc.NO_RUN_ID: 295,
    fc.NO_JOB: 2,
    fc.NOT_AN_EVENT_SHAPE: 1,
}
# Single events left out of a file whose other events are posted.
SKIPPED_EVENTS = {"openlineage-dbt/large/result.json[7]": fc.NO_RUN_ID}

FLUENTD = "openlineage-proxy-fluentd/events"

# Events that are invalid on purpose, with the path the 400 must name.
EXPECTED_REJECTED = {
    # The fluentd proxy's negative fixture: the run has no runId.
    f"{FLUENTD}/event_no_run_id.json": "run.runId",
    # compatibility-tests' consumer smoke event uses the literal string "run_id".
    "compatibility-tests/consumer/scenarios/simple_run_event/events/simple_run_event.json": (
        "run.runId"
    ),
    # The Spark integration's serde sample has no producer, which the spec requires.
    "openlineage-spark/test_data/serde/openlineage-event.json": "producer",
}

# Fluentd's "invalid" events are valid identities with a malformed facet: accepted, with
# a warning that names the facet.
INVALID_FACET_WARNINGS = {
    f"{FLUENTD}/event_invalid_dataset_facet.json": "outputs[0].facets.ownership.owners[0].name",
    # dataQualityMetrics without the columnMetrics the facet requires.
    f"{FLUENTD}/event_invalid_input_dataset_facet.json": (
        "inputs[0].inputFacets.dataQualityMetrics.columnMetrics"
    ),
    f"{FLUENTD}/event_invalid_job_facet.json": "job.facets.ownership.owners[0].name",
    f"{FLUENTD}/event_invalid_output_dataset_facet.json": (
        "outputs[0].outputFacets.outputStatistics.rowCount"
    ),
    f"{FLUENTD}/event_invalid_run_facet.json": "run.facets.parent.run.runId",
}


@pytest.fixture(scope="module")
def corpus() -> fc.Corpus:
    return fc.load_corpus()


@dataclass
class Outcome:
    status: int
    body: dict[str, Any]
    warnings: list[dict[str, str]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)


def post_file(client: APIClient, events: list[fc.CorpusEvent]) -> dict[str, Outcome]:
    """Post one file's events: alone to /lineage, arrays to /lineage/batch."""
    if events[0].index is None:
        response = client.post("/api/v1/lineage", events[0].payload, format="json")
        body = response.json() if response.status_code < 500 else {}
        return {
            events[0].key: Outcome(
                response.status_code, body, body.get("warnings", []), body.get("errors", [])
            )
        }
    response = client.post("/api/v1/lineage/batch", [e.payload for e in events], format="json")
    if response.status_code >= 500 or "failed_events" not in response.json():
        return {e.key: Outcome(response.status_code, {}) for e in events}
    body = response.json()
    failed = {f["index"]: f["errors"] for f in body["failed_events"]}
    warned = {w["index"]: w["warnings"] for w in body["warnings"]}
    return {
        e.key: Outcome(400 if i in failed else 200, body, warned.get(i, []), failed.get(i, []))
        for i, e in enumerate(events)
    }


def summary(corpus: fc.Corpus, outcomes: dict[str, Outcome]) -> dict[str, Any]:
    return {
        "files": len(corpus.files),
        "files_posted": len(corpus.by_file()),
        "events": len(corpus.events),
        "from_templates": sum(e.template for e in corpus.events),
        "producer_filled": sum(
            e.payload.get("producer") == fc.FILLED_PRODUCER for e in corpus.events
        ),
        "accepted": sum(200 <= o.status < 300 for o in outcomes.values()),
        "rejected": sum(400 <= o.status < 500 for o in outcomes.values()),
        "server_errors": sum(o.status >= 500 for o in outcomes.values()),
        "skipped_files": corpus.skipped_files_by_reason(),
        "skipped_events": corpus.skipped_events_by_reason(),
    }


def test_every_file_is_posted_or_skipped_for_a_listed_reason(corpus: fc.Corpus) -> None:
    assert corpus.skipped_files_by_reason() == SKIPPED_FILES
    assert corpus.skipped_events == SKIPPED_EVENTS
    assert set(corpus.skipped_files).isdisjoint(corpus.by_file())
    assert len(corpus.skipped_files) + len(corpus.by_file()) == len(corpus.files) == 616


def test_it_fills_every_placeholder_of_the_templates_it_posts(corpus: fc.Corpus) -> None:
    templates = [e for e in corpus.events if e.template]
    assert len(templates) == 570
    assert not [e.key for e in templates if fc.has_placeholder(e.payload)]


@pytest.mark.parametrize(
    ("pattern", "example"),
    [
        (r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}", "0.0.0.0"),
        (r"application_.+", "application_x"),
        (r"data/bigquery_to_delta/e2e_delta_table_.*", "data/bigquery_to_delta/e2e_delta_table_"),
        (
            r"^https:\/\/github.com/apache/airflow/tree/providers-openlineage\/[\d]+\.[\d]+"
            r"\.[\d]+.*$",
            "https://github.com/apache/airflow/tree/providers-openlineage/0.0.0",
        ),
        (
            r"^https:\/\/openlineage.io\/spec\/[\d-]+\/OpenLineage.json\#\/\$defs\/RunEvent$",
            "https://openlineage.io/spec/0/OpenLineage.json#/$defs/RunEvent",
        ),
    ],
)
def test_it_makes_an_example_for_a_simple_regex(pattern: str, example: str) -> None:
    assert fc.example_for_regex(pattern) == example


def test_it_refuses_a_regex_it_cannot_satisfy_simply() -> None:
    with pytest.raises(fc.Unfillable):
        fc.example_for_regex("(a|b)+")


def test_it_gives_one_run_id_to_the_events_of_one_job_and_links_the_parent() -> None:
    parent = {"job": {"namespace": "dbt", "name": "dbt-run"}, "run": {"runId": "{{ any(result) }}"}}
    child = {
        "eventType": "START",
        "run": {"runId": "{{ any(result) }}", "facets": {"parent": parent}},
        "job": {"namespace": "dbt", "name": "model.orders"},
    }
    own = {"eventType": "COMPLETE", "run": {"runId": "{{ is_uuid(result) }}"}, "job": parent["job"]}

    start, complete, parent_event = fc.fill_template("x.json", [child, dict(child), own])

    assert start["run"]["runId"] == complete["run"]["runId"] != parent_event["run"]["runId"]
    assert start["run"]["facets"]["parent"]["run"]["runId"] == parent_event["run"]["runId"]
    assert (start["eventTime"], complete["eventTime"]) == (
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:01Z",
    )
    assert start["producer"] == fc.FILLED_PRODUCER


def test_it_skips_a_template_that_does_not_name_its_run() -> None:
    (outcome,) = fc.fill_template("x.json", [{"eventType": "START", "job": {"name": "j"}}])

    assert isinstance(outcome, fc.Unfillable)
    assert outcome.reason == fc.NO_RUN_ID


def test_every_fixture_event_is_accepted_or_rejected_as_listed(
    corpus: fc.Corpus, pipeline: APIClient
) -> None:
    pipeline.raise_request_exception = False
    outcomes: dict[str, Outcome] = {}
    for events in corpus.by_file().values():
        outcomes.update(post_file(pipeline, events))
    numbers = summary(corpus, outcomes)
    print("fixture corpus:", numbers)

    server_errors = {k: o.status for k, o in outcomes.items() if o.status >= 500}
    rejected = {k: [e["path"] for e in o.errors] for k, o in outcomes.items() if o.status >= 400}
    assert server_errors == {}
    assert rejected == {k: [path] for k, path in EXPECTED_REJECTED.items()}
    assert numbers["events"] == 683
    assert numbers["accepted"] == 683 - len(EXPECTED_REJECTED)
    # Byte-identical fixtures (the Dataproc scenarios share events) are stored once.
    assert LineageEvent.objects.count() < numbers["accepted"]
    assert LineageEvent.objects.filter(duplicates__gt=0).exists()


@pytest.mark.parametrize("relative", sorted(INVALID_FACET_WARNINGS))
def test_it_accepts_fluentd_invalid_facet_event_with_a_warning(
    relative: str, pipeline: APIClient
) -> None:
    response = pipeline.post("/api/v1/lineage", fc.load_json(relative), format="json")

    assert response.status_code == 201
    paths = [w["path"] for w in response.json()["warnings"]]
    assert INVALID_FACET_WARNINGS[relative] in paths
    assert LineageEvent.objects.get().warnings == response.json()["warnings"]

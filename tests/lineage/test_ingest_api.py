"""``POST /api/v1/lineage`` and ``/api/v1/lineage/batch``: auth, validation, limits."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from pytest_django import Settings as SettingsWrapper
from rest_framework.test import APIClient

from catalog.models import ApiToken, Dataset
from lineage.models import Job, JobDataset, LineageEvent, Run
from tests.conftest import run_event

URL = "/api/v1/lineage"
BATCH_URL = "/api/v1/lineage/batch"
RUN_ID = "0190f2c4-7d1a-7c9e-9a44-7e1f3c2b8a01"

pytestmark = pytest.mark.django_db


def paths(response: Any) -> list[str]:
    return [e["path"] for e in response.json()["errors"]]


def post_raw(client: APIClient, body: bytes, url: str = URL, **headers: str) -> Any:
    return client.post(url, data=body, content_type="application/json", **headers)


def nothing_stored() -> bool:
    return not (
        LineageEvent.objects.exists()
        or Job.objects.exists()
        or Run.objects.exists()
        or Dataset.objects.exists()
    )


def limits(settings: SettingsWrapper, **values: int | bool) -> None:
    settings.MESHPORT_LINEAGE = {**settings.MESHPORT_LINEAGE, **values}


# --- authentication and scope ------------------------------------------------------------


def test_it_asks_for_a_bearer_token_when_none_is_sent(anonymous: APIClient) -> None:
    response = anonymous.post(URL, run_event(), format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="meshport"'
    assert nothing_stored()


def test_it_rejects_an_unknown_token(anonymous: APIClient) -> None:
    anonymous.credentials(HTTP_AUTHORIZATION="Bearer mp_deadbeef_not-a-real-secret")

    response = anonymous.post(URL, run_event(), format="json")

    assert response.status_code == 401
    assert response.json() == {"error": "Invalid token."}


def test_it_rejects_an_empty_bearer_header(anonymous: APIClient) -> None:
    anonymous.credentials(HTTP_AUTHORIZATION="Bearer ")

    assert anonymous.post(URL, run_event(), format="json").status_code == 401


@pytest.mark.parametrize(
    "extra",
    [
        {"revoked_at": timezone.now() - timedelta(minutes=1)},
        {"expires_at": timezone.now() - timedelta(seconds=1)},
    ],
    ids=["revoked", "expired"],
)
def test_it_rejects_a_revoked_or_expired_token(anonymous: APIClient, extra: dict[str, Any]) -> None:
    _, secret = ApiToken.issue(name="old", scopes=["lineage:write"], **extra)
    anonymous.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    response = anonymous.post(URL, run_event(), format="json")

    assert response.status_code == 401
    assert response.json() == {"error": "Token is revoked or expired."}
    assert nothing_stored()


def test_it_forbids_a_token_without_the_lineage_write_scope(
    anonymous: APIClient, readonly_token: str
) -> None:
    anonymous.credentials(HTTP_AUTHORIZATION=f"Bearer {readonly_token}")

    response = anonymous.post(URL, run_event(), format="json")

    assert response.status_code == 403
    assert response.json() == {"error": "Token lacks the scope 'lineage:write'."}
    assert nothing_stored()


def test_it_accepts_anonymous_events_only_when_the_setting_allows_it(
    anonymous: APIClient, settings: SettingsWrapper
) -> None:
    assert anonymous.post(URL, run_event(), format="json").status_code == 401

    limits(settings, ALLOW_ANONYMOUS_WRITE=True)
    response = anonymous.post(URL, run_event(), format="json")

    assert response.status_code == 201
    assert LineageEvent.objects.get().token_name == "anonymous"


def test_it_lets_a_logged_in_admin_post(anonymous: APIClient, admin_user: User) -> None:
    anonymous.force_login(admin_user)

    response = anonymous.post(URL, run_event(), format="json")

    assert response.status_code == 201
    assert LineageEvent.objects.get().token_name == "ada.admin"


@pytest.mark.parametrize("who", ["outsider", "steward"])
def test_it_forbids_other_logged_in_users(anonymous: APIClient, who: str, request: Any) -> None:
    anonymous.force_login(request.getfixturevalue(who))

    response = anonymous.post(URL, run_event(), format="json")

    assert response.status_code == 403
    assert "pipelines use a token" in response.json()["error"]
    assert not LineageEvent.objects.exists()


def test_it_records_the_name_of_the_token_that_posted(pipeline: APIClient) -> None:
    pipeline.post(URL, run_event(), format="json")

    event = LineageEvent.objects.get()
    assert event.token_name == "airflow"
    assert ApiToken.objects.get(name="airflow").last_used_at is not None


# --- validation: 400 names every offending path, stores nothing --------------------------


def test_it_rejects_malformed_json(pipeline: APIClient) -> None:
    response = post_raw(pipeline, b'{"eventType": "START",')

    assert response.status_code == 400
    assert response.json()["error"].startswith("Malformed JSON at line 1")
    assert nothing_stored()


def test_it_rejects_an_empty_body(pipeline: APIClient) -> None:
    response = post_raw(pipeline, b"  ")

    assert response.status_code == 400
    assert paths(response) == ["$"]


def test_it_rejects_a_body_that_is_not_utf8(pipeline: APIClient) -> None:
    response = post_raw(pipeline, b'{"producer": "\xff\xfe"}')

    assert response.status_code == 400
    assert "UTF-8" in response.json()["error"]


def test_it_rejects_an_array_posted_to_the_single_event_endpoint(pipeline: APIClient) -> None:
    response = pipeline.post(URL, [run_event()], format="json")

    assert response.status_code == 400
    assert paths(response) == ["$"]
    assert "/batch" in response.json()["errors"][0]["message"]
    assert nothing_stored()


def test_it_rejects_a_json_value_that_is_not_an_event(pipeline: APIClient) -> None:
    response = pipeline.post(URL, {"hello": "world"}, format="json")

    assert response.status_code == 400
    assert paths(response) == ["$"]


def test_it_rejects_event_without_run_id(pipeline: APIClient) -> None:
    event = run_event()
    del event["run"]["runId"]

    response = pipeline.post(URL, event, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [{"path": "run.runId", "message": "is required"}]
    assert nothing_stored()


def test_it_rejects_a_run_id_that_is_not_a_uuid(pipeline: APIClient) -> None:
    response = pipeline.post(URL, run_event(run_id="run_id"), format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [{"path": "run.runId", "message": "must be a UUID"}]


def test_it_rejects_event_without_job_name(pipeline: APIClient) -> None:
    event = run_event()
    del event["job"]["name"]

    response = pipeline.post(URL, event, format="json")

    assert response.status_code == 400
    assert paths(response) == ["job.name"]
    assert nothing_stored()


def test_it_rejects_a_dataset_without_a_name(pipeline: APIClient) -> None:
    event = run_event(
        inputs=[{"namespace": "pg", "name": "a"}, {"namespace": "pg"}],
        outputs=[{"namespace": "pg", "name": "  "}],
    )

    response = pipeline.post(URL, event, format="json")

    assert response.status_code == 400
    assert paths(response) == ["inputs[1].name", "outputs[0].name"]
    assert nothing_stored()


@pytest.mark.parametrize("event_time", ["yesterday", "2024-13-01T10:00:00Z", 1714557600, None])
def test_it_rejects_an_event_time_that_is_not_a_datetime(
    pipeline: APIClient, event_time: Any
) -> None:
    event = run_event()
    event["eventTime"] = event_time

    response = pipeline.post(URL, event, format="json")

    assert response.status_code == 400
    assert paths(response) == ["eventTime"]


def test_it_lists_every_problem_of_an_event_at_once(pipeline: APIClient) -> None:
    event = {
        "eventType": "FINISHED",
        "eventTime": "not a time",
        "run": {"runId": "42"},
        "job": {"namespace": "", "name": 7},
        "inputs": [{"name": "orders"}],
        "outputs": "none",
    }

    response = pipeline.post(URL, event, format="json")

    assert response.status_code == 400
    assert paths(response) == [
        "eventTime",
        "producer",
        "eventType",
        "run.runId",
        "job.namespace",
        "job.name",
        "inputs[0].namespace",
        "outputs",
    ]
    assert nothing_stored()


def test_it_accepts_an_event_time_without_offset_with_a_warning(pipeline: APIClient) -> None:
    event = run_event(event_time="2024-05-01T10:00:00.123456789")

    response = pipeline.post(URL, event, format="json")

    assert response.status_code == 201
    assert {"path": "eventTime", "message": "no time zone offset; read as UTC"} in (
        response.json()["warnings"]
    )
    assert LineageEvent.objects.get().event_time.isoformat() == "2024-05-01T10:00:00.123456+00:00"


def test_it_rejects_an_unsupported_content_encoding(pipeline: APIClient) -> None:
    body = json.dumps(run_event()).encode()

    response = post_raw(pipeline, body, HTTP_CONTENT_ENCODING="br")

    assert response.status_code == 400
    assert paths(response) == ["Content-Encoding"]


# --- gzip and size limits ----------------------------------------------------------------


def test_it_accepts_a_gzipped_event(pipeline: APIClient) -> None:
    body = gzip.compress(json.dumps(run_event(run_id=RUN_ID)).encode())

    response = post_raw(pipeline, body, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 201
    assert str(LineageEvent.objects.get().run_uuid) == RUN_ID


def test_it_accepts_a_gzipped_batch(pipeline: APIClient) -> None:
    body = gzip.compress(json.dumps([run_event(), run_event()]).encode())

    response = post_raw(pipeline, body, BATCH_URL, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 200
    assert response.json()["accepted"] == 2


def test_it_rejects_a_body_that_claims_gzip_but_is_not(pipeline: APIClient) -> None:
    body = json.dumps(run_event()).encode()

    response = post_raw(pipeline, body, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 400
    assert "gzip" in response.json()["error"]
    assert nothing_stored()


def test_it_rejects_a_gzip_body_cut_inside_the_data(pipeline: APIClient) -> None:
    body = gzip.compress(json.dumps(run_event()).encode())[:-12]

    response = post_raw(pipeline, body, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 400
    assert nothing_stored()


def test_it_rejects_a_gzip_body_with_a_wrong_checksum(pipeline: APIClient) -> None:
    body = bytearray(gzip.compress(json.dumps(run_event()).encode()))
    body[-8] ^= 0xFF  # first byte of the CRC-32 trailer

    response = post_raw(pipeline, bytes(body), HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 400
    assert nothing_stored()


def test_it_rejects_a_gzip_body_without_its_trailer(pipeline: APIClient) -> None:
    body = gzip.compress(json.dumps(run_event()).encode())[:-8]

    response = post_raw(pipeline, body, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 400
    assert nothing_stored()


def test_it_refuses_a_body_over_the_size_limit(
    pipeline: APIClient, settings: SettingsWrapper
) -> None:
    limits(settings, MAX_BODY_BYTES=1000)
    event = run_event(job_facets={"documentation": {"description": "x" * 2000}})

    response = pipeline.post(URL, event, format="json")

    assert response.status_code == 413
    assert response.json() == {"error": "Request body exceeds 1000 bytes."}
    assert nothing_stored()


def test_it_refuses_a_body_over_djangos_upload_limit(
    pipeline: APIClient, settings: SettingsWrapper
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 500
    event = run_event(job_facets={"documentation": {"description": "x" * 600}})

    response = pipeline.post(URL, event, format="json")

    assert response.status_code == 413
    assert nothing_stored()


def test_it_refuses_a_gzip_bomb(pipeline: APIClient, settings: SettingsWrapper) -> None:
    limits(settings, MAX_BODY_BYTES=1_000_000)
    # 64 MB of JSON whitespace compresses to about 64 KB.
    body = gzip.compress(b"[" + b" " * (64 * 1024 * 1024) + b"]", compresslevel=9)
    assert len(body) < 100_000

    response = post_raw(pipeline, body, BATCH_URL, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 413
    assert response.json() == {"error": "Decompressed body exceeds 1000000 bytes."}


def test_it_accepts_a_gzipped_body_that_inflates_to_exactly_the_limit(
    pipeline: APIClient, settings: SettingsWrapper
) -> None:
    raw = json.dumps(run_event()).encode()
    limits(settings, MAX_BODY_BYTES=len(raw))

    response = post_raw(pipeline, gzip.compress(raw), HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 201


# --- batches -----------------------------------------------------------------------------


def test_it_accepts_a_batch_of_valid_events(pipeline: APIClient) -> None:
    response = pipeline.post(BATCH_URL, [run_event("START"), run_event()], format="json")

    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "received": 2,
        "accepted": 2,
        "duplicates": 0,
        "failed": 0,
        "failed_events": [],
        "warnings": [],
    }
    assert LineageEvent.objects.count() == 2


def test_it_stores_the_valid_events_of_a_partly_invalid_batch(pipeline: APIClient) -> None:
    bad = run_event(run_id="nope")
    response = pipeline.post(BATCH_URL, [run_event(run_id=RUN_ID), bad], format="json")

    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "partial_success"
    assert (body["accepted"], body["failed"]) == (1, 1)
    assert body["failed_events"] == [
        {"index": 1, "errors": [{"path": "run.runId", "message": "must be a UUID"}]}
    ]
    assert str(Run.objects.get().uuid) == RUN_ID


def test_it_rejects_a_batch_where_every_event_is_invalid(pipeline: APIClient) -> None:
    no_job = run_event()
    del no_job["job"]

    response = pipeline.post(BATCH_URL, [no_job, run_event(run_id="x")], format="json")

    body = response.json()
    assert response.status_code == 400
    assert body["status"] == "failure"
    assert [f["index"] for f in body["failed_events"]] == [0, 1]
    assert {e["path"] for e in body["failed_events"][0]["errors"]} == {"job"}
    assert nothing_stored()


def test_it_names_a_missing_job_once(pipeline: APIClient) -> None:
    event = run_event()
    del event["job"]

    response = pipeline.post(URL, event, format="json")

    assert response.json()["errors"] == [{"path": "job", "message": "is required"}]


def test_it_rejects_an_object_posted_to_the_batch_endpoint(pipeline: APIClient) -> None:
    response = pipeline.post(BATCH_URL, run_event(), format="json")

    assert response.status_code == 400
    assert paths(response) == ["$"]


def test_it_refuses_a_batch_over_the_event_limit(
    pipeline: APIClient, settings: SettingsWrapper
) -> None:
    limits(settings, MAX_BATCH_EVENTS=2)

    response = pipeline.post(BATCH_URL, [run_event() for _ in range(3)], format="json")

    assert response.status_code == 413
    assert response.json() == {"error": "A batch holds at most 2 events; got 3."}
    assert nothing_stored()


def test_it_reports_warnings_of_batch_events_by_index(pipeline: APIClient) -> None:
    noisy = run_event(job_facets={"sql": {"query": 42}})

    response = pipeline.post(BATCH_URL, [run_event(), noisy], format="json")

    assert response.json()["warnings"] == [
        {
            "index": 1,
            "warnings": [
                {"path": "job.facets.sql.query", "message": "must be a string; facet ignored"}
            ],
        }
    ]


# --- duplicates and warnings -------------------------------------------------------------


def test_it_answers_200_for_an_event_it_already_has(pipeline: APIClient) -> None:
    event = run_event(run_id=RUN_ID)

    first = pipeline.post(URL, event, format="json")
    # Key order and whitespace do not make a new event.
    second = post_raw(pipeline, json.dumps(dict(reversed(event.items())), indent=4).encode())

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["status"] == "created"
    assert second.json() == {"status": "duplicate", "id": first.json()["id"], "warnings": []}
    stored = LineageEvent.objects.get()
    assert stored.duplicates == 1
    assert Run.objects.get().events_count == 1


def test_it_counts_duplicates_inside_and_across_batches(pipeline: APIClient) -> None:
    event = run_event()

    first = pipeline.post(BATCH_URL, [event, event], format="json").json()
    second = pipeline.post(BATCH_URL, [event], format="json").json()

    assert (first["accepted"], first["duplicates"]) == (1, 1)
    assert (second["accepted"], second["duplicates"]) == (0, 1)
    assert LineageEvent.objects.get().duplicates == 2


@pytest.mark.parametrize(
    "event_time",
    [
        "2024-05-01T10:00:00Z",
        "2024-05-01T12:00:00+02:00",
        "2024-05-01T10:00:00.123456Z",
        "2024-05-01T03:30:00.5-06:30",
        "2024-05-01T10:00:00.123456789Z",
    ],
)
def test_it_recognises_a_duplicate_whatever_form_its_time_takes(
    pipeline: APIClient, event_time: str
) -> None:
    """The dedupe key leads with the stored event time: the duplicate's lookup must find
    the row the insert wrote, for offsets, fractions and whole seconds alike."""
    event = run_event(event_time=event_time)
    other = run_event(event_time=event_time)  # same time, another run: a new event

    first = pipeline.post(URL, event, format="json")
    again = pipeline.post(URL, event, format="json")
    batch = pipeline.post(BATCH_URL, [event, other, other], format="json").json()

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert (batch["accepted"], batch["duplicates"]) == (1, 2)
    assert LineageEvent.objects.count() == 2
    assert LineageEvent.objects.get(id=first.json()["id"]).duplicates == 2


def test_it_accepts_a_malformed_known_facet_with_a_warning_and_projects_the_rest(
    pipeline: APIClient,
) -> None:
    output = {
        "namespace": "pg",
        "name": "public.orders",
        "facets": {"schema": {"fields": "id, amount"}},
        "outputFacets": {"outputStatistics": {"rowCount": "many", "size": 2048}},
    }
    event = run_event(
        run_id=RUN_ID,
        outputs=[output],
        run_facets={"nominalTime": {"nominalStartTime": "soon"}},
        job_facets={"ownership": {"owners": [{"type": "TEAM"}]}},
    )

    response = pipeline.post(URL, event, format="json")

    assert response.status_code == 201
    assert [w["path"] for w in response.json()["warnings"]] == [
        "job.facets.ownership.owners[0].name",
        "run.facets.nominalTime.nominalStartTime",
        "outputs[0].facets.schema.fields",
        "outputs[0].outputFacets.outputStatistics.rowCount",
    ]
    stored = LineageEvent.objects.get()
    assert stored.warnings == response.json()["warnings"]
    assert stored.payload == event
    run = Run.objects.get()
    assert run.state == "COMPLETED"
    assert run.nominal_start_time is None
    dataset = Dataset.objects.get(name="public.orders")
    assert JobDataset.objects.filter(dataset=dataset, direction="output").exists()
    assert dataset.facets["schema"] == {"fields": "id, amount"}
    assert list(run.statistics.values_list("row_count", "bytes")) == [(None, 2048)]


def test_it_warns_when_facets_is_not_an_object(pipeline: APIClient) -> None:
    event = run_event()
    event["run"]["facets"] = ["nominalTime"]

    response = pipeline.post(URL, event, format="json")

    assert response.status_code == 201
    assert {"path": "run.facets", "message": "facets must be an object; ignored"} in (
        response.json()["warnings"]
    )

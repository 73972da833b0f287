"""OpenLineage events, valid and corrupted, posted through ``POST /api/v1/lineage`` and
``/api/v1/lineage/batch``: the answer is a 2xx, or a 4xx whose JSON names the problem,
never a 5xx; a refused event writes nothing, and an accepted one is stored once.

Valid events are the real producers' events of the shared fixtures (Spark, dbt, Airflow,
Flink, Hive, Marquez...) and events built here from the spec's facet examples; corrupted
ones are those with values of the wrong type, removed keys, huge or hostile text, numbers
past any column, bad dates and run ids, and nesting past the limit, anywhere in them.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from lineage.models import LineageEvent
from tests.conftest import OPENLINEAGE_FIXTURES
from tests.fuzz.support import mutated, own_transaction, property_settings, row_counts
from tests.lineage.fixture_corpus import load_corpus
from tests.lineage.test_fixture_corpus import EXPECTED_REJECTED

URL = "/api/v1/lineage"
BATCH_URL = "/api/v1/lineage/batch"
TABLES = ("catalog", "lineage")

pytestmark = pytest.mark.django_db


@cache
def corpus_events() -> list[dict[str, Any]]:
    """The corpus' events, less the three it holds invalid on purpose."""
    return [
        e.payload
        for e in load_corpus().events
        if isinstance(e.payload, dict) and e.key not in EXPECTED_REJECTED
    ]


@cache
def facet_examples() -> dict[str, list[dict[str, Any]]]:
    """The spec's facet examples by where they go: ``run``, ``job``, ``dataset``,
    ``input`` and ``output``."""
    found: dict[str, list[dict[str, Any]]] = {}
    for file in sorted((OPENLINEAGE_FIXTURES / "openlineage-spec-tests").glob("*Facet/*.json")):
        kind = file.parent.name
        where = next(
            (w for suffix, w in _FACET_PLACES if kind.endswith(suffix)),
            "dataset",
        )
        found.setdefault(where, []).append(json.loads(file.read_text()))
    return found


_FACET_PLACES = (
    ("InputDatasetFacet", "input"),
    ("OutputDatasetFacet", "output"),
    ("RunFacet", "run"),
    ("JobFacet", "job"),
)


def facets(where: str) -> st.SearchStrategy[dict[str, Any]]:
    examples = facet_examples().get(where, [])
    if not examples:
        return st.just({})
    return st.lists(st.sampled_from(examples), max_size=3).map(
        lambda chosen: {k: v for facet in chosen for k, v in facet.items()}
    )


# Any text a name may hold: no NUL, which no database column takes.
names = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=30
).filter(str.strip)
namespaces = st.sampled_from(["postgres://db:5432", "s3://bucket", "snowflake://acme", "tests"])
# RFC 3339 times, as producers write them: whole-minute offsets, any year a run can have.
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
times = st.datetimes(datetime(1970, 1, 1), datetime(2200, 1, 1), timezones=offsets).map(
    lambda t: t.isoformat().replace("+00:00", "Z")
)


@st.composite
def datasets(draw: st.DrawFn, io: str = "") -> dict[str, Any]:
    dataset = {
        "namespace": draw(namespaces),
        "name": draw(names),
        "facets": draw(facets("dataset")),
    }
    if io:
        dataset[f"{io}Facets"] = draw(facets(io))
    return dataset


@st.composite
def built_events(draw: st.DrawFn) -> dict[str, Any]:
    """A RunEvent, DatasetEvent or JobEvent, valid by the spec."""
    base = {
        "eventTime": draw(times),
        "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.20.0/client/python",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    }
    job = {"namespace": draw(namespaces), "name": draw(names), "facets": draw(facets("job"))}
    io = {
        "inputs": draw(st.lists(datasets("input"), max_size=3)),
        "outputs": draw(st.lists(datasets("output"), max_size=3)),
    }
    kind = draw(st.sampled_from(["run", "dataset", "job"]))
    if kind == "dataset":
        return {**base, "dataset": draw(datasets())}
    if kind == "job":
        return {**base, "job": job, **io}
    run = {"runId": str(draw(st.uuids())), "facets": draw(facets("run"))}
    event_type = draw(st.sampled_from(["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]))
    return {**base, "eventType": event_type, "run": run, "job": job, **io}


valid_events = st.one_of(st.sampled_from(corpus_events()), built_events())


@st.composite
def corrupted_events(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    return draw(mutated(draw(valid_events)))


# --- what every answer must be -----------------------------------------------------------------


def post(client: APIClient, url: str, body: Any) -> Any:
    with own_transaction():
        response = client.post(url, json.dumps(body), content_type="application/json")
    assert response.status_code < 500, response.content[:2000]
    assert response["Content-Type"].startswith("application/json")
    return response


def assert_names_the_problem(response: Any) -> None:
    body = response.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    for problem in body.get("errors", []):
        assert problem["path"] and problem["message"], body


def assert_refused_and_nothing_written(response: Any, before: dict[str, int]) -> None:
    assert 400 <= response.status_code < 500
    assert_names_the_problem(response)
    assert row_counts(*TABLES) == before


def assert_stored_once(client: APIClient, body: Any, response: Any, before: int) -> None:
    """A 2xx stored the event (or found it stored); posting it again stores nothing."""
    stored = LineageEvent.objects.count()
    assert stored == before + (response.status_code == 201)
    again = post(client, URL, body)
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    assert LineageEvent.objects.count() == stored


# --- properties -------------------------------------------------------------------------------


@property_settings()
@given(event=valid_events)
def test_a_valid_event_is_stored_once(pipeline: APIClient, event: dict[str, Any]) -> None:
    before = LineageEvent.objects.count()

    response = post(pipeline, URL, event)

    assert response.status_code in (200, 201), response.json()
    assert_stored_once(pipeline, event, response, before)


@property_settings()
@given(case=corrupted_events())
def test_a_corrupted_event_is_stored_once_or_refused_naming_the_path(
    pipeline: APIClient, case: tuple[dict[str, Any], list[str]]
) -> None:
    event, _mutations = case
    before = row_counts(*TABLES)

    response = post(pipeline, URL, event)

    if response.status_code in (200, 201):  # a description that is lenient by design
        assert_stored_once(pipeline, event, response, before["lineage.LineageEvent"])
    else:
        assert_refused_and_nothing_written(response, before)
        if response.status_code == 400:  # an event's problems, or JSON's
            assert response.json().get("errors") or "JSON" in response.json()["error"]


@property_settings()
@given(
    batch=st.lists(
        st.one_of(valid_events, corrupted_events().map(lambda case: case[0]), st.just({})),
        min_size=1,
        max_size=4,
    )
)
def test_a_batch_stores_its_valid_events_and_names_each_refused_one(
    pipeline: APIClient, batch: list[Any]
) -> None:
    before = row_counts(*TABLES)

    response = post(pipeline, BATCH_URL, batch)

    answer = response.json()
    if "failed_events" in answer:  # read as a batch: each event stored, or refused by index
        assert answer["accepted"] + answer["duplicates"] + answer["failed"] == len(batch)
        stored = LineageEvent.objects.count() - before["lineage.LineageEvent"]
        assert stored == answer["accepted"]
        for failure in answer["failed_events"]:
            assert 0 <= failure["index"] < len(batch)
            assert failure["errors"] and all(problem["path"] for problem in failure["errors"])
        assert response.status_code == (400 if answer["status"] == "failure" else 200)
    else:  # refused whole: not JSON that can be read
        assert_refused_and_nothing_written(response, before)
    if response.status_code == 400:
        assert row_counts(*TABLES) == before


@property_settings(factor=1)
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_bytes_that_are_not_an_event_are_refused(pipeline: APIClient, raw: bytes) -> None:
    before = row_counts(*TABLES)
    for url in (URL, BATCH_URL):
        response = pipeline.post(url, raw, content_type="application/json")

        assert response.status_code < 500, response.content[:2000]
        if response.status_code >= 400:
            assert_refused_and_nothing_written(response, before)
        else:  # the bytes happened to be an event, or a batch of them
            before = row_counts(*TABLES)


# --- the identity rules, one path at a time ---------------------------------------------------

RUN_EVENT = {
    "eventType": "COMPLETE",
    "eventTime": "2024-05-01T10:00:00Z",
    "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.20.0/client/python",
    "run": {"runId": "0190f2c4-7d1a-7c9e-9a44-7e1f3c2b8a01"},
    "job": {"namespace": "sales", "name": "daily_orders"},
    "inputs": [{"namespace": "postgres://db:5432", "name": "shop.public.orders"}],
    "outputs": [],
}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("eventTime", "2024-13-45T99:99:99Z"),
        ("eventTime", 1714557600),
        ("run.runId", "not-a-uuid"),
        ("run.runId", None),
        ("job.name", ""),
        ("job.namespace", ["sales"]),
        ("inputs[0].name", {"a": 1}),
        ("inputs[0].namespace", None),
    ],
)
def test_a_bad_identity_field_is_refused_by_its_path(
    pipeline: APIClient, path: str, value: Any
) -> None:
    event = json.loads(json.dumps(RUN_EVENT))
    target, key = _locate(event, path)
    if value is None:
        del target[key]
    else:
        target[key] = value
    before = row_counts(*TABLES)

    response = post(pipeline, URL, event)

    assert_refused_and_nothing_written(response, before)
    assert path in [problem["path"] for problem in response.json()["errors"]]


def _locate(event: dict[str, Any], path: str) -> tuple[Any, Any]:
    steps: list[Any] = []
    for part in path.replace("]", "").split("."):
        name, _, index = part.partition("[")
        steps += [name, int(index)] if index else [name]
    target: Any = event
    for step in steps[:-1]:
        target = target[step]
    return target, steps[-1]


def test_an_event_run_id_of_every_uuid_version_is_taken(pipeline: APIClient) -> None:
    for run_id in (uuid.uuid1(), uuid.uuid4(), uuid.UUID(int=0)):
        event = {**RUN_EVENT, "run": {"runId": str(run_id)}}
        assert post(pipeline, URL, event).status_code == 201

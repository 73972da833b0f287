"""A locked or overloaded database, or a long group-commit queue, answers 503 + Retry-After
with nothing stored; the client's retry is then taken once."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from django.db import OperationalError, connection
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.utils import timezone
from pytest_django import Settings as SettingsWrapper
from rest_framework.test import APIClient

from catalog.models import ApiToken
from lineage import services
from lineage.models import Job, LineageEvent, Run
from lineage.services import GroupCommit
from meshport.api import exception_handler
from meshport.db import BusyDatabaseMiddleware
from tests.conftest import run_event

URL = "/api/v1/lineage"
BATCH_URL = "/api/v1/lineage/batch"


def _tables_locked_elsewhere(tables: list[str]) -> Iterator[None]:
    """Another connection holds the write lock; this one gives up after ~0.1 s."""
    options = connection.settings_dict
    if connection.vendor == "sqlite":
        other = sqlite3.connect(options["NAME"], isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout")
            (before,) = cursor.fetchone()
            cursor.execute("PRAGMA busy_timeout = 100")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA busy_timeout = {int(before)}")
        return
    pg = psycopg.connect(
        dbname=options["NAME"],
        user=options["USER"],
        password=options["PASSWORD"],
        host=options["HOST"],
        port=options["PORT"] or 5432,
    )
    pg.execute(f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE")  # reads still pass
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '100ms'")
    try:
        yield
    finally:
        pg.rollback()
        pg.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")


database_locked = contextmanager(_tables_locked_elsewhere)
LOCK_CAUSE = {"sqlite": "database_locked", "postgresql": "lock_timeout"}


def nothing_stored() -> bool:
    return not (LineageEvent.objects.exists() or Run.objects.exists() or Job.objects.exists())


def assert_busy(response: Any, cause: str) -> None:
    assert response.status_code == 503, response.content[:300]
    assert 1 <= int(response["Retry-After"]) <= 5
    body = response.json()
    assert body["cause"] == cause and body["error"] and body["retry_after"] >= 1


@pytest.fixture
def warm_token(pipeline_token: str) -> None:
    """The token's last use is fresh, so authenticating it writes nothing."""
    ApiToken.objects.update(last_used_at=timezone.now())


# --- a real lock held by another connection ---------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_it_answers_503_while_another_writer_holds_the_lock_then_takes_the_retry(
    pipeline: APIClient, warm_token: None
) -> None:
    event = run_event("START")
    with database_locked(["lineage_lineageevent"]):
        response = pipeline.post(URL, event, format="json")

    assert_busy(response, LOCK_CAUSE[connection.vendor])
    assert nothing_stored()

    retry = pipeline.post(URL, event, format="json")
    assert retry.status_code == 201, retry.content[:300]
    assert LineageEvent.objects.count() == 1 and Run.objects.count() == 1
    assert pipeline.post(URL, event, format="json").json()["status"] == "duplicate"
    assert LineageEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_batch_is_rolled_back_whole_while_locked_and_taken_on_retry(
    pipeline: APIClient, warm_token: None
) -> None:
    events = [run_event("START"), run_event("COMPLETE"), run_event("FAIL")]
    with database_locked(["lineage_lineageevent"]):
        response = pipeline.post(BATCH_URL, events, format="json")

    assert_busy(response, LOCK_CAUSE[connection.vendor])
    assert nothing_stored()

    retry = pipeline.post(BATCH_URL, events, format="json")
    assert retry.status_code == 200 and retry.json()["accepted"] == 3
    assert LineageEvent.objects.count() == 3 and Run.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_lock_met_while_stamping_the_token_is_a_503_too(pipeline: APIClient) -> None:
    # The token was never used: authenticating it writes its last-use time first.
    with database_locked(["catalog_apitoken", "lineage_lineageevent"]):
        response = pipeline.post(URL, run_event(), format="json")

    assert_busy(response, LOCK_CAUSE[connection.vendor])
    assert nothing_stored()
    assert pipeline.post(URL, run_event(), format="json").status_code == 201


# --- PostgreSQL's refusals, raised inside the write ---------------------------------------


def _failing_projection(monkeypatch: pytest.MonkeyPatch, error: Exception) -> list[int]:
    """The projection (after the raw event is inserted) raises ``error`` as Django
    wraps driver errors; returns a list counting the calls."""
    calls: list[int] = []

    def project(self: services.Projector, batch: Any) -> None:
        calls.append(1)
        wrapped = OperationalError(str(error))
        wrapped.__cause__ = error
        raise wrapped

    monkeypatch.setattr(services.Projector, "project", project)
    return calls


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (
            psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
            "lock_timeout",
        ),
        (psycopg.errors.TooManyConnections("too many clients already"), "too_many_connections"),
        (psycopg.errors.QueryCanceled("canceling statement due to timeout"), "statement_timeout"),
        (
            psycopg.errors.CannotConnectNow("the database system is starting up"),
            "server_unavailable",
        ),
        (psycopg.OperationalError("connection refused"), "connection_failed"),
        (sqlite3.OperationalError("database is locked"), "database_locked"),
    ],
    ids=[
        "lock-timeout",
        "too-many-connections",
        "statement-timeout",
        "starting",
        "refused",
        "sqlite",
    ],
)
def test_each_transient_refusal_is_a_503_naming_its_cause(
    pipeline: APIClient,
    warm_token: None,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    cause: str,
) -> None:
    calls = _failing_projection(monkeypatch, error)

    assert_busy(pipeline.post(URL, run_event(), format="json"), cause)
    assert_busy(pipeline.post(BATCH_URL, [run_event()], format="json"), cause)
    assert calls == [1, 1]  # a lock wait already took its time: no retry in the server
    assert nothing_stored()


@pytest.mark.django_db
def test_a_serialization_failure_is_retried_in_place_then_answered_503(
    pipeline: APIClient, warm_token: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    error = psycopg.errors.SerializationFailure("could not serialize access")
    calls = _failing_projection(monkeypatch, error)

    assert_busy(pipeline.post(URL, run_event(), format="json"), "serialization_failure")
    assert len(calls) == 6
    assert nothing_stored()


@pytest.mark.django_db
def test_an_operational_error_that_is_a_bug_stays_an_error(
    pipeline: APIClient, warm_token: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _failing_projection(monkeypatch, sqlite3.OperationalError("no such table: lineage_nothing"))

    with pytest.raises(OperationalError, match="no such table"):
        pipeline.post(URL, run_event(), format="json")
    assert nothing_stored()


def test_every_api_view_maps_a_lock_to_503() -> None:
    response = exception_handler(OperationalError("database is locked"), {})

    assert response is not None and response.status_code == 503
    assert response["Retry-After"] == "2"
    assert response.data["cause"] == "database_locked"
    assert exception_handler(OperationalError("no such column: x"), {}) is None


# --- this process's own backpressure: the group-commit queue ---------------------------


@pytest.fixture
def group(monkeypatch: pytest.MonkeyPatch) -> GroupCommit:
    fresh = GroupCommit()
    monkeypatch.setattr(services, "_group", fresh)
    return fresh


def _limits(settings: SettingsWrapper, **values: float) -> None:
    settings.MESHPORT_LINEAGE = {**settings.MESHPORT_LINEAGE, **values}


def _queued(event: dict[str, Any]) -> services._Pending:
    return services._Pending((services.read_event(services.parse_event(event)), "tests"))


@pytest.mark.django_db(transaction=True)
def test_a_full_queue_answers_503_at_once(
    pipeline: APIClient, warm_token: None, group: GroupCommit, settings: SettingsWrapper
) -> None:
    _limits(settings, MAX_PENDING=2)
    group._leading = True  # a transaction is being written; two events wait behind it
    group._queue = [_queued(run_event()), _queued(run_event())]

    started = time.monotonic()
    response = pipeline.post(URL, run_event(), format="json")

    assert_busy(response, "ingest_queue_full")
    assert time.monotonic() - started < 1
    assert len(group._queue) == 2 and nothing_stored()


@pytest.mark.django_db(transaction=True)
def test_an_event_that_waits_too_long_is_withdrawn_with_503_and_taken_on_retry(
    pipeline: APIClient, warm_token: None, group: GroupCommit, settings: SettingsWrapper
) -> None:
    _limits(settings, MAX_WAIT_SECONDS=0.2)
    group._leading = True  # a leader that never finishes: nothing it queued gets written
    event = run_event("START")

    assert_busy(pipeline.post(URL, event, format="json"), "ingest_wait_timeout")
    assert group._queue == [] and nothing_stored()

    group._leading = False
    assert pipeline.post(URL, event, format="json").status_code == 201
    assert LineageEvent.objects.count() == 1


# --- the portal ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_portal_write_while_locked_is_a_503_page_then_the_resend_is_taken(
    admin_user: Any,
) -> None:
    client = Client()
    client.force_login(admin_user)
    form = {"name": "airflow-prod", "scopes": ["lineage:write"], "expires_in_days": "30"}
    with database_locked(["catalog_apitoken"]):
        response = client.post("/tokens/", form)

    assert response.status_code == 503
    assert 1 <= int(response["Retry-After"]) <= 5
    assert "Meshport is busy" in response.content.decode()
    assert not ApiToken.objects.exists()

    assert client.post("/tokens/", form).status_code == 201
    assert ApiToken.objects.get().name == "airflow-prod"


def test_a_portal_error_that_is_not_the_database_being_busy_stays_a_500() -> None:
    middleware = BusyDatabaseMiddleware(lambda request: HttpResponse())
    request = RequestFactory().get("/")

    assert middleware.process_exception(request, OperationalError("no such table: x")) is None
    assert middleware.process_exception(request, ValueError("database is locked")) is None

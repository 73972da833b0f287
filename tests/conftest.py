"""Shared test base: named actors and helpers every test can ask for by name."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from catalog.models import ApiToken, Domain, Person, Team, TeamMember
from catalog.roles import STEWARDS_GROUP
from catalog.search import reset_backends
from catalog.search.outbox import search_outbox_drain

FIXTURES = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures"
OPENLINEAGE_FIXTURES = FIXTURES / "openlineage"


@pytest.fixture(autouse=True)
def fresh_search_index() -> Iterator[None]:
    """Each test starts with an empty search index (the RAM engine of the test settings)."""
    yield
    reset_backends()


def index_now() -> None:
    """Apply the queued search changes, as the worker would."""
    search_outbox_drain(wait=True)


@pytest.fixture
def steward(db: None) -> User:
    """A member of the Stewards group (and nothing more)."""
    user = User.objects.create_user("sam.steward", "sam@example.com", "pw-steward-1")
    user.groups.add(Group.objects.get_or_create(name=STEWARDS_GROUP)[0])
    return user


def domain_member(username: str, email: str, domain: str = "sales") -> User:
    """A portal user in the team of ``domain``: an owner who publishes its products."""
    user = User.objects.create_user(username, email, f"pw-{username}-1")
    found, _ = Domain.objects.get_or_create(slug=domain, defaults={"name": domain.title()})
    team = Team.objects.create(name=f"{found.name} Data", domain=found)
    person = Person.objects.create(username=username.split(".")[0], user=user)
    TeamMember.objects.create(team=team, person=person)
    return user


@pytest.fixture
def outsider(db: None) -> User:
    return User.objects.create_user("olga.outsider", "olga@example.com", "pw-outsider-1")


@pytest.fixture
def admin_user(db: None) -> User:
    return User.objects.create_superuser("ada.admin", "ada@example.com", "pw-admin-1")


@pytest.fixture
def pipeline_token(db: None) -> str:
    """The secret of a token named ``airflow`` with scope ``lineage:write``."""
    _, secret = ApiToken.issue(name="airflow", scopes=["lineage:write"])
    return secret


@pytest.fixture
def readonly_token(db: None) -> str:
    """A token without ``lineage:write``."""
    _, secret = ApiToken.issue(name="reader", scopes=["products:write"])
    return secret


@pytest.fixture
def pipeline(pipeline_token: str) -> APIClient:
    """An API client authenticated as the ``airflow`` pipeline."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pipeline_token}")
    return client


@pytest.fixture
def governance_token(db: None) -> str:
    """The secret of a stewards' token named ``stewardship`` with ``governance:write``."""
    _, secret = ApiToken.issue(name="stewardship", scopes=["governance:write"])
    return secret


@pytest.fixture
def governor(governance_token: str) -> APIClient:
    """An API client holding the ``stewardship`` token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {governance_token}")
    return client


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


def run_event(
    event_type: str = "COMPLETE",
    *,
    run_id: str | None = None,
    job: tuple[str, str] = ("tests", "job"),
    inputs: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None,
    event_time: str = "2024-05-01T10:00:00Z",
    run_facets: dict[str, Any] | None = None,
    job_facets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A minimal valid RunEvent; override what a test cares about."""
    return {
        "eventType": event_type,
        "eventTime": event_time,
        "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.20.0/client/python",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run_id or str(uuid.uuid4()), "facets": run_facets or {}},
        "job": {"namespace": job[0], "name": job[1], "facets": job_facets or {}},
        "inputs": inputs or [],
        "outputs": outputs or [],
    }


@pytest.fixture
def make_event() -> Callable[..., dict[str, Any]]:
    return run_event


def load_fixture(relative: str) -> Any:
    return json.loads((OPENLINEAGE_FIXTURES / relative).read_text())


def clone(value: Any) -> Any:
    return copy.deepcopy(value)

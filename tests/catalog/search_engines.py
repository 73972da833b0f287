"""The search engines a test module runs against: whoosh in RAM (the test default) and
PostgreSQL full-text, which needs the test database to be PostgreSQL (``DATABASE_URL``).

A module runs each of its tests on both with::

    from tests.catalog.search_engines import search_engine  # noqa: F401 (a fixture)

    pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("search_engine")]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.search import reset_backends
from catalog.search.postgres_backend import MARK

ENGINES = {
    "memory": "catalog.search.whoosh_backend.MemoryBackend",
    "postgres": "catalog.search.postgres_backend.PostgresBackend",
}
NEEDS_POSTGRES = (
    "the PostgreSQL search backend needs the tests on PostgreSQL "
    "(DATABASE_URL=postgres://…); this run is on SQLite"
)


def skip_unless_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(NEEDS_POSTGRES)


def search_settings(engine: str, current: dict[str, Any]) -> dict[str, Any]:
    """``MESHPORT_SEARCH`` with the default alias on ``engine`` (a key of ``ENGINES``)."""
    return {**current, "default": {**current["default"], "BACKEND": ENGINES[engine]}}


@pytest.fixture(params=list(ENGINES))
def search_engine(request: pytest.FixtureRequest, settings: Any) -> Iterator[str]:
    """Each test once per engine, as the default search backend."""
    if request.param == "postgres":
        skip_unless_postgres()
    settings.MESHPORT_SEARCH = search_settings(request.param, settings.MESHPORT_SEARCH)
    reset_backends()
    yield request.param
    reset_backends()


def own_queries(captured: CaptureQueriesContext) -> list[str]:
    """The captured SQL but the search engine's (PostgreSQL's search is queries)."""
    return [query["sql"] for query in captured.captured_queries if MARK not in query["sql"]]


def engine_queries(captured: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in captured.captured_queries if MARK in query["sql"]]

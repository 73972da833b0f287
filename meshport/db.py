"""Telling "the database cannot take this now" apart from a bug.

A locked SQLite file, a PostgreSQL lock or statement timeout, a full connection table, a
serialization failure or a server that refuses connections all pass once the load or the
restart is over: the client should retry (503 + ``Retry-After``). ``no such table`` or a
syntax error never passes: that is a bug, and stays a 500.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse
from django.template import loader

from catalog.polling import PollingThread

log = logging.getLogger(__name__)

# SQLSTATE (or its two-character class) → the cause named to the client.
_PG_CAUSES = {
    "40001": "serialization_failure",
    "40P01": "deadlock",
    "55P03": "lock_timeout",
    "57014": "statement_timeout",
    "53300": "too_many_connections",
    "57P01": "server_unavailable",  # admin shutdown
    "57P02": "server_unavailable",  # crash shutdown
    "57P03": "server_unavailable",  # cannot connect now (starting up, in recovery)
    "08": "connection_failed",
    "53": "insufficient_resources",  # disk full, out of memory
}
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


def busy_cause(exc: BaseException) -> str | None:
    """Why the database refused the work for now, or ``None`` when ``exc`` is not a
    transient refusal (then it is a bug and must surface as one)."""
    if not isinstance(exc, OperationalError | InterfaceError):
        return None
    driver = exc.__cause__
    if isinstance(driver, sqlite3.Error) or driver is None:
        message = str(exc).lower()
        return "database_locked" if any(m in message for m in _SQLITE_BUSY) else None
    code = getattr(driver, "sqlstate", None) or getattr(driver, "pgcode", None)
    if code is None:
        # psycopg raises connection failures (refused, reset, server gone) without a
        # SQLSTATE: nothing reached the server, so the request can be retried.
        return "connection_failed"
    return _PG_CAUSES.get(code) or _PG_CAUSES.get(code[:2])


def retry_after_seconds() -> int:
    """The ``Retry-After`` a busy answer carries."""
    return int(settings.MESHPORT_RETRY_AFTER_SECONDS)


class BusyDatabaseMiddleware:
    """A portal request the database refused for now gets a 503 page with
    ``Retry-After``, as the APIs do, instead of a 500 that reads as a bug. The page is
    rendered without the request, so that it does not query the busy database again."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        cause = busy_cause(exc)
        if cause is None:
            return None
        seconds = retry_after_seconds()
        log.warning("%s %s: database busy (%s), answered 503", request.method, request.path, cause)
        page = loader.get_template("503.html").render({"retry_after": seconds})
        response = HttpResponse(page, status=503)
        response["Retry-After"] = str(seconds)
        return response


class WalCheckpointer(PollingThread):
    """Copies SQLite's write-ahead log back into the database file, off the commit path.

    SQLite does this in the connection that commits once the WAL passes
    ``wal_autocheckpoint`` pages, so one ingest commit in a few hundred paid for writing
    thousands of pages all over a large database file and syncing it: measured at 1M
    stored events, 0.37-0.46 ms per event of a batch against 0.07 ms without. This thread
    runs a ``PASSIVE`` checkpoint every ``SQLITE_CHECKPOINT_SECONDS``, which waits for no
    reader or writer, while the connections keep a high ``wal_autocheckpoint`` as a
    safety net (settings). The web processes and the worker each run one; two
    checkpoints at once simply leave the second with nothing to do.
    """

    thread_name = "sqlite-checkpoint"
    last_result: tuple[int, int, int] | None = None  # (busy, WAL frames, frames copied)

    @classmethod
    def default_poll_seconds(cls) -> float:
        return float(settings.SQLITE_CHECKPOINT_SECONDS)

    @classmethod
    def start_for_sqlite(cls) -> None:
        if connection.vendor == "sqlite":
            cls.start_once()

    def step(self) -> bool:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            self.last_result = tuple(cursor.fetchone())
        return False  # once per period, whatever it found

"""Background work of the catalog, run by huey's consumer (``manage.py run_huey``)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, on_startup

from catalog.search.outbox import OutboxWriter, search_outbox_drain
from meshport.db import WalCheckpointer


@on_startup()
def start_search_writer() -> None:
    """The worker keeps the search index fresh: a writer thread drains the outbox as soon
    as it has rows (within ``POLL_SECONDS``)."""
    OutboxWriter.start_once()


@on_startup()
def start_sqlite_checkpointer() -> None:
    """On SQLite, the worker also copies the WAL back into the database (as the web
    processes do), so that ingest commits never have to."""
    WalCheckpointer.start_for_sqlite()


@db_periodic_task(crontab(minute="*"))
def search_outbox_sweep() -> None:
    """A safety net for the writer thread: a minute at most between drains."""
    search_outbox_drain()

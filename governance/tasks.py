"""Background work of governance, run by huey's consumer (``manage.py run_huey``, which
imports the ``tasks`` module of every installed app)."""

from __future__ import annotations

import time

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, on_startup

from governance.scorecard_services import scorecard_run_execute, scorecards_tick
from governance.services import SloWatcher, slo_changes_drain, slos_sweep
from governance.webhooks import CLAIM_BATCH, webhook_deliver_due

# --- webhooks -----------------------------------------------------------------------------

# A task drains a backlog in small rounds until it is empty or this time is up, so that a
# flood of slow endpoints cannot hold a worker thread for long: the next sweep carries on.
_WEBHOOK_DRAIN_SECONDS = 45


def _webhook_drain() -> None:
    deadline = time.monotonic() + _WEBHOOK_DRAIN_SECONDS
    while time.monotonic() < deadline:
        if webhook_deliver_due(limit=CLAIM_BATCH).attempted < CLAIM_BATCH:
            return


@db_task()
def webhook_deliver() -> None:
    """Queued after a commit that stored new deliveries: send them now."""
    _webhook_drain()


@db_periodic_task(crontab(minute="*"))
def webhook_delivery_sweep() -> None:
    """Retries that came due, and deliveries whose wake-up was lost or whose sender died."""
    _webhook_drain()


# --- SLOs ---------------------------------------------------------------------------------


@on_startup()
def start_slo_watcher() -> None:
    """The worker re-evaluates SLOs within a second or so of an ingest touching what they
    watch, outside the ingest request."""
    SloWatcher.start_once()


@db_periodic_task(crontab(minute="*"))
def slo_sweep() -> None:
    """Every minute: freshness breaches happen when nothing arrives, and the rolling
    windows move. Also a safety net for the watcher thread."""
    slo_changes_drain()
    slos_sweep()


# --- scorecards ---------------------------------------------------------------------------


@db_task()
def scorecard_run(run_pk: int) -> None:
    """Execute one run; a run another worker already took is left alone."""
    scorecard_run_execute(run_pk=run_pk)


@db_periodic_task(crontab(minute="*"))
def scorecard_tick() -> None:
    """Every minute: claim the scheduled runs that came due and queue them; several
    workers ticking together still create and execute each once."""
    for run in scorecards_tick():
        scorecard_run(run.pk)

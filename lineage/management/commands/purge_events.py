"""``manage.py purge_events --older-than 90d``: retention for the raw OpenLineage log.

Deletes the raw events received before the cutoff, oldest first, in batches of
``--batch-size``, each in its own short transaction: safe to run while the server
ingests. What the portal and the Marquez API show of jobs, runs, datasets, versions,
edges, column lineage, statistics and assertions is projected and stays; only the raw
payloads go (a run's events panel, ``/api/v1/events/lineage``), and run facets are then
answered from the projection.

An event older than the cutoff that a client posts again after the purge is not
recognised as a duplicate (its dedupe hash was on the deleted row): it is stored and
projected again, harmlessly but visibly (the run counts one more event).
"""

from __future__ import annotations

import re
import sys
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from lineage.services import IngestBusy, lineage_events_purge

_AGE = re.compile(r"^\s*(\d+)\s*([hdw])\s*$", re.IGNORECASE)
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def parse_age(value: str) -> timedelta:
    """``90d``, ``36h`` or ``12w`` as a duration; anything else is a CommandError."""
    match = _AGE.match(value)
    if match is None:
        raise CommandError(
            f"--older-than {value!r}: expected a whole number of hours, days or weeks, "
            "such as 36h, 90d or 12w"
        )
    amount = int(match.group(1))
    if amount < 1:
        raise CommandError(f"--older-than {value!r}: must be at least 1 (0 would purge all)")
    return timedelta(**{_UNITS[match.group(2).lower()]: amount})


class Command(BaseCommand):
    help = "Delete raw OpenLineage events received before a cutoff; keep the projections."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            required=True,
            metavar="AGE",
            help="delete events received more than AGE ago: Nh, Nd or Nw (e.g. 90d)",
        )
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")
        parser.add_argument(
            "--batch-size", type=int, default=5000, help="events per transaction (default 5000)"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        age = parse_age(options["older_than"])
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        cutoff = timezone.now() - age
        with tqdm(
            desc="purging",
            unit=" events",
            file=sys.stderr,
            disable=True if options["no_progress"] or options["dry_run"] else None,
        ) as bar:
            try:
                report = lineage_events_purge(
                    before=cutoff,
                    batch_size=options["batch_size"],
                    dry_run=options["dry_run"],
                    progress=bar.update,
                )
            except IngestBusy as exc:
                raise CommandError(
                    f"the database stayed busy ({exc.cause}); what was deleted stays "
                    "deleted, run the command again to go on"
                ) from exc
        when = f"received before {cutoff:%Y-%m-%d %H:%M:%S} UTC"
        if options["dry_run"]:
            batches = -(-report.matched // options["batch_size"])
            self.stdout.write(
                f"Dry run: {report.matched} raw events {when} would be deleted "
                f"in {batches} batches; nothing deleted."
            )
            return
        self.stdout.write(
            f"Deleted {report.deleted} raw events {when} in {report.batches} batches "
            f"in {report.seconds:.1f} s; jobs, runs, datasets and lineage are kept."
        )

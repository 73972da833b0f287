"""``manage.py load_demo``: fill an empty Meshport with the demo data mesh.

The events go through the ingestion service like any pipeline's, under the token name
``demo``. Loading is skipped when demo events are already stored; ``--force`` posts them
again, which on the same day stores nothing new (every event is a duplicate).
"""

from __future__ import annotations

import sys
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from lineage.demo import (
    anchor_from_date,
    default_anchor,
    demo_is_loaded,
    demo_load,
    demo_summary,
)


class Command(BaseCommand):
    help = "Load the demo data mesh: five domains, two weeks of OpenLineage events."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="post the events even if the demo was loaded before",
        )
        parser.add_argument(
            "--anchor",
            type=date.fromisoformat,
            default=None,
            metavar="YYYY-MM-DD",
            help="day the timeline ends (default: today, UTC)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        if demo_is_loaded() and not options["force"]:
            self.stdout.write("demo mesh already loaded (use --force to post it again)")
            return
        anchor = anchor_from_date(options["anchor"]) if options["anchor"] else default_anchor()
        # None lets tqdm hide itself when stderr is not a terminal.
        with tqdm(
            desc="demo events",
            unit=" events",
            file=sys.stderr,
            disable=True if options["no_progress"] else None,
        ) as bar:
            result = demo_load(anchor=anchor, progress=bar.update)
        if result.failed:
            raise CommandError(
                f"{len(result.failed)} demo events were rejected: {result.failed[:3]}"
            )
        summary = demo_summary()
        runs = ", ".join(f"{n} {state.lower()}" for state, n in summary["runs"].items())
        self.stdout.write(
            f"Demo mesh ending {anchor:%Y-%m-%d %H:%M} UTC: {result.received} events, "
            f"{result.accepted} accepted, {result.duplicates} duplicates.\n"
            f"{summary['namespaces']} namespaces, {summary['jobs']} jobs, "
            f"{summary['datasets']} datasets; runs: {runs}."
        )

"""``manage.py load_demo``: fill an empty Meshport with the demo data mesh.

The events go through the ingestion service like any pipeline's, under the token name
``demo``. Loading is skipped when demo events are already stored; ``--force`` posts them
again, which on the same day stores nothing new (every event is a duplicate).

Then the demo data products (``catalog/demo_products``: products of the customer, sales
and finance domains whose output ports are datasets of the demo mesh) are registered
with ``register_products``, as source ``demo``. That runs every time: a product whose
descriptors did not change is left as it is.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

import catalog
from lineage.demo import (
    anchor_from_date,
    default_anchor,
    demo_is_loaded,
    demo_load,
    demo_summary,
)

DEMO_PRODUCTS = Path(catalog.__file__).resolve().parent / "demo_products"


class Command(BaseCommand):
    help = (
        "Load the demo data mesh: five domains, two weeks of OpenLineage events, and the "
        "data products of three of them."
    )

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
        else:
            self._load_events(options)
        call_command(
            "register_products",
            str(DEMO_PRODUCTS),
            actor="demo",
            source="demo",
            no_progress=options["no_progress"],
            stdout=self.stdout,
            stderr=self.stderr,
        )

    def _load_events(self, options: dict[str, Any]) -> None:
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

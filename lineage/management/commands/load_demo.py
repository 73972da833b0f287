"""``manage.py load_demo``: fill an empty Meshport with the demo data mesh.

The events go through the ingestion service like any pipeline's, under the token name
``demo``. Loading is skipped when demo events are already stored; ``--force`` posts them
again, which within the same hour stores nothing new (every event is a duplicate).

Then the demo data products (``catalog/demo_products``: products of the customer, sales
and finance domains whose output ports are datasets of the demo mesh) are registered
with ``register_products``, as source ``demo``. That runs every time: a product whose
descriptors did not change is left as it is.

Last, the demo administrator (``ensure_demo_users``'s ``admin``, ``--admin``) is made an owner of
two products, as a steward would from the portal, so that logging in shows "your products".
Adding an ownership that exists changes nothing, so this too is safe to run again.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

import catalog
from catalog.models import DataProduct, Ownership
from catalog.ownership import ownership_add, person_party
from lineage.demo import (
    anchor_from_date,
    default_anchor,
    demo_is_loaded,
    demo_load,
    demo_summary,
)

DEMO_PRODUCTS = Path(catalog.__file__).resolve().parent / "demo_products"
# One product of the customer domain, one of sales: the admin sees products of two teams.
ADMIN_OWNS = ("crm-customers", "sales-orders")


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
            help="day the timeline ends, at midnight UTC (default: the start of this hour)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--admin",
            default="admin",
            metavar="USERNAME",
            help="portal user made an owner of two demo products, when it exists",
        )

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
        self._admin_owns(options["admin"])

    def _admin_owns(self, username: str) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            return
        party = person_party(username, name=user.get_full_name(), email=user.email)
        for product in DataProduct.objects.filter(external_id__in=ADMIN_OWNS):
            ownership_add(
                target=product,
                party=party,
                role=Ownership.Role.OWNER,
                source=Ownership.Source.PORTAL,
                actor="demo",
            )
        self.stdout.write(f"Demo admin {username!r} owns {', '.join(ADMIN_OWNS)}.")

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

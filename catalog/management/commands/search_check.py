"""Compare the search index with the database, document by document, and repair it.

A document is *missing* (in the database, not in the index), *extra* (in the index only)
or *stale* (its content differs). Repairs go through the writer lock, like the outbox.
Exit status 1 with ``--dry-run`` when they differ, so that monitoring can call it.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.search import backend
from catalog.search.checks import search_index_compare, search_index_repair


class Command(BaseCommand):
    help = "Compare the search index with the database and repair the differences."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="report, repair nothing")
        parser.add_argument("--show", type=int, default=10, help="ids listed per kind")

    def handle(self, *args: Any, **options: Any) -> None:
        engine = backend()
        if engine.outdated():
            self.stdout.write(
                "The index is in an older format: the worker rebuilds it when it starts, "
                "or run manage.py search_reindex."
            )
        diff = search_index_compare(engine=engine)
        self.stdout.write(
            f"{diff.database} documents in the database, {diff.indexed} in the index: "
            f"{len(diff.missing)} missing, {len(diff.extra)} extra, {len(diff.stale)} stale."
        )
        for kind in ("missing", "extra", "stale"):
            ids = sorted(getattr(diff, kind))
            if ids:
                shown = ", ".join(ids[: options["show"]])
                more = (
                    f" and {len(ids) - options['show']} more" if len(ids) > options["show"] else ""
                )
                self.stdout.write(f"  {kind}: {shown}{more}")
        if diff.clean:
            self.stdout.write("The index agrees with the database.")
            return
        if options["dry_run"]:
            raise CommandError("The index differs from the database (nothing repaired).")
        repaired = search_index_repair(diff, engine=engine)
        self.stdout.write(f"Repaired: {repaired} documents indexed or removed.")

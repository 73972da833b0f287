"""Rebuild the search index from the database into a new index, then swap it in.

Searches keep answering from the old index until the new one is complete. The outbox
writer pauses meanwhile (the rebuild holds the writer lock); changes made during the
rebuild stay queued and are applied to the new index right after the swap.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from catalog.search import backend
from catalog.search.documents import all_documents, total
from catalog.search.outbox import search_outbox_drain


class Command(BaseCommand):
    help = "Rebuild the search index from the database and swap it in without downtime."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=500, help="documents per database read")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        engine = backend()
        started = time.perf_counter()
        expected = total()
        with (
            engine.writer_lock(),
            tqdm(
                total=expected,
                desc="indexing",
                unit="doc",
                file=sys.stderr,
                disable=True if options["no_progress"] else None,
            ) as bar,
        ):
            count = engine.rebuild(all_documents(options["batch"]), progress=bar.update)
        built = time.perf_counter() - started
        drained = search_outbox_drain(engine=engine, wait=True)
        self.stdout.write(
            f"Indexed {count} documents in {built:.1f} s and swapped the new index in; "
            f"then applied {drained.rows} changes queued meanwhile."
        )

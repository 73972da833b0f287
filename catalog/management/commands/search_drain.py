"""Apply the queued search changes now (``--follow``: keep doing it, like the worker)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from catalog.search.outbox import OutboxWriter, search_outbox_drain


class Command(BaseCommand):
    help = "Drain the search outbox into the index (the worker does this continuously)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--follow", action="store_true", help="keep draining until stopped")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["follow"]:
            writer = OutboxWriter.start_once()
            while writer.is_alive():
                time.sleep(1)
            return
        report = search_outbox_drain(wait=True)
        self.stdout.write(
            f"Applied {report.rows} queued changes: {report.indexed} documents indexed, "
            f"{report.removed} removed, in {report.batches} batches."
        )

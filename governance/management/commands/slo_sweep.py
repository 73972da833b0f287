"""``manage.py slo_sweep``: evaluate SLOs now, as the worker does every minute."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from governance.services import slo_changes_drain, slos_evaluate_new, slos_sweep


class Command(BaseCommand):
    help = (
        "Evaluate SLOs now: what ingestion queued, SLOs never evaluated, then (unless "
        "--new-only) every enabled SLO."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--new-only", action="store_true", help="skip the full sweep")

    def handle(self, *args: Any, **options: Any) -> None:
        began = time.perf_counter()
        rows = slos = 0
        while (report := slo_changes_drain(limit=1000)).rows:
            rows, slos = rows + report.rows, slos + report.slos
        new = slos_evaluate_new()
        swept = 0 if options["new_only"] else slos_sweep()
        self.stdout.write(
            f"{rows} queued changes ({slos} SLO evaluations), {new} new SLOs, "
            f"{swept} swept, in {time.perf_counter() - began:.1f} s"
        )

"""``manage.py load_demo_governance``: the governance side of the demo mesh, after
``load_demo`` and ``slo_sweep``: the two demo scorecards (``governance/demo_scorecards``),
a week of daily runs so that trends have a history, a run now, and one pending waiver for
a steward to decide. Running it again changes nothing unless ``--force``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from catalog.models import DataProduct
from governance.models import Scorecard, Waiver
from governance.scorecard_services import scorecard_run_here, scorecards_load, waiver_request

DEMO_SCORECARDS = Path(__file__).resolve().parents[2] / "demo_scorecards"
HISTORY_DAYS = 7
WAIVED = ("crm-customers", "lineage_recent")


class Command(BaseCommand):
    help = "Load the demo scorecards, their run history and a pending waiver."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="load and run them again")

    def handle(self, *args: Any, **options: Any) -> None:
        if Scorecard.objects.filter(last_run__isnull=False).exists() and not options["force"]:
            self.stdout.write("demo scorecards already loaded (use --force to run them again)")
            return
        now = timezone.now()
        for scorecard in scorecards_load(paths=[DEMO_SCORECARDS]):
            for days in range(HISTORY_DAYS, -1, -1):
                at = now - timedelta(days=days)
                scorecard_run_here(scorecard=scorecard, requested_by="demo", now=at)
            summary = scorecard.runs.order_by("-created_at").first()
            levels = summary.summary.get("levels", {}) if summary else {}
            text = ", ".join(f"{n} {lv or 'no level'}" for lv, n in sorted(levels.items()))
            self.stdout.write(f"{scorecard.name}: {text}")
        self._pending_waiver(now)

    def _pending_waiver(self, now: Any) -> None:
        product = DataProduct.objects.filter(external_id=WAIVED[0]).first()
        if product is None or Waiver.objects.filter(product=product, check_key=WAIVED[1]).exists():
            return
        waiver_request(
            product=product,
            check_key=WAIVED[1],
            scorecard=Scorecard.objects.filter(slug="readiness").first(),
            justification=(
                "The CRM extract runs once a week, on Sundays, and its consumers read it "
                "weekly; a daily run would only copy the same rows."
            ),
            expires_at=now + timedelta(days=30),
            actor="crm-team",
        )
        self.stdout.write(f"Pending waiver: {WAIVED[0]} / {WAIVED[1]}.")

"""``manage.py load_scorecards PATH...``: load scorecards defined as code (YAML).

Each PATH is a YAML file or a folder of them; a file holds one scorecard or a list under
``scorecards``. A scorecard is created or replaced by its slug, all or nothing: when any
definition has a problem, every problem is printed with its file and path and nothing
changes. ``--dry-run`` checks the files only; ``--run`` starts a run of each scorecard
loaded, here and now.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.models import Scorecard, ScorecardRun
from governance.scorecard_services import definitions_read, scorecard_run_here, scorecards_load
from governance.scorecards import DefinitionError


class Command(BaseCommand):
    help = "Load scorecards from YAML files or folders."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="check the files only")
        parser.add_argument("--run", action="store_true", help="run each scorecard loaded")

    def handle(self, *args: Any, **options: Any) -> None:
        paths = options["paths"]
        try:
            if options["dry_run"]:
                for file, definition in definitions_read(paths):
                    checks = len(definition.checks)
                    self.stdout.write(f"ok  {definition.slug} ({checks} checks) from {file}")
                return
            saved = scorecards_load(paths=paths)
        except DefinitionError as exc:
            for where, message in exc.errors:
                self.stderr.write(f"{where}: {message}")
            raise CommandError(f"{len(exc.errors)} problem(s); nothing loaded") from None
        for scorecard in saved:
            self.stdout.write(f"loaded {scorecard.slug}: {scorecard.name}")
            if options["run"]:
                self._run(scorecard)

    def _run(self, scorecard: Scorecard) -> None:
        done = scorecard_run_here(scorecard=scorecard, requested_by="load_scorecards")
        if done.status != ScorecardRun.Status.DONE:
            raise CommandError(f"the run of {scorecard.slug} failed: {done.error}")
        levels = ", ".join(
            f"{n} {lv or 'no level'}" for lv, n in sorted(done.summary["levels"].items())
        )
        self.stdout.write(f"  ran over {done.summary['products']} products: {levels}")

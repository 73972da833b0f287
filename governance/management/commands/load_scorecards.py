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
from django.db import transaction

from governance.models import Scorecard, ScorecardRun
from governance.scorecard_services import (
    definitions_read,
    scorecard_run_execute,
    scorecard_save,
)
from governance.scorecards import DefinitionError


class Command(BaseCommand):
    help = "Load scorecards from YAML files or folders."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="check the files only")
        parser.add_argument("--run", action="store_true", help="run each scorecard loaded")

    def handle(self, *args: Any, **options: Any) -> None:
        found = []
        problems: list[str] = []
        for path in options["paths"]:
            if not path.exists():
                problems.append(f"{path}: no such file or folder")
                continue
            try:
                found += definitions_read(path)
            except DefinitionError as exc:
                problems += [f"{where}: {message}" for where, message in exc.errors]
        if problems:
            for line in problems:
                self.stderr.write(line)
            raise CommandError(f"{len(problems)} problem(s); nothing loaded")
        if options["dry_run"]:
            for file, definition in found:
                self.stdout.write(
                    f"ok  {definition.slug} ({len(definition.checks)} checks) from {file}"
                )
            return
        with transaction.atomic():
            saved = [
                scorecard_save(definition=d, source=Scorecard.Source.FILE, source_path=str(f))
                for f, d in found
            ]
        for scorecard in saved:
            self.stdout.write(f"loaded {scorecard.slug}: {scorecard.name}")
            if options["run"]:
                self._run(scorecard)

    def _run(self, scorecard: Scorecard) -> None:
        run = ScorecardRun.objects.create(
            scorecard=scorecard, trigger=ScorecardRun.Trigger.MANUAL, requested_by="load_scorecards"
        )
        done = scorecard_run_execute(run_pk=run.pk)
        if done is None or done.status != ScorecardRun.Status.DONE:
            raise CommandError(f"the run of {scorecard.slug} failed: {done.error if done else ''}")
        levels = ", ".join(
            f"{n} {lv or 'no level'}" for lv, n in sorted(done.summary["levels"].items())
        )
        self.stdout.write(f"  ran over {done.summary['products']} products: {levels}")

"""``manage.py lint_product PATH``: the level a product descriptor would earn, before it
is merged and registered — for a domain team's CI.

PATH is a descriptor file or a product folder (read as ``register_products`` reads it).
Against every enabled scorecard whose filters take the product, or ``--scorecard SLUG``,
prints the level, the score and each failing check with how to fix it. Exits 1 when a
scorecard with ``--min-level`` is not reached, 2 when the descriptor cannot be read.
``--json`` prints the same as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.descriptors import DescriptorError
from catalog.management.commands.register_products import find_bundles, read_bundle
from governance.models import CheckStatus, Scorecard
from governance.scorecard_services import Lint, scorecard_lint
from governance.scorecards import Definition


class Command(BaseCommand):
    help = "Score a product descriptor against the scorecards before registering it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--scorecard", action="append", default=[], help="slug (repeatable)")
        parser.add_argument("--min-level", default="", help="fail unless this level is reached")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        bundles = find_bundles([options["path"]]) if options["path"].exists() else []
        if len(bundles) != 1:
            raise CommandError(f"{options['path']}: expected one product descriptor", returncode=2)
        try:
            files = read_bundle(bundles[0])
        except (OSError, DescriptorError) as exc:
            raise CommandError(str(exc), returncode=2) from None
        scorecards = Scorecard.objects.filter(enabled=True).prefetch_related("levels", "checks")
        if options["scorecard"]:
            scorecards = scorecards.filter(slug__in=options["scorecard"])
        reports = []
        short = False
        for scorecard in scorecards:
            definition = Definition.from_model(scorecard)
            try:
                lint = scorecard_lint(definition=definition, files=files)
            except DescriptorError as exc:
                raise CommandError(f"the descriptor cannot be read: {exc}", returncode=2) from None
            if not lint.in_scope and not options["scorecard"]:
                continue
            wanted = options["min_level"]
            below = bool(wanted) and definition.rank(lint.outcome.level) < definition.rank(wanted)
            short = short or below
            reports.append(_report(definition, lint, below))
        if options["json"]:
            self.stdout.write(json.dumps(reports, indent=2))
        else:
            for report in reports:
                self._print(report)
        if short:
            raise CommandError(f"level {options['min_level']} not reached", returncode=1)

    def _print(self, report: dict[str, Any]) -> None:
        level = report["level_name"] or "no level"
        self.stdout.write(f"{report['name']}: {level} (score {report['score']:g})")
        for check in report["failing"]:
            self.stdout.write(f"  FAIL {check['title']}: {check['message']}")
            self.stdout.write(f"       fix: {check['remediation']}")
        if report["next_level"]:
            self.stdout.write(
                f"  next level {report['next_level']} needs: {', '.join(report['missing'])}"
            )


def _report(definition: Definition, lint: Lint, below: bool) -> dict[str, Any]:
    outcome = lint.outcome
    level = definition.level(outcome.level)
    following = definition.level(outcome.next_level)
    checks = {c.key: c for c in definition.checks}
    return {
        "scorecard": definition.slug,
        "name": definition.name,
        "product": lint.product,
        "level": outcome.level,
        "level_name": level.name if level else "",
        "score": outcome.score,
        "below_min_level": below,
        "next_level": outcome.next_level,
        "next_level_name": following.name if following else "",
        "missing": [checks[key].title for key in outcome.missing],
        "failing": [
            {
                "check": key,
                "title": checks[key].title,
                "message": result.message,
                "remediation": checks[key].fix,
                "level": checks[key].level,
            }
            for key, result in outcome.checks.items()
            if result.status == CheckStatus.FAIL
        ],
    }

"""``manage.py backup PATH``: an online backup of the database (and huey's SQLite queue).

PATH is a file, or a directory that gets ``meshport-<UTC time>.sqlite3`` (SQLite, plus
``….huey.sqlite3``) or ``meshport-<UTC time>.dump`` (PostgreSQL, ``pg_dump -Fc``). The
server and the worker keep running: the copy is one consistent snapshot and writers are
not held up. See :mod:`catalog.backup`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from catalog.backup import BackupError, database_backup


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


class Command(BaseCommand):
    help = "Back the database up to PATH while the catalog keeps serving."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", metavar="PATH", help="a file, or a directory")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        with tqdm(
            desc="backup",
            unit=" pages",
            file=sys.stderr,
            disable=True if options["no_progress"] else None,
        ) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            try:
                report = database_backup(target=Path(options["path"]), progress=progress)
            except BackupError as exc:
                raise CommandError(str(exc)) from exc
        for path in report.files:
            self.stdout.write(f"  {path} ({human_size(path.stat().st_size)})")
        self.stdout.write(
            f"Backed up {human_size(report.bytes)} in {report.seconds:.1f} s to {report.files[0]}"
        )

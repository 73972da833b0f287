"""``manage.py restore PATH --yes``: replace the database with a backup.

Stop the web server and the worker first. The command refuses without ``--yes``, and
refuses a database that already holds users or catalog data unless ``--force``. SQLite
backups are copied back with the online backup API (huey's queue too, when the backup
has it); PostgreSQL dumps go through ``pg_restore --clean --if-exists``. Migrations newer
than the backup are then applied, and the search index, which only the database can
tell the truth about, is rebuilt (``--no-search-rebuild`` to do it later with
``manage.py search_reindex``) and compared with the database as ``search_check`` does.
"""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.backup import BackupError, database_is_empty, database_restore
from catalog.management.commands.backup import human_size


class Command(BaseCommand):
    help = "Replace the database with a backup made by manage.py backup (or pg_dump -Fc)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", metavar="PATH", help="a backup file, or a directory")
        parser.add_argument("--yes", action="store_true", help="yes, replace the database")
        parser.add_argument(
            "--force", action="store_true", help="replace a database that is not empty"
        )
        parser.add_argument(
            "--no-search-rebuild",
            action="store_true",
            help="leave the search index as it is (run manage.py search_reindex later)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["yes"]:
            raise CommandError(
                "restore replaces the whole database with the backup: stop the web server "
                "and the worker, then run it again with --yes"
            )
        if not options["force"] and not database_is_empty():
            raise CommandError(
                "the database is not empty (it holds users or catalog data): restore into "
                "a fresh data dir or database, or pass --force to replace it"
            )
        try:
            report = database_restore(source=Path(options["path"]))
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Restored {human_size(report.bytes)} from {report.files[0]} in {report.seconds:.1f} s."
        )
        call_command("migrate", interactive=False, verbosity=0)
        if options["no_search_rebuild"]:
            self.stdout.write("The search index was left as it was: run manage.py search_reindex.")
            return
        self._rebuild_search()

    def _rebuild_search(self) -> None:
        out = StringIO()
        call_command("search_reindex", "--no-progress", stdout=out)
        # Proof that the rebuilt index agrees with the restored database (CommandError if not).
        call_command("search_check", "--dry-run", stdout=out)
        self.stdout.write(out.getvalue().strip())

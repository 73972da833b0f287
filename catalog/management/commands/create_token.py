"""``manage.py create_token --name dbt --scope lineage:write``: the secret is printed alone
on the last line, so that scripts can capture it with ``| tail -1``."""

from __future__ import annotations

import getpass
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from catalog.audit import Via
from catalog.models import ApiToken
from catalog.services import api_token_issue

VALID_SCOPES = [scope for scope, _ in ApiToken.SCOPES]


class Command(BaseCommand):
    help = "Create an API token and print its secret (shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="who uses it, e.g. dbt or airflow")
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            required=True,
            choices=VALID_SCOPES,
            help="repeat for several scopes",
        )
        parser.add_argument(
            "--domain",
            action="append",
            dest="domains",
            default=[],
            help="domain slug the token may publish products into (repeat; default: any)",
        )
        parser.add_argument("--expires-days", type=int, default=None, help="expiry in days")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        if not name or len(name) > 100:
            raise CommandError("--name must be 1 to 100 characters")
        expires_at = None
        if options["expires_days"] is not None:
            if options["expires_days"] <= 0:
                raise CommandError("--expires-days must be positive")
            expires_at = timezone.now() + timedelta(days=options["expires_days"])
        token, secret = api_token_issue(
            name=name,
            scopes=options["scopes"],
            actor=getpass.getuser(),
            via=Via.COMMAND,
            expires_at=expires_at,
            domains=sorted(set(options["domains"])),
        )
        self.stdout.write(
            f"Created token {token.name!r} (prefix {token.prefix}, scopes "
            f"{', '.join(token.scopes)}"
            + (f", domains {', '.join(token.domains)}" if token.domains else "")
            + "). Store the secret now; it is not shown again."
        )
        self.stdout.write(secret)

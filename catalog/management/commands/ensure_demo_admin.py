"""Create the demo administrator once and print how to log in."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Create a demo superuser if it does not exist, and print its credentials."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="meshport-demo")

    def handle(self, *args: Any, **options: Any) -> None:
        username, password = options["username"], options["password"]
        if not User.objects.filter(username=username).exists():
            User.objects.create_superuser(username, f"{username}@example.com", password)
            self.stdout.write(f"Created demo admin {username!r}.")
        self.stdout.write(
            f"Demo admin: user {username!r}, password {password!r} "
            "(only for the local demo; change it in /admin/)."
        )

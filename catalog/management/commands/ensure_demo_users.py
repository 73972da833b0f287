"""Create the demo's users once, one per role, and print how to log in."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandParser

from catalog.roles import STEWARDS_GROUP

PASSWORD = "meshport-demo"
# (user name, email, role, what the login page says of them). The emails are those the demo
# descriptors name, so each user is the person the demo mesh knows.
DEMO_USERS = [
    ("admin", "admin@example.com", "admin", "administrator: everything, API tokens"),
    ("nina", "nina.vogel@acme.example", "owner", "owner of the customer domain's products"),
    ("lena", "lena.fischer@acme.example", "steward", "steward: scorecards, waivers, SLOs"),
]


class Command(BaseCommand):
    help = "Create the demo users (an admin, an owner, a steward) if missing; print logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", default=PASSWORD)

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["password"]
        stewards, _ = Group.objects.get_or_create(name=STEWARDS_GROUP)
        for username, email, role, _ in DEMO_USERS:
            if User.objects.filter(username=username).exists():
                continue
            if role == "admin":
                User.objects.create_superuser(username, email, password)
            else:
                user = User.objects.create_user(username, email, password)
                if role == "steward":
                    user.groups.add(stewards)
            self.stdout.write(f"Created demo user {username!r} ({role}).")
        for username, _, _, what in DEMO_USERS:
            self.stdout.write(f"  {username:<6} {what}")
        self.stdout.write(
            f"Demo users' password: {password!r} (only for the local demo; change it in /admin/)."
        )

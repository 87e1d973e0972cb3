"""Make a user's API token: stored hashed, printed once."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from optionsdesk.services import api_token_create


class Command(BaseCommand):
    """`manage.py api_token USER`: a new token (the old one stops working); shown only now."""

    help = "Create (or replace) a user's API token and print it once; only its hash is stored."

    def add_arguments(self, parser: CommandParser) -> None:
        """USER."""
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        """Create the token and print its secret."""
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}")
        secret = api_token_create(user=user)
        self.stdout.write(f"API token for {user.username} (shown once, only its hash is kept):")
        self.stdout.write(secret)

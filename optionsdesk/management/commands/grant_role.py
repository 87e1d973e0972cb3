"""Give a user one of the roles of `optionsdesk.roles`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from optionsdesk.roles import ROLE_GROUPS
from optionsdesk.services import user_role_grant


class Command(BaseCommand):
    """`manage.py grant_role USER ROLE`: one role, replacing the old."""

    help = "Put a user in one role group: viewer, researcher, operator or admin."

    def add_arguments(self, parser: CommandParser) -> None:
        """USER and ROLE."""
        parser.add_argument("username")
        parser.add_argument("role", choices=ROLE_GROUPS)

    def handle(self, *args: Any, **options: Any) -> None:
        """Grant the role or stop with a one-line error."""
        try:
            role = user_role_grant(username=options["username"], role=options["role"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{options['username']} is now {role}")

"""Create the dashboard's admin user once."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from optionsdesk.services import admin_user_ensure


class Command(BaseCommand):
    """`manage.py ensure_admin`: password from ADMIN_PASSWORD, else generated and printed once."""

    help = "Create the admin superuser if it does not exist."

    def add_arguments(self, parser: CommandParser) -> None:
        """--username (default admin)."""
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, **options: Any) -> None:
        """Create the user or say it already exists; never print an existing password."""
        password = settings.APP.ADMIN_PASSWORD.get_secret_value()
        created, used = admin_user_ensure(username=options["username"], password=password)
        if not created:
            self.stdout.write(f"admin user {options['username']!r} already exists")
        elif password:
            self.stdout.write(f"created admin user {options['username']!r} (ADMIN_PASSWORD)")
        else:
            self.stdout.write(
                f"created admin user {options['username']!r} with password: {used}\n"
                "(shown once; change it in the admin or set ADMIN_PASSWORD before the first run)"
            )

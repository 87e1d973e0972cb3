"""`manage.py close_greg_sandbox_positions --run-id …`: close one sandbox batch."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from greg.services import exchange
from greg.services.positions import sandbox_close


class Command(BaseCommand):
    """Review a batch at market, then close its positions (paper rows included)."""

    help = "Close every open Greg sandbox position of a run id."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--run-id", required=True)
        parser.add_argument("--offline", action="store_true", help="close at the last review")

    def handle(self, *args: Any, **options: Any) -> None:
        run_id = options["run_id"]
        if options["offline"]:
            count = sandbox_close(run_id=run_id)
        else:
            with exchange.greg_client() as client:
                count = sandbox_close(run_id=run_id, client=client)
        self.stdout.write(f"run {run_id}: {count} closed")

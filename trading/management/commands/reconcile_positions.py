"""`manage.py reconcile_positions [--action report|adopt|flag|close]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from trading.models import ReconcileAction
from trading.services import reconcile_run


class Command(BaseCommand):
    """Compare our positions with the exchange's and act on the differences."""

    help = "Reconcile positions against the exchange (default action: the runtime control)."

    def add_arguments(self, parser: CommandParser) -> None:
        """--action."""
        parser.add_argument("--action", choices=ReconcileAction.values, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        """Run and print every discrepancy."""
        run = reconcile_run(action=options["action"], trigger="command")
        for item in run.items.all():
            self.stdout.write(f"{item} -> {item.action_taken}")
        self.stdout.write(f"reconciliation {run.status} ({run.action}): {run.summary}")

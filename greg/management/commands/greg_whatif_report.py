"""`manage.py greg_whatif_report [--json] [--days N]`: what following each suggestion made."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from greg.services import exchange
from greg.services.reports import whatif_report


class Command(BaseCommand):
    """Value every advised OPEN suggestion at today's marks, with totals per strategy."""

    help = "What each Greg suggestion would have made if followed (valued at today's marks)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=0, help="only the last N days (0: all)")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        since = timezone.now() - timedelta(days=options["days"]) if options["days"] else None
        with exchange.greg_client() as client:
            report = whatif_report(client=client, since=since)
        if options["json"]:
            self.stdout.write(json.dumps(report))
            return
        for item in report["items"]:
            self.stdout.write(
                f"#{item['id']} {item['created_at'][:16]} {item['underlying']} "
                f"{item['strategy']}: credit {item['credit_usd']:.2f} -> P&L {item['pnl_usd']:.2f}"
            )
        for strategy, total in sorted(report["totals"].items()):
            self.stdout.write(
                f"{strategy}: {total['count']:.0f} suggestions, {total['pnl_usd']:.2f} USD"
            )
        if not report["items"]:
            self.stdout.write("no advised suggestions to value")

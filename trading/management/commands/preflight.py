"""`manage.py preflight [--json]`: is this setup ready to run the agent where it points?"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    """Run every preflight check; exit status 1 on any FAIL (docs/operations.md, preflight)."""

    help = "Check configuration, exchange, key scopes, balances, limits and local state."

    def add_arguments(self, parser: CommandParser) -> None:
        """--json prints the report as one JSON document."""
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the checks, print them, and exit non-zero when one failed."""
        from trading.services.preflight import preflight_run

        report = preflight_run()
        if options["json"]:
            self.stdout.write(json.dumps(report.as_record(), indent=2))
        else:
            mode = "dry run" if report.dry_run else "LIVE"
            self.stdout.write(f"preflight: {report.environment.value}, {mode}")
            for check in report.checks:
                self.stdout.write(f"{check.status.value:4}  {check.name:18} {check.detail}")
                if check.fix:
                    self.stdout.write(f"{'':24}fix: {check.fix}")
            counts = report.counts()
            self.stdout.write(
                f"{counts['PASS']} PASS, {counts['WARN']} WARN, {counts['FAIL']} FAIL"
                + ("" if report.ok else ": not ready")
            )
        if not report.ok:
            raise SystemExit(1)

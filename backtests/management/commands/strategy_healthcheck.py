"""`manage.py strategy_healthcheck [--json] [--check NAME ...]`: the strategy's health battery.

Prints PASS, WARN or FAIL per check with the reason (`backtests.healthcheck`); exits 1 when any
check FAILs (WARN does not fail), so CI or a cron job can gate on it.

Examples:
  manage.py strategy_healthcheck
  manage.py strategy_healthcheck --json
  manage.py strategy_healthcheck --check fees --check parity
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from backtests.healthcheck import CHECKS, strategy_healthcheck


class Command(BaseCommand):
    """Run the battery; exit non-zero on any FAIL."""

    help = "Run the strategy health checks (PASS/WARN/FAIL each); exit 1 on any FAIL."

    def add_arguments(self, parser: CommandParser) -> None:
        """`--json` and the checks to run."""
        parser.add_argument("--json", action="store_true", help="one JSON document")
        parser.add_argument(
            "--check",
            action="append",
            choices=list(CHECKS),
            default=[],
            help="run only this check (repeatable); default: all",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the checks and print them."""
        results = strategy_healthcheck(options["check"] or None)
        failed = any(r.status == "FAIL" for r in results)
        if options["json"]:
            counts = {s: sum(r.status == s for r in results) for s in ("PASS", "WARN", "FAIL")}
            body = {
                "ok": not failed,
                "status": "FAIL" if failed else ("WARN" if counts["WARN"] else "PASS"),
                "counts": counts,
                "checks": [r.as_dict() for r in results],
            }
            self.stdout.write(json.dumps(body, indent=1, default=str))
        else:
            for r in results:
                self.stdout.write(f"{r.status:<4}  {r.name:<18} {r.reason}")
            worst = (
                "FAIL"
                if failed
                else ("WARN" if any(r.status == "WARN" for r in results) else "PASS")
            )
            self.stdout.write(f"overall: {worst}")
        if failed:
            raise SystemExit(1)

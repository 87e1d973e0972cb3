"""`manage.py export_decisions`: append unexported decisions to the daily JSONL files."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from trading.services import decisions_export


class Command(BaseCommand):
    """Same single writer as the tick and the daily schedule."""

    help = "Export decisions to var/decisions/decisions-YYYY-MM-DD.jsonl."

    def handle(self, *args: Any, **options: Any) -> None:
        """Export and report."""
        report = decisions_export()
        files = ", ".join(sorted(str(p) for p in report.files)) or "no new decisions"
        self.stdout.write(f"exported {report.lines} line(s): {files}")

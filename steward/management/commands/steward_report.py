"""`manage.py steward_report [--json]`: build a steward report now and print it."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from steward.services import report_run


class Command(BaseCommand):
    """Build a report in this process (the LLM when configured) and print it."""

    help = "Build a steward report now: summary and ranked next tasks (--json: the whole report)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        report = report_run(trigger="cli")
        assert report is not None
        if options["json"]:
            payload = {
                "id": report.pk,
                "status": report.status,
                "source": report.source,
                "model": report.model,
                "summary": report.summary,
                "next_tasks": report.next_tasks,
                "facts": report.facts,
                "error": report.error,
            }
            self.stdout.write(json.dumps(payload, indent=2, default=str))
            return
        self.stdout.write(f"Report #{report.pk} ({report.status}, {report.source})")
        self.stdout.write(report.summary)
        self.stdout.write("")
        for i, task in enumerate(report.next_tasks, 1):
            self.stdout.write(f"{i}. {task['title']} -> {task['url']}")
        if report.error:
            self.stderr.write(f"failed: {report.error}")

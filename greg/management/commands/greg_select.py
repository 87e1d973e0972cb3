"""`manage.py greg_select INPUT.json [--json]`: run the entry waterfall on sensor vectors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from greg.domain.selector import SelectorInputError, selector_run, selector_validate

EXIT_BAD_INPUT = 2


class Command(BaseCommand):
    """Print one `{"strategy", "step", "reasoning"}` per input object (nothing is stored)."""

    help = (
        "Run Greg's ENTRY_ENGINE on a JSON list of sensor vectors (keys: the eleven sensor "
        "names). Prints a JSON list in the same order; exit 2 on a bad key or value."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("input", help="JSON file: a list of objects (or one object); - = stdin")
        parser.add_argument("--json", action="store_true", help="compact one-line JSON output")

    def handle(self, *args: Any, **options: Any) -> None:
        source = options["input"]
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text()
            payload = json.loads(text)
            vectors = selector_validate(payload)
        except (OSError, json.JSONDecodeError, SelectorInputError) as exc:
            self.stderr.write(f"greg_select: {exc}")
            raise SystemExit(EXIT_BAD_INPUT) from None
        result = selector_run(vectors)
        indent = None if options["json"] else 2
        self.stdout.write(json.dumps(result, indent=indent))

"""``manage.py harvest [--once] [--underlying BTC,ETH] [--interval S] [--dir DIR]``."""

from __future__ import annotations

import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from calibration.services import harvest_run


class Command(BaseCommand):
    """Harvest full option chains from the market-data venue (the simulator by default) into
    partitioned Parquet; once, or every HARVEST_INTERVAL_S seconds until interrupted."""

    help = "Harvest option chains to underlying=<CCY>/date=<day>/ Parquet snapshots."

    def add_arguments(self, parser: ArgumentParser) -> None:
        """--once, --underlying, --interval, --dir."""
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument("--underlying", default=None, help="comma-separated, e.g. BTC,ETH")
        parser.add_argument("--interval", type=int, default=None, help="seconds between passes")
        parser.add_argument("--dir", type=Path, default=None, help="output root directory")

    def handle(self, *args: Any, **options: Any) -> None:
        """Run passes and print one line per pass."""
        names = (
            [n.strip().upper() for n in options["underlying"].split(",") if n.strip()]
            if options["underlying"]
            else None
        )
        interval = options["interval"] or settings.HARVEST_INTERVAL_S
        while True:
            run = harvest_run(underlyings=names, trigger="command", root=options["dir"])
            self.stdout.write(
                f"harvest {run.status}: {run.rows} rows, {len(run.files)} files in "
                f"{run.duration_s:.2f} s" + (f"; errors: {run.errors}" if run.errors else "")
            )
            for path in run.files:
                self.stdout.write(f"  {path}")
            if options["once"]:
                return
            time.sleep(interval)

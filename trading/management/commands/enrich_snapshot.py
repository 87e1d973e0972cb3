"""``manage.py enrich_snapshot IN.parquet OUT.parquet``: add IV and greeks to a chain snapshot."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from trading.domain.chain import ChainSchemaError, SnapshotReadError, enrich_snapshot_file


class Command(BaseCommand):
    """Enrich a harvested snapshot with ``iv``, ``delta``, ``gamma``, ``vega`` and ``theta``.

    Prints a one-line JSON summary, including how closely ``iv`` matches Deribit's ``mark_iv``.
    Bad input (unreadable file, missing columns) exits with status 2 and writes nothing.
    """

    help = (
        "Add Black-76 iv, delta, gamma, vega, theta (from mark_price, time from harvest_time) "
        "to a chain snapshot and print a one-line JSON summary."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        """Declare the input/output paths and the optional rate and price floor."""
        parser.add_argument("input", help="snapshot Parquet file (either harvest schema)")
        parser.add_argument("output", help="Parquet file to write (replaced atomically)")
        parser.add_argument("--rate", type=float, default=0.0, help="annual rate, default 0")
        parser.add_argument(
            "--min-mark-price",
            type=float,
            default=0.001,
            help="coin price floor of the OTM options compared with mark_iv (default 0.001)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the enrichment and print its summary as one JSON line."""
        try:
            summary = enrich_snapshot_file(
                options["input"],
                options["output"],
                rate=options["rate"],
                min_mark_price_coin=options["min_mark_price"],
            )
        except (ChainSchemaError, SnapshotReadError) as exc:
            raise CommandError(str(exc), returncode=2) from exc
        self.stdout.write(json.dumps(summary, separators=(",", ":")))

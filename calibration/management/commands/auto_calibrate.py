"""``manage.py auto_calibrate [--underlying BTC,ETH] [--source harvested|live] [--dir DIR]``."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from calibration.domain.snapshots import SnapshotError
from calibration.services import auto_calibrate


class Command(BaseCommand):
    """Calibrate each underlying (latest harvested day, or the live chain) and write
    calibration history rows. Never changes the applied multipliers (the update policy does)."""

    help = "Write calibration history rows from harvested snapshots or the live chain."

    def add_arguments(self, parser: ArgumentParser) -> None:
        """--underlying, --source, --dir."""
        parser.add_argument("--underlying", default=None, help="comma-separated, e.g. BTC,ETH")
        parser.add_argument("--source", choices=("harvested", "live"), default="harvested")
        parser.add_argument("--dir", type=Path, default=None, help="snapshot root (harvested)")

    def handle(self, *args: Any, **options: Any) -> None:
        """Run and print one JSON line per calibration."""
        names = (
            [n.strip().upper() for n in options["underlying"].split(",") if n.strip()]
            if options["underlying"]
            else None
        )
        if options["dir"] is not None and not options["dir"].is_dir():
            raise CommandError(f"--dir {options['dir']}: not a directory", returncode=2)
        try:
            runs = auto_calibrate(
                underlyings=names, source=options["source"], root=options["dir"], trigger="command"
            )
        except SnapshotError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        for run in runs:
            self.stdout.write(
                json.dumps(
                    {
                        "id": run.pk,
                        "underlying": run.underlying,
                        "source": run.source,
                        "files": run.n_files,
                        "rows": run.n_rows,
                        "surface_vw_mae_volpts": run.surface_vw_mae_volpts,
                        "synthetic_vw_mae_volpts": run.synthetic_vw_mae_volpts,
                        "multipliers": run.multipliers,
                        "guardrail_ok": run.guardrail_ok,
                        "guardrail_reasons": run.guardrail_reasons,
                    }
                )
            )

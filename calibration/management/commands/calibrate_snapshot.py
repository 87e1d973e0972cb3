"""``manage.py calibrate_snapshot FILE [FILE ...] [--json]``: fit and score snapshot files."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from calibration.domain.snapshots import SnapshotError
from calibration.services import snapshot_file_calibrate


class Command(BaseCommand):
    """Fit the vol surface of each file and compare the synthetic model with its marks.

    One JSON object per file with ``--json`` (keys of issue #13), else a readable line. Files
    that cannot be used are named on stderr with what is wrong; the exit status is then 2.
    Writes nothing to the database.
    """

    help = "Fit SVI smiles to snapshot files and score them and the synthetic model vs marks."

    def add_arguments(self, parser: ArgumentParser) -> None:
        """Files and the output format."""
        parser.add_argument("files", nargs="+", type=Path, help="snapshot Parquet files")
        parser.add_argument("--json", action="store_true", help="one JSON object per file")

    def handle(self, *args: Any, **options: Any) -> None:
        """Calibrate every file; report bad ones and exit 2 if any."""
        failures: list[str] = []
        for path in options["files"]:
            try:
                summary = snapshot_file_calibrate(path=path)
            except SnapshotError as exc:
                failures.append(str(exc))
                self.stderr.write(f"error: {exc}")
                continue
            if options["json"]:
                self.stdout.write(json.dumps(summary, separators=(",", ":")))
            else:
                self.stdout.write(
                    f"{summary['file']}: {summary['underlying']} {summary['n_options']} options, "
                    f"{summary['expiries']} expiries, surface vw MAE "
                    f"{summary['surface_vw_mae_volpts']} vol pts, synthetic vw MAE "
                    f"{summary['synthetic_vw_mae_volpts']}, multiplier "
                    f"{summary['recommended_iv_multiplier']}, fit {summary['fit_ms']} ms"
                )
        if failures:
            raise CommandError(f"{len(failures)} file(s) could not be calibrated", returncode=2)

"""`manage.py export_training_data`: (state, action, reward) files from a backtest run.

Examples:
  manage.py export_training_data --run 12 --kind all --format parquet --out var/exports/r12
  manage.py export_training_data --days 90 --kind candidates --format csv   # runs one first
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backtests import services
from backtests.management.commands._options import (
    add_run_options,
    config_from_options,
    source_from_options,
)
from backtests.models import BacktestRun, TrainingExport


class Command(BaseCommand):
    """Write decision, candidate and chat training files for a run."""

    help = "Export training data (decisions, candidates, chat corpus) from a backtest run."

    def add_arguments(self, parser: CommandParser) -> None:
        """Which run (or the options of a new one), which files, where."""
        parser.add_argument("--run", type=int, help="an existing run id (else one is run now)")
        add_run_options(parser)
        parser.add_argument(
            "--kind", choices=["decisions", "candidates", "chat", "all"], default="all"
        )
        parser.add_argument("--format", choices=["csv", "jsonl", "parquet"], default="csv")
        parser.add_argument("--out", type=Path, help="output directory")

    def handle(self, *args: Any, **options: Any) -> None:
        """Export and list the files written."""
        run = self._run(options)
        kinds = TrainingExport.Kind.values if options["kind"] == "all" else [options["kind"]]
        for kind in kinds:
            export = services.training_export_create(
                run=run, kind=kind, fmt=options["format"], out_dir=options.get("out")
            )
            self.stdout.write(f"{export.kind}: {export.rows} rows -> {export.path}")

    def _run(self, options: dict[str, Any]) -> BacktestRun:
        if options.get("run"):
            run = BacktestRun.objects.filter(pk=options["run"]).first()
            if run is None:
                raise CommandError(f"no backtest run #{options['run']}")
            if run.kind == BacktestRun.Kind.GRID:
                raise CommandError("export from a single run or a grid cell, not a whole grid")
            return run
        run = services.backtest_run_create(
            config=config_from_options(options),
            source=source_from_options(options),
            name="training export",
            enqueue=False,
        )
        done = services.backtest_run_execute(run_id=run.pk)
        assert done is not None
        if done.status != BacktestRun.Status.SUCCEEDED:
            raise CommandError(f"the run failed: {done.error}")
        self.stdout.write(f"ran backtest #{done.pk}")
        return done

"""`manage.py training_run`: several training profiles over the same replayed decision times.

Writes every profile's (state, action, reward) rows and candidate rankings (a `profile`
column in front) and the chat fine-tuning corpus (train/validation, schema-checked).

Examples:
  manage.py training_run --profiles production,aggressive_exploration,per_expiry_limit --days 90
  manage.py training_run --list-profiles
  manage.py training_run --source snapshots --format parquet --out var/exports/training
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backtests import training_services
from backtests.domain.profiles import PROFILES
from backtests.management.commands._options import (
    add_run_options,
    config_from_options,
    source_from_options,
)
from backtests.training_models import TrainingRun


class Command(BaseCommand):
    """Run a stored training run in this process and list the files written."""

    help = "Training mode: collect (state, action, reward) rows with several profiles at once."

    def add_arguments(self, parser: CommandParser) -> None:
        """Profiles, output format and the usual data source and run options."""
        parser.add_argument(
            "--profiles",
            default=",".join(PROFILES),
            help=f"comma-separated, of: {', '.join(PROFILES)}",
        )
        parser.add_argument("--list-profiles", action="store_true")
        parser.add_argument("--format", choices=list(training_services.FORMATS), default="csv")
        parser.add_argument("--validation-frac", type=float, default=0.1)
        parser.add_argument("--out", type=Path, help="output directory")
        parser.add_argument("--name", default="")
        add_run_options(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        """Create the run, execute it here with a progress line, print the outcome."""
        if options["list_profiles"]:
            for profile in PROFILES.values():
                self.stdout.write(f"{profile.name}: {profile.description}")
            return
        names = [n.strip() for n in options["profiles"].split(",") if n.strip()]
        try:
            run = training_services.training_run_create(
                source=source_from_options(options),
                config=config_from_options(options),
                profiles=names,
                fmt=options["format"],
                validation_frac=options["validation_frac"],
                name=options["name"],
                enqueue=False,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"training run #{run.pk}: {', '.join(run.profiles)}")
        done = training_services.training_run_execute(run_id=run.pk, out_dir=options.get("out"))
        assert done is not None
        if done.status != TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"training run #{done.pk} failed: {done.error}")
        for summary in done.result["profiles"]:
            self.stdout.write(
                f"  {summary['profile']:<24} {summary['decisions']:>6} decisions "
                f"{summary['sales']:>5} sales {summary['candidates']:>6} candidate rows "
                f"net {summary['net_pnl_usd']:>10,.0f} USD"
            )
        for kind, entry in done.files.items():
            self.stdout.write(f"{kind}: {entry['rows']} rows -> {entry['path']}")

"""`manage.py edge_study [--json]`: the synthetic covered-call edge before and after costs.

One-day calls (delta 0.2-0.5) on a fair synthetic market at realised/implied 1.0, 0.95 and 0.8,
same seeds for every ratio, hedged hourly as a control variate (`backtests.domain.edge`).
Bounded: at most 12 seeds and 730 days (the default, 4 seeds x 365 days, takes about 10 s).

Examples:
  manage.py edge_study
  manage.py edge_study --json --seeds 6
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backtests.domain.edge import EDGE_DAYS, EDGE_RATIOS, edge_study, edge_study_json

MAX_SEEDS = 12
MAX_DAYS = 730


class Command(BaseCommand):
    """Print the edge study as a table or as JSON."""

    help = "Synthetic covered-call edge (% of premium, with standard errors) at RV/IV 1, 0.95, 0.8."

    def add_arguments(self, parser: CommandParser) -> None:
        """Output format, number of seeds, days per seed."""
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--seeds", type=int, default=4, help=f"1..{MAX_SEEDS} (default 4)")
        parser.add_argument(
            "--days", type=int, default=EDGE_DAYS, help=f"days per seed, 30..{MAX_DAYS}"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the study and print it."""
        seeds, days = options["seeds"], options["days"]
        if not 1 <= seeds <= MAX_SEEDS:
            raise CommandError(f"--seeds must be between 1 and {MAX_SEEDS}")
        if not 30 <= days <= MAX_DAYS:
            raise CommandError(f"--days must be between 30 and {MAX_DAYS}")
        study = edge_study(EDGE_RATIOS, tuple(range(1, seeds + 1)), days=days)
        figures = edge_study_json(study)
        if options["json"]:
            self.stdout.write(json.dumps(figures))
            return
        self.stdout.write(
            f"One-day calls, delta 0.2-0.5, {seeds} seed(s) x {days} days, hourly delta hedge "
            "as control variate; % of premium"
        )
        self.stdout.write(f"{'RV/IV':>6} {'edge':>8} {'se':>6} {'after costs':>12} {'costs':>7}")
        for key in figures["edge_pct"]:
            self.stdout.write(
                f"{key:>6} {figures['edge_pct'][key]:>+8.2f} {figures['se_pct'][key]:>6.2f} "
                f"{figures['after_costs_pct'][key]:>+12.2f} {figures['costs_pct'][key]:>7.2f}"
            )

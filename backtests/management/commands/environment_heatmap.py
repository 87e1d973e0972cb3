"""`manage.py environment_heatmap`: where market time is spent over two metrics, and what a
reference short call earned in each cell (a stored study, like the tab's).

Runs in this process and prints the table (`--json`: the stored result without the
per-sample cells); `--queue` sends it to the research queue instead and prints the study id.

Examples:
  manage.py environment_heatmap --days 365 --x ivrv --y return_7d
  manage.py environment_heatmap --source snapshots --underlying ETH --x atm_iv --y skew_25d \\
      --x-edges 0.4,0.5,0.6,0.7,0.9 --y-edges=-0.05,0,0.01,0.05 --dte 1 --interval-hours 0.25
  manage.py environment_heatmap --source volatility_history --x atm_iv --y iv_change_7d
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backtests.domain.environment import ENV_METRICS
from backtests.domain.sources.spec import SourceSpec
from backtests.domain.types import BacktestConfig
from backtests.lab_charts import bin_labels
from backtests.lab_services import lab_study_create
from backtests.management.commands._lab import lab_study_run_or_queue
from backtests.models import SelectorStudy


def _edges(text: str | None) -> list[float] | None:
    if not text:
        return None
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise CommandError(f"edges must be comma-separated numbers: {text!r}") from None


class Command(BaseCommand):
    """Create the study, run it (or queue it), print the cells."""

    help = "Environment heatmap: occupancy of two market metrics and a reference call's outcome."

    def add_arguments(self, parser: CommandParser) -> None:
        """Source, period, metrics and edges, reference call, sampling."""
        parser.add_argument(
            "--source",
            choices=["synthetic", "snapshots", "volatility_history"],
            default="synthetic",
        )
        parser.add_argument("--underlying", choices=["BTC", "ETH"], default="BTC")
        parser.add_argument("--start", help="UTC date, e.g. 2025-01-01")
        parser.add_argument("--days", type=float, default=365.0)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--x", choices=list(ENV_METRICS), default="ivrv")
        parser.add_argument("--y", choices=list(ENV_METRICS), default=None)
        parser.add_argument("--x-edges", help="comma-separated, increasing (default per metric)")
        parser.add_argument("--y-edges", help="comma-separated, increasing (default per metric)")
        parser.add_argument("--delta", type=float, default=0.25, help="reference call delta")
        parser.add_argument("--dte", type=float, default=7.0, help="reference call days to expiry")
        parser.add_argument("--interval-hours", type=float, default=1.0)
        parser.add_argument("--queue", action="store_true", help="run on the research queue")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        """Create, run and print."""
        history = options["source"] == "volatility_history"
        start = None
        if options["start"]:
            start = datetime.fromisoformat(options["start"]).replace(tzinfo=UTC)
        params = {
            "data": "volatility_history" if history else "chains",
            "x_metric": options["x"],
            "x_edges": _edges(options["x_edges"]),
            "y_metric": options["y"] or ("iv_change_7d" if history else "return_7d"),
            "y_edges": _edges(options["y_edges"]),
            "target_delta": options["delta"],
            "target_dte_days": options["dte"],
            "interval_hours": options["interval_hours"],
        }
        try:
            source = SourceSpec(
                kind="snapshots" if history else options["source"],
                underlying=options["underlying"],
                start=start,
                days=options["days"],
                seed=options["seed"],
            )
            study = lab_study_create(
                kind=SelectorStudy.Kind.ENVIRONMENT,
                source=source,
                config=BacktestConfig(underlying=options["underlying"]),
                params=params,
                enqueue=False,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        done = lab_study_run_or_queue(study, queue=options["queue"], stdout=self.stdout)
        if done is None:
            return
        self._print(done, as_json=options["json"])

    def _print(self, study: SelectorStudy, *, as_json: bool) -> None:
        result = {k: v for k, v in study.result.items() if k != "cell_of_sample"}
        if as_json:
            self.stdout.write(json.dumps({"study": study.pk} | result, default=str))
            return
        self.stdout.write(
            f"study #{study.pk}: {result['samples']} sampled times, {result['in_grid']} in the "
            f"grid; rows {result['y_metric']}, columns {result['x_metric']}"
        )
        self.stdout.write("cell: share of time (times) | mean forward P&L $ | win rate (n)")
        x_labels = bin_labels(result["x_edges"])
        for yi, y_label in reversed(list(enumerate(bin_labels(result["y_edges"])))):
            for xi, x_label in enumerate(x_labels):
                count = result["counts"][yi][xi]
                if not count:
                    continue
                share = 100 * result["share"][yi][xi]
                line = f"{y_label:>16} | {x_label:<14} {share:5.1f}% ({count})"
                n = result["outcomes"][yi][xi]
                if n:
                    mean, wins = result["mean_pnl_usd"][yi][xi], 100 * result["win_rate"][yi][xi]
                    line += f" | {mean:9.1f} $ | {wins:3.0f}% (n {n})"
                self.stdout.write(line)

"""`manage.py arena`: rule-based policies, exploration variants, the LLM and Greg on the same
replayed days.

The LLM is asked when one is configured; otherwise its recorded decisions are replayed where
they exist (the table's note says which). Greg's waterfall outcomes that sell a call are call
sales, others no trade. `--no-llm` / `--no-greg` leave them out.

League table: mean daily P&L (USD) with a 7-day block-bootstrap 95% interval, Sharpe, max
drawdown, and each policy against the baseline (mean daily difference, its interval, p-value).

Examples:
  manage.py arena --days 180
  manage.py arena --source snapshots --underlying ETH --json
  manage.py arena --days 90 --no-llm
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backtests import services
from backtests.arena_players import arena_entries
from backtests.domain.arena import run_arena
from backtests.domain.sources.spec import SourceSpec


class Command(BaseCommand):
    """Run the arena and print the league table."""

    help = "Policy arena with block-bootstrap confidence intervals on the same replayed days."

    def add_arguments(self, parser: CommandParser) -> None:
        """Data source and bootstrap options."""
        parser.add_argument("--source", choices=["synthetic", "snapshots"], default="synthetic")
        parser.add_argument("--underlying", choices=["BTC", "ETH"], default="BTC")
        parser.add_argument("--days", type=float, default=180.0)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--block-days", type=int, default=7)
        parser.add_argument("--resamples", type=int, default=2000)
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--no-llm", action="store_true", help="leave the LLM out")
        parser.add_argument("--no-greg", action="store_true", help="leave Greg out")

    def handle(self, *args: Any, **options: Any) -> None:
        """Build the panel once, run every policy on it, print the table."""
        if not 100 <= options["resamples"] <= 20_000:
            raise CommandError("--resamples must be between 100 and 20000")
        spec = SourceSpec(
            kind=options["source"],
            underlying=options["underlying"],
            days=options["days"],
            seed=options["seed"],
        )
        simulator = services.simulator_for(spec=spec)
        entries, left_out = arena_entries(
            simulator, llm=not options["no_llm"], greg=not options["no_greg"]
        )
        rows = run_arena(
            simulator,
            entries,
            block_days=options["block_days"],
            resamples=options["resamples"],
            seed=options["seed"],
        )
        if options["json"]:
            body = {"rows": [row.as_dict() for row in rows], "left_out": left_out}
            self.stdout.write(json.dumps(body))
            return
        self.stdout.write(
            f"{'policy':<32} {'trades':>6} {'$/day':>9} {'95% CI':>21} {'sharpe':>7} "
            f"{'vs baseline':>12} {'95% CI':>21} {'p':>6}"
        )
        for r in rows:
            self.stdout.write(
                f"{r.name:<32} {r.trades:>6} {r.mean_daily_pnl_usd:>9.1f} "
                f"[{r.ci_low_usd:>8.1f}, {r.ci_high_usd:>8.1f}] {r.sharpe:>7.2f} "
                f"{r.diff_vs_baseline_usd:>12.1f} [{r.diff_ci_low_usd:>8.1f}, "
                f"{r.diff_ci_high_usd:>8.1f}] {r.p_value:>6.3f}"
            )
        for r in rows:
            if r.note:
                self.stdout.write(f"{r.name}: {r.note}")
        for why in left_out:
            self.stdout.write(why)

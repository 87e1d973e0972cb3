"""Backtest speed: one year of hourly decisions on the synthetic source, and a 300-run grid.

Run: .venv/bin/python bench/backtest.py [--days 365] [--seed 7]

Measured, in one process after a warm-up (numba kernels loaded, imports done):
- single_run_s: generate a year of hourly synthetic chains (calls up to 35 DTE) AND run the
  research policy over it with metrics: what a user waits for when launching one run.
- grid_300_s: a fresh panel plus 300 combinations (5 delta ranges x 6 DTE ranges x 5 exit
  styles x 2 take-profit levels), in process.
- marks_per_s: option marks priced per second while generating the panel (vectorised).
- reference: the market model's own per-snapshot `MarketModel.chain` for 48 hours, the obvious
  way to get hourly chains, measured here in marks per second for the speed-up ratio.
Last line: JSON {"single_run_s", "grid_300_s", "marks_per_s", ...}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backtests.domain.grid import GridSpec, run_grid
from backtests.domain.simulator import CoveredCallSimulator
from backtests.domain.sources.synthetic import SyntheticSource
from backtests.domain.types import BacktestConfig
from trading.domain.market_model import MarketModel, MarketModelParams

START = datetime(2025, 1, 1, tzinfo=UTC)
GRID_AXES: dict[str, list[Any]] = {
    "delta_range": [[0.05, 0.15], [0.10, 0.20], [0.15, 0.25], [0.20, 0.30], [0.25, 0.35]],
    "dte_range": [[1, 3], [1, 7], [3, 10], [5, 14], [7, 21], [14, 30]],
    "exit_style": [
        "hold_to_expiry",
        "take_profit",
        "take_profit_and_roll",
        "stop_loss",
        "roll_at_dte",
    ],
    "take_profit_pct": [0.5, 0.8],
}
TARGETS = {"single_run_s": 2.0, "grid_300_s": 10.0}


def warm_up() -> None:
    """Load the numba kernels and touch every code path once on a tiny input."""
    panel = SyntheticSource(seed=1, start=START, days=3).load_panel(underlying="BTC")
    CoveredCallSimulator(panel).simulate_policy(BacktestConfig())


def reference_marks_per_s(hours: int = 48) -> float:
    """Marks per second of `MarketModel.chain`, hour by hour (all listed options)."""
    params = MarketModelParams()
    params = params.model_copy(
        update={"currencies": {"BTC": params.currencies["BTC"]}, "step_seconds": 3600}
    )
    model = MarketModel(params, seed=7, start=START)
    marks = 0
    began = time.perf_counter()
    for hour in range(hours):
        marks += len(model.chain("BTC", START + timedelta(hours=hour + 1)))
    return marks / (time.perf_counter() - began)


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=float, default=365.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    warm_up()

    began = time.perf_counter()
    source = SyntheticSource(seed=args.seed, start=START, days=args.days)
    panel = source.load_panel(underlying="BTC")
    generated = time.perf_counter()
    simulator = CoveredCallSimulator(panel)
    result = simulator.simulate_policy(BacktestConfig())
    single_run_s = time.perf_counter() - began
    generation_s = generated - began
    policy_s = single_run_s - generation_s
    marks_per_s = panel.n_rows / generation_s

    spec = GridSpec(axes=GRID_AXES, rank_by="sharpe")
    began = time.perf_counter()
    grid_panel = SyntheticSource(seed=args.seed, start=START, days=args.days).load_panel(
        underlying="BTC"
    )
    rows = run_grid(CoveredCallSimulator(grid_panel), spec)
    grid_s = time.perf_counter() - began

    reference = reference_marks_per_s()
    print(f"panel: {len(panel.times)} hours, {panel.n_rows:,} call marks, {generation_s:.2f} s")
    print(f"  vectorised pricing {marks_per_s:,.0f} marks/s vs MarketModel.chain per hour")
    print(f"  {reference:,.0f} marks/s: x{marks_per_s / reference:.1f}")
    print(
        f"single run: {single_run_s:.2f} s (generation {generation_s:.2f} s, policy+metrics "
        f"{policy_s * 1000:.0f} ms), {result.metrics.num_trades} trades "
        f"(target <= {TARGETS['single_run_s']} s)"
    )
    print(
        f"grid: {spec.size} combinations in {grid_s:.2f} s incl. data "
        f"({(grid_s - generation_s) / spec.size * 1000:.1f} ms per run; "
        f"target <= {TARGETS['grid_300_s']} s); best by Sharpe: {rows[0].params}"
    )
    print(
        json.dumps(
            {
                "single_run_s": round(single_run_s, 3),
                "grid_300_s": round(grid_s, 3),
                "marks_per_s": round(marks_per_s),
                "generation_s": round(generation_s, 3),
                "policy_ms": round(policy_s * 1000, 1),
                "reference_marks_per_s": round(reference),
                "speedup_vs_reference": round(marks_per_s / reference, 1),
                "marks": panel.n_rows,
                "trades": result.metrics.num_trades,
            }
        )
    )


if __name__ == "__main__":
    main()

"""Selector research speed: a 20x20 selector heatmap over a year of hourly synthetic decisions.

Run: .venv/bin/python bench/research.py [--days 365] [--seed 7]

Measured in one process, 2 cores at most (numpy):
- heatmap_400_s: a fresh year of hourly synthetic chains (calls up to 35 DTE) plus the pass
  rate of 400 (delta max x IV/RV min) cells (`backtests.domain.research.selector_pass_rates`):
  what a researcher waits for. Target <= 20 s.
- cells_only_s: the 400 cells alone, on the built panel.
- funnel_s: the selector funnel (six filters, alone and cumulative) on the same panel.
- reference_cell_s: one cell the obvious way (`rejection_flags` on the whole panel with the
  cell's parameters, then a per-time any), for the ratio against the vectorised cells.
Last line: JSON {"heatmap_400_s", "cells_only_s", "funnel_s", "reference_cell_s",
"cells_speedup"}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from backtests.domain.research import selector_funnel, selector_pass_rates
from backtests.domain.simulator import CoveredCallSimulator
from backtests.domain.sources.synthetic import SyntheticSource
from backtests.domain.types import BacktestConfig
from trading.domain.candidates import rejection_flags


def main() -> None:
    """Print the figures, then the JSON line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=float, default=365.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    config = BacktestConfig()
    x_values = [float(v) for v in np.linspace(0.15, 0.5, 20)]
    y_values = [float(v) for v in np.linspace(0.6, 1.6, 20)]
    start = datetime(2025, 1, 1, tzinfo=UTC)

    began = time.perf_counter()
    panel = SyntheticSource(seed=args.seed, start=start, days=args.days).load_panel(
        underlying="BTC"
    )
    simulator = CoveredCallSimulator(panel)
    cells_began = time.perf_counter()
    heatmap = selector_pass_rates(simulator, config, "delta_max", x_values, "ivrv_min", y_values)
    done = time.perf_counter()
    funnel_began = time.perf_counter()
    selector_funnel(simulator, config.strategy, config)
    funnel_s = time.perf_counter() - funnel_began

    ref_began = time.perf_counter()
    strategy = config.strategy.model_copy(update={"delta_max": x_values[7], "ivrv_min": 1.0})
    flags = rejection_flags(simulator.candidate_chain(config.fill), strategy, rv=panel.row_rv())
    np.bincount(panel.row_time[flags == 0], minlength=len(panel.times))
    reference_cell_s = time.perf_counter() - ref_began

    cells_only_s = done - cells_began
    figures = {
        "heatmap_400_s": round(done - began, 3),
        "cells_only_s": round(cells_only_s, 3),
        "funnel_s": round(funnel_s, 3),
        "reference_cell_s": round(reference_cell_s, 4),
        "cells_speedup": round(reference_cell_s * 400 / cells_only_s, 1),
        "rows": panel.n_rows,
        "decision_times": len(panel.times),
        "max_pass_rate": max(v for line in heatmap.values for v in line if v is not None),
    }
    print(
        f"{panel.n_rows:,} marks, 400 cells in {cells_only_s:.2f} s (panel included:"
        f" {figures['heatmap_400_s']:.2f} s)"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

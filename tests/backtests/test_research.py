"""Selector funnel and heatmap (issue 15) against direct counts on the real snapshots."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from backtests.domain.panel import ChainPanel
from backtests.domain.research import (
    heatmap_cell_metrics,
    selector_funnel,
    selector_pass_rates,
)
from backtests.domain.simulator import CoveredCallSimulator
from backtests.domain.sources.snapshots import ParquetSnapshotSource
from backtests.domain.sources.synthetic import SyntheticSource
from backtests.domain.types import BacktestConfig
from trading.domain.candidates import StrategyParams

CONFIG = BacktestConfig(strategy=StrategyParams.research())


@pytest.fixture(scope="module")
def real(shared_dir: Path) -> CoveredCallSimulator:
    root = shared_dir / "data" / "deribit"
    source = ParquetSnapshotSource(root / "snapshots", volatility_dir=root / "volatility_history")
    return CoveredCallSimulator(source.load_panel(underlying="ETH"))


def _direct_times(panel: ChainPanel, keep) -> int:
    """Decision times (hourly grid) with at least one row where `keep(row)` holds, by loops."""
    decisions = set(np.flatnonzero(panel.decision_mask(1.0)).tolist())
    hits = set()
    for row in range(panel.n_rows):
        t = int(panel.row_time[row])
        if t in decisions and t not in hits and keep(row):
            hits.add(t)
    return len(hits)


def test_the_funnel_agrees_with_a_direct_count_on_real_snapshots(real) -> None:
    panel = real.panel
    s = CONFIG.strategy
    # The backtest sells at the bid, or at the mark less the 5% haircut when the bid is empty.
    bid = np.where(panel.bid_coin > 0, panel.bid_coin, panel.mark_coin * 0.95)

    n, steps = selector_funnel(real, s, CONFIG)
    by_name = {step.name: step for step in steps}

    def usable(row: int) -> bool:
        j = panel.row_instrument[row]
        ok = bool(panel.is_call[j]) and np.isfinite(panel.delta[row])
        return (
            ok and np.isfinite(panel.rv[panel.row_time[row]]) and panel.rv[panel.row_time[row]] > 0
        )

    def delta_ok(row: int) -> bool:
        return usable(row) and s.delta_min <= panel.delta[row] <= s.delta_max

    def dte_ok(row: int) -> bool:
        return s.dte_min_days <= panel.dte_days[row] <= s.dte_max_days

    assert n == int(panel.decision_mask(1.0).sum())
    assert by_name["delta"].alone_times == _direct_times(panel, delta_ok)
    assert by_name["dte"].cumulative_times == _direct_times(
        panel, lambda r: delta_ok(r) and dte_ok(r)
    )
    assert by_name["premium"].alone_times == _direct_times(
        panel,
        lambda r: usable(r) and bid[r] > 0 and bid[r] * panel.spot_usd[panel.row_time[r]] >= 50,
    )
    cumulative = [step.cumulative for step in steps]
    assert cumulative == sorted(cumulative, reverse=True)


def test_heatmap_cells_agree_with_a_direct_count_on_real_snapshots(real) -> None:
    panel = real.panel
    config = CONFIG.model_copy(
        update={"strategy": CONFIG.strategy.model_copy(update={"ivrv_min": 0.0})}
    )
    heatmap = selector_pass_rates(
        real, config, "delta_max", [0.2, 0.4], "max_spread_pct", [0.05, 0.15]
    )
    n = int(panel.decision_mask(1.0).sum())
    spread = (panel.ask_coin - panel.bid_coin) / (0.5 * (panel.ask_coin + panel.bid_coin))

    def cell(delta_max: float, max_spread: float):
        def keep(r: int) -> bool:
            j = panel.row_instrument[r]
            sell = panel.bid_coin[r] if panel.bid_coin[r] > 0 else panel.mark_coin[r] * 0.95
            premium = sell * panel.spot_usd[panel.row_time[r]]
            oi = panel.open_interest[r]
            return (
                bool(panel.is_call[j])
                and np.isfinite(panel.delta[r])
                and 0.1 <= panel.delta[r] <= delta_max
                and 1 <= panel.dte_days[r] <= 21
                and premium >= 50
                and not spread[r] > max_spread
                and not oi < 50
                and np.isfinite(panel.rv[panel.row_time[r]])
            )

        return round(_direct_times(panel, keep) / n, 6)

    assert heatmap.values[0][1] == cell(0.4, 0.05)
    assert heatmap.values[1][0] == cell(0.2, 0.15)
    wide, narrow = heatmap.values[1][1], heatmap.values[0][1]
    assert wide is not None
    assert narrow is not None
    assert wide >= narrow


def test_a_heatmap_cell_simulates_trades_sharpe_and_pnl() -> None:
    source = SyntheticSource(seed=2, start=datetime(2025, 3, 1, tzinfo=UTC), days=20)
    simulator = CoveredCallSimulator(source.load_panel(underlying="BTC"))

    cell = heatmap_cell_metrics(simulator, CONFIG, "delta_max", 0.3, "ivrv_min", 0.0)

    trades = cell["num_trades"]
    assert trades is not None
    assert trades > 0
    assert cell["net_profit_usd"] is not None

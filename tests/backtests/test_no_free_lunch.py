"""No free lunch: with zero volatility risk premium, selling calls earns nothing but costs.

The synthetic market is made fair: realised vol equals implied (constant IV, no jumps, flat
smile, no forward basis, no drift). Then the premium of a call equals its expected payoff, so the
mean edge of selling it is zero at the mark and slightly negative after spread and fees. A market
where implied vol is rich earns a clear edge, which shows the test can tell the two apart.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from backtests.domain.panel import ChainPanel
from backtests.domain.simulator import CoveredCallSimulator
from backtests.domain.sources.synthetic import SyntheticSource
from backtests.domain.types import BacktestConfig, ExitPolicy, FillModel
from tests.backtests.helpers import HandFees
from trading.domain.candidates import StrategyParams
from trading.domain.market_model import MarketModelParams

START = datetime(2024, 1, 1, 8, tzinfo=UTC)
# One-day calls sold at 08:00 and held to the next day's 08:00 expiry: 365 independent bets.
DAILY_CALLS = StrategyParams(
    delta_min=0.2,
    delta_max=0.5,
    dte_min_days=0.9,
    dte_max_days=1.1,
    ivrv_min=0.0,
    premium_min_usd=0.0,
    explore_prob=0.0,
    explore_top_k=1,
    target_delta=0.35,
)


def _market(realized_to_implied: float) -> MarketModelParams:
    base = MarketModelParams()
    btc = base.currencies["BTC"].model_copy(
        update={
            "realized_to_implied": realized_to_implied,
            "atm_iv_vol_hourly": 0.0,
            "jump_intensity_per_year": 0.0,
            "skew": 0.0,
            "smile_curvature": 0.0,
            "term_exponent": 0.0,
            "basis_per_year": 0.0,
            "drift_per_year": 0.0,
        }
    )
    return base.model_copy(update={"currencies": {"BTC": btc}})


def _panel(realized_to_implied: float, seed: int) -> ChainPanel:
    source = SyntheticSource(
        params=_market(realized_to_implied), seed=seed, start=START, days=365, max_dte_days=2
    )
    return source.load_panel(underlying="BTC")


def _mark_edges_usd(panel: ChainPanel) -> tuple[np.ndarray, np.ndarray]:
    """(edge, premium) in USD of every 1-day call between 0.2 and 0.5 delta, at the mark.

    The edge includes a one-off delta hedge, delta x (S_T - S_0): it has zero mean when spot is
    a martingale, so it leaves the mean edge unchanged and removes most of its noise.
    """
    rows = np.flatnonzero(
        (np.abs(panel.dte_days - 1.0) < 1e-9) & (panel.delta > 0.2) & (panel.delta < 0.5)
    )
    j = panel.row_instrument[rows]
    settle = panel.settlement_usd[j]
    rows, j, settle = rows[np.isfinite(settle)], j[np.isfinite(settle)], settle[np.isfinite(settle)]
    premium = panel.mark_coin[rows] * panel.spot_usd[panel.row_time[rows]]
    payoff = np.maximum(settle - panel.strike[j], 0.0)
    hedge = panel.delta[rows] * (settle - panel.spot_usd[panel.row_time[rows]])
    return premium - payoff + hedge, premium


@pytest.fixture(scope="module")
def fair_panels() -> list[ChainPanel]:
    return [_panel(1.0, seed) for seed in (1, 2)]


def test_it_finds_no_edge_at_the_mark_without_a_risk_premium(fair_panels) -> None:
    edges, premiums = zip(*(_mark_edges_usd(p) for p in fair_panels), strict=True)
    edge, premium = np.concatenate(edges), np.concatenate(premiums)

    relative = edge.mean() / premium.mean()
    # Strikes of the same day share one outcome: count days, not rows, as independent.
    days = len(edge) / 2
    standard_error = edge.std(ddof=1) / np.sqrt(days) / premium.mean()
    assert len(edge) > 600
    print(f"mark edge {relative:+.3%} of premium, standard error {standard_error:.3%}")
    assert abs(relative) < max(3 * standard_error, 0.02), (relative, standard_error)


def test_it_loses_about_the_costs_after_spread_and_fees(fair_panels) -> None:
    config = BacktestConfig(
        strategy=DAILY_CALLS,
        exit=ExitPolicy(),
        fill=FillModel(style="bid_ask"),
        decision_interval_hours=1.0,
    )
    pnl, premium, costs = [], [], []
    for panel in fair_panels:
        result = CoveredCallSimulator(panel, fee_model=HandFees()).simulate_policy(config)
        for trade in result.trades:
            pnl.append(trade.pnl_usd)
            premium.append(trade.premium_usd)
            half_spread = (trade.entry_mark_coin - trade.entry_price_coin) * trade.spot_entry_usd
            costs.append(trade.fees_usd + half_spread)
    pnl_arr, premium_arr, costs_arr = np.array(pnl), np.array(premium), np.array(costs)

    edge_before_costs = (pnl_arr + costs_arr).mean() / premium_arr.mean()
    standard_error = pnl_arr.std(ddof=1) / np.sqrt(len(pnl_arr)) / premium_arr.mean()
    print(
        f"{len(pnl_arr)} trades: before costs {edge_before_costs:+.3%}, after costs "
        f"{pnl_arr.mean() / premium_arr.mean():+.3%} of premium (se {standard_error:.3%})"
    )
    assert len(pnl_arr) > 600
    assert abs(edge_before_costs) < max(3 * standard_error, 0.02)
    # After costs the mean is the costs, give or take noise: never a free lunch.
    assert pnl_arr.mean() / premium_arr.mean() < 2 * standard_error
    assert costs_arr.mean() > 0


def test_it_finds_a_clear_edge_when_implied_vol_is_rich() -> None:
    rich = _panel(0.7, seed=1)  # realised vol 30% below implied

    edge, premium = _mark_edges_usd(rich)

    print(f"rich-vol edge {edge.mean() / premium.mean():+.3%} of premium")
    assert edge.mean() / premium.mean() > 0.15

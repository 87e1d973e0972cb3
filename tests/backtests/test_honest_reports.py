"""Reports that say what happened (issue 12): capital from the coin put in, fallback fills
flagged and counted, settlements across data gaps named, and trade P&L vs excess over
buy-and-hold explained."""

from __future__ import annotations

from pathlib import Path

import pytest

from backtests.domain.simulator import (
    PNL_VS_BUY_AND_HOLD,
    CoveredCallSimulator,
    settlement_assumption,
)
from backtests.domain.sources.snapshots import ParquetSnapshotSource
from backtests.domain.types import BacktestConfig
from tests.backtests.helpers import (
    ANY_CALL,
    CALL,
    HandFees,
    Quote,
    exit_config,
    hand_panel,
    hand_quotes,
    one_call_sim,
    spot_to,
)


def test_returns_start_from_the_coin_put_in_before_the_first_sale() -> None:
    result = one_call_sim(95_000, ask_at=lambda h: 0.0110 - h * 0.0003).simulate_policy(
        exit_config()
    )
    metrics = result.metrics

    # 1 BTC at 95,000 put in; the call is sold at the first hour and expires worthless.
    assert metrics.initial_capital_usd == pytest.approx(95_000.0)
    assert metrics.total_return_pct == pytest.approx(0.0097)
    assert metrics.overlay_return_coin_pct == pytest.approx(0.0097)
    # The first point already paid the half-spread and fee: the drawdown starts at the sale.
    assert metrics.max_drawdown_pct == pytest.approx((1 + 0.0100 - 0.0003 - 0.0105) - 1, abs=1e-9)


def test_a_fill_from_an_empty_book_side_is_flagged_and_counted() -> None:
    quotes = hand_quotes(lambda h: 0.0110)
    # Hour 0 has no bid: the sale falls back to the mark minus the haircut.
    quotes[0] = Quote(0, 0, bid=float("nan"), ask=0.0110, mark=0.0105)
    panel = hand_panel(spot=spot_to(98_000), listings=[CALL], quotes=quotes)
    simulator = CoveredCallSimulator(panel, fee_model=HandFees())

    result = simulator.simulate_policy(BacktestConfig(strategy=ANY_CALL))

    (trade,) = result.trades
    assert trade.fallback_fill
    assert trade.entry_price_coin == pytest.approx(0.0105 * 0.95)
    assert result.metrics.fallback_fills == 1
    assert (
        "1 of 1 trade(s) filled at least one side from the fallback"
        in (result.assumptions["fills"])
    )
    assert trade.as_dict()["fallback_fill"] is True


def test_a_fill_from_the_book_is_not_flagged() -> None:
    result = one_call_sim(98_000).simulate_policy(exit_config())

    assert not result.trades[0].fallback_fill
    assert result.metrics.fallback_fills == 0
    assert "0 of 1 trade(s)" in result.assumptions["fills"]


def test_the_settlement_assumption_names_expiries_settled_across_a_gap() -> None:
    text = settlement_assumption({"settlement_gaps_hours": {"2025-12-08": 3.5}})

    assert "settled by interpolation across a data gap: 2025-12-08 (3.5 h" in text
    assert "no expiry fell in a gap" in settlement_assumption({"settlement_gaps_hours": {}})


def test_a_real_snapshot_run_states_its_settlement_gaps(shared_dir: Path) -> None:
    root = shared_dir / "data" / "deribit"
    panel = ParquetSnapshotSource(root / "snapshots").load_panel(underlying="ETH")
    gaps = panel.provenance.details["settlement_gaps_hours"]

    assumptions = CoveredCallSimulator(panel).assumptions(BacktestConfig(underlying="ETH"))

    for day in gaps:
        assert day in assumptions["settlement"]
    assert ("across a data gap" in assumptions["settlement"]) == bool(gaps)


def test_every_report_explains_trade_pnl_against_excess_over_buy_and_hold() -> None:
    result = one_call_sim(98_000).simulate_policy(exit_config())

    assert result.assumptions["pnl_vs_buy_and_hold"] == PNL_VS_BUY_AND_HOLD
    assert "revalued" in PNL_VS_BUY_AND_HOLD

"""Strategy-report metrics and the too-good-to-be-true flags."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backtests.domain.metrics import (
    compute_metrics,
    daily_closes,
    max_drawdown,
    max_runup,
    sharpe_ratio,
    sortino_ratio,
    too_good_flags,
    worst_window_return,
)
from backtests.domain.types import EquityCurve, ExitReason, SimulatedTrade

DAY = 86_400.0


def _trade(pnl_coin: float, *, reason: ExitReason = ExitReason.EXPIRED_OTM) -> SimulatedTrade:
    """A 1-coin trade at spot 100 whose option-leg P&L is `pnl_coin` (no fees)."""
    return SimulatedTrade(
        instrument_name="X",
        strike=110.0,
        expiry_ts=DAY,
        entry_ts=0.0,
        exit_ts=DAY,
        exit_reason=reason,
        quantity_coin=1.0,
        entry_price_coin=0.02,
        exit_price_coin=0.02 - pnl_coin,
        entry_mark_coin=0.02,
        spot_entry_usd=100.0,
        spot_exit_usd=100.0,
        fees_coin=0.0,
        fees_usd=0.0,
        delta_entry=0.2,
        iv_entry=0.5,
        dte_entry_days=1.0,
    )


def _curve(equity_usd: list[float], spot: float = 100.0) -> EquityCurve:
    n = len(equity_usd)
    return EquityCurve(
        times=np.arange(n, dtype=np.float64) * DAY,
        spot_usd=np.full(n, spot),
        equity_coin=np.asarray(equity_usd) / spot,
        in_position=np.array([i % 2 == 0 for i in range(n)]),
    )


def test_it_measures_drawdown_its_duration_and_the_best_run_up() -> None:
    times = np.arange(6, dtype=np.float64) * DAY
    equity = np.array([100.0, 120.0, 90.0, 100.0, 130.0, 117.0])

    worst, worst_usd, days = max_drawdown(times, equity)

    assert worst == pytest.approx(90 / 120 - 1)
    assert worst_usd == pytest.approx(-30.0)
    assert days == pytest.approx(3.0)  # from the 120 high (day 1) to the next high (day 4)
    assert max_runup(equity) == pytest.approx(130 / 90 - 1)


def test_it_annualises_sharpe_and_sortino_over_365_days() -> None:
    returns = np.array([0.01, -0.005, 0.02, 0.0, -0.01])

    expected = returns.mean() / returns.std(ddof=1) * math.sqrt(365)
    downside = math.sqrt(np.mean(np.minimum(returns, 0) ** 2))
    assert sharpe_ratio(returns) == pytest.approx(expected)
    assert sortino_ratio(returns) == pytest.approx(returns.mean() / downside * math.sqrt(365))
    assert math.isnan(sharpe_ratio(np.array([0.01])))
    assert math.isnan(sharpe_ratio(np.zeros(5)))


def test_it_takes_the_last_value_of_each_utc_day() -> None:
    times = np.array([0.0, 3_600.0, DAY + 10, DAY + 20, 2 * DAY])
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0])

    np.testing.assert_array_equal(daily_closes(times, values), [2.0, 4.0, 5.0])


def test_it_finds_the_worst_week() -> None:
    times = np.arange(15, dtype=np.float64) * DAY
    equity = np.array([100.0] * 5 + [80.0] * 5 + [100.0] * 5)

    assert worst_window_return(times, equity) == pytest.approx(-0.2)


def test_it_reports_trade_statistics_like_a_strategy_tester() -> None:
    trades = [
        _trade(0.01),
        _trade(0.01),
        _trade(-0.03, reason=ExitReason.EXPIRED_ITM),
        _trade(0.02),
        _trade(-0.01, reason=ExitReason.STOP_LOSS),
        _trade(-0.01, reason=ExitReason.STOP_LOSS),
    ]
    metrics = compute_metrics(_curve([100, 101, 99, 103, 102, 104]), trades, initial_coin=1.0)

    assert metrics.num_trades == 6
    assert metrics.net_profit_usd == pytest.approx(-1.0)
    assert metrics.gross_profit_usd == pytest.approx(4.0)
    assert metrics.gross_loss_usd == pytest.approx(-5.0)
    assert metrics.profit_factor == pytest.approx(0.8)
    assert metrics.win_rate == pytest.approx(0.5)
    assert metrics.avg_win_usd == pytest.approx(4 / 3)
    assert metrics.largest_loss_usd == pytest.approx(-3.0)
    assert (metrics.max_consecutive_wins, metrics.max_consecutive_losses) == (2, 2)
    assert metrics.expectancy_usd == pytest.approx(-1 / 6)
    assert metrics.assignment_rate == pytest.approx(1 / 4)  # 4 settled, 1 in the money
    assert metrics.premium_collected_usd == pytest.approx(12.0)
    assert metrics.total_return_pct == pytest.approx(0.04)
    assert metrics.buy_and_hold_return_pct == 0.0
    assert metrics.exposure_pct == pytest.approx(0.5)
    assert metrics.return_on_capital_pct == pytest.approx(-0.01)


def test_it_serialises_undefined_values_as_none() -> None:
    metrics = compute_metrics(_curve([100.0, 100.0]), [], initial_coin=1.0)

    record = metrics.as_dict()
    assert record["profit_factor"] is None
    assert record["num_trades"] == 0


def test_it_flags_results_that_look_too_good() -> None:
    equity = 100 * np.cumprod(np.tile([1.004, 1.002], 30))  # steady, never falls
    trades = [_trade(0.01) for _ in range(25)]
    metrics = compute_metrics(_curve(list(equity)), trades, initial_coin=1.0)

    codes = {flag.code for flag in too_good_flags(metrics)}
    assert {"sharpe_too_high", "win_rate_too_high", "no_drawdown", "fees_suspiciously_low"} <= codes
    assert "too_few_trades" not in codes


def test_it_flags_thin_samples() -> None:
    metrics = compute_metrics(_curve([100.0, 99.0, 100.5]), [_trade(0.01)], initial_coin=1.0)

    codes = {flag.code for flag in too_good_flags(metrics)}
    assert {"too_few_trades", "short_sample"} <= codes
    with pytest.raises(ValueError, match="at least one point"):
        compute_metrics(_curve([]), [], initial_coin=1.0)


def test_format_metric_shows_fractions_as_percent_and_money_as_dollars():
    from backtests.domain.metrics import format_metric

    assert format_metric("total_return_pct", -0.3668) == "\u221236.7%"
    assert format_metric("max_drawdown_pct", -0.305) == "\u221230.5%"
    assert format_metric("win_rate", 0.8843) == "88.4%"
    assert format_metric("fees_pct_of_premium", 0.094) == "9.4%"
    assert format_metric("net_profit_usd", 7120.4) == "$7,120"
    assert format_metric("net_profit_usd", -7120.4) == "\u2212$7,120"
    assert format_metric("num_trades", 121) == "121"
    assert format_metric("sharpe", 1.2184) == "1.22"
    assert format_metric("profit_factor", float("inf")) == "\u221e"
    assert format_metric("sharpe", float("nan")) == "n/a"
    assert format_metric("sharpe", None) == "n/a"

"""Market context: returns, realized volatility 7/30 days and the regime labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from trading.domain.context import (
    ContextParams,
    Regime,
    VolTrend,
    classify_regime,
    classify_vol_trend,
    context_age,
    market_context,
)

START = datetime(2025, 6, 1, tzinfo=UTC)


def hourly(values: np.ndarray, start: datetime = START) -> pd.Series:
    index = pd.date_range(start, periods=len(values), freq="h", tz="UTC")
    return pd.Series(values, index=index)


def gbm(days: int, sigma: float, seed: int = 1, drift_per_day: float = 0.0) -> pd.Series:
    """Hourly geometric Brownian motion from 90,000 USD with annual vol `sigma`."""
    rng = np.random.default_rng(seed)
    n = days * 24
    step = sigma / np.sqrt(365 * 24)
    log_path = np.cumsum(rng.normal(drift_per_day / 24, step, n))
    return hourly(90_000 * np.exp(np.concatenate([[0.0], log_path])))


def test_realized_vol_recovers_the_volatility_of_a_random_walk() -> None:
    context = market_context(gbm(60, sigma=0.50), underlying="btc")
    assert context.underlying == "BTC"
    assert context.rv_30d == pytest.approx(0.50, abs=0.05)
    assert context.rv_7d == pytest.approx(0.50, abs=0.10)
    assert context.sample_hours == pytest.approx(1.0)
    assert context.rv_30d is not None
    assert context.rv_30d_pct == pytest.approx(100 * context.rv_30d)


def test_daily_samples_are_annualised_by_their_own_frequency() -> None:
    rng = np.random.default_rng(3)
    closes = 90_000 * np.exp(np.cumsum(rng.normal(0, 0.6 / np.sqrt(365), 400)))
    series = pd.Series(closes, index=pd.date_range(START, periods=400, freq="D", tz="UTC"))
    context = market_context(series, underlying="BTC")
    assert context.sample_hours == pytest.approx(24.0)
    assert context.rv_30d == pytest.approx(0.6, abs=0.2)


def test_returns_are_measured_over_calendar_days() -> None:
    prices = hourly(np.linspace(100.0, 160.0, 31 * 24 + 1))
    context = market_context(prices, underlying="ETH")
    per_hour = 60.0 / (31 * 24)
    assert context.last_price_usd == pytest.approx(160.0)
    assert context.return_1d_pct == pytest.approx((160 / (160 - 24 * per_hour) - 1) * 100)
    assert context.return_7d_pct == pytest.approx((160 / (160 - 7 * 24 * per_hour) - 1) * 100)
    assert context.return_30d_pct == pytest.approx((160 / (160 - 30 * 24 * per_hour) - 1) * 100)


def test_a_steady_rally_is_a_bull_regime() -> None:
    prices = gbm(250, sigma=0.2, drift_per_day=0.01)
    context = market_context(prices, underlying="BTC")
    assert context.regime is Regime.BULL
    assert context.ma_long_days_used == 200


def test_a_steady_sell_off_is_a_bear_regime() -> None:
    context = market_context(gbm(250, sigma=0.2, drift_per_day=-0.01), underlying="BTC")
    assert context.regime is Regime.BEAR


def test_a_flat_market_is_sideways() -> None:
    context = market_context(gbm(250, sigma=0.2, seed=5), underlying="BTC")
    assert context.regime is Regime.SIDEWAYS


def test_a_short_history_leaves_unknown_fields_empty() -> None:
    context = market_context(gbm(3, sigma=0.5), underlying="BTC")
    assert context.return_1d_pct is not None
    assert context.return_7d_pct is None
    assert context.return_30d_pct is None
    assert context.rv_7d is None
    assert context.rv_30d is None
    assert context.regime is Regime.SIDEWAYS
    assert context.vol_trend is None
    assert context.ma_long_days_used == pytest.approx(3.0)
    assert "n/a" in context.summary()


def test_it_never_looks_ahead_of_as_of() -> None:
    prices = gbm(60, sigma=0.5)
    cut = START + timedelta(days=40)
    context = market_context(prices, underlying="BTC", as_of=cut)
    assert context.as_of == cut
    assert context.last_price_usd == pytest.approx(float(prices[prices.index <= cut].iloc[-1]))
    truncated = market_context(prices[prices.index <= cut], underlying="BTC")
    assert truncated.rv_30d == context.rv_30d


def test_rising_short_term_volatility_is_flagged() -> None:
    calm = gbm(40, sigma=0.2, seed=2)
    rng = np.random.default_rng(9)
    wild = calm.iloc[-1] * np.exp(np.cumsum(rng.normal(0, 1.0 / np.sqrt(365 * 24), 7 * 24)))
    index = pd.date_range(calm.index[-1] + timedelta(hours=1), periods=len(wild), freq="h")
    prices = pd.concat([calm, pd.Series(wild, index=index)])
    context = market_context(prices, underlying="BTC")
    assert context.vol_trend is VolTrend.RISING
    assert "vol rising" in context.summary()


def test_it_drops_missing_and_non_positive_prices_and_sorts() -> None:
    prices = gbm(10, sigma=0.5)
    messy = pd.concat([prices.iloc[::-1], hourly(np.array([np.nan, -1.0, 0.0]))])
    assert market_context(messy, underlying="BTC") == market_context(prices, underlying="BTC")


def test_it_refuses_naive_timestamps_and_too_few_prices() -> None:
    naive = pd.Series([1.0, 2.0], index=pd.date_range("2025-01-01", periods=2, freq="h"))
    with pytest.raises(ValueError, match="timezone-aware"):
        market_context(naive, underlying="BTC")
    with pytest.raises(ValueError, match="two positive prices"):
        market_context(hourly(np.array([1.0])), underlying="BTC")


@pytest.mark.parametrize(
    ("from_ma", "ret_30d", "regime"),
    [
        (5.1, 10.1, Regime.BULL),
        (5.0, 20.0, Regime.SIDEWAYS),
        (8.0, 10.0, Regime.SIDEWAYS),
        (-5.1, -10.1, Regime.BEAR),
        (-8.0, 12.0, Regime.SIDEWAYS),
        (None, 30.0, Regime.SIDEWAYS),
    ],
)
def test_the_seed_regime_thresholds(from_ma: float | None, ret_30d: float, regime: Regime) -> None:
    assert classify_regime(from_ma, ret_30d, ContextParams()) is regime


def test_vol_trend_thresholds() -> None:
    params = ContextParams()
    assert classify_vol_trend(0.50, 0.40, params) is VolTrend.RISING
    assert classify_vol_trend(0.32, 0.40, params) is VolTrend.FALLING
    assert classify_vol_trend(0.40, 0.40, params) is VolTrend.STABLE
    assert classify_vol_trend(None, 0.40, params) is None


def test_the_context_age_feeds_the_freshness_check() -> None:
    context = market_context(gbm(2, sigma=0.5), underlying="BTC")
    assert context_age(context, context.as_of + timedelta(minutes=3)) == timedelta(minutes=3)

"""Market measures: realized vol, IV rank, indicators, ATM term structure and 25-delta skew."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from trading.domain import black76, measures
from trading.domain.chain import CHAIN_COLUMNS, enrich_chain


def _gbm(n: int, vol: float, periods_per_year: float, seed: int = 1) -> pd.Series:
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0, vol / math.sqrt(periods_per_year), n)
    index = pd.date_range("2025-01-01", periods=n + 1, freq="D", tz="UTC")
    return pd.Series(100.0 * np.exp(np.concatenate([[0.0], np.cumsum(returns)])), index=index)


def test_close_to_close_vol_recovers_the_simulated_vol() -> None:
    close = _gbm(20_000, 0.6, 365.0)
    rv = measures.realized_vol_close_to_close(close, 20_000, 365.0)
    assert rv.iloc[-1] == pytest.approx(0.6, rel=0.02)
    assert rv.iloc[:-1].isna().all()
    zero_mean = measures.realized_vol_close_to_close(close, 30, 365.0, demean=False)
    assert zero_mean.notna().sum() == len(close) - 30


def test_parkinson_vol_uses_the_high_low_range() -> None:
    index = pd.date_range("2025-01-01", periods=5, freq="D", tz="UTC")
    high = pd.Series([101.0, 102.0, 103.0, 104.0, 105.0], index=index)
    low = high / math.exp(0.02)
    rv = measures.realized_vol_parkinson(high, low, 3, 365.0)
    assert rv.iloc[-1] == pytest.approx(math.sqrt(0.02**2 / (4 * math.log(2)) * 365.0))
    assert rv.iloc[:2].isna().all()


def test_iv_rank_and_percentile_are_fractions_of_the_window() -> None:
    iv = pd.Series([40.0, 50.0, 60.0, 45.0, 60.0, 60.0])
    rank = measures.iv_rank(iv, 4)
    assert rank.iloc[3] == pytest.approx(0.25)  # (45-40)/(60-40)
    assert rank.iloc[4] == pytest.approx(1.0)
    assert rank.iloc[:3].isna().all()
    flat = measures.iv_rank(pd.Series([50.0] * 5), 3)
    assert flat.isna().all()
    pct = measures.iv_percentile(iv, 4)
    assert pct.iloc[3] == pytest.approx(1 / 3)
    assert measures.vrp(55.0, 40.0) == 15.0


def test_rsi_is_100_without_losses_and_50_for_alternating_moves() -> None:
    rising = pd.Series(np.arange(1.0, 40.0))
    assert measures.rsi(rising, 14).iloc[-1] == 100.0
    zigzag = pd.Series(100.0 + np.tile([0.0, 1.0], 200))
    assert measures.rsi(zigzag, 14).iloc[-1] == pytest.approx(50.0, abs=2.0)
    assert measures.rsi(rising, 14).iloc[:13].isna().all()


def test_adx_is_high_in_a_trend_and_low_in_a_range() -> None:
    n = 300
    trend = pd.Series(np.linspace(100.0, 400.0, n))
    adx_trend = measures.adx(trend + 1.0, trend - 1.0, trend, 14)
    rng = np.random.default_rng(0)
    flat = pd.Series(100.0 + rng.normal(0.0, 1.0, n))
    adx_flat = measures.adx(flat + 1.0, flat - 1.0, flat, 14)
    assert adx_trend.iloc[-1] > 50.0
    assert adx_flat.iloc[-1] < 30.0
    assert adx_flat.dropna().min() >= 0.0
    assert adx_trend.dropna().max() <= 100.0


def test_moving_averages() -> None:
    series = pd.Series([1.0, 2.0, 3.0, 4.0])
    assert measures.sma(series, 2).tolist()[1:] == [1.5, 2.5, 3.5]
    assert measures.ema(series, 3).iloc[-1] == pytest.approx(3.125)
    with pytest.raises(ValueError):
        measures.sma(series, 0)


def test_total_variance_interpolation_is_exact_between_and_flat_outside() -> None:
    t = [0.1, 0.5]
    iv = [0.8, 0.5]
    mid = measures.interpolate_total_variance(t, iv, [0.3])[0]
    expected_w = 0.8**2 * 0.1 + (0.5**2 * 0.5 - 0.8**2 * 0.1) * 0.5
    assert mid == pytest.approx(math.sqrt(expected_w / 0.3))
    np.testing.assert_allclose(measures.interpolate_total_variance(t, iv, [0.01, 2.0]), [0.8, 0.5])
    assert np.isnan(measures.interpolate_total_variance([], [], [0.1])).all()


def _synthetic_chain(atm: dict[float, float], skew: float) -> pd.DataFrame:
    """A chain priced from a known smile: iv(k) = atm(T) - skew·ln(K/F) (puts richer)."""
    harvest = pd.Timestamp("2025-12-10 08:00", tz="UTC")
    rows = []
    forward = 90_000.0
    for days, level in atm.items():
        expiry = harvest + pd.Timedelta(days=days)
        for strike in np.arange(50_000.0, 150_001.0, 1_000.0):
            k = math.log(strike / forward)
            vol = level - skew * k
            for cp in ("C", "P"):
                usd = float(black76.price(forward, strike, days / 365.0, vol, cp == "C"))
                rows.append(
                    {
                        "harvest_time": harvest,
                        "instrument_name": f"BTC-X-{int(strike)}-{cp}",
                        "underlying": "BTC",
                        "expiry": expiry.strftime("%Y-%m-%d"),
                        "expiry_timestamp": expiry.timestamp(),
                        "option_type": cp,
                        "strike": strike,
                        "underlying_price": forward,
                        "mark_price": usd / forward,
                        "best_bid_price": np.nan,
                        "best_ask_price": np.nan,
                        "mark_iv": 100 * vol,
                        "open_interest": 1.0,
                        "volume": 1.0,
                    }
                )
    return pd.DataFrame(rows)[list(CHAIN_COLUMNS)]


def test_chain_measures_recover_a_known_smile() -> None:
    chain = enrich_chain(_synthetic_chain({7.0: 0.60, 30.0: 0.50, 90.0: 0.45}, skew=0.1))
    table = measures.atm_iv_by_expiry(chain)
    np.testing.assert_allclose(table["atm_iv"], [0.60, 0.50, 0.45], atol=2e-4)
    term = measures.atm_iv_term(chain, [7, 30, 60])
    assert term.loc[7.0] == pytest.approx(0.60, abs=2e-4)
    w60 = 0.50**2 * 30 / 365 + (0.45**2 * 90 / 365 - 0.50**2 * 30 / 365) * 0.5
    assert term.loc[60.0] == pytest.approx(math.sqrt(w60 / (60 / 365)), abs=3e-4)
    assert measures.term_structure_spread(chain) == pytest.approx(0.10, abs=3e-4)
    skew = measures.skew_25d(chain, tenor_days=30)
    assert skew > 0  # puts at lower strikes carry the higher vol
    wings = measures.iv_at_delta_by_expiry(chain)
    assert (wings["put_iv"] > wings["call_iv"]).all()
    with pytest.raises(ValueError):
        measures.iv_at_delta_by_expiry(chain, 0.7)

"""POSITION_ENGINE rules per strategy, sensors' missing/stale inputs, what-if valuation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from greg.domain.position import LegState, PositionState, position_review
from greg.domain.sensors import MarketInputs, sensors_compute
from greg.domain.whatif import whatif_value

NOW = datetime(2025, 12, 10, 9, tzinfo=UTC)


def _leg(name, size, strike, kind, days=30, mark=0.01, delta=0.2, iv=None):
    return LegState(
        instrument_name=name,
        size=size,
        strike=strike,
        option_type=kind,
        expiry=NOW + timedelta(days=days),
        mark_price_coin=mark,
        delta=delta,
        iv_pct=iv,
    )


def _state(strategy, legs, index=100_000.0, credit=500.0, **kw):
    return PositionState(
        strategy=strategy,
        underlying="BTC",
        now=NOW,
        index_price=index,
        credit_usd=credit,
        legs=tuple(legs),
        **kw,
    )


def _rules(review):
    return {a.rule for a in review.actions}


def test_calendar_stops_on_a_move_takes_profit_on_iv_and_closes_before_front_expiry():
    legs = [_leg("F", -1, 100_000, "C", days=10, iv=50), _leg("B", 1, 100_000, "C", days=40, iv=48)]
    assert "stop_loss" in _rules(
        position_review(_state("STRATEGY_B_CALENDAR", legs, index=106_000, credit=-800))
    )
    assert "stop_loss" not in _rules(
        position_review(_state("STRATEGY_B_CALENDAR", legs, index=104_000, credit=-800))
    )
    crushed = [
        _leg("F", -1, 100_000, "C", days=10, iv=45),
        _leg("B", 1, 100_000, "C", days=40, iv=48),
    ]
    assert "profit_target" in _rules(
        position_review(_state("STRATEGY_B_CALENDAR", crushed, credit=-800))
    )
    unknown = [_leg("F", -1, 100_000, "C", days=10), _leg("B", 1, 100_000, "C", days=40)]
    review = position_review(_state("STRATEGY_B_CALENDAR", unknown, credit=-800))
    assert "profit: front/back IV unknown" in review.checks
    near = [
        _leg("F", -1, 100_000, "C", days=0.5, iv=50),
        _leg("B", 1, 100_000, "C", days=30, iv=48),
    ]
    assert "expiry_front_leg" in _rules(
        position_review(_state("STRATEGY_B_CALENDAR", near, credit=-800))
    )


def test_short_put_rolls_past_080_delta_and_is_assigned_by_funding():
    deep = [_leg("P", -1, 100_000, "P", delta=-0.85)]
    assert "stop_delta" in _rules(position_review(_state("STRATEGY_C_SHORT_PUT", deep)))
    expiring = [_leg("P", -1, 100_000, "P", days=0.5, delta=-0.6)]
    perp = position_review(
        _state("STRATEGY_C_SHORT_PUT", expiring, index=95_000, predicted_funding=0.0001)
    )
    assert any(a.rule == "assignment" and "perpetual" in a.reason for a in perp.actions)
    spot = position_review(
        _state("STRATEGY_C_SHORT_PUT", expiring, index=95_000, predicted_funding=-0.0001)
    )
    assert any(a.rule == "assignment" and "spot" in a.reason for a in spot.actions)
    swan = position_review(_state("STRATEGY_C_SHORT_PUT", expiring, market_change_24h_pct=-15.0))
    assert any(a.action == "HOLD" and a.rule == "black_swan" for a in swan.actions)
    weak = position_review(
        _state("STRATEGY_C_SHORT_PUT", expiring, market_change_24h_pct=-15.0, account_health=1.1)
    )
    assert weak.top.rule == "black_swan"
    assert weak.top.action == "CLOSE"


def test_iron_fly_closes_on_a_wing_and_spreads_on_the_short_strike():
    fly = [
        _leg("C", -1, 100_000, "C"),
        _leg("P", -1, 100_000, "P", delta=-0.5),
        _leg("WC", 1, 110_000, "C", delta=0.1),
        _leg("WP", 1, 90_000, "P", delta=-0.1),
    ]
    assert "stop_wing" in _rules(
        position_review(_state("STRATEGY_D_IRON_BUTTERFLY", fly, index=110_500))
    )
    assert "stop_wing" not in _rules(position_review(_state("STRATEGY_D_IRON_BUTTERFLY", fly)))
    bull = [_leg("S", -1, 95_000, "P", delta=-0.25), _leg("L", 1, 90_000, "P", delta=-0.1)]
    assert "stop_strike" in _rules(
        position_review(_state("STRATEGY_F_BULL_PUT_SPREAD", bull, index=94_000))
    )
    bear = [_leg("S", -1, 105_000, "C", delta=0.25), _leg("L", 1, 110_000, "C", delta=0.1)]
    assert "stop_strike" in _rules(
        position_review(_state("STRATEGY_F_BEAR_CALL_SPREAD", bear, index=105_000))
    )
    win = [_leg("S", -1, 105_000, "C", mark=0.001), _leg("L", 1, 110_000, "C", mark=0.0)]
    assert "profit_target" in _rules(position_review(_state("STRATEGY_F_BEAR_CALL_SPREAD", win)))


def _hourly(days, start=NOW):
    index = pd.date_range(end=start, periods=days * 24, freq="h", tz="UTC")
    rng = np.random.default_rng(1)
    return pd.Series(100_000 * np.exp(np.cumsum(rng.normal(0, 0.005, len(index)))), index=index)


def test_sensors_flag_stale_inputs_and_say_why_they_are_missing():
    old = _hourly(40, start=NOW - timedelta(hours=6))
    daily = pd.DataFrame(
        {
            "high": old.resample("1D").max(),
            "low": old.resample("1D").min(),
            "close": old.resample("1D").last(),
        }
    )
    flat = pd.Series(50.0, index=pd.date_range(end=NOW, periods=200, freq="D", tz="UTC"))
    sensors = sensors_compute(
        MarketInputs(
            underlying="BTC",
            as_of=NOW,
            hourly_close=old,
            daily=daily,
            iv_history=flat,
            funding_rate=0.0001,
            funding_time=NOW - timedelta(hours=10),
        )
    )
    assert sensors.get("vrp_30d").value is None
    assert "no option chain" in sensors.get("vrp_30d").reason
    assert sensors.get("vrp_30d").stale  # the hourly closes end 6 h ago
    assert "flat" in sensors.get("iv_rank_6m").reason
    assert sensors.get("adx_14d").value is not None
    assert sensors.get("predicted_funding_rate").stale
    short = sensors_compute(
        MarketInputs(
            underlying="BTC", as_of=NOW, hourly_close=_hourly(3), iv_history=flat.iloc[-20:]
        )
    )
    assert "needs 151 hourly closes" in short.get("vrp_7d").reason
    assert "needs 150 days of IV history" in short.get("iv_rank_6m").reason
    assert "no daily price bars" in short.get("rsi_14d").reason
    assert "no perpetual funding" in short.get("predicted_funding_rate").reason


def test_whatif_values_a_vanished_leg_at_intrinsic():
    legs = [
        {
            "instrument_name": "X-P",
            "side": "sell",
            "amount": "1",
            "price_coin": "0.02",
            "strike": 100_000,
            "option_type": "P",
            "entry_index_usd": 100_000,
        }
    ]
    gone = whatif_value(legs, marks={}, index_price=90_000)
    assert gone.legs_at_intrinsic == 1
    assert gone.pnl_usd == pytest.approx(2_000 - 10_000)
    quoted = whatif_value(legs, marks={"X-P": 0.01}, index_price=100_000)
    assert quoted.pnl_usd == pytest.approx(1_000)

"""Leg builders on a real chain; POSITION_ENGINE and HEDGE_ENGINE advice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from greg.domain.hedge import hedge_advise
from greg.domain.legs import BuildFailure, StructureQuote, structure_build, structures_build
from greg.domain.position import LegState, PositionState, position_review
from greg.domain.spec import STRATEGY_OUTCOMES
from trading.domain.chain import enrich_chain, read_snapshot
from trading.domain.instruments import default_spec, is_on_tick


@pytest.fixture(scope="module")
def btc_chain(shared_dir):
    path = sorted((shared_dir / "data/deribit/snapshots/BTC/2025-12-10").glob("*.parquet"))[10]
    chain = enrich_chain(read_snapshot(path))
    return chain, chain["harvest_time"].iloc[0].to_pydatetime()


def test_it_builds_all_seven_structures_priced_from_the_book(btc_chain):
    chain, now = btc_chain
    quotes = structures_build(chain, amount=Decimal("0.15"), now=now)
    assert set(quotes) == set(STRATEGY_OUTCOMES)
    for strategy, quote in quotes.items():
        assert isinstance(quote, StructureQuote), (strategy, quote)
        for leg in quote.legs:
            spec = default_spec(leg.instrument_name)
            assert leg.amount == Decimal("0.1")  # rounded down to the BTC option step
            assert is_on_tick(leg.price_coin, spec)
            row = chain[chain["instrument_name"] == leg.instrument_name].iloc[0]
            book = row["best_bid_price"] if leg.side == "sell" else row["best_ask_price"]
            assert float(leg.price_coin) == pytest.approx(book)
        assert quote.max_loss_usd > 0
        assert quote.margin_usd > 0


def test_strikes_follow_the_delta_targets_and_dte_windows(btc_chain):
    chain, now = btc_chain
    put = structure_build("STRATEGY_C_SHORT_PUT", chain, amount=Decimal("0.1"), now=now)
    assert isinstance(put, StructureQuote)
    short = put.legs[0]
    assert 0.20 <= abs(short.delta / float(short.amount)) <= 0.25
    spread = structure_build("STRATEGY_F_BULL_PUT_SPREAD", chain, amount=Decimal("0.1"), now=now)
    assert isinstance(spread, StructureQuote)
    sold, bought = spread.legs
    assert sold.strike > bought.strike
    assert spread.max_loss_usd == pytest.approx(
        (sold.strike - bought.strike) * 0.1 - spread.credit_usd
    )
    calendar = structure_build("STRATEGY_B_CALENDAR", chain, amount=Decimal("0.1"), now=now)
    assert isinstance(calendar, StructureQuote)
    assert 7 <= calendar.legs[0].dte_days <= 14
    assert calendar.legs[1].dte_days > calendar.legs[0].dte_days
    assert calendar.credit_usd < 0  # a debit


def test_a_structure_without_expiries_or_amount_says_why(btc_chain):
    chain, now = btc_chain
    near = chain[chain["t_years"] * 365 < 5]
    failed = structure_build("STRATEGY_A_STRADDLE", near, amount=Decimal("0.1"), now=now)
    assert isinstance(failed, BuildFailure)
    assert "DTE" in failed.reason
    tiny = structure_build("STRATEGY_A_STRADDLE", chain, amount=Decimal("0.01"), now=now)
    assert isinstance(tiny, BuildFailure)
    assert "minimum" in tiny.reason


NOW = datetime(2025, 12, 10, 9, tzinfo=UTC)


def _straddle(mark: float, index: float = 90_000.0, **kw) -> PositionState:
    expiry = NOW + timedelta(days=35)
    legs = (
        LegState(
            instrument_name="BTC-14JAN26-90000-C",
            size=-1,
            strike=90_000,
            option_type="C",
            expiry=expiry,
            mark_price_coin=mark,
            delta=0.5,
        ),
        LegState(
            instrument_name="BTC-14JAN26-90000-P",
            size=-1,
            strike=90_000,
            option_type="P",
            expiry=expiry,
            mark_price_coin=mark,
            delta=-0.5,
        ),
    )
    fields = {
        "strategy": "STRATEGY_A_STRADDLE",
        "underlying": "BTC",
        "now": NOW,
        "index_price": index,
        "credit_usd": 2 * 0.05 * 90_000,
        "legs": legs,
    }
    return PositionState(**{**fields, **kw})


def test_position_engine_takes_profit_at_half_the_credit():
    assert position_review(_straddle(0.03)).top.action == "HOLD"
    review = position_review(_straddle(0.025))  # cost 4500 = half the 9000 credit
    assert review.top.action == "CLOSE"
    assert review.top.rule == "profit_target"


def test_position_engine_stops_at_twice_the_credit_and_black_swan():
    assert position_review(_straddle(0.149)).top.rule != "stop_loss"  # loss < 2x credit
    assert position_review(_straddle(0.151)).top.rule == "stop_loss"
    swan = position_review(_straddle(0.03, market_change_24h_pct=-12.0))
    assert swan.top.rule == "black_swan"
    assert swan.top.action == "CLOSE"


def test_position_engine_rolls_under_21_dte():
    review = position_review(_straddle(0.03, now=NOW + timedelta(days=15)))
    assert any(a.rule == "expiry_dte" and a.action == "ROLL" for a in review.actions)


def test_hedge_engine_restores_delta_outside_the_band():
    quiet = hedge_advise(
        strategy="STRATEGY_A_STRADDLE",
        underlying="BTC",
        option_delta=0.1,
        perp_delta=0.0,
        size_coin=1.0,
        index_price=90_000.0,
    )
    assert not quiet.hedge
    hedge = hedge_advise(
        strategy="STRATEGY_A_STRADDLE",
        underlying="BTC",
        option_delta=0.3,
        perp_delta=0.0,
        size_coin=1.0,
        index_price=90_000.0,
    )
    assert hedge.hedge
    assert hedge.direction == "sell"
    assert hedge.amount_usd == Decimal(-27_000)  # 0.3 BTC at 90k, in 10 USD contracts
    light = hedge_advise(
        strategy="STRATEGY_B_CALENDAR",
        underlying="ETH",
        option_delta=-0.5,
        perp_delta=0.0,
        size_coin=1.0,
        index_price=3_000.0,
    )
    assert light.hedge
    assert light.target_delta == pytest.approx(-0.1)
    none = hedge_advise(
        strategy="STRATEGY_C_SHORT_PUT",
        underlying="BTC",
        option_delta=0.9,
        perp_delta=0.0,
        size_coin=1.0,
        index_price=90_000.0,
    )
    assert not none.hedge
    assert none.mode == "NONE"

"""Leg builders on a real chain; POSITION_ENGINE and HEDGE_ENGINE advice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from greg.domain.hedge import hedge_advise
from greg.domain.legs import BuildFailure, StructureQuote, structure_build, structures_build
from greg.domain.position import LegState, PositionState, position_review
from greg.domain.spec import STRATEGY_OUTCOMES
from trading.domain.chain import enrich_chain, read_snapshot
from trading.domain.instruments import default_spec, is_on_tick


def redated(shared_dir, when: datetime, day: str = "2025-12-10"):
    """A real BTC chain as if harvested at `when` (its books as they were; DTEs, IVs and greeks
    recomputed): the December listing has no expiry 17-50 days out on its own date."""
    path = sorted((shared_dir / f"data/deribit/snapshots/BTC/{day}").glob("*.parquet"))[10]
    chain = read_snapshot(path)
    chain["harvest_time"] = pd.Timestamp(when)
    return enrich_chain(chain), when


@pytest.fixture(scope="module")
def btc_chain(shared_dir):
    path = sorted((shared_dir / "data/deribit/snapshots/BTC/2025-12-10").glob("*.parquet"))[10]
    chain = enrich_chain(read_snapshot(path))
    return chain, chain["harvest_time"].iloc[0].to_pydatetime()


#: 30JAN26 at 44.8 DTE and 26DEC25 at 9.8 DTE: every window but the spreads' 20-35.
MID_DECEMBER = datetime(2025, 12, 16, 12, tzinfo=UTC)
#: 30JAN26 at 31 DTE: the spreads' window (the calendar's front has nothing at 7-14).
END_OF_DECEMBER = datetime(2025, 12, 30, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("when", "strategies"),
    [
        (MID_DECEMBER, [s for s in STRATEGY_OUTCOMES if not s.startswith("STRATEGY_F")]),
        (END_OF_DECEMBER, ["STRATEGY_F_BULL_PUT_SPREAD", "STRATEGY_F_BEAR_CALL_SPREAD"]),
    ],
)
def test_it_builds_all_seven_structures_priced_from_the_book(shared_dir, when, strategies):
    chain, now = redated(shared_dir, when)
    quotes = structures_build(chain, amount=Decimal("0.15"), now=now)
    assert set(quotes) == set(STRATEGY_OUTCOMES)
    for strategy in strategies:
        quote = quotes[strategy]
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


def test_strikes_follow_the_delta_targets_and_dte_windows(shared_dir):
    chain, now = redated(shared_dir, MID_DECEMBER)
    put = structure_build("STRATEGY_C_SHORT_PUT", chain, amount=Decimal("0.1"), now=now)
    assert isinstance(put, StructureQuote)
    short = put.legs[0]
    assert 0.20 <= abs(short.delta / float(short.amount)) <= 0.25
    assert 30 <= short.dte_days <= 45
    calendar = structure_build("STRATEGY_B_CALENDAR", chain, amount=Decimal("0.1"), now=now)
    assert isinstance(calendar, StructureQuote)
    assert 7 <= calendar.legs[0].dte_days <= 14
    assert 30 <= calendar.legs[1].dte_days <= 45
    assert calendar.credit_usd < 0  # a debit
    chain, now = redated(shared_dir, END_OF_DECEMBER)
    spread = structure_build("STRATEGY_F_BULL_PUT_SPREAD", chain, amount=Decimal("0.1"), now=now)
    assert isinstance(spread, StructureQuote)
    sold, bought = spread.legs
    assert sold.strike > bought.strike
    assert 20 <= sold.dte_days <= 35
    assert spread.max_loss_usd == pytest.approx(
        (sold.strike - bought.strike) * 0.1 - spread.credit_usd
    )


def test_no_expiry_in_the_rules_window_means_not_buildable_never_another_expiry(btc_chain):
    chain, now = btc_chain  # 2025-12-10: listed 0.6 ... 15.6, then 50.6 DTE
    quotes = structures_build(chain, amount=Decimal("0.1"), now=now)
    for strategy in ("STRATEGY_A_STRADDLE", "STRATEGY_C_SHORT_PUT", "STRATEGY_D_IRON_BUTTERFLY"):
        failed = quotes[strategy]
        assert isinstance(failed, BuildFailure), (strategy, failed)
        assert failed.reason.startswith(
            "not buildable: no listed expiry within 25-45 DTE (target 30-45); listed DTE: "
        )
        assert "15.6, 50.6" in failed.reason
    spread = quotes["STRATEGY_F_BEAR_CALL_SPREAD"]
    assert isinstance(spread, BuildFailure)
    assert "no listed expiry within 20-35 DTE" in spread.reason
    calendar = quotes["STRATEGY_B_CALENDAR"]
    assert isinstance(calendar, BuildFailure)
    assert "no listed back expiry within 25-45 DTE (target 30-45)" in calendar.reason


def test_an_allowed_expiry_outside_the_target_is_built_and_said(shared_dir):
    # 30JAN26 at 27.8 DTE: outside the straddle's target 30-45, inside the allowed 25-45.
    chain, now = redated(shared_dir, datetime(2026, 1, 2, 12, tzinfo=UTC))
    quote = structure_build("STRATEGY_A_STRADDLE", chain, amount=Decimal("0.1"), now=now)
    assert isinstance(quote, StructureQuote)
    assert all(25 <= leg.dte_days < 30 for leg in quote.legs)
    assert quote.dte_note == (
        "no expiry in the target 30-45 DTE; 27.8 DTE is inside the allowed 25-45"
    )
    chain, now = redated(shared_dir, MID_DECEMBER)
    inside = structure_build("STRATEGY_A_STRADDLE", chain, amount=Decimal("0.1"), now=now)
    assert isinstance(inside, StructureQuote)
    assert inside.dte_note == ""


def test_a_structure_below_the_minimum_amount_says_why(shared_dir):
    chain, now = redated(shared_dir, MID_DECEMBER)
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

"""Risk engine: every check, every reason, risk-reducing orders always allowed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import (
    CALL,
    CALL_2,
    LIMITS,
    NOW,
    buy,
    close_call,
    failed_names,
    make_inputs,
    make_portfolio,
    make_quote,
    open_call,
    roll_call,
    sell,
    short,
)
from trading.domain.params import Environment
from trading.domain.proposal import Proposal
from trading.domain.risk import (
    DrawdownState,
    drawdown_reset,
    drawdown_update,
    estimate_short_call_margin_usd,
    evaluate_risk,
    open_amount_capacity,
    quantize_order_amount,
)

# ------------------------------------------------------------------------------- approvals


def test_it_approves_a_covered_call_inside_every_limit() -> None:
    verdict = evaluate_risk(open_call(), make_inputs(), LIMITS)
    assert verdict.approved, verdict.reasons
    assert verdict.code == "approved"
    assert verdict.increases_risk
    names = {c.name for c in verdict.checks}
    assert {
        "kill_switch",
        "daily_drawdown",
        "portfolio_available",
        "margin_headroom",
        "margin_after_order",
        "net_delta",
        "covered_by_holdings",
        "expiry_exposure",
        "calls_per_underlying",
        "order_size_cap",
        "premium_min",
        "liquidity_spread",
        "liquidity_open_interest",
        "liquidity_book_depth",
        "instrument_quoted",
        "amount_on_step",
        "price_on_tick",
        "not_expired",
        "settlement_window",
    } <= names


def test_do_nothing_needs_no_checks() -> None:
    verdict = evaluate_risk(Proposal.do_nothing("quiet"), make_inputs(), LIMITS)
    assert verdict.approved
    assert verdict.code == "no_action"
    assert verdict.checks == ()


# -------------------------------------------------------------------- kill switch, drawdown


def test_the_kill_switch_refuses_new_calls() -> None:
    limits = LIMITS.model_copy(update={"kill_switch": True})
    verdict = evaluate_risk(open_call(), make_inputs(), limits)
    assert not verdict.approved
    assert verdict.reasons == ("kill_switch: global kill switch is ON: no new risk",)


def test_closes_stay_allowed_under_the_kill_switch_and_the_drawdown_stop() -> None:
    limits = LIMITS.model_copy(update={"kill_switch": True})
    halted = DrawdownState(day=NOW.date(), peak_equity_usd=Decimal(1), halted=True, reason="dd")
    inputs = make_inputs(portfolio=make_portfolio(positions=(short(CALL, "0.1"),)), drawdown=halted)
    verdict = evaluate_risk(close_call(), inputs, limits)
    assert verdict.approved, verdict.reasons
    assert not verdict.increases_risk


def test_a_roll_under_the_kill_switch_is_refused_for_its_new_call_only() -> None:
    limits = LIMITS.model_copy(update={"kill_switch": True})
    inputs = make_inputs(portfolio=make_portfolio(positions=(short(CALL, "0.1"),)))
    verdict = evaluate_risk(roll_call(buy(), sell(CALL_2)), inputs, limits)
    assert not verdict.approved
    assert [c.name for c in verdict.failed] == ["kill_switch"]
    assert all(c.passed for c in verdict.checks if c.leg == "close")


def test_it_never_short_circuits_and_reports_every_reason() -> None:
    limits = LIMITS.model_copy(update={"kill_switch": True})
    wide = make_quote(best_ask_coin=Decimal("0.0150"), open_interest=3.0)
    inputs = make_inputs(quotes=[wide], portfolio=make_portfolio(holdings_coin={}))
    verdict = evaluate_risk(open_call(), inputs, limits)
    assert {c.name for c in verdict.failed} >= {
        "kill_switch",
        "liquidity_spread",
        "liquidity_open_interest",
        "covered_by_holdings",
        "expiry_exposure",
    }
    assert len(verdict.reasons) == len(verdict.failed) >= 5


def test_the_daily_drawdown_stop_refuses_new_calls() -> None:
    state = DrawdownState(day=NOW.date(), peak_equity_usd=Decimal("230000"))
    limits = LIMITS.model_copy(update={"daily_drawdown_limit_pct": 10.0})
    # 200k vs a 230k peak is a 13% loss.
    assert "daily_drawdown" in failed_names(open_call(), make_inputs(drawdown=state), limits)
    calm = DrawdownState(day=NOW.date(), peak_equity_usd=Decimal("205000"))
    assert "daily_drawdown" not in failed_names(open_call(), make_inputs(drawdown=calm), limits)


def test_a_zero_drawdown_limit_disables_the_stop() -> None:
    state = DrawdownState(day=NOW.date(), peak_equity_usd=Decimal("400000"))
    limits = LIMITS.model_copy(update={"daily_drawdown_limit_pct": 0.0})
    assert "daily_drawdown" not in failed_names(open_call(), make_inputs(drawdown=state), limits)


def test_drawdown_tracking_trips_latches_across_days_and_resets_by_hand() -> None:
    state = drawdown_update(None, equity_usd=Decimal(100), now=NOW, limit_pct=5.0)
    state = drawdown_update(state, equity_usd=Decimal(110), now=NOW, limit_pct=5.0)
    assert state.peak_equity_usd == Decimal(110)
    state = drawdown_update(state, equity_usd=Decimal(106), now=NOW, limit_pct=5.0)
    assert not state.halted
    later = NOW + timedelta(hours=1)
    state = drawdown_update(state, equity_usd=Decimal(104), now=later, limit_pct=5.0)
    assert state.halted
    assert state.halted_at == later
    assert "5.45%" in state.reason
    tomorrow = NOW + timedelta(days=1)
    state = drawdown_update(state, equity_usd=Decimal(104), now=tomorrow, limit_pct=5.0)
    assert state.halted, "the stop latches until an operator resets it"
    assert state.day == tomorrow.date()
    assert state.peak_equity_usd == Decimal(104)
    reset = drawdown_reset(equity_usd=Decimal(104), now=tomorrow)
    assert not reset.halted


def test_a_new_utc_day_starts_a_new_peak() -> None:
    state = drawdown_update(None, equity_usd=Decimal(120), now=NOW, limit_pct=50.0)
    state = drawdown_update(
        state, equity_usd=Decimal(100), now=NOW + timedelta(days=1), limit_pct=50.0
    )
    assert state.peak_equity_usd == Decimal(100)


# ------------------------------------------------------------------------------ hard rails


def test_it_never_sells_more_calls_than_the_holdings_cover() -> None:
    assert "covered_by_holdings" in failed_names(open_call(sell(amount="1.1")), make_inputs())
    existing = make_portfolio(positions=(short(CALL_2, "0.95"),))
    limits = LIMITS.model_copy(update={"max_calls_per_underlying": 5})
    inputs = make_inputs(portfolio=existing)
    assert "covered_by_holdings" in failed_names(open_call(), inputs, limits)


def test_sandbox_short_calls_still_use_up_the_holdings() -> None:
    sandbox = make_portfolio(positions=(short(CALL_2, "0.95", sandbox=True),))
    limits = LIMITS.model_copy(update={"max_calls_per_underlying": 5})
    assert "covered_by_holdings" in failed_names(
        open_call(), make_inputs(portfolio=sandbox), limits
    )


def test_it_caps_short_calls_per_expiry_as_a_fraction_of_holdings() -> None:
    limits = LIMITS.model_copy(
        update={"max_expiry_exposure_frac": 0.3, "max_calls_per_underlying": 3}
    )
    same_expiry = "BTC-19DEC25-110000-C"
    portfolio = make_portfolio(positions=(short(same_expiry, "0.25"),))
    quotes = [make_quote(), make_quote(same_expiry), make_quote(CALL_2)]
    inputs = make_inputs(portfolio=portfolio, quotes=quotes)
    assert "expiry_exposure" in failed_names(open_call(), inputs, limits)
    assert "expiry_exposure" not in failed_names(open_call(sell(CALL_2)), inputs, limits)


def test_it_limits_open_calls_per_underlying_but_lets_a_roll_replace_one() -> None:
    portfolio = make_portfolio(positions=(short(CALL_2, "0.1"),))
    inputs = make_inputs(portfolio=portfolio)
    assert "calls_per_underlying" in failed_names(open_call(), inputs)
    roll = roll_call(buy(CALL_2), sell(CALL))
    assert evaluate_risk(roll, inputs, LIMITS).approved


def test_it_caps_the_order_size() -> None:
    limits = LIMITS.model_copy(update={"max_order_amount": {"BTC": Decimal("0.2")}})
    portfolio = make_portfolio(holdings_coin={"BTC": Decimal(5)})
    inputs = make_inputs(portfolio=portfolio)
    assert "order_size_cap" in failed_names(open_call(sell(amount="0.3")), inputs, limits)
    assert "order_size_cap" not in failed_names(open_call(sell(amount="0.2")), inputs, limits)


def test_mainnet_notional_caps_apply_on_mainnet_only() -> None:
    portfolio = make_portfolio(holdings_coin={"BTC": Decimal(5)})
    big = open_call(sell(amount="0.2"))  # 18,400 USD notional
    on_mainnet = make_inputs(portfolio=portfolio, environment=Environment.MAINNET)
    assert "mainnet_order_notional" in failed_names(big, on_mainnet)
    on_testnet = make_inputs(portfolio=portfolio, environment=Environment.TESTNET)
    assert {"mainnet_order_notional", "mainnet_underlying_notional"}.isdisjoint(
        c.name for c in evaluate_risk(big, on_testnet, LIMITS).checks
    )


def test_mainnet_caps_the_total_short_call_notional_per_underlying() -> None:
    limits = LIMITS.model_copy(update={"max_calls_per_underlying": 5})
    portfolio = make_portfolio(holdings_coin={"BTC": Decimal(5)}, positions=(short(CALL_2, "0.3"),))
    inputs = make_inputs(portfolio=portfolio, environment=Environment.MAINNET)
    # (0.3 + 0.1) x 92,000 = 36,800 USD > 30,000.
    assert "mainnet_underlying_notional" in failed_names(open_call(), inputs, limits)


# ----------------------------------------------------------------------- market and account


def test_it_refuses_a_premium_below_the_minimum() -> None:
    cheap = make_quote(best_bid_coin=Decimal("0.0005"), best_ask_coin=Decimal("0.0005"))
    inputs = make_inputs(quotes=[cheap])
    # 0.0005 BTC x 92,000 = 46 USD < 50.
    assert "premium_min" in failed_names(open_call(sell(price="0.0005")), inputs)


@pytest.mark.parametrize(
    ("overrides", "check"),
    [
        ({"best_ask_coin": Decimal("0.0120")}, "liquidity_spread"),  # 18% > 15%
        ({"open_interest": 10.0}, "liquidity_open_interest"),
        ({"best_bid_amount": Decimal("0.05")}, "liquidity_book_depth"),
    ],
)
def test_liquidity_guards(overrides: dict[str, Any], check: str) -> None:
    inputs = make_inputs(quotes=[make_quote(**overrides)])
    assert failed_names(open_call(), inputs) == {check}


def test_unknown_liquidity_passes_off_mainnet_and_fails_on_mainnet() -> None:
    blind = make_quote(best_ask_coin=None, open_interest=None, best_bid_amount=None)
    guards = {"liquidity_spread", "liquidity_open_interest", "liquidity_book_depth"}
    assert guards.isdisjoint(failed_names(open_call(), make_inputs(quotes=[blind])))
    mainnet = make_inputs(quotes=[blind], environment=Environment.MAINNET)
    assert guards <= failed_names(open_call(), mainnet)


def test_a_zero_depth_multiple_disables_the_depth_guard() -> None:
    limits = LIMITS.model_copy(update={"liquidity_min_depth_multiple": 0.0})
    inputs = make_inputs(quotes=[make_quote(best_bid_amount=Decimal("0.01"))])
    assert "liquidity_book_depth" not in failed_names(open_call(), inputs, limits)


def test_it_refuses_new_calls_when_margin_is_near_the_maximum() -> None:
    busy = make_portfolio(initial_margin_usd=Decimal("150000"))  # 75% > 80% x 0.9 = 72%
    assert "margin_headroom" in failed_names(open_call(), make_inputs(portfolio=busy))


def test_it_refuses_an_order_that_would_push_margin_over_the_maximum() -> None:
    portfolio = make_portfolio(equity_usd=Decimal("20000"), initial_margin_usd=Decimal("13000"))
    # 65% used (< 72%), and 0.1 BTC short adds ~0.1 x 0.1102 x 92,000 = 1,014 USD -> 70.1%.
    limits = LIMITS.model_copy(
        update={"max_margin_used_pct": 69.0, "open_margin_headroom_frac": 1.0}
    )
    assert "margin_after_order" in failed_names(
        open_call(), make_inputs(portfolio=portfolio), limits
    )


def test_the_margin_estimate_follows_the_standard_formula() -> None:
    quote = make_quote()
    # OTM = 8,000 / 92,000 = 8.7% -> max(0.15 - 0.087, 0.10) = 0.10; + mark 0.0102.
    estimate = estimate_short_call_margin_usd(quote, Decimal("0.1"))
    assert float(estimate) == pytest.approx(0.1102 * 0.1 * 92000)


def test_it_refuses_new_risk_when_equity_is_unknown() -> None:
    names = failed_names(open_call(), make_inputs(portfolio=make_portfolio(equity_usd=None)))
    assert {"portfolio_available", "margin_headroom"} <= names


def test_net_delta_blocks_growing_exposure_but_not_reducing_it() -> None:
    negative = make_portfolio(net_delta={"BTC": -4.9})
    # Selling 1 BTC of 0.22-delta calls: -4.9 -> -5.12, beyond |5| and larger.
    assert "net_delta" in failed_names(open_call(sell(amount="1")), make_inputs(portfolio=negative))
    positive = make_portfolio(net_delta={"BTC": 6.0})
    assert "net_delta" not in failed_names(open_call(), make_inputs(portfolio=positive))


def test_unknown_delta_fails_the_net_delta_check() -> None:
    inputs = make_inputs(quotes=[make_quote(delta=None)])
    assert "net_delta" in failed_names(open_call(), inputs)


def test_no_new_call_in_the_settlement_window_or_after_expiry() -> None:
    expiry = datetime(2025, 12, 19, 8, 0, tzinfo=UTC)
    in_window = make_inputs(now=expiry - timedelta(minutes=10))
    assert "settlement_window" in failed_names(open_call(), in_window)
    after = make_inputs(now=expiry + timedelta(minutes=1))
    assert "not_expired" in failed_names(open_call(), after)
    before = make_inputs(now=expiry - timedelta(minutes=31))
    assert {"settlement_window", "not_expired"}.isdisjoint(failed_names(open_call(), before))


def test_a_close_in_the_settlement_window_is_allowed() -> None:
    expiry = datetime(2025, 12, 19, 8, 0, tzinfo=UTC)
    portfolio = make_portfolio(positions=(short(CALL, "0.1"),))
    inputs = make_inputs(portfolio=portfolio, now=expiry - timedelta(minutes=10))
    assert evaluate_risk(close_call(), inputs, LIMITS).approved


def test_it_refuses_amounts_off_the_step_and_prices_off_the_tick() -> None:
    names = failed_names(open_call(sell(amount="0.15", price="0.0102")), make_inputs())
    assert {"amount_on_step", "price_on_tick"} <= names


def test_it_refuses_an_instrument_not_quoted_this_tick() -> None:
    assert "instrument_quoted" in failed_names(open_call(), make_inputs(quotes=[]))


# ---------------------------------------------------------------------------------- closes


def test_a_close_must_not_buy_more_than_is_short() -> None:
    portfolio = make_portfolio(positions=(short(CALL, "0.1"),))
    inputs = make_inputs(portfolio=portfolio)
    assert "close_position_exists" in failed_names(close_call(buy(amount="0.2")), inputs)
    assert "close_position_exists" in failed_names(close_call(buy(CALL_2)), inputs)


def test_the_verdict_record_is_json_ready() -> None:
    limits = LIMITS.model_copy(update={"kill_switch": True})
    record = evaluate_risk(open_call(), make_inputs(), limits).as_record()
    text = json.dumps(record)
    assert record["code"] == "rejected"
    assert record["reasons"] == ["kill_switch: global kill switch is ON: no new risk"]
    assert "covered_by_holdings" in text


# ---------------------------------------------------------------------------- properties

amounts = st.decimals(min_value=Decimal("0.1"), max_value=Decimal("5"), places=1)


@settings(max_examples=80, deadline=None)
@given(
    holdings=st.decimals(min_value=Decimal(0), max_value=Decimal("3"), places=2),
    existing=st.decimals(min_value=Decimal(0), max_value=Decimal("3"), places=1),
    amount=amounts,
)
def test_it_never_approves_a_call_sale_beyond_the_holdings(
    holdings: Decimal, existing: Decimal, amount: Decimal
) -> None:
    positions = (short(CALL_2, str(existing)),) if existing > 0 else ()
    portfolio = make_portfolio(holdings_coin={"BTC": holdings}, positions=positions)
    limits = LIMITS.model_copy(
        update={"max_calls_per_underlying": 5, "max_order_amount": {"BTC": Decimal(10)}}
    )
    quotes = [make_quote(best_bid_amount=Decimal(100)), make_quote(CALL_2)]
    verdict = evaluate_risk(
        open_call(sell(amount=str(amount))), make_inputs(portfolio=portfolio, quotes=quotes), limits
    )
    if verdict.approved:
        assert existing + amount <= holdings
    if existing + amount > holdings:
        assert not verdict.approved


@settings(max_examples=80, deadline=None)
@given(
    holdings=st.decimals(min_value=Decimal(0), max_value=Decimal("4"), places=3),
    existing=st.decimals(min_value=Decimal(0), max_value=Decimal("2"), places=1),
    depth=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10"), places=2),
    mainnet=st.booleans(),
    frac=st.sampled_from([0.3, 0.5, 1.0]),
)
def test_an_amount_sized_by_the_capacity_passes_every_size_rail(
    holdings: Decimal, existing: Decimal, depth: Decimal, mainnet: bool, frac: float
) -> None:
    positions = (short(CALL_2, str(existing)),) if existing > 0 else ()
    portfolio = make_portfolio(holdings_coin={"BTC": holdings}, positions=positions)
    limits = LIMITS.model_copy(
        update={"max_calls_per_underlying": 5, "max_expiry_exposure_frac": frac}
    )
    quote = make_quote(best_bid_amount=depth)
    env = Environment.MAINNET if mainnet else Environment.TESTNET
    inputs = make_inputs(portfolio=portfolio, quotes=[quote, make_quote(CALL_2)], environment=env)
    capacity = open_amount_capacity(quote, inputs, limits)
    amount = quantize_order_amount(capacity, quote.spec)
    if amount is None:
        assert capacity < quote.spec.min_trade_amount
        return
    assert amount % quote.spec.min_trade_amount == 0
    assert amount >= quote.spec.min_trade_amount
    size_rails = {
        "covered_by_holdings",
        "expiry_exposure",
        "order_size_cap",
        "liquidity_book_depth",
        "mainnet_order_notional",
        "mainnet_underlying_notional",
        "amount_on_step",
    }
    assert size_rails.isdisjoint(failed_names(open_call(sell(amount=str(amount))), inputs, limits))

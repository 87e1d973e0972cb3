"""Stress limits in the risk engine: the book after the trade on the scenario grid."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.builders import (
    LIMITS,
    NOW,
    make_inputs,
    make_portfolio,
    make_quote,
    open_call,
    sell,
    short,
)
from trading.domain.instruments import default_spec
from trading.domain.params import Environment, RiskLimits
from trading.domain.risk import OptionQuote, StressTrade, evaluate_risk, evaluate_stress

ATM_CALL = "BTC-19DEC25-92000-C"
ATM_PUT = "BTC-19DEC25-92000-P"


def _atm(name: str) -> OptionQuote:
    # ~50% IV, 9 days: an at-the-money option is worth ~0.025 coin.
    return make_quote(
        name,
        best_bid_coin=Decimal("0.0250"),
        best_ask_coin=Decimal("0.0260"),
        mark_price_coin=Decimal("0.0255"),
        delta=0.5 if name.endswith("C") else -0.5,
        mark_iv=0.5,
    )


def _inputs(**kw: object) -> object:
    portfolio = make_portfolio(
        equity_usd=Decimal("92000"),
        initial_margin_usd=Decimal("0"),
        holdings_coin={"BTC": Decimal("1")},
        net_delta={"BTC": 1.0},
    )
    return make_inputs(portfolio=portfolio, quotes=[_atm(ATM_CALL), _atm(ATM_PUT)], **kw)  # type: ignore[arg-type]


LIMITS_1BTC = LIMITS.model_copy(update={"max_expiry_exposure_frac": 1.0})


def test_naked_short_straddle_is_refused_by_the_stress_limit_naming_the_scenario() -> None:
    inputs = _inputs()
    straddle = [StressTrade(ATM_CALL, Decimal("-1")), StressTrade(ATM_PUT, Decimal("-1"))]
    checks = {c.name: c for c in evaluate_stress(straddle, inputs, LIMITS_1BTC)}  # type: ignore[arg-type]
    loss = checks["stress_loss"]
    assert not loss.passed
    assert "spot -40%, vol +100%, +0 d" in loss.detail
    assert "(73.8% of equity); max 50.0% of equity" in loss.detail
    assert float(loss.value or 0) > 50


def test_covered_call_of_the_same_size_passes_the_stress_limit_and_the_whole_engine() -> None:
    inputs = _inputs()
    covered = [StressTrade(ATM_CALL, Decimal("-1"))]
    checks = {c.name: c for c in evaluate_stress(covered, inputs, LIMITS_1BTC)}  # type: ignore[arg-type]
    assert checks["stress_loss"].passed, checks["stress_loss"].detail
    assert float(checks["stress_loss"].value or 0) < 40
    verdict = evaluate_risk(open_call(sell(ATM_CALL, "1", "0.0250")), inputs, LIMITS_1BTC)  # type: ignore[arg-type]
    assert verdict.approved, verdict.reasons
    assert "stress_loss" in {c.name for c in verdict.checks}


def test_stress_limit_switched_off_lets_the_straddle_through() -> None:
    inputs = _inputs()
    straddle = [StressTrade(ATM_CALL, Decimal("-1")), StressTrade(ATM_PUT, Decimal("-1"))]
    off = LIMITS_1BTC.model_copy(update={"max_scenario_loss_pct": 0.0})
    assert all(c.passed for c in evaluate_stress(straddle, inputs, off))  # type: ignore[arg-type]


def test_a_trade_that_reduces_the_worst_loss_passes_even_above_the_limit() -> None:
    # Coins alone lose 40% at -40% spot; with a 30% limit a covered call still reduces it.
    tight = LIMITS_1BTC.model_copy(update={"max_scenario_loss_pct": 30.0})
    checks = {
        c.name: c
        for c in evaluate_stress([StressTrade(ATM_CALL, Decimal("-1"))], _inputs(), tight)  # type: ignore[arg-type]
    }
    assert checks["stress_loss"].passed
    assert "does not make it worse" in checks["stress_loss"].detail


def test_max_vega_refuses_a_sale_that_pushes_book_vega_past_the_limit() -> None:
    limits = LIMITS_1BTC.model_copy(update={"max_vega_usd": 50.0})
    verdict = evaluate_risk(open_call(sell(ATM_CALL, "1", "0.0250")), _inputs(), limits)  # type: ignore[arg-type]
    assert "max_vega" in {c.name for c in verdict.failed}
    assert "USD per vol point vs max |50|" in next(
        c.detail for c in verdict.failed if c.name == "max_vega"
    )


def test_position_without_a_quote_is_noted_off_mainnet_and_refused_on_mainnet() -> None:
    held = make_portfolio(positions=(short("BTC-26DEC25-120000-C", "0.1"),))
    trade = [StressTrade("BTC-19DEC25-100000-C", Decimal("-0.1"))]
    testnet = {c.name: c for c in evaluate_stress(trade, make_inputs(portfolio=held), LIMITS)}
    assert testnet["stress_inputs"].passed
    assert "BTC-26DEC25-120000-C" in testnet["stress_inputs"].detail
    mainnet_inputs = make_inputs(portfolio=held, environment=Environment.MAINNET)
    mainnet = {c.name: c for c in evaluate_stress(trade, mainnet_inputs, LIMITS)}
    assert not mainnet["stress_inputs"].passed


def test_iv_is_implied_from_the_mark_when_the_quote_has_none() -> None:
    quote = OptionQuote(
        instrument_name=ATM_CALL,
        spec=default_spec(ATM_CALL),
        index_price_usd=92000.0,
        mark_price_coin=Decimal("0.0255"),
    )
    from trading.domain.risk.stress import quote_iv

    t = (quote.expiry - NOW).total_seconds() / 86400 / 365  # type: ignore[operator]
    iv = quote_iv(quote, t)
    assert iv is not None
    assert 0.3 < iv < 0.8


def test_runtime_overrides_carry_the_stress_limits_into_the_effective_params() -> None:
    from trading.domain.params import RuntimeOverrides, resolve_effective_params

    params = resolve_effective_params(
        overrides=RuntimeOverrides(max_scenario_loss_pct=25.0, max_vega_usd=500.0)
    )
    assert params.risk.max_scenario_loss_pct == 25.0
    assert params.risk.max_vega_usd == 500.0
    assert RiskLimits().max_scenario_loss_pct == 50.0


@pytest.mark.django_db
def test_the_order_gate_stress_tests_any_strategys_orders_after_the_trade() -> None:
    from trading.domain.risk.verdict import RiskVerdict
    from trading.services.order_gate import GateLeg, OrderOrigin, OrderRequest, order_gate_run

    approve = RiskVerdict(action="GREG_STRADDLE", approved=True, increases_risk=True)
    legs = tuple(
        GateLeg(name, "sell", Decimal("1"), Decimal("0.025")) for name in (ATM_CALL, ATM_PUT)
    )
    request = OrderRequest(
        origin=OrderOrigin.GREG,
        strategy_id="greg_straddle",
        legs=legs,
        risk=lambda _limits: approve,
        stress_inputs=_inputs(),  # type: ignore[arg-type]
    )
    result = order_gate_run(request, client=None)
    assert not result.check.approved
    assert not result.orders
    failed = {c.name: c.detail for c in result.check.verdict.failed}
    assert "spot -40%, vol +100%, +0 d" in failed["stress_loss"]
    covered = OrderRequest(
        origin=OrderOrigin.GREG,
        strategy_id="greg_covered",
        legs=legs[:1],
        risk=lambda _limits: approve,
        stress_inputs=_inputs(),  # type: ignore[arg-type]
    )
    assert order_gate_run(covered, client=None).check.approved


@pytest.mark.django_db
def test_operators_edit_the_stress_limits_in_the_controls_and_viewers_cannot(
    client, django_user_model
) -> None:
    from trading.models import RuntimeControl

    viewer = django_user_model.objects.create_user("viewer", password="pw")
    client.force_login(viewer)
    assert client.post("/agent/controls/", {"max_vega_usd": "500"}).status_code == 403
    admin = django_user_model.objects.create_superuser("boss", "b@example.com", "pw")
    client.force_login(admin)
    form = {
        "intent": "save",
        "version": RuntimeControl.load().version,
        "reconcile_action": "report",
        "reconcile_enabled": "True",
        "max_scenario_loss_pct": "30",
        "max_vega_usd": "500",
    }
    page = client.post("/agent/controls/", form).content.decode()
    assert 'id="ctl-max_scenario_loss_pct"' in page
    control = RuntimeControl.load()
    assert control.max_scenario_loss_pct == 30.0
    assert control.max_vega_usd == 500.0
    limits = control.to_overrides()
    assert limits.max_scenario_loss_pct == 30.0
    response = client.patch(
        "/api/agent/controls", {"max_scenario_loss_pct": 120}, content_type="application/json"
    )
    assert response.status_code == 400


def test_legs_priced_in_coin_give_a_strategy_without_quotes_a_book_to_stress() -> None:
    from trading.domain.risk import RiskInputs
    from trading.services.risk import stress_inputs_for_legs

    bare = RiskInputs(portfolio=_inputs().portfolio, now=NOW)  # type: ignore[attr-defined]
    legs = [
        {"instrument_name": ATM_CALL, "price_coin": "0.0255", "side": "sell"},
        {"instrument_name": ATM_PUT, "price_coin": "0.0255", "side": "sell"},
    ]
    inputs = stress_inputs_for_legs(bare, legs, 92000.0)
    straddle = [StressTrade(ATM_CALL, Decimal("-1")), StressTrade(ATM_PUT, Decimal("-1"))]
    checks = {c.name: c for c in evaluate_stress(straddle, inputs, LIMITS_1BTC)}
    assert "stress_inputs" not in checks  # every leg could be revalued
    assert not checks["stress_loss"].passed

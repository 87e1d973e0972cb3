"""The risk report a tick publishes shows the book after its own order, in the same tick."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from trading.deribit.models import Position as ExchangePosition
from trading.models import AgentStatus, Order, Position
from trading.services import controls_update, tick_run
from trading.services.controls import effective_params_load
from trading.services.state import portfolio_positions, state_build

pytestmark = pytest.mark.django_db


def _published() -> tuple[dict[str, Any], dict[str, Any]]:
    status = AgentStatus.objects.get(pk=1)
    assert isinstance(status.risk_report, dict)
    assert isinstance(status.last_summary, dict)
    return status.risk_report, status.last_summary


def _strategy_row(report: dict[str, Any], key: str) -> dict[str, Any]:
    return next(r for r in report["greeks"] if r["group"] == "strategy" and r["key"] == key)


def test_a_dry_run_tick_that_sells_a_call_publishes_its_greeks_in_the_same_tick(
    agent_settings, sim_client
):
    outcome = tick_run(trigger="test", client=sim_client, seed=1)
    (order,) = outcome.orders
    assert order.direction == "sell"
    assert order.state == Order.State.SIMULATED
    report, _ = _published()
    (call,) = (o for o in report["book"] if o["instrument_name"] == order.instrument_name)
    assert call["size"] == -float(order.amount)
    assert call["strategy_id"] == "covered_call"
    assert report["positions"] == 1
    assert report["unvalued"] == []
    calls = _strategy_row(report, f"{order.currency} covered_call")
    assert calls["positions"] == 1
    assert calls["delta_coin"] < 0  # a short call
    assert calls["vega_usd"] < 0
    assert calls["theta_usd"] > 0


def test_a_sim_fill_is_published_with_its_strategy_and_net_delta_without_a_request(
    agent_settings, sim_client
):
    controls_update(changes={"dry_run": False}, user="test")
    params = effective_params_load()
    before = state_build(client=sim_client, params=params, expire=False).inputs.portfolio
    outcome = tick_run(trigger="test", client=sim_client, seed=1)
    (order,) = outcome.orders
    assert order.filled_amount > 0
    report, summary = _published()
    (call,) = (o for o in report["book"] if o["instrument_name"] == order.instrument_name)
    assert call["size"] == -float(order.filled_amount)
    assert call["strategy_id"] == "covered_call"  # our row, not an "external" position
    assert _strategy_row(report, f"{order.currency} covered_call")["delta_coin"] < 0
    # The published net delta is the book's after the fill: what the exchange says now, up to
    # the fill's premium against the mark and its fee (the equity change, ~1e-4 coin).
    after = state_build(client=sim_client, params=params, expire=False).inputs.portfolio
    currency = order.currency
    published = summary["portfolio"]["net_delta"][currency]
    assert published < before.net_delta[currency] - 0.01  # the short call's delta
    assert published == pytest.approx(after.net_delta[currency], abs=5e-4)


def _exchange_short(name: str, size: str) -> ExchangePosition:
    return ExchangePosition.model_validate(
        {
            "instrument_name": name,
            "kind": "option",
            "direction": "sell",
            "size": size,
            "average_price": "0.02",
            "mark_price": "0.02",
            "index_price": 90000.0,
            "delta": -0.03,
            "floating_profit_loss": "0",
            "realized_profit_loss": "0",
            "total_profit_loss": "0",
            "initial_margin": "0",
            "maintenance_margin": "0",
        }
    )


def _filled(name: str, direction: str, amount: str, *, dry_run: bool = False) -> Order:
    return Order(
        instrument_name=name,
        direction=direction,
        amount=Decimal(amount),
        filled_amount=Decimal(amount),
        average_price=Decimal("0.01"),
        dry_run=dry_run,
    )


def test_a_live_roll_moves_the_book_from_the_old_call_to_the_new_one_and_paper_stays_paper():
    old, new = "BTC-26DEC25-100000-C", "BTC-2JAN26-105000-C"
    Position.objects.create(instrument_name=new, currency="BTC", size=Decimal("-0.1"))
    orders = [
        _filled(old, "buy", "0.1"),
        _filled(new, "sell", "0.1"),
        _filled("BTC-2JAN26-110000-C", "sell", "0.1", dry_run=True),  # a paper row's business
    ]
    held = portfolio_positions([_exchange_short(old, "-0.1")], dry_run=False, orders=orders)
    assert [(p.instrument_name, p.size, p.strategy_id) for p in held] == [
        (new, Decimal("-0.1"), "covered_call")
    ]
    assert held[0].average_price_coin == Decimal("0.01")

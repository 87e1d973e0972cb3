"""Executing a Greg suggestion on the simulator: each gate alone refuses with its reason and
persists nothing; with every gate open each leg is one labelled order, sent once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from greg.models import GregDecision, GregPosition
from greg.services import greg_settings_update
from greg.services.evaluation import underlying_evaluate
from greg.services.execution import suggestion_execute
from trading.models import Order
from trading.services import controls_update

pytestmark = pytest.mark.django_db
STRATEGY = "STRATEGY_F_BULL_PUT_SPREAD"


@pytest.fixture
def suggestion(agent_settings, sim_client) -> GregDecision:
    evaluation = underlying_evaluate(client=sim_client, underlying="BTC", size=Decimal("0.1"))
    quote = evaluation.structures[STRATEGY]
    assert quote["ok"], quote
    return GregDecision.objects.create(
        kind="suggestion", action="OPEN", outcome="advised", underlying="BTC",
        strategy=STRATEGY, structures={STRATEGY: quote}, index_price=quote["forward_usd"],
    )  # fmt: skip


@pytest.fixture
def gates_open(agent_settings):
    greg_settings_update(
        changes={
            "mode": "live",
            "master_switch": True,
            "enabled_strategies": [STRATEGY],
            "max_notional_usd_per_position": 50_000,
            "max_notional_usd_per_underlying": 100_000,
        },
        user="op",
        source="test",
    )
    controls_update(changes={"dry_run": False, "kill_switch": False}, user="op")


def _execute(suggestion, sim_client, **kw):
    options: dict[str, Any] = {"user": "op", "confirmed": True, "expect_dry_run": False} | kw
    return suggestion_execute(suggestion=suggestion, client=sim_client, **options)


def test_with_every_gate_open_each_leg_is_one_labelled_order_sent_once(
    gates_open, suggestion, sim_client
):
    result = _execute(suggestion, sim_client)
    assert result.refused == "", result.refused
    orders = list(Order.objects.order_by("leg_index"))
    assert len(orders) == 2
    assert [o.direction for o in orders] == ["buy", "sell"]  # the wing first
    assert all(o.label.startswith("gg") and o.origin == "greg" for o in orders)
    assert all(o.state == Order.State.FILLED and not o.dry_run for o in orders)
    for order in orders:
        assert len(sim_client.get_order_state_by_label("BTC", order.label)) == 1
    position = GregPosition.objects.get(sandbox=False)
    assert (position.origin, position.badge) == ("GREG_LIVE", "DEMO")
    again = _execute(suggestion, sim_client)
    assert "already executed" in again.refused
    assert Order.objects.count() == 2
    assert GregDecision.objects.filter(kind="execution", outcome="executed").count() == 1


CLOSED_GATES: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any], str]] = {
    "mode": ({"mode": "advice"}, {}, {}, "ADVICE ONLY"),
    "master switch": ({"master_switch": False}, {}, {}, "master switch"),
    "strategy flag": ({"enabled_strategies": []}, {}, {}, "not enabled"),
    "dry-run cross-check": ({}, {}, {"expect_dry_run": True}, "dry-run cross-check"),
    "confirmation": ({}, {}, {"confirmed": False}, "confirmation"),
    "notional per position": ({"max_notional_usd_per_position": 100}, {}, {},
                              "greg.max_notional_per_position"),
    "notional per underlying": ({"max_notional_usd_per_underlying": 100}, {}, {},
                                "greg.max_notional_per_underlying"),
    "kill switch": ({}, {"kill_switch": True}, {}, "kill_switch"),
}  # fmt: skip


@pytest.mark.parametrize("gate", list(CLOSED_GATES))
def test_each_gate_alone_refuses_with_its_reason_and_sends_nothing(
    gate, gates_open, suggestion, sim_client
):
    settings_change, controls_change, call, reason = CLOSED_GATES[gate]
    if settings_change:
        greg_settings_update(changes=settings_change, user="op", source="test")
    if controls_change:
        controls_update(changes=controls_change, user="op")
    result = _execute(suggestion, sim_client, **call)
    assert reason in result.refused
    assert result.record.outcome == "refused"
    assert not Order.objects.exists()
    assert not sim_client.get_open_orders_by_currency("BTC")


def test_the_environment_gate_refuses_unconfirmed_mainnet(gates_open, suggestion, sim_client):
    agent_settings_env = pytest.MonkeyPatch()
    from django.conf import settings

    agent_settings_env.setattr(settings, "DERIBIT_ENV", "mainnet")
    try:
        result = _execute(suggestion, sim_client)
    finally:
        agent_settings_env.undo()
    assert "environment: mainnet without its confirmation" in result.refused
    assert not Order.objects.exists()


def test_in_dry_run_the_orders_are_simulated_on_paper(gates_open, suggestion, sim_client):
    controls_update(changes={"dry_run": True}, user="op")
    result = _execute(suggestion, sim_client, expect_dry_run=True)
    assert result.refused == ""
    assert {o.state for o in result.orders} == {Order.State.SIMULATED}
    assert sim_client.get_positions("BTC", "option") == []


def _executed_position(suggestion, sim_client) -> GregPosition:
    result = _execute(suggestion, sim_client)
    assert result.position is not None, result.refused
    return result.position


def test_a_suggested_close_goes_through_the_gate_and_closes_the_position(
    gates_open, suggestion, sim_client
):
    from greg.services.execution import position_action_execute

    position = _executed_position(suggestion, sim_client)
    position.review = {"top": {"action": "CLOSE", "reason": "test stop"}}
    position.save()
    refused = position_action_execute(
        position=position,
        action="CLOSE",
        client=sim_client,
        user="op",
        confirmed=True,
        expect_dry_run=True,
    )
    assert "dry-run cross-check" in refused.refused
    assert Order.objects.count() == 2
    done = position_action_execute(
        position=position,
        action="CLOSE",
        client=sim_client,
        user="op",
        confirmed=True,
        expect_dry_run=False,
    )
    assert done.refused == "", done.refused
    closes = list(Order.objects.order_by("id"))[2:]
    assert [o.direction for o in closes] == ["buy", "sell"]  # the short back first
    assert all(o.state == Order.State.FILLED for o in closes)
    position.refresh_from_db()
    assert position.status == "closed"
    again = position_action_execute(
        position=position,
        action="CLOSE",
        client=sim_client,
        user="op",
        confirmed=True,
        expect_dry_run=False,
    )
    assert "closed" in again.refused
    assert Order.objects.count() == 4


def test_a_suggested_hedge_trades_the_perpetual_once(gates_open, suggestion, sim_client):
    from greg.services.execution import position_action_execute

    position = _executed_position(suggestion, sim_client)
    hedge = {"instrument_name": "BTC-PERPETUAL", "amount_usd": "-1000", "direction": "sell"}
    position.review = {"top": {"action": "HEDGE", "reason": "delta", "hedge": hedge}}
    position.save()
    done = position_action_execute(
        position=position,
        action="HEDGE",
        client=sim_client,
        user="op",
        confirmed=True,
        expect_dry_run=False,
    )
    assert done.refused == "", done.refused
    perp = Order.objects.get(instrument_name="BTC-PERPETUAL")
    assert (perp.direction, perp.amount, perp.state) == ("sell", Decimal(1000), Order.State.FILLED)
    position.refresh_from_db()
    assert position.hedge_usd == Decimal(-1000)
    again = position_action_execute(
        position=position,
        action="HEDGE",
        client=sim_client,
        user="op",
        confirmed=True,
        expect_dry_run=False,
    )
    assert "not the position's suggested action" in again.refused
    assert Order.objects.filter(instrument_name="BTC-PERPETUAL").count() == 1


def test_a_sandbox_close_is_on_paper_without_orders(agent_settings, sim_client):
    from greg.services.execution import position_action_execute
    from greg.services.positions import sandbox_open

    opened = sandbox_open(client=sim_client, underlyings=["BTC"], strategies=[STRATEGY]).opened[0]
    opened.review = {"top": {"action": "CLOSE", "reason": "test"}}
    opened.save()
    result = position_action_execute(
        position=opened, action="CLOSE", client=sim_client, user="op", confirmed=True
    )
    assert result.refused == ""
    opened.refresh_from_db()
    assert opened.status == "closed"
    assert not Order.objects.exists()


def test_greg_exposure_adds_up_in_the_one_risk_view_beside_the_covered_calls(
    gates_open, suggestion, sim_client
):
    from trading.services.state import portfolio_positions

    controls_update(changes={"dry_run": True}, user="op")
    _execute(suggestion, sim_client, expect_dry_run=True)
    books = {p.strategy_id for p in portfolio_positions((), dry_run=True)}
    assert "greg_bull_put" in books
    assert {o.strategy_id for o in Order.objects.all()} == {"greg_bull_put"}

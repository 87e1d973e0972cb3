"""End to end: ticks against the simulated exchange over loopback HTTP (dry run and sim orders)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.trading.agent_helpers import short_size
from trading.domain.decision_log import parse_decision_line
from trading.models import AgentRun, Decision, Order, Position
from trading.services import controls_update, tick_run
from trading.services.export import export_path
from trading.services.tick import tick_lock_acquire, tick_lock_release

pytestmark = pytest.mark.django_db


def test_a_dry_run_tick_opens_a_covered_call_on_paper_and_logs_it(agent_settings, sim_client):
    outcome = tick_run(trigger="test", client=sim_client, seed=1)
    decision = outcome.decision
    assert outcome.run.status == AgentRun.Status.OK
    assert decision is not None
    assert decision.action == "OPEN_COVERED_CALL"
    assert decision.verdict_code == "approved"
    assert decision.dry_run
    assert decision.mode == "research"
    (order,) = outcome.orders
    assert order.state == Order.State.SIMULATED
    assert order.label.startswith("od-")
    assert short_size(sim_client, order.instrument_name) == 0  # nothing reached the exchange
    position = Position.objects.get(instrument_name=order.instrument_name)
    assert position.paper
    assert position.size == -order.amount
    # The decision, its order and its JSONL line agree.
    lines = export_path(f"{decision.market_time:%Y-%m-%d}").read_text().splitlines()
    record = parse_decision_line(lines[-1])
    assert record["decision_id"] == str(decision.pk)
    assert record["order"]["legs"][0]["label"] == order.label
    assert record["policy_version"] == "rb_v1_explore"
    assert record["params_hash"]
    assert outcome.requests <= 10


def test_the_next_tick_sees_the_open_call_and_does_not_open_another(agent_settings, sim_client):
    tick_run(trigger="test", client=sim_client, seed=1)
    tick_run(trigger="test", client=sim_client, seed=2)
    third = tick_run(trigger="test", client=sim_client, seed=3)
    assert third.decision is not None
    assert third.decision.action == "DO_NOTHING"
    assert "already at 1 open call" in third.decision.reason
    assert Position.objects.filter(status="open").count() == 2  # one BTC, one ETH


def test_a_later_tick_rolls_or_closes_the_call(agent_settings, sim_client, sim_exchange):
    first = tick_run(trigger="test", client=sim_client, seed=1)
    sold = first.orders[0].instrument_name
    expiry = Position.objects.get(instrument_name=sold).instrument_name.split("-")[1]
    # Move the simulated clock to a few hours before that call's expiry.
    for _ in range(60):
        sim_exchange.clock.advance(6 * 3600)
        outcome = tick_run(trigger="test", client=sim_client, seed=4)
        if outcome.decision and outcome.decision.action in (
            "ROLL_COVERED_CALL",
            "CLOSE_COVERED_CALL",
        ):
            break
    assert outcome.decision is not None, expiry
    assert outcome.decision.action in ("ROLL_COVERED_CALL", "CLOSE_COVERED_CALL")
    assert outcome.orders[0].direction == "buy"
    assert Position.objects.get(instrument_name=outcome.orders[0].instrument_name).status in (
        "closed",
        "open",
    )


def test_on_the_simulator_with_dry_run_off_it_sends_exactly_one_order_per_label(
    agent_settings, sim_client
):
    controls_update(changes={"dry_run": False}, user="test")
    outcome = tick_run(trigger="test", client=sim_client, seed=1)
    (order,) = outcome.orders
    assert order.state in (Order.State.FILLED, Order.State.CANCELLED_PARTIAL)
    on_exchange = sim_client.get_order_state_by_label(order.currency, order.label)
    assert len(on_exchange) == 1
    assert on_exchange[0].order_id == order.exchange_order_id
    position = Position.objects.get(instrument_name=order.instrument_name, paper=False)
    assert position.size == short_size(sim_client, order.instrument_name) == -order.filled_amount
    assert order.filled_amount > Decimal(0)
    assert outcome.decision is not None
    record = json.loads(Decision.objects.get(pk=outcome.decision.pk).log_line)
    assert record["dry_run"] is False
    assert record["order"]["legs"][0]["state"] == order.state


def test_a_second_tick_skips_while_the_lock_is_held(agent_settings, sim_client):
    assert tick_lock_acquire("someone-else")
    try:
        outcome = tick_run(trigger="test", client=sim_client)
    finally:
        tick_lock_release("someone-else")
    assert outcome.run.status == AgentRun.Status.SKIPPED
    assert "another tick" in outcome.run.summary
    assert not Decision.objects.exists()


def test_beat_ticks_wait_for_the_loop_interval(agent_settings, sim_client):
    tick_run(trigger="test", client=sim_client, seed=1)
    outcome = tick_run(trigger="beat", client=sim_client)
    assert outcome.run.status == AgentRun.Status.SKIPPED
    assert outcome.run.pk is None
    assert Decision.objects.count() == 1

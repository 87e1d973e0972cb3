"""Faults on the order path and the tick: lost replies, crashes, rate limits, settlement, stops."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.trading.agent_helpers import make_agent_client, short_size
from trading.domain.health import GuardState, GuardStatus
from trading.models import AgentRun, AgentStatus, Decision, Order, Position
from trading.services import controls_update, reconcile_run, tick_run
from trading.services.execution import order_claim, order_execute
from trading.services.health import guard_save
from trading.services.reconcile import orders_resolve_pending

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_orders(agent_settings):
    """Orders go to the simulator (dry run off)."""
    controls_update(changes={"dry_run": False}, user="test")


def _first_open(sim_client) -> Order:
    outcome = tick_run(trigger="test", client=sim_client, seed=1)
    assert outcome.orders, outcome.summary
    return outcome.orders[0]


def test_accept_then_drop_is_resolved_by_label_with_exactly_one_order(
    live_orders, sim_server, sim_exchange
):
    client = make_agent_client(sim_server.base_url, timeout_s=1.0)
    client.get_book_summary_by_currency("BTC")  # warm the market so only the sell times out
    sim_exchange.faults.inject("drop_reply", methods=["private/sell"], hang_s=1.5)
    order = _first_open(client)
    assert order.state in (Order.State.FILLED, Order.State.CANCELLED_PARTIAL)
    assert "unknown_outcome" in order.error or order.resolved_at is not None
    assert len(client.get_order_state_by_label(order.currency, order.label)) == 1
    assert short_size(client, order.instrument_name) == -order.filled_amount
    assert Position.objects.get(instrument_name=order.instrument_name).size == -order.filled_amount


def test_a_timeout_with_no_order_ends_rejected_unknown_without_a_resend(
    live_orders, sim_server, sim_exchange
):
    client = make_agent_client(sim_server.base_url, timeout_s=1.0)
    client.get_book_summary_by_currency("BTC")
    sim_exchange.faults.inject("timeout", methods=["private/sell"], hang_s=1.5)
    order = _first_open(client)
    assert order.state == Order.State.REJECTED_UNKNOWN
    assert client.get_order_state_by_label(order.currency, order.label) == []
    assert not Position.objects.filter(paper=False).exists()


def test_a_worker_killed_after_sending_is_settled_by_label_on_restart(live_orders, sim_client):
    """The order was claimed and sent, then the process died before recording the reply."""
    order = Order.objects.create(
        label="od-crashed-0001",
        environment="sim",
        dry_run=False,
        instrument_name="BTC-19DEC25-100000-C",
        currency="BTC",
        direction="sell",
        amount=Decimal("0.1"),
        limit_price=Decimal("0.0001"),
    )
    assert order_claim(order)
    sim_client.sell(order.instrument_name, order.amount, price=order.limit_price, label=order.label)
    # ... crash. On restart, the reconciliation resolves stuck orders first.
    run = reconcile_run(client=sim_client, action="report", trigger="test", grace_s=0)
    order.refresh_from_db()
    assert order.state != Order.State.SENDING
    assert order.exchange_order_id
    assert len(sim_client.get_order_state_by_label("BTC", order.label)) == 1
    assert run.status == "ok"
    assert not run.items.exists(), [str(i) for i in run.items.all()]


def test_a_redelivered_order_is_not_sent_twice(live_orders, sim_client):
    order = _first_open(sim_client)
    again = order_execute(order=Order.objects.get(pk=order.pk), client=sim_client)
    assert again.state == order.state
    assert len(sim_client.get_order_state_by_label(order.currency, order.label)) == 1


def test_10028_backs_off_and_says_why(agent_settings, sim_client, sim_exchange):
    sim_exchange.faults.inject(
        "rate_limit", methods=["public/get_book_summary_by_currency"], count=None
    )
    outcome = tick_run(trigger="test", client=sim_client)
    sim_exchange.faults.clear()
    assert outcome.run.status == AgentRun.Status.BACKOFF
    assert "rate limited (10028)" in outcome.run.summary
    assert AgentStatus.load().backoff_until is not None
    nxt = tick_run(trigger="test", client=sim_client)
    assert nxt.run.status == AgentRun.Status.SKIPPED
    assert "10028" in nxt.run.summary
    assert not Decision.objects.exists()


def test_settlement_in_progress_backs_off_and_logs_the_decision(
    live_orders, sim_client, sim_exchange
):
    sim_exchange.faults.inject("settlement", methods=["private/sell"])
    outcome = tick_run(trigger="test", client=sim_client, seed=1)
    (order,) = outcome.orders
    assert order.state == Order.State.REJECTED
    assert order.error_code == 10041
    assert outcome.run.status == AgentRun.Status.BACKOFF
    assert "settlement in progress (10041)" in outcome.run.summary
    assert outcome.decision is not None
    assert '"error_code":10041' in outcome.decision.log_line


def _open_paper_call(sim_client) -> Position:
    tick_run(trigger="test", client=sim_client, seed=1)
    return Position.objects.filter(status="open", currency="BTC").get()


def test_the_kill_switch_refuses_every_order_closes_included(agent_settings, sim_client):
    # Issue #11: the kill switch stops every order path (docs/decisions/0013); the policy still
    # proposes the close, and the order gate refuses it with the reason.
    position = _open_paper_call(sim_client)
    controls_update(changes={"kill_switch": True, "take_profit_frac": 0.01}, user="test")
    Position.objects.filter(pk=position.pk).update(average_price_coin=Decimal("1"))
    outcome = tick_run(trigger="test", client=sim_client, seed=2)
    assert outcome.decision is not None
    assert outcome.decision.action == "CLOSE_COVERED_CALL", outcome.decision.reason
    assert outcome.decision.verdict_code == "rejected"
    assert any("gate.kill_switch" in r for r in (outcome.decision.risk_verdict or {})["reasons"])
    assert not outcome.orders
    Position.objects.filter(status="open").update(status="closed")
    refused = tick_run(trigger="test", client=sim_client, seed=3)
    assert refused.decision is not None
    assert refused.decision.action == "DO_NOTHING"
    assert "kill switch is ON" in refused.decision.reason
    assert not refused.orders


def test_a_tripped_drawdown_stop_refuses_opens(agent_settings, sim_client):
    AgentStatus.load()
    AgentStatus.objects.filter(pk=1).update(
        drawdown_state={
            "day": "2025-12-10",
            "peak_equity_usd": "99999999",
            "halted": True,
            "halted_at": "2025-12-10T08:00:00Z",
            "reason": "test",
        }
    )
    outcome = tick_run(trigger="test", client=sim_client, seed=1)
    assert outcome.decision is not None
    assert outcome.decision.action == "DO_NOTHING"
    assert "drawdown" in outcome.decision.reason
    assert not outcome.orders


def test_a_paused_health_guard_opens_nothing(agent_settings, sim_client, monkeypatch):
    from trading.services import tick as tick_module

    paused = GuardState(status=GuardStatus.PAUSED, reason="DEGRADED exchange: maintenance")
    monkeypatch.setattr(tick_module, "guard_observe", lambda results, now: paused)
    guard_save(paused)
    outcome = tick_run(trigger="test", client=sim_client, seed=1)
    assert outcome.decision is not None
    assert outcome.decision.action == "DO_NOTHING"
    assert "health guard paused" in outcome.decision.reason
    assert not outcome.orders


class _WorkerKilled(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing in the tick catches it."""


def test_a_tick_killed_between_send_and_reply_leaves_one_order_and_matching_positions(
    live_orders, sim_client, monkeypatch
):
    """A real tick sends its sell, the exchange fills it, the worker dies before recording it."""
    real_place_order = sim_client.place_order

    def place_then_die(*args: object, **kwargs: object) -> object:
        real_place_order(*args, **kwargs)
        raise _WorkerKilled

    monkeypatch.setattr(sim_client, "place_order", place_then_die)
    with pytest.raises(_WorkerKilled):
        tick_run(trigger="test", client=sim_client, seed=1)
    monkeypatch.undo()
    (order,) = Order.objects.all()
    assert order.state == Order.State.SENDING  # sent, outcome never recorded
    assert not Position.objects.filter(paper=False).exists()

    # Restart: what `runagent` and the reconciliation schedule do first.
    assert orders_resolve_pending(client=sim_client, grace_s=0) == 1
    run = reconcile_run(client=sim_client, action="report", trigger="test", grace_s=0)
    order.refresh_from_db()
    assert order.state in (Order.State.FILLED, Order.State.CANCELLED_PARTIAL)
    assert order.filled_amount > 0
    assert len(sim_client.get_order_state_by_label(order.currency, order.label)) == 1
    position = Position.objects.get(instrument_name=order.instrument_name, paper=False)
    assert position.size == short_size(sim_client, order.instrument_name) == -order.filled_amount
    assert run.status == "ok"
    assert not run.items.exists(), [str(i) for i in run.items.all()]

    # The dead worker's lock expires; the next tick sees the call and sends no second BTC order.
    AgentStatus.objects.filter(pk=1).update(lock_owner="", lock_until=None)
    tick_run(trigger="test", client=sim_client, seed=2)
    assert Order.objects.filter(currency="BTC").count() == 1
    assert short_size(sim_client, order.instrument_name) == -order.filled_amount


def test_a_tripped_drawdown_stop_still_lets_a_close_through(agent_settings, sim_client):
    position = _open_paper_call(sim_client)
    AgentStatus.objects.filter(pk=1).update(
        drawdown_state={
            "day": "2025-12-10",
            "peak_equity_usd": "99999999",
            "halted": True,
            "halted_at": "2025-12-10T08:00:00Z",
            "reason": "test",
        }
    )
    controls_update(changes={"take_profit_frac": 0.01}, user="test")
    Position.objects.filter(pk=position.pk).update(average_price_coin=Decimal("1"))
    outcome = tick_run(trigger="test", client=sim_client, seed=2)
    assert outcome.decision is not None
    assert outcome.decision.action == "CLOSE_COVERED_CALL", outcome.decision.reason
    assert outcome.decision.verdict_code == "approved"
    (order,) = outcome.orders
    assert order.direction == "buy"
    assert order.instrument_name == position.instrument_name
    position.refresh_from_db()
    assert position.status == "closed"
    assert position.note == (
        f"closed: bought back {order.filled_amount:f} at {order.average_price:f} "
        f"(order {order.label})"
    )
    # ... and nothing new is sold while the stop is on.
    again = tick_run(trigger="test", client=sim_client, seed=3)
    assert again.decision is not None
    assert again.decision.action == "DO_NOTHING"
    assert "drawdown" in again.decision.reason
    assert not again.orders

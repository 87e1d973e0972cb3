"""The one order gate: every path that can send an order goes through it, and it holds.

The paths: the tick (tests/trading/test_execution_faults.py covers its kill switch), the
reconciliation close, and whatever else calls `order_gate_run`; a source scan makes sure no
module outside the gate and execution calls `place_order` or `order_execute` directly.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from tests.trading.agent_helpers import short_size
from trading.domain.risk import evaluate_reduce_only
from trading.domain.risk.verdict import RiskVerdict
from trading.models import Order, Position
from trading.services import controls_update, reconcile_run
from trading.services.order_gate import (
    GateLeg,
    OrderOrigin,
    OrderRequest,
    order_gate_check,
    order_gate_persist,
    order_gate_run,
    order_gate_send,
)

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]
APPS = ("trading", "backtests", "calibration", "greg", "steward", "reviewbot", "optionsdesk")
#: The only modules that may send: the gate, execution (which it calls), and the client itself.
SENDERS = {
    "trading/services/order_gate.py",
    "trading/services/execution.py",
}
SEND_CALL = re.compile(r"\.(place_order|buy|sell)\(|\border_execute\(")


def test_no_module_outside_the_gate_sends_an_order():
    offenders = []
    for app in APPS:
        for path in (REPO / app).rglob("*.py"):
            rel = path.relative_to(REPO).as_posix()
            if rel in SENDERS or rel.startswith(("trading/deribit/", "bench/")):
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if SEND_CALL.search(line) and not line.lstrip().startswith(("#", '"', "def ")):
                    offenders.append(f"{rel}:{number}: {line.strip()}")
    assert not offenders, "orders must go through trading.services.order_gate:\n" + "\n".join(
        offenders
    )


@pytest.fixture
def drift(agent_settings, sim_client) -> str:
    """A short call on the exchange that our books never recorded."""
    rows = sim_client.get_book_summary_by_currency("BTC", "option")
    name = next(
        r.instrument_name
        for r in rows
        if r.instrument_name.endswith("-C") and r.bid_price and r.instrument_name[4:9] == "19DEC"
    )
    bid = next(r.bid_price for r in rows if r.instrument_name == name)
    sim_client.sell(
        name, Decimal("0.2"), price=Decimal(str(bid)), time_in_force="immediate_or_cancel"
    )
    return name


def test_the_kill_switch_stops_a_reconciliation_close(drift, sim_client):
    # The probe of issue #11: kill switch on, dry run off, POST reconcile close sent a market buy.
    controls_update(changes={"dry_run": False, "kill_switch": True}, user="test")
    run = reconcile_run(client=sim_client, action="close", trigger="test")
    item = run.items.get(instrument_name=drift)
    assert short_size(sim_client, drift) == Decimal("-0.2")
    assert "gate.kill_switch" in item.action_taken
    assert not Order.objects.exists()


def test_a_reconciliation_close_is_one_labelled_reduce_only_order(drift, sim_client):
    controls_update(changes={"dry_run": False}, user="test")
    reconcile_run(client=sim_client, action="close", trigger="test")
    order = Order.objects.get()
    assert order.label.startswith("rc")
    assert (order.origin, order.order_type) == ("reconcile_close", "market")
    assert order.reduce_only
    assert order.state == Order.State.FILLED
    assert short_size(sim_client, drift) == 0


def test_in_dry_run_a_reconciliation_close_says_what_it_would_send(drift, sim_client):
    run = reconcile_run(client=sim_client, action="close", trigger="test")
    assert "dry run: would buy 0.2" in run.items.get(instrument_name=drift).action_taken
    assert not Order.objects.exists()


def _request(risk_ok: bool = True, paper_ok: bool = True) -> OrderRequest:
    leg = GateLeg(
        instrument_name="BTC-19DEC25-100000-C",
        direction="buy",
        amount=Decimal("0.1"),
        limit_price=Decimal("0.01"),
    )
    verdict = RiskVerdict(action="CLOSE_COVERED_CALL", approved=risk_ok, increases_risk=False)
    return OrderRequest(
        origin=OrderOrigin.MANUAL_CLOSE,
        strategy_id="covered_call",
        legs=(leg,),
        risk=lambda _limits: verdict,
        paper_ok=paper_ok,
        requested_by="alice",
    )


class _MainnetClient:
    base_url = "https://www.deribit.com/api/v2"


def test_each_gate_alone_refuses_and_persists_nothing():
    cases = {
        "risk engine": (_request(risk_ok=False), None, {}),
        "kill switch": (_request(), None, {"kill_switch": True}),
        "dry run": (_request(paper_ok=False), None, {}),
        "environment": (_request(), _MainnetClient(), {"dry_run": False}),
    }
    for name, (request, client, controls) in cases.items():
        controls_update(changes={"kill_switch": False, "dry_run": None} | controls, user="t")
        result = order_gate_run(request, client=client)  # type: ignore[arg-type]
        assert not result.check.approved, name
        assert not result.orders, name
    assert not Order.objects.exists()


def test_a_kill_switch_pressed_after_persisting_stops_the_send():
    check = order_gate_check(_request(), client=None)
    orders = order_gate_persist(check)
    assert orders[0].label.startswith("mc")
    assert orders[0].requested_by == "alice"
    controls_update(changes={"kill_switch": True}, user="t")
    order_gate_send(orders, client=None)
    orders[0].refresh_from_db()
    assert orders[0].state == Order.State.SKIPPED
    assert "kill switch" in orders[0].error
    assert not Position.objects.exists()


def test_an_approved_paper_request_is_simulated_once():
    result = order_gate_run(_request(), client=None)
    assert [o.state for o in result.orders] == [Order.State.SIMULATED]
    order_gate_send(result.orders, client=None)  # sent again: the claim refuses
    assert Order.objects.get().state == Order.State.SIMULATED


@pytest.mark.parametrize(
    ("direction", "amount", "size", "approved"),
    [
        ("buy", "0.2", "-0.2", True),
        ("buy", "0.3", "-0.2", False),  # would flip the short into a long
        ("sell", "0.1", "-0.2", False),  # adds to the short
        ("sell", "0.1", "0.5", True),
        ("buy", "0.1", "0", False),
    ],
)
def test_a_reduce_only_order_may_only_shrink_the_position(direction, amount, size, approved):
    verdict = evaluate_reduce_only(
        instrument_name="BTC-X",
        direction=direction,
        amount=Decimal(amount),
        exchange_size=Decimal(size),
    )
    assert verdict.approved is approved

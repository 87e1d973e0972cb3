"""Chaos with real processes: the agent worker is SIGKILLed while its order request is held.

The simulated exchange (this process) accepts the tick's sell and holds the reply
(`drop_reply` fault, a long hang); the worker (a subprocess) is killed with SIGKILL, not an
exception, while it waits. A new worker then reconciles (which settles orders stuck in `sending`
by their label) and ticks again. Afterwards: exactly one order per label on the exchange, the
decision and its order rows agree, and the position the killed worker opened is on our books.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db.models import F

from tests.trading.agent_helpers import make_agent_client, make_vrp_exchange, short_size
from tests.workers import worker_env, worker_start, worker_stop, worker_wait_ready
from trading.deribit.simulator import ServerThread, create_app
from trading.models import AgentRun, Order, Position
from trading.services import controls_update

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _wait(condition, timeout_s: float, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    output = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in logs)
    pytest.fail(f"{what} within {timeout_s} s\n{output}")


def test_a_worker_killed_mid_order_leaves_one_order_and_a_consistent_book(tmp_path: Path):
    from trading.tasks import agent_tick, reconcile_positions

    cache.clear()
    exchange = make_vrp_exchange()
    server = ServerThread(create_app(exchange), port=0).start()
    client = make_agent_client(server.base_url)
    client.get_book_summary_by_currency("BTC")  # warm the market before the clock matters
    controls_update(changes={"dry_run": False}, user="chaos")  # orders reach the exchange
    queue = f"chaos-{uuid.uuid4().hex[:8]}"
    env = worker_env(DERIBIT_ENV="sim", DERIBIT_SIM_URL=server.base_url)
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    # The exchange places the sell, then holds the reply for a minute (the worker waits on it).
    exchange.faults.inject("drop_reply", methods=["private/sell"], hang_s=60)
    first = worker_start(queue, f"{queue}-1", env, logs[0])
    second = None
    try:
        worker_wait_ready(logs[0])
        agent_tick.apply_async(kwargs={"trigger": "chaos-1"}, queue=queue)
        _wait(lambda: bool(exchange.orders), 90, "no order reached the exchange", logs)
        _wait(
            lambda: Order.objects.filter(state="sending").exists(),
            30,
            "the order row is not in sending",
            logs,
        )
        first.kill()  # SIGKILL while the request is held
        first.wait(timeout=20)
        exchange.faults.clear()
        crashed = Order.objects.get(state="sending")
        # The restart comes after the reconciliation's grace (60 s, so that a live tick still
        # waiting on a reply is not raced): date the send back rather than sleep.
        Order.objects.filter(pk=crashed.pk).update(sent_at=F("sent_at") - timedelta(seconds=61))

        second = worker_start(queue, f"{queue}-2", env, logs[1])
        worker_wait_ready(logs[1])
        reconcile_positions.apply_async(
            kwargs={"action": "report", "trigger": "chaos"}, queue=queue
        )
        _wait(
            lambda: not Order.objects.filter(state__in=("sending", "pending", "unknown")).exists(),
            90,
            "the crashed order was not settled by label",
            logs,
        )
        agent_tick.apply_async(kwargs={"trigger": "chaos-2"}, queue=queue)
        _wait(
            lambda: AgentRun.objects.filter(trigger="chaos-2", finished_at__isnull=False).exists(),
            90,
            "the restarted worker did not tick",
            logs,
        )

        # exactly one order per label on the exchange
        labels = list(Order.objects.exclude(label="").values_list("currency", "label"))
        for currency, label in labels:
            assert len(client.get_order_state_by_label(currency, label)) <= 1, label
        assert len(client.get_order_state_by_label(crashed.currency, crashed.label)) == 1
        assert len({o.label for o in exchange.orders.values()}) == len(exchange.orders)
        # the decision and its order rows agree
        crashed.refresh_from_db()
        assert crashed.state in (Order.State.FILLED, Order.State.CANCELLED_PARTIAL), crashed.state
        decision = crashed.decision
        assert decision is not None
        assert decision.action == "OPEN_COVERED_CALL"
        assert list(decision.orders.values_list("label", flat=True)) == [crashed.label]
        # no position lost: our book holds what the exchange holds
        held = short_size(client, crashed.instrument_name)
        assert held == -crashed.filled_amount != Decimal(0)
        position = Position.objects.get(instrument_name=crashed.instrument_name, status="open")
        assert position.size == held
    finally:
        if second is not None:
            worker_stop(second)
        if first.poll() is None:
            first.kill()
        exchange.faults.clear()
        client.close()
        server.stop()

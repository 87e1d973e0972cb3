"""End to end: a real Celery worker and beat tick the agent against the simulator over loopback.

Beat (django-celery-beat's database scheduler, a subprocess) sends `trading.agent_tick`; a real
worker (another subprocess) runs it against the simulated exchange served by this test process;
the API and the Live Agent page (read here) show what it did. Both subprocesses get pytest's
test database (`DATABASE_URL`) and the broker the settings name (filesystem locally, Redis in
CI); the periodic task goes to a private queue so no other test's worker takes it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
from django.core.cache import cache
from django.urls import reverse
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from rest_framework.test import APIClient

from tests.trading.agent_helpers import make_agent_client, short_size
from tests.workers import CeleryOnSim
from trading.models import Decision, Order, Position
from trading.services import controls_update

#: Beat's period for the test's agent_tick entry (production declares 30 s in the schedule).
BEAT_EVERY_S = 2
DEADLINE_S = 50

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def stack(celery_on_sim: Callable[..., CeleryOnSim]) -> CeleryOnSim:
    """Simulator on loopback, the agent_tick beat entry, a worker and beat as subprocesses."""
    cache.clear()
    queue = f"agent-e2e-{uuid.uuid4().hex[:8]}"
    PeriodicTask.objects.create(
        name="trading.agent_tick",
        task="trading.agent_tick",
        interval=IntervalSchedule.objects.create(every=BEAT_EVERY_S, period="seconds"),
        queue=queue,
        expire_seconds=BEAT_EVERY_S * 5,
    )
    controls_update(changes={"loop_interval_s": 10}, user="test")
    return celery_on_sim(queue, DRY_RUN="true")


def _wait_for_open(stack: CeleryOnSim, *, orders: int) -> Decision:
    """The first OPEN decision whose `orders` orders are all settled, within DEADLINE_S."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        decision = Decision.objects.filter(action="OPEN_COVERED_CALL").order_by("pk").first()
        pending = Order.objects.filter(state__in=("pending", "sending", "unknown")).exists()
        if decision is not None and Order.objects.count() >= orders and not pending:
            return decision
        time.sleep(0.5)
    pytest.fail(f"no covered call opened within {DEADLINE_S} s\n{stack.output()}")


def _assert_api_and_page_show(decision: Decision, order: Order, admin_user, logged_in_client):
    api = APIClient()
    api.force_authenticate(admin_user)
    decisions = api.get("/api/agent/decisions", {"action": "OPEN_COVERED_CALL"}).json()
    assert decisions["count"] >= 1
    first = next(d for d in decisions["results"] if d["id"] == decision.pk)
    assert first["orders"][0]["label"] == order.label
    positions = api.get("/api/agent/positions", {"status": "open"}).json()
    assert order.instrument_name in [p["instrument_name"] for p in positions["results"]]
    page = logged_in_client.get(reverse("trading:live")).content.decode()
    assert "OPEN_COVERED_CALL" in page
    assert order.instrument_name in page


def test_beat_and_a_worker_open_a_covered_call_in_dry_run(stack, admin_user, logged_in_client):
    decision = _wait_for_open(stack, orders=1)
    assert decision.run is not None
    assert decision.run.trigger == "beat"
    assert decision.dry_run
    assert decision.verdict_code == "approved"
    order = decision.orders.get()
    assert order.state == Order.State.SIMULATED
    position = Position.objects.get(instrument_name=order.instrument_name)
    assert position.paper
    assert position.size == -order.amount
    with make_agent_client(stack.server.base_url) as client:
        assert client.get_order_state_by_label(order.currency, order.label) == []
        assert all(p.size == 0 for p in client.get_positions("any", "option"))
    _assert_api_and_page_show(decision, order, admin_user, logged_in_client)


@pytest.fixture
def live_orders() -> None:
    """Dry run off: orders reach the simulated exchange (testnet-on-simulator)."""
    controls_update(changes={"dry_run": False}, user="test")


def test_beat_and_a_worker_send_exactly_one_order_per_label_to_the_simulator(
    live_orders, stack, admin_user, logged_in_client
):
    decision = _wait_for_open(stack, orders=1)
    assert not decision.dry_run
    order = decision.orders.get()
    assert order.state in (Order.State.FILLED, Order.State.CANCELLED_PARTIAL)
    with make_agent_client(stack.server.base_url) as client:
        for each in Order.objects.exclude(state__in=("pending", "sending", "unknown")):
            on_exchange = client.get_order_state_by_label(each.currency, each.label)
            assert len(on_exchange) == 1, each.label
            assert on_exchange[0].order_id == each.exchange_order_id
        exchange_size = short_size(client, order.instrument_name)
    position = Position.objects.get(instrument_name=order.instrument_name, paper=False)
    assert position.size == exchange_size == -order.filled_amount
    _assert_api_and_page_show(decision, order, admin_user, logged_in_client)

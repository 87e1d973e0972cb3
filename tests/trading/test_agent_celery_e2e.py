"""End to end: a real Celery worker and beat tick the agent against the simulator over loopback.

Beat (django-celery-beat's database scheduler, a subprocess) sends `trading.agent_tick`; a real
worker (another subprocess) runs it against the simulated exchange served by this test process;
the API and the Live Agent page (read here) show what it did. Both subprocesses get pytest's
test database (`DATABASE_URL`) and the broker the settings name (filesystem locally, Redis in
CI); the periodic task goes to a private queue so no other test's worker takes it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.cache import cache
from django.urls import reverse
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from rest_framework.test import APIClient

from tests.optionsdesk.test_celery_worker import database_url_for_subprocess
from tests.trading.agent_helpers import SIM_START, make_agent_client, short_size
from trading.deribit.simulator import ServerThread, SimConfig, SimulatedExchange, create_app
from trading.models import Decision, Order, Position
from trading.services import controls_update

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Beat's period for the test's agent_tick entry (production declares 30 s in the schedule).
BEAT_EVERY_S = 2
DEADLINE_S = 50

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@dataclass
class Stack:
    """The simulator in this process and the worker/beat subprocesses ticking against it."""

    server: ServerThread
    queue: str
    logs: list[Path]

    def output(self) -> str:
        """Both subprocesses' logs (for failure messages)."""
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in self.logs
        )


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "optionsdesk", *argv],
            cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """Simulator on loopback, the agent_tick beat entry, a worker and beat as subprocesses."""
    cache.clear()
    exchange = SimulatedExchange(SimConfig(seed=42, start=SIM_START, rate_limits=None))
    server = ServerThread(create_app(exchange), port=0).start()
    queue = f"agent-e2e-{uuid.uuid4().hex[:8]}"
    PeriodicTask.objects.create(
        name="trading.agent_tick",
        task="trading.agent_tick",
        interval=IntervalSchedule.objects.create(every=BEAT_EVERY_S, period="seconds"),
        queue=queue,
        expire_seconds=BEAT_EVERY_S * 5,
    )
    controls_update(changes={"loop_interval_s": 10}, user="test")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DERIBIT_")}
    env.update(
        DATABASE_URL=database_url_for_subprocess(),
        DERIBIT_ENV="sim",
        DERIBIT_SIM_URL=server.base_url,
        DRY_RUN="true",
        PYTHONUNBUFFERED="1",
    )
    logs = [tmp_path / "worker.log", tmp_path / "beat.log"]
    worker = _start(
        ["worker", "--pool", "solo", "-Q", queue, "-n", f"{queue}@%h", "--without-gossip",
         "--without-mingle", "-l", "info"],
        env, logs[0],
    )  # fmt: skip
    beat = _start(
        ["beat", "-l", "info", "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
         "--schedule", str(tmp_path / "beat-schedule"), "--max-interval", "1"],
        env, logs[1],
    )  # fmt: skip
    try:
        yield Stack(server=server, queue=queue, logs=logs)
    finally:
        _stop(beat)
        _stop(worker)
        server.stop()
        if os.environ.get("OPTIONSDESK_SHOW_WORKER_LOG"):
            sys.stderr.write(Stack(server, queue, logs).output())


def _wait_for_open(stack: Stack, *, orders: int) -> Decision:
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

"""Chaos with real processes: the broker (Redis) restarts while the agent worker is mid-tick.

A private `redis-server` on a free loopback port (CI's own Redis is left alone) is the broker
of a real worker. A tick is slowed by the simulated exchange (latency on its book request);
while it runs, Redis is shut down without saving and started again empty. The tick finishes and
is recorded once, the worker reconnects on its own, and the next tick runs; no order is sent
twice. Skipped without `redis-server` unless OPTIONSDESK_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from django.core.cache import cache
from kombu import Connection

from tests.trading.agent_helpers import make_vrp_exchange
from tests.workers import free_port, worker_env, worker_start, worker_stop, worker_wait_ready
from trading.deribit.simulator import ServerThread, create_app
from trading.models import AgentRun, Order

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _redis_start(port: int, folder: Path) -> subprocess.Popen[bytes]:
    server = shutil.which("redis-server")
    assert server is not None
    proc = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    pytest.fail("redis-server did not start")


def _wait(condition, timeout_s: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"{what} within {timeout_s} s\n{log.read_text(errors='replace')[-4000:]}")


def _finished(trigger: str) -> bool:
    return AgentRun.objects.filter(trigger=trigger, finished_at__isnull=False).exists()


@pytest.fixture
def redis_port(tmp_path: Path):
    if shutil.which("redis-server") is None:
        if os.environ.get("OPTIONSDESK_REQUIRE_SERVICES"):
            pytest.fail("redis-server is required here (OPTIONSDESK_REQUIRE_SERVICES)")
        pytest.skip("redis-server not installed")
    return free_port()


def test_the_worker_survives_a_broker_restart_mid_tick(redis_port: int, tmp_path: Path):
    from trading.tasks import agent_tick

    cache.clear()
    redis = _redis_start(redis_port, tmp_path)
    broker = f"redis://127.0.0.1:{redis_port}/0"
    exchange = make_vrp_exchange()
    server = ServerThread(create_app(exchange), port=0).start()
    queue = f"chaos-redis-{uuid.uuid4().hex[:8]}"
    env = worker_env(DERIBIT_ENV="sim", DERIBIT_SIM_URL=server.base_url, CELERY_BROKER_URL=broker)
    log = tmp_path / "worker.log"
    worker = worker_start(queue, queue, env, log)
    try:
        worker_wait_ready(log)
        # The tick's first exchange request waits 6 s: long enough to restart Redis under it.
        exchange.faults.inject("latency", methods=["public/get_book_summary_by_currency"],
                               latency_s=6)  # fmt: skip
        with Connection(broker) as conn:
            agent_tick.apply_async(kwargs={"trigger": "mid-restart"}, queue=queue, connection=conn)  # type: ignore[call-arg]
        _wait(lambda: AgentRun.objects.filter(trigger="mid-restart").exists(), 60,
              "the tick did not start", log)  # fmt: skip
        redis.terminate()  # SIGTERM: Redis shuts down, nothing saved (--save "")
        redis.wait(timeout=20)
        time.sleep(1)
        redis = _redis_start(redis_port, tmp_path)
        _wait(
            lambda: _finished("mid-restart"), 60, "the tick under the restart did not finish", log
        )
        assert worker.poll() is None, log.read_text(errors="replace")[-4000:]
        with Connection(broker) as conn:  # the worker reconnected: it takes the next tick
            after = {"trigger": "after-restart"}
            agent_tick.apply_async(kwargs=after, queue=queue, connection=conn)  # type: ignore[call-arg]
        _wait(lambda: _finished("after-restart"), 90, "no tick after the broker came back", log)
        assert AgentRun.objects.filter(trigger="mid-restart").count() == 1
        labels = list(Order.objects.values_list("label", flat=True))
        assert len(labels) == len(set(labels))
        assert len({o.label for o in exchange.orders.values()}) == len(exchange.orders)
    finally:
        worker_stop(worker)
        redis.terminate()
        redis.wait(timeout=20)
        exchange.faults.clear()
        server.stop()

"""With 20 backtests queued, agent ticks still run on time: each queue has a worker of its own.

Real workers (subprocesses) on the real queue names, `research` and `agent`; the tasks are sent
without `queue=` so the routing by task name (optionsdesk/celery.py) is what puts them there.
Each tick message carries an expiry as beat's do: a tick that waited behind research would be
discarded ("Discarding revoked task: trading.agent_tick") and never recorded.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.core.cache import cache

from backtests import services as backtest_services
from backtests.domain.sources.spec import SourceSpec
from backtests.models import BacktestRun
from tests.backtests.conftest import TRADING_CONFIG
from tests.trading.agent_helpers import SIM_START
from tests.workers import (
    queue_purge,
    worker_env,
    worker_start,
    worker_stop,
    worker_wait_ready,
)
from trading.deribit.simulator import ServerThread, SimConfig, SimulatedExchange, create_app
from trading.models import AgentRun

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
BACKTESTS = 20
TICKS = 4
TICK_EXPIRES_S = 8  # beat's agent_tick expires after 25 s of its 30 s period; shorter here
# Three years of hourly chains: each run keeps the research worker busy for seconds.
SOURCE = SourceSpec(kind="synthetic", underlying="BTC", days=1095, seed=5)


def test_ticks_run_on_time_with_twenty_backtests_queued(tmp_path: Path):
    from trading.tasks import agent_tick

    cache.clear()
    queue_purge("agent", "research", "celery")
    exchange = SimulatedExchange(SimConfig(seed=42, start=SIM_START, rate_limits=None))
    server = ServerThread(create_app(exchange), port=0).start()
    env = worker_env(DERIBIT_ENV="sim", DERIBIT_SIM_URL=server.base_url)
    logs = tmp_path / "research.log", tmp_path / "agent.log"
    runs = [  # queued before any worker runs: the research queue holds 20 messages
        backtest_services.backtest_run_create(
            config=TRADING_CONFIG.model_copy(update={"seed": i}),
            source=SOURCE.model_copy(update={"seed": i}),  # a market each: no shared cache
            name=f"q{i}",
        )
        for i in range(BACKTESTS)
    ]
    research = worker_start("research", f"research-test-{time.time_ns()}", env, logs[0])
    agent = worker_start("agent", f"agent-test-{time.time_ns()}", env, logs[1])
    try:
        worker_wait_ready(logs[0])
        worker_wait_ready(logs[1])
        sent_at = {}
        queued_when_sent = []  # research runs still waiting when each tick was sent
        for i in range(TICKS):
            trigger = f"queue-test-{i}"
            queued_when_sent.append(
                BacktestRun.objects.filter(status=BacktestRun.Status.QUEUED).count()
            )
            agent_tick.apply_async(kwargs={"trigger": trigger}, expires=TICK_EXPIRES_S)
            sent_at[trigger] = time.time()
            time.sleep(3)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if AgentRun.objects.filter(trigger__startswith="queue-test-").count() == TICKS:
                break
            time.sleep(0.5)
        ran = {run.trigger: run for run in AgentRun.objects.filter(trigger__startswith="queue-")}
        waiting = BacktestRun.objects.filter(
            pk__in=[r.pk for r in runs], status=BacktestRun.Status.QUEUED
        ).count()
        output = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in logs)
        assert set(ran) == set(sent_at), f"ticks lost: {set(sent_at) - set(ran)}\n{output}"
        for trigger, run in ran.items():
            delay = run.started_at.timestamp() - sent_at[trigger]
            assert delay < TICK_EXPIRES_S, (trigger, delay)
        # the research queue was still full of runs when every tick was sent
        assert min(queued_when_sent) > 0, (queued_when_sent, waiting, output)
        started = BacktestRun.objects.exclude(status=BacktestRun.Status.QUEUED).count()
        assert started >= 1, f"the research worker ran nothing\n{output}"
    finally:
        worker_stop(agent)
        worker_stop(research)
        server.stop()
        queue_purge("agent", "research", "celery")

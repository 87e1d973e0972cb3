"""The health guard holds (issue #21): a tick measures what the re-check measures, so a pause
lasts until its cause is gone; the start-up guard runs on the Celery path too."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.trading.agent_helpers import CLIENT_ID, FAST_RETRY, make_agent_client
from trading.deribit.client import DeribitClient
from trading.deribit.limiter import NoLimiter
from trading.domain.health import GuardStatus
from trading.models import AgentRun, HealthCheck
from trading.services import agent_healthcheck, guard_operator_reset, tick_run
from trading.services import health as health_service
from trading.services.agent_status import guard_load, startup_load

pytestmark = pytest.mark.django_db

#: Books 20 minutes older than the exchange clock: dead data (DEGRADED), the guard pauses.
STALE_MS = 20 * 60 * 1000


def test_stale_data_pauses_on_recheck_and_ticks_stay_paused_until_fresh_data(
    agent_settings, sim_client, monkeypatch, logged_in_client
):
    exchange_time = sim_client.get_time
    monkeypatch.setattr(sim_client, "get_time", lambda: exchange_time() + STALE_MS)

    _, guard = agent_healthcheck(client=sim_client, kind="recheck")
    assert guard.status is GuardStatus.PAUSED
    assert "DEGRADED data" in guard.reason

    for seed in (1, 2):
        outcome = tick_run(trigger="test", client=sim_client, seed=seed)
        assert outcome.decision is not None
        assert guard_load().status is GuardStatus.PAUSED  # the tick saw the same stale data
        assert outcome.decision.action == "DO_NOTHING"
        assert "health guard paused" in outcome.decision.reason
    page = logged_in_client.get(reverse("trading:live")).content.decode()
    assert 'data-testid="paused"' in page
    assert "old" in page  # the reason: how old the books are

    monkeypatch.setattr(sim_client, "get_time", exchange_time)  # fresh data again
    resumed = tick_run(trigger="test", client=sim_client, seed=3)
    assert guard_load().status is GuardStatus.RUNNING
    assert resumed.decision is not None
    assert resumed.decision.action == "OPEN_COVERED_CALL"


def test_a_fatal_startup_check_on_mainnet_stops_beat_ticks(
    agent_settings, sim_server, monkeypatch, logged_in_client
):
    agent_settings.DERIBIT_ENV = "mainnet"  # the simulator poses as mainnet
    monkeypatch.setattr(health_service, "_STARTED", set())  # a freshly started worker
    bad_keys = DeribitClient(
        sim_server.base_url, CLIENT_ID, "wrong", limiter=NoLimiter(), retry=FAST_RETRY
    )

    first = tick_run(trigger="beat", client=bad_keys)
    assert first.run.status == AgentRun.Status.PAUSED
    assert "start-up guard" in first.run.summary
    assert startup_load() is not None
    assert startup_load().blocked  # type: ignore[union-attr]
    assert HealthCheck.objects.filter(kind="startup", severity="FATAL").exists()
    assert first.decision is None

    with make_agent_client(sim_server.base_url) as good:  # later beats, keys fixed or not
        later = tick_run(trigger="beat", client=good)
    assert later.run.status == AgentRun.Status.PAUSED
    assert later.decision is None
    page = logged_in_client.get(reverse("trading:agent-health")).content.decode()
    assert "stopped by the start-up guard" in page

    guard_operator_reset()
    assert startup_load().blocked is False  # type: ignore[union-attr]


def test_system_health_runs_the_agent_healthcheck_at_most_once_a_minute(
    agent_settings, sim_server, logged_in_client, settings
):
    from tests.trading.agent_helpers import CLIENT_SECRET

    settings.DERIBIT_BASE_URL = sim_server.base_url
    settings.DERIBIT_CLIENT_ID, settings.DERIBIT_CLIENT_SECRET = CLIENT_ID, CLIENT_SECRET
    url = reverse("trading:agent-health")

    first = logged_in_client.get(url).content.decode()
    batches = set(HealthCheck.objects.values_list("batch", flat=True))
    again = logged_in_client.get(url).content.decode()

    assert len(batches) == 1
    assert set(HealthCheck.objects.values_list("batch", flat=True)) == batches  # within a minute
    for html in (first, again):
        assert 'data-testid="health-badge"' in html
        assert 'data-testid="health-checked-at"' in html
    names = set(HealthCheck.objects.values_list("name", flat=True))
    assert {"config", "exchange", "auth", "data", "pipeline", "llm", "risk_settings"} <= names
    pipeline = HealthCheck.objects.get(name="pipeline")
    assert pipeline.severity == "OK"
    assert "rules:" in pipeline.detail
    assert "risk:" in pipeline.detail
    system = logged_in_client.get(reverse("system:health")).content.decode()
    assert f'hx-get="{url}"' in system


def test_the_llm_check_asks_the_llm_with_its_latency(
    agent_settings, sim_client, llm_server, fake, settings
):
    from pydantic import SecretStr

    from tests.fake_openai import answer

    settings.LLM_ENABLED = True
    settings.APP = settings.APP.model_copy(
        update={"OPENAI_BASE_URL": llm_server.base_url, "OPENAI_API_KEY": SecretStr("sk-test")}
    )
    from trading.services.controls import controls_update

    controls_update(changes={"decision_mode": "hybrid_shadow"}, user="t")
    fake.queue(answer('{"ok": true}'))
    results, _ = agent_healthcheck(client=sim_client, kind="manual")
    llm = next(r for r in results if r.name == "llm")
    assert llm.severity.name == "OK"
    assert " ms" in llm.detail
    assert fake.received  # the LLM was really asked

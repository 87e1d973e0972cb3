"""The agent's management commands against the loopback simulator."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from tests.trading.agent_helpers import CLIENT_ID, CLIENT_SECRET
from trading.models import AgentRun, Decision, HealthCheck, ReconciliationRun
from trading.services.stream_state import agent_stream_current, agent_stream_stop
from trading.tasks import agent_tick

pytestmark = pytest.mark.django_db


@pytest.fixture
def sim_settings(agent_settings, sim_server):
    agent_settings.DERIBIT_BASE_URL = sim_server.base_url
    agent_settings.DERIBIT_CLIENT_ID = CLIENT_ID
    agent_settings.DERIBIT_CLIENT_SECRET = CLIENT_SECRET
    return agent_settings


def test_runagent_once_runs_the_startup_guard_and_one_tick(sim_settings, capsys):
    call_command("runagent", "--once")
    out = capsys.readouterr().out
    assert "start-up guard: start" in out
    assert "ok" in out
    assert AgentRun.objects.filter(trigger="command", status="ok").count() == 1
    assert HealthCheck.objects.filter(kind="startup").exists()


def test_runagent_holds_the_stream_in_process_and_ticks_on_it(sim_settings, capsys):
    sim_settings.AGENT_STREAM = True
    call_command("runagent", "--max-ticks", "2", "--interval", "0", "--skip-startup-check")
    out = capsys.readouterr().out
    assert "stream: 1237 channels, ready" in out
    sources = [json.loads(d.log_line)["state_source"] for d in Decision.objects.order_by("id")]
    assert [s["source"] for s in sources] == ["stream", "stream"]
    assert agent_stream_current() is None  # stopped when the loop ended


def test_the_celery_tick_starts_the_stream_in_its_worker_process(sim_settings):
    sim_settings.AGENT_STREAM = True
    try:
        agent_tick(trigger="test")  # starts this process's stream (this tick reads REST)
        stream = agent_stream_current()
        assert stream is not None
        assert stream.wait_ready(timeout_s=60)
        agent_tick(trigger="test")
        assert agent_stream_current() is stream  # one stream per process
    finally:
        agent_stream_stop()
    last = Decision.objects.order_by("id").last()
    assert last is not None
    assert json.loads(last.log_line)["state_source"]["source"] == "stream"


def test_export_healthcheck_and_reconcile_commands(sim_settings, capsys):
    call_command("runagent", "--once", "--skip-startup-check")
    call_command("export_decisions")
    call_command("agent_healthcheck")
    call_command("reconcile_positions", "--action", "report")
    out = capsys.readouterr().out
    assert "exported 0 line(s)" in out  # the tick already exported its line
    assert "OK        exchange" in out
    assert "guard: running" in out
    assert ReconciliationRun.objects.get().status == "ok"
    assert Decision.objects.get().exported_at is not None
    files = list((sim_settings.VAR_DIR / "decisions").glob("decisions-*.jsonl"))
    assert len(files) == 1
    assert len(files[0].read_text().splitlines()) == 1


def test_the_beat_task_runs_a_tick_through_the_service(sim_settings):
    summary = agent_tick.apply(kwargs={"trigger": "task"}).get()
    assert "OPEN_COVERED_CALL" in summary or "DO_NOTHING" in summary

"""Greg's beat tasks run on the research queue (never the agent's) and send no order."""

from __future__ import annotations

import pytest

from greg import tasks
from greg.models import GregDecision
from greg.services import exchange, greg_settings_update
from optionsdesk.celery import RESEARCH_QUEUE, app, task_queue
from optionsdesk.schedule import declared_schedule
from tests.trading.agent_helpers import make_agent_client
from trading.models import Order
from trading.services import controls_update

GREG_TASKS = sorted(name for name in app.tasks if name.startswith("greg."))


def test_every_greg_task_is_known_to_celery():
    assert GREG_TASKS == ["greg.evaluate", "greg.whatif_report"]
    assert tasks.greg_evaluate_task.name == "greg.evaluate"


@pytest.mark.parametrize("name", GREG_TASKS)
def test_greg_tasks_route_to_the_research_queue(name):
    assert task_queue(name) == RESEARCH_QUEUE
    assert app.amqp.router.route({}, name, (), {})["queue"].name == RESEARCH_QUEUE
    assert getattr(app.tasks[name], "queue", None) == RESEARCH_QUEUE


def test_the_beat_sends_greg_tasks_to_the_research_queue():
    greg = [spec for spec in declared_schedule(60) if spec.task.startswith("greg.")]
    assert {spec.task for spec in greg} == set(GREG_TASKS)
    assert {spec.queue for spec in greg} == {RESEARCH_QUEUE}


@pytest.mark.django_db
def test_the_evaluate_beat_is_advisory_even_with_every_gate_open(
    agent_settings, sim_server, sim_client, monkeypatch
):
    greg_settings_update(
        changes={
            "mode": "live",
            "master_switch": True,
            "enabled_strategies": ["STRATEGY_C_SHORT_PUT", "STRATEGY_F_BULL_PUT_SPREAD"],
        },
        user="op",
        source="test",
    )
    controls_update(changes={"dry_run": False, "kill_switch": False}, user="op")
    monkeypatch.setattr(exchange, "greg_client", lambda: make_agent_client(sim_server.base_url))
    summary = tasks.greg_evaluate_task.apply().get()
    assert set(summary["evaluations"]) == {"BTC", "ETH"}
    assert GregDecision.objects.filter(kind="evaluation").count() == 2
    assert not Order.objects.exists()
    assert not sim_client.get_open_orders_by_currency("BTC")
    assert sim_client.get_positions("any") == []

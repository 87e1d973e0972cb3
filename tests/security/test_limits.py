"""Per-user run quota, the agent healthcheck's throttle, and queue routing by task name."""

from __future__ import annotations

import pytest

from backtests.models import BacktestRun
from optionsdesk.celery import app, task_queue

pytestmark = pytest.mark.django_db


def test_a_user_past_the_quota_of_queued_runs_gets_a_429(client_as, settings):
    settings.RESEARCH_QUEUED_RUNS_PER_USER = 2
    alice, bob = client_as("researcher", "alice"), client_as("researcher", "bob")
    for _ in range(2):
        assert alice.post("/api/backtests", {}, content_type="application/json").status_code == 201
    refused = alice.post("/api/backtests", {}, content_type="application/json")
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "throttled"
    assert "RESEARCH_QUEUED_RUNS_PER_USER" in error["message"]
    assert BacktestRun.objects.filter(created_by=alice.user).count() == 2
    # another user has their own allowance; a finished run frees a place
    assert bob.post("/api/backtests", {}, content_type="application/json").status_code == 201
    BacktestRun.objects.filter(created_by=alice.user).update(status=BacktestRun.Status.SUCCEEDED)
    assert alice.post("/api/backtests", {}, content_type="application/json").status_code == 201


def test_the_lab_form_keeps_the_quota_too(client_as, settings):
    from django.urls import reverse

    settings.RESEARCH_QUEUED_RUNS_PER_USER = 1
    alice = client_as("researcher", "alice")
    assert alice.post("/api/backtests", {}, content_type="application/json").status_code == 201
    page = alice.post(reverse("backtests:index"), {"name": "second"})
    assert page.status_code == 200
    assert BacktestRun.objects.count() == 1


def test_post_agent_health_is_throttled_per_user(client_as, monkeypatch, settings):
    from django.core.cache import cache

    import trading.services

    cache.clear()
    calls = []

    def healthcheck(**kwargs):
        calls.append(kwargs)
        raise RuntimeError("stop here: the throttle is what is tested")

    monkeypatch.setattr(trading.services, "agent_healthcheck", healthcheck)
    operator = client_as("operator")
    operator.raise_request_exception = False
    statuses = [operator.post("/api/agent/health").status_code for _ in range(8)]
    assert statuses[:6] == [500] * 6  # the stub fails; six calls a minute are allowed
    assert statuses[6:] == [429, 429]
    throttled = operator.post("/api/agent/health")
    assert throttled.json()["error"]["code"] == "throttled"
    assert "Retry-After" in throttled
    assert len(calls) == 6
    assert operator.get("/api/agent/health").status_code == 200  # reads are not throttled


@pytest.mark.parametrize(
    ("name", "queue"),
    [
        ("trading.agent_tick", "agent"),
        ("trading.reconcile_positions", "agent"),
        ("trading.health_recheck", "agent"),
        ("system.heartbeat", "agent"),
        ("backtests.run_backtest", "research"),
        ("backtests.run_grid_cell", "research"),
        ("calibration.harvest", "research"),
        ("greg.whatif_run", "research"),
        ("steward.report", "research"),
        ("research.scan", "research"),
        ("trading.export_decisions", "celery"),
    ],
)
def test_tasks_route_to_their_queue_by_name(name, queue):
    assert task_queue(name) == queue
    route = app.amqp.router.route({}, name, (), {})
    assert route["queue"].name == queue


def test_an_explicit_queue_wins_over_the_name():
    route = app.amqp.router.route({"queue": "private-test"}, "trading.agent_tick", (), {})
    assert route["queue"].name == "private-test"


def test_studies_and_training_runs_count_toward_the_same_quota(client_as, settings):
    from django.urls import reverse

    from backtests.models import SelectorStudy, TrainingRun

    settings.RESEARCH_QUEUED_RUNS_PER_USER = 3
    alice = client_as("researcher", "alice")
    body = {"profiles": ["production"], "source": {"kind": "synthetic", "days": 5}}
    assert alice.post("/api/backtests", {}, content_type="application/json").status_code == 201
    study = alice.post("/api/backtests/studies", {"kind": "funnel"}, "application/json")
    assert study.status_code == 201
    assert alice.post("/api/backtests/training", body, "application/json").status_code == 201
    for path, refused_body in (
        ("/api/backtests", {}),
        ("/api/backtests/studies", {"kind": "funnel"}),
        ("/api/backtests/training", body),
    ):
        refused = alice.post(path, refused_body, "application/json")
        assert refused.status_code == 429, path
        assert "RESEARCH_QUEUED_RUNS_PER_USER" in refused.json()["error"]["message"]
    form = {
        "profiles": ["production"],
        "source": "synthetic",
        "underlying": "BTC",
        "days": 5,
        "seed": 1,
        "decision_interval_hours": 1,
        "fmt": "csv",
        "validation_frac": 0.1,
    }
    page = alice.post(reverse("backtests:training"), form)
    assert page.status_code == 200
    assert "RESEARCH_QUEUED_RUNS_PER_USER" in page.content.decode()
    assert SelectorStudy.objects.count() == 1
    assert TrainingRun.objects.count() == 1
    # a finished study frees a place for any kind of run
    SelectorStudy.objects.update(status=SelectorStudy.Status.SUCCEEDED)
    assert (
        alice.post("/api/backtests/studies", {"kind": "funnel"}, "application/json").status_code
        == 201
    )

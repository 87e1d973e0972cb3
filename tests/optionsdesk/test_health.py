"""/health and /api/status: what each component's state is, and who may see what."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from optionsdesk.models import WorkerHeartbeat
from optionsdesk.services import api_token_create, heartbeat_record
from optionsdesk.tasks import heartbeat

pytestmark = pytest.mark.django_db

COMPONENTS = {"database", "broker", "worker", "exchange", "llm"}


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _long_running(monkeypatch):
    """These tests judge a process past its start-up window (see the `starting` tests)."""
    import time

    from optionsdesk import health

    monkeypatch.setattr(health, "PROCESS_STARTED", time.monotonic() - 100_000)


def test_health_says_starting_not_down_during_the_first_heartbeat_interval(
    client, settings, monkeypatch
):
    import time

    from optionsdesk import health

    settings.HEARTBEAT_INTERVAL_S = 30
    monkeypatch.setattr(health, "PROCESS_STARTED", time.monotonic() - 10)
    body = client.get("/health").json()
    assert body["checks"]["worker"]["status"] == "starting"
    monkeypatch.setattr(health, "PROCESS_STARTED", time.monotonic() - 66)
    assert client.get("/health").json()["checks"]["worker"]["status"] == "down"


def test_health_is_public_and_reports_every_component(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert set(body["checks"]) == COMPONENTS
    for check in body["checks"].values():
        assert check["status"] in {"ok", "degraded", "down"}
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["broker"]["status"] == "ok"


def test_worker_is_down_without_heartbeat_and_ok_after_one(logged_in_client):
    client = logged_in_client  # details are for logged-in users
    assert client.get("/health").json()["checks"]["worker"]["status"] == "down"
    heartbeat_record(hostname="celery@test", task_id="t1")
    worker = client.get("/health").json()["checks"]["worker"]
    assert worker["status"] == "ok"
    assert "celery@test" in worker["detail"]


def test_a_stale_heartbeat_degrades_then_goes_down(client, settings):
    settings.HEARTBEAT_INTERVAL_S = 30
    beat = heartbeat_record(hostname="celery@old", task_id="t")
    WorkerHeartbeat.objects.filter(pk=beat.pk).update(
        last_seen_at=timezone.now() - timedelta(minutes=3)
    )
    assert client.get("/health").json()["checks"]["worker"]["status"] == "degraded"
    WorkerHeartbeat.objects.filter(pk=beat.pk).update(
        last_seen_at=timezone.now() - timedelta(hours=1)
    )
    assert client.get("/health").json()["checks"]["worker"]["status"] == "down"


def test_heartbeat_task_counts_beats_per_worker():
    heartbeat.apply(task_id="a")
    heartbeat.apply(task_id="b")
    beat = WorkerHeartbeat.objects.get()
    assert beat.beats == 2
    assert beat.last_task_id == "b"


def test_llm_off_is_degraded_but_does_not_worsen_overall(logged_in_client):
    client = logged_in_client
    heartbeat_record(hostname="w", task_id="t")
    body = client.get("/health").json()
    assert body["checks"]["llm"]["status"] == "degraded"
    assert "not configured" in body["checks"]["llm"]["detail"]
    statuses = {n: c["status"] for n, c in body["checks"].items() if n != "llm"}
    assert body["status"] == max(statuses.values(), key=["ok", "degraded", "down"].index)


def test_status_needs_authentication_with_the_project_error_format(client):
    response = client.get("/api/status")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    error = response.json()["error"]
    assert error["code"] == "not_authenticated"
    assert error["status"] == response.status_code
    assert error["message"]


def test_status_works_with_a_token(client, admin_user):
    token = api_token_create(user=admin_user)
    response = client.get("/api/status", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    body = response.json()
    assert body["deribit_env"] == "sim"
    assert body["dry_run_default"] is True
    assert set(body["health"]["checks"]) == COMPONENTS
    assert "periodic_tasks" in body["system"]
    assert "optionsdesk-sim-secret" not in response.content.decode()


def test_a_wrong_token_is_refused(client):
    response = client.get("/api/status", HTTP_AUTHORIZATION="Token nope")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_exchange_is_ok_against_a_running_simulator_and_down_without_one(
    logged_in_client, settings
):
    client = logged_in_client
    from trading.deribit.simulator import ServerThread, SimConfig, SimulatedExchange, create_app

    server = ServerThread(create_app(SimulatedExchange(SimConfig(seed=1))), port=0).start()
    try:
        settings.DERIBIT_BASE_URL = server.base_url
        exchange = client.get("/health").json()["checks"]["exchange"]
        assert exchange["status"] == "ok", exchange
        assert "simulated clock" in exchange["detail"]
    finally:
        server.stop()
    from django.core.cache import cache

    cache.clear()
    exchange = client.get("/health").json()["checks"]["exchange"]
    assert exchange["status"] == "down"


def test_anonymous_health_shows_only_the_status_of_each_component(client, settings):
    heartbeat_record(hostname="celery@secret-host", task_id="t")
    body = client.get("/health").json()
    assert set(body["checks"]) == COMPONENTS
    for name, check in body["checks"].items():
        assert set(check) == {"name", "status"}, name
    text = client.get("/health").content.decode()
    for leak in ("secret-host", settings.DERIBIT_BASE_URL, "sqlite", "OPENAI_", "127.0.0.1"):
        assert leak not in text, leak

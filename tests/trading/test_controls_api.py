"""Runtime controls (audited, validated, read fresh) and the live agent's API."""

from __future__ import annotations

import pytest
from django.urls import reverse
from pydantic import ValidationError
from rest_framework.test import APIClient

from tests.trading.agent_helpers import CLIENT_ID, CLIENT_SECRET
from trading.models import RuntimeControl, RuntimeControlChange
from trading.services import controls_update, tick_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(admin_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


def test_it_audits_every_change_with_old_and_new_values():
    controls_update(changes={"kill_switch": True, "ivrv_min": 1.1}, user="ops", source="test")
    change = RuntimeControlChange.objects.get()
    assert change.changes == {"kill_switch": [False, True], "ivrv_min": [None, 1.1]}
    assert change.changed_by == "ops"


def test_it_refuses_inconsistent_controls_and_saves_nothing():
    with pytest.raises(ValidationError):
        controls_update(changes={"delta_min": 0.5, "delta_max": 0.2}, user="ops")
    assert RuntimeControl.load().delta_min is None
    assert not RuntimeControlChange.objects.exists()


def test_a_tick_reads_the_controls_fresh(agent_settings, sim_client):
    controls_update(changes={"kill_switch": True}, user="ops")
    outcome = tick_run(trigger="test", client=sim_client, seed=1)
    assert outcome.decision is not None
    assert "kill switch is ON" in outcome.decision.reason
    controls_update(changes={"kill_switch": False}, user="ops")
    decision = tick_run(trigger="test", client=sim_client, seed=1).decision
    assert decision is not None
    assert decision.action != "DO_NOTHING"


def test_the_api_reads_and_patches_controls_with_an_audit(api):
    assert api.get("/api/agent/controls").json()["kill_switch"] is False
    # The kill switch has its own endpoint (issue #11): a controls PATCH never touches it.
    assert api.patch("/api/agent/controls", {"kill_switch": True}, format="json").status_code == 400
    response = api.post("/api/agent/kill-switch", {"on": True}, format="json")
    assert response.status_code == 200
    assert response.json()["kill_switch"] is True
    assert RuntimeControlChange.objects.get().source == "api"
    bad = api.patch("/api/agent/controls", {"delta_min": 0.9, "delta_max": 0.1}, format="json")
    assert bad.status_code == 400


def test_the_api_shows_status_decisions_and_positions(agent_settings, sim_client, api):
    tick_run(trigger="test", client=sim_client, seed=1)
    status = api.get("/api/agent/status").json()
    assert status["last"]["action"] == "OPEN_COVERED_CALL"
    assert status["last"]["spot"]["BTC"] > 0
    decisions = api.get("/api/agent/decisions", {"action": "OPEN_COVERED_CALL"}).json()
    assert decisions["count"] == 1
    assert decisions["results"][0]["orders"][0]["label"]
    assert api.get("/api/agent/decisions", {"action": "ROLL_COVERED_CALL"}).json()["count"] == 0
    detail = api.get(f"/api/agent/decisions/{decisions['results'][0]['id']}").json()
    assert "portfolio" in detail["state_snapshot"]
    assert api.get("/api/agent/positions", {"status": "open"}).json()["count"] == 1
    assert api.get("/api/agent/positions", {"status": "closed"}).json()["count"] == 0


def test_the_api_runs_health_and_reconciliation(agent_settings, sim_server, api, settings):
    settings.DERIBIT_BASE_URL = sim_server.base_url
    settings.DERIBIT_CLIENT_ID = CLIENT_ID
    settings.DERIBIT_CLIENT_SECRET = CLIENT_SECRET
    health = api.post("/api/agent/health")
    assert health.status_code == 201
    names = {c["name"] for c in health.json()["checks"]}
    assert {"config", "exchange", "auth", "data", "llm", "risk_settings"} <= names
    assert api.get("/api/agent/health").json()["trading_allowed"] is True
    run = api.post("/api/agent/reconcile", {"action": "report"}, format="json")
    assert run.status_code == 201
    assert run.json()["status"] == "ok"
    assert api.post("/api/agent/reconcile", {"action": "nuke"}, format="json").status_code == 400


@pytest.mark.parametrize(
    "path",
    ["/api/agent/status", "/api/agent/controls", "/api/agent/decisions", "/api/agent/health"],
)
def test_anonymous_callers_are_refused(client, path):
    assert client.get(path).status_code in (401, 403)


def _controls_fragment(client) -> str:
    """The System Health tab loads the controls from their own URL; both must hold."""
    health = client.get(reverse("system:health")).content.decode()
    assert f'hx-get="{reverse("trading:controls")}"' in health
    return client.get(reverse("trading:controls")).content.decode()


def test_the_system_health_tab_has_the_kill_switch(logged_in_client):
    page = _controls_fragment(logged_in_client)
    assert 'data-testid="agent-controls"' in page
    assert "Kill switch" in page
    response = logged_in_client.post(reverse("trading:controls"), {"intent": "kill"})
    assert 'data-testid="kill-switch">ON' in response.content.decode()
    assert RuntimeControl.load().kill_switch
    assert RuntimeControlChange.objects.get().source == "dashboard"


def test_the_decision_mode_is_switched_from_a_select_on_the_dashboard(logged_in_client, settings):
    settings.LLM_ENABLED = True  # an LLM decision mode needs an LLM configured (issue #19)
    page = _controls_fragment(logged_in_client)
    select = page[page.index('<select id="ctl-decision_mode"') :]
    select = select[: select.index("</select>")]
    for option in ("", "rule_only", "llm_only", "hybrid_shadow"):
        assert f'<option value="{option}"' in select
    form = {
        "intent": "save",
        "decision_mode": "hybrid_shadow",
        "reconcile_action": "report",
        "version": RuntimeControl.load().version,  # the page's version (optimistic concurrency)
    }
    response = logged_in_client.post(reverse("trading:controls"), form)
    assert response.status_code == 200
    assert RuntimeControl.load().decision_mode == "hybrid_shadow"
    assert '<option value="hybrid_shadow" selected>' in response.content.decode()
    change = RuntimeControlChange.objects.get()
    assert change.changes["decision_mode"] == ["", "hybrid_shadow"]

"""The controls as a form and an API: effective values with their source, sentences for errors,
the kill switch on its own button, optimistic concurrency, roles, going live, drawdown reset."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from tests.builders import latched_drawdown
from trading.models import RuntimeControl, RuntimeControlChange
from trading.services.agent_status import drawdown_load, drawdown_save
from trading.services.controls import controls_effective, controls_update

pytestmark = pytest.mark.django_db

URL = "/api/agent/controls"


@pytest.fixture
def operator_api(django_user_model) -> APIClient:
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("olga", "", "pw-12345")
    user.groups.add(Group.objects.get_or_create(name="operator")[0])
    api = APIClient()
    api.force_authenticate(user)
    return api


def _post(client, **data):
    data.setdefault("intent", "save")
    data.setdefault("version", RuntimeControl.load().version)
    return client.post(reverse("trading:controls"), data).content.decode()


# ----------------------------------------------------------------------------------- API


@pytest.mark.parametrize("body", [{"kill_swich": True}, {"environment": "mainnet"}])
def test_unknown_members_are_a_400_naming_them(operator_api, body):
    response = operator_api.patch(URL, body, format="json")
    assert response.status_code == 400
    name = next(iter(body))
    assert name in response.json()["error"]["details"]
    assert not RuntimeControlChange.objects.exists()


@pytest.mark.parametrize(
    ("body", "sentence"),
    [
        ({"loop_interval_s": 99999999999}, "Loop interval must be a whole number from 10 to 86400"),
        ({"explore_top_k": 70000}, "Explore top-K must be a whole number from 1 to 50"),
        ({"explore_prob": 2}, "Explore probability must be a number from 0 to 1"),
        ({"ivrv_min": "inf"}, "IV/RV minimum"),
        ({"ivrv_min": "NaN"}, "IV/RV minimum"),
    ],
)
def test_values_out_of_range_or_not_finite_are_refused_in_sentences(operator_api, body, sentence):
    response = operator_api.patch(URL, body, format="json")
    assert response.status_code == 400
    assert sentence in str(response.json()["error"]["details"])
    assert "pydantic" not in response.content.decode()
    assert not RuntimeControlChange.objects.exists()


def test_the_kill_switch_changes_only_through_its_endpoint(operator_api):
    refused = operator_api.patch(URL, {"kill_switch": True}, format="json")
    assert refused.status_code == 400
    assert "kill-switch" in str(refused.json()["error"]["details"])
    pressed = operator_api.post("/api/agent/kill-switch", {"on": True, "reason": "drill"})
    assert pressed.status_code == 200
    assert RuntimeControl.load().kill_switch is True
    assert RuntimeControlChange.objects.get().note == "drill"


def test_a_patch_based_on_an_older_version_is_a_412_naming_who_changed_it(operator_api):
    etag = operator_api.get(URL)["ETag"]
    controls_update(changes={"ivrv_min": 1.3}, user="alice", source="test")
    stale = operator_api.patch(URL, {"ivrv_min": 0.9}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert "changed by alice" in stale.json()["error"]["message"]
    assert RuntimeControl.load().ivrv_min == 1.3
    fresh = operator_api.get(URL)["ETag"]
    ok = operator_api.patch(URL, {"ivrv_min": 0.9}, format="json", HTTP_IF_MATCH=fresh)
    assert ok.status_code == 200


def test_an_llm_decision_mode_without_an_llm_is_refused_with_the_reason(operator_api, settings):
    settings.LLM_ENABLED = False
    response = operator_api.patch(URL, {"decision_mode": "llm_only"}, format="json")
    assert response.status_code == 400
    assert "needs an LLM" in str(response.json()["error"]["details"])


def test_going_live_needs_a_confirmation_naming_the_environment(operator_api, settings):
    settings.DERIBIT_ENV = "testnet"
    settings.DRY_RUN_DEFAULT = True
    refused = operator_api.patch(URL, {"dry_run": False}, format="json")
    assert refused.status_code == 400
    assert "testnet" in str(refused.json()["error"]["details"])
    assert RuntimeControl.load().dry_run is None
    wrong = operator_api.patch(URL, {"dry_run": False, "confirm": "mainnet"}, format="json")
    assert wrong.status_code == 400
    done = operator_api.patch(URL, {"dry_run": False, "confirm": "testnet"}, format="json")
    assert done.status_code == 200
    assert RuntimeControl.load().dry_run is False


def test_only_operators_change_controls(client_as):
    viewer = client_as("viewer")
    assert viewer.get(URL).status_code == 200
    assert viewer.patch(URL, {"ivrv_min": 1.1}, content_type="application/json").status_code == 403
    assert viewer.post("/api/agent/kill-switch", {"on": True}).status_code == 403
    assert viewer.post(reverse("trading:controls"), {"intent": "kill"}).status_code == 403
    assert RuntimeControl.load().kill_switch is False
    page = viewer.get(reverse("trading:controls")).content.decode()
    assert 'data-testid="kill-button"' not in page
    assert 'data-testid="save-controls"' not in page


def test_the_api_shows_each_effective_value_and_its_source(operator_api):
    controls_update(changes={"ivrv_min": 1.3}, user="t")
    effective = operator_api.get(URL).json()["effective"]
    assert effective["ivrv_min"] == {"value": 1.3, "source": "override"}
    assert effective["delta_max"] == {"value": 0.4, "source": "default"}
    assert effective["loop_interval_s"]["source"] == "default"


# ------------------------------------------------------------------------------ dashboard


def test_a_stale_page_cannot_release_the_kill_switch_or_overwrite_a_change(client_as):
    operator = client_as("operator")
    version = RuntimeControl.load().version  # the page is opened here
    operator.post(reverse("trading:controls"), {"intent": "kill"})  # someone presses Kill
    html = _post(operator, version=version, ivrv_min="1.1", reconcile_action="report")
    assert "reload" in html
    assert RuntimeControl.load().kill_switch is True
    assert RuntimeControl.load().ivrv_min is None
    fresh = _post(operator, ivrv_min="1.1", reconcile_action="report")
    assert "Saved: IV/RV minimum default → 1.1." in fresh
    assert RuntimeControl.load().kill_switch is True  # a save never touches the kill switch


def test_the_form_shows_each_controls_effective_value_and_source(client_as, settings):
    settings.DRY_RUN_DEFAULT = False
    controls_update(changes={"premium_min_usd": 80.0}, user="t")
    html = client_as("viewer").get(reverse("trading:controls")).content.decode()
    for name in (
        "delta_min",
        "dte_max_days",
        "premium_min_usd",
        "take_profit_frac",
        "explore_top_k",
    ):
        assert f'data-testid="control-{name}"' in html, name
    assert 'data-testid="effective-premium_min_usd">80<' in html
    assert 'data-testid="source-premium_min_usd">override<' in html
    assert 'data-testid="source-delta_min">default<' in html
    assert 'data-testid="effective-dry_run">off<' in html
    assert 'data-testid="source-dry_run">setting<' in html


@pytest.mark.parametrize(
    ("field", "raw", "sentence"),
    [
        ("explore_prob", "abc", "Explore probability must be a number from 0 to 1."),
        ("explore_prob", "1.5", "Explore probability must be a number from 0 to 1."),
        ("ivrv_min", "inf", "IV/RV minimum must be a number from 0 to 10."),
        ("loop_interval_s", "99999999999999999999999", "Loop interval must be a whole number"),
    ],
)
def test_form_errors_are_sentences(client_as, field, raw, sentence):
    html = _post(client_as("operator"), **{field: raw, "reconcile_action": "report"})
    assert sentence in html
    assert not RuntimeControlChange.objects.exists()


def test_effective_values_follow_the_resolver():
    rows = {r.spec.name: r for r in controls_effective()}
    assert rows["mode"].value == "research"
    assert rows["explore_prob"].value == 0.25


# ------------------------------------------------------------------------------ drawdown


def _latch() -> None:
    drawdown_save(latched_drawdown())


def test_an_operator_releases_a_latched_drawdown_stop_through_the_api(operator_api):
    _latch()
    shown = operator_api.get("/api/agent/drawdown").json()
    assert shown["halted"] is True
    assert operator_api.post("/api/agent/drawdown/reset", {}).status_code == 400  # no reason
    released = operator_api.post("/api/agent/drawdown/reset", {"reason": "checked the books"})
    assert released.status_code == 200
    state = drawdown_load()
    assert state is None or not state.halted
    change = RuntimeControlChange.objects.get()
    assert change.changed_by == "olga"
    assert (
        "latched 2026-12-05 09:30 UTC: daily drawdown 12.00%" in change.changes["drawdown_stop"][0]
    )
    assert change.note == "checked the books"
    again = operator_api.post("/api/agent/drawdown/reset", {"reason": "again"})
    assert again.status_code == 409  # the request is right, the state is not: nothing latched
    assert again.json()["error"]["code"] == "not_latched"


def test_system_health_shows_when_and_why_the_stop_latched_and_releases_it(client_as):
    _latch()
    viewer_page = client_as("viewer").get(reverse("trading:controls")).content.decode()
    assert "LATCHED" in viewer_page
    assert "2026-12-05 09:30" in viewer_page
    assert "daily drawdown 12.00%" in viewer_page
    assert 'data-testid="drawdown-reset"' not in viewer_page
    operator = client_as("operator")
    html = _post(operator, intent="drawdown_reset", reason="flat again")
    assert "released" in html
    assert "LATCHED" not in html
    assert RuntimeControlChange.objects.get().source == "dashboard"
    assert (
        client_as("viewer", "v2")
        .post(reverse("trading:controls"), {"intent": "drawdown_reset", "reason": "x"})
        .status_code
        == 403
    )

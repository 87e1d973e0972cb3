"""The greg API: positions and logs, decision log and stats, calibration, settings, roles."""

from __future__ import annotations

import pytest

from greg.models import GregCalibration, GregDecision, GregPosition, GregSettingsChange
from greg.services.positions import position_log

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client_as):
    return client_as("viewer")


@pytest.fixture
def position():
    row = GregPosition.objects.create(
        underlying="BTC",
        strategy="STRATEGY_A_STRADDLE",
        strategy_id="greg_straddle",
        run_id="r1",
        entry_index_price=90_000,
        size_coin=0.1,
        credit_usd=1200,
        max_loss_usd=3000,
        margin_usd=4000,
        legs=[],
    )
    position_log(row, "opened", "Opened on paper")
    return row


def test_positions_and_their_logs(viewer, position):
    listed = viewer.get("/api/greg/positions?sandbox=true&underlying=BTC").json()
    assert listed["count"] == 1
    assert listed["results"][0]["badge"] == "SANDBOX"
    logs = viewer.get(f"/api/greg/positions/{position.pk}/logs").json()
    assert [entry["kind"] for entry in logs] == ["opened"]
    assert viewer.get("/api/greg/positions/9999/logs").status_code == 404


def test_decision_stats_count_per_outcome_and_underlying(viewer):
    for underlying, strategy in [
        ("BTC", "NO_TRADE"),
        ("BTC", "NO_TRADE"),
        ("ETH", "STRATEGY_A_STRANGLE"),
    ]:
        GregDecision.objects.create(kind="evaluation", underlying=underlying, strategy=strategy)
    stats = viewer.get("/api/greg/decisions/stats?days=7").json()
    assert {(t["underlying"], t["strategy"], t["count"]) for t in stats["totals"]} == {
        ("BTC", "NO_TRADE", 2),
        ("ETH", "STRATEGY_A_STRANGLE", 1),
    }
    assert stats["kinds"] == {"evaluation": 3}
    assert viewer.get("/api/greg/decisions/stats?days=0").status_code == 400
    assert viewer.get("/api/greg/decisions?kind=evaluation").json()["count"] == 3


def test_viewers_read_calibration_and_settings_but_cannot_change_them(viewer):
    calibration = viewer.get("/api/greg/calibration").json()
    assert calibration["version"] == 0
    assert calibration["thresholds"]["straddle_vrp_min"] == 15.0
    patch = viewer.patch(
        "/api/greg/calibration",
        {"thresholds": {"straddle_vrp_min": 14}},
        content_type="application/json",
    )
    assert patch.status_code == 403
    assert (
        viewer.patch(
            "/api/greg/settings", {"mode": "live"}, content_type="application/json"
        ).status_code
        == 403
    )
    assert viewer.get("/api/greg/settings").json()["mode"] == "advice"


def test_operators_change_calibration_and_settings_audited(client_as):
    logged_in_client = client_as("operator")
    response = logged_in_client.patch(
        "/api/greg/calibration",
        {"thresholds": {"straddle_vrp_min": 14}, "note": "tighter"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["version"] == 1
    assert GregCalibration.objects.get().changes == {"straddle_vrp_min": [15.0, 14.0]}
    bad = logged_in_client.patch(
        "/api/greg/calibration", {"thresholds": {"nope": 1}}, content_type="application/json"
    )
    assert bad.status_code == 400
    settings = logged_in_client.patch(
        "/api/greg/settings",
        {"mode": "live", "enabled_strategies": ["STRATEGY_C_SHORT_PUT"]},
        content_type="application/json",
    )
    assert settings.json()["mode"] == "live"
    change = GregSettingsChange.objects.get()
    assert change.changes["mode"] == ["advice", "live"]


def test_execute_needs_an_operator(viewer):
    row = GregDecision.objects.create(
        kind="suggestion", action="OPEN", underlying="BTC", strategy="STRATEGY_C_SHORT_PUT"
    )
    response = viewer.post(
        f"/api/greg/decisions/{row.pk}/execute", {"confirm": True}, content_type="application/json"
    )
    assert response.status_code == 403

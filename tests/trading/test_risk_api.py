"""The book's risk after a tick: GET /api/risk/portfolio, /api/risk/scenarios, the risk panel."""

from __future__ import annotations

import pytest
from django.urls import reverse

from trading.services import tick_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticked(agent_settings, sim_client):
    """Two ticks on the simulator: the first sells a call, the second sees it in the book."""
    tick_run(trigger="test", client=sim_client, seed=1)
    return tick_run(trigger="test", client=sim_client, seed=2)


def test_before_any_tick_the_risk_endpoints_are_a_404_envelope(logged_in_client):
    response = logged_in_client.get("/api/risk/portfolio")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "not ticked" in response.json()["error"]["message"]


def test_portfolio_greeks_after_a_tick_include_coins_and_the_convention(ticked, logged_in_client):
    data = logged_in_client.get("/api/risk/portfolio").json()
    groups = {r["group"] for r in data["greeks"]}
    assert groups >= {"total", "underlying", "strategy"}
    btc = next(r for r in data["greeks"] if r["group"] == "underlying" and r["key"] == "BTC")
    assert btc["delta_coin"] > 0  # the coins held dominate a covered call's delta
    assert any(r["key"] == "BTC coins" for r in data["greeks"])
    assert "Deribit" in data["convention"]
    assert data["worst"]["label"].startswith("spot ")
    assert data["limits"]["max_scenario_loss_pct"] == 50.0


def test_scenario_grid_after_a_tick_has_pnl_coin_and_margin_per_cell(ticked, logged_in_client):
    data = logged_in_client.get("/api/risk/scenarios").json()
    days, spots, vols = len(data["days"]), len(data["spot_moves"]), len(data["vol_moves"])
    assert (days, spots, vols) == (3, 9, 6)
    assert len(data["pnl_usd"]) == days
    assert len(data["pnl_usd"][0]) == spots
    assert len(data["pnl_usd"][0][0]) == vols
    assert set(data["pnl_coin"]) >= {"BTC"}
    assert data["pnl_usd"][0][4][2] == 0.0  # no move, no time: no P&L
    assert data["worst"]["pnl_usd"] == min(min(min(v) for v in day) for day in data["pnl_usd"])


def test_a_user_without_a_session_gets_401(client):
    assert client.get("/api/risk/scenarios").status_code in (401, 403)


def test_live_tab_loads_the_risk_panel_with_greeks_and_a_heatmap(ticked, logged_in_client):
    page = logged_in_client.get(reverse("trading:live")).content.decode()
    assert 'data-testid="risk-panel"' in page
    panel = logged_in_client.get(reverse("trading:risk"), {"day": "2"}).content.decode()
    assert 'data-testid="risk-greeks"' in panel
    assert "<svg" in panel
    assert "+7 d" in panel
    assert "Worst scenario" in panel


def test_greg_lab_shows_the_risk_of_greg_strategies_only(ticked, logged_in_client):
    from trading.models import AgentStatus

    status = AgentStatus.objects.get(pk=1)
    report = status.risk_report
    assert report is not None
    call = report["book"][0]
    report["book"].append(
        call | {"instrument_name": "GREG-PUT", "is_call": False, "strategy_id": "greg_short_put"}
    )
    status.risk_report = report
    status.save(update_fields=["risk_report"])
    page = logged_in_client.get(reverse("greg:lab")).content.decode()
    assert "scope=greg" in page
    panel = logged_in_client.get(reverse("trading:risk"), {"scope": "greg"}).content.decode()
    assert "Greg's book: risk" in panel
    assert "greg_short_put" in panel
    assert "covered_call" not in panel


def test_a_perpetual_held_on_the_exchange_counts_in_the_greeks(
    agent_settings, sim_client, logged_in_client
):
    from decimal import Decimal

    sim_client.sell("BTC-PERPETUAL", Decimal("20000"), type="market")
    tick_run(trigger="test", client=sim_client, seed=1)
    data = logged_in_client.get("/api/risk/portfolio").json()
    perp = next(r for r in data["greeks"] if r["key"] == "BTC perpetual")
    assert perp["delta_usd"] == pytest.approx(-20000, rel=1e-6)

"""A real browser on the Live Agent tab's risk panel: greeks table and scenario heatmap."""

from __future__ import annotations

import os

import pytest
from django.urls import reverse

from trading.services import tick_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_risk_panel_shows_greeks_the_worst_scenario_and_a_heatmap(
    agent_settings, sim_client, live_server, browser_login, tmp_path
):
    tick_run(trigger="test", client=sim_client, seed=1)
    tick_run(trigger="test", client=sim_client, seed=2)
    page = browser_login()
    page.goto(f"{live_server.url}{reverse('trading:live')}")
    page.wait_for_selector("[data-testid=risk-greeks]")
    assert "whole book" in page.locator("[data-testid=risk-greeks]").inner_text()
    assert "spot " in page.locator("[data-testid=risk-worst]").inner_text()
    assert page.locator("[data-testid=risk-heatmap] svg").count() == 1
    page.click("text=+7 d")
    page.wait_for_selector("[data-testid=risk-day]:text-is('+7 d')")
    panel = page.locator("[data-testid=risk-panel]")
    panel.screenshot(path=str(os.environ.get("RISK_SCREENSHOT") or tmp_path / "risk.png"))


def test_system_health_runs_the_preflight_and_shows_every_check(
    agent_settings, sim_server, live_server, browser_login, tmp_path
):
    from tests.trading.agent_helpers import CLIENT_ID, CLIENT_SECRET

    agent_settings.DERIBIT_BASE_URL = sim_server.base_url
    agent_settings.DERIBIT_CLIENT_ID = CLIENT_ID
    agent_settings.DERIBIT_CLIENT_SECRET = CLIENT_SECRET
    page = browser_login()
    page.goto(f"{live_server.url}{reverse('system:health')}")
    page.click("[data-testid=preflight-run]")
    page.wait_for_selector("[data-testid=preflight-checks]")
    assert "Key scopes" in page.locator("[data-testid=preflight-checks]").inner_text()
    assert "FAIL" not in page.locator("[data-testid=preflight-summary]").inner_text().split("·")[0]
    page.locator("[data-testid=preflight]").screenshot(
        path=str(os.environ.get("PREFLIGHT_SCREENSHOT") or tmp_path / "preflight.png")
    )

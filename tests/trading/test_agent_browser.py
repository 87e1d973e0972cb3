"""A real browser (Debian chromium via Playwright) on the Live Agent and System Health tabs."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from tests.conftest import BROWSER_USER
from trading.models import RuntimeControl, RuntimeControlChange
from trading.services import tick_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def signed_in(browser_login):
    """A browser page logged in as a superuser of the live server."""
    return browser_login()


def test_the_live_agent_tab_shows_the_position_and_decision_of_a_tick(
    agent_settings, sim_client, live_server, signed_in
):
    outcome = tick_run(trigger="test", client=sim_client, seed=1)
    (order,) = outcome.orders
    page = signed_in
    page.goto(f"{live_server.url}{reverse('trading:live')}")
    page.wait_for_selector("[data-testid=live]")
    assert "OPEN_COVERED_CALL" in page.locator("[data-testid=last-action]").inner_text()
    assert "RESEARCH" in page.locator("[data-testid=mode-badge]").inner_text()
    positions = page.locator("[data-testid=positions]").inner_text()
    assert order.instrument_name in positions
    assert "paper" in positions
    timeline = page.locator("[data-testid=timeline]").inner_text()
    assert "OPEN_COVERED_CALL" in timeline
    assert order.instrument_name in timeline
    assert page.locator("[data-testid=candidates] tbody tr").count() >= 1


def test_the_kill_switch_toggles_from_system_health_and_is_audited(live_server, signed_in):
    page = signed_in
    page.on("dialog", lambda dialog: dialog.accept())  # the kill switch asks first (issue #19)
    page.goto(f"{live_server.url}{reverse('system:health')}")
    switch = page.locator("[data-testid=kill-switch]")
    assert switch.inner_text() == "off"
    page.click("[data-testid=kill-button]")
    page.wait_for_selector("[data-testid=kill-switch]:text-is('ON')")
    assert RuntimeControl.load().kill_switch is True
    change = RuntimeControlChange.objects.latest("changed_at")
    assert change.changed_by == BROWSER_USER
    assert change.source == "dashboard"
    assert "kill_switch" in str(change.changes)
    # The audit trail is on the page, and a reload still shows the switch on.
    page.click("#agent-controls summary")
    assert "kill_switch" in page.locator("#agent-controls details").inner_text()
    page.reload()
    assert page.locator("[data-testid=kill-switch]").inner_text() == "ON"
    page.click("button[value=unkill]")
    page.wait_for_selector("[data-testid=kill-switch]:text-is('off')")
    assert RuntimeControl.load().kill_switch is False
    assert RuntimeControlChange.objects.count() == 2


def test_system_health_shows_the_tick_state_from_the_stream(
    agent_settings, sim_server, sim_client, live_server, signed_in
):
    from tests.trading.agent_helpers import CLIENT_ID, CLIENT_SECRET, make_agent_client
    from trading.services.stream_state import AgentStream

    agent_settings.DERIBIT_BASE_URL = sim_server.base_url  # the page's own healthcheck
    agent_settings.DERIBIT_CLIENT_ID = CLIENT_ID
    agent_settings.DERIBIT_CLIENT_SECRET = CLIENT_SECRET
    stream = AgentStream(
        client_factory=lambda: make_agent_client(sim_server.base_url), underlyings=("BTC", "ETH")
    ).start()
    try:
        assert stream.wait_ready(timeout_s=60)
        tick_run(trigger="test", client=sim_client, seed=1, stream=stream)
    finally:
        stream.stop()
    page = signed_in
    page.goto(f"{live_server.url}{reverse('system:health')}")
    page.wait_for_selector("[data-testid=state-source]")
    assert page.locator("[data-testid=state-source-value]").inner_text() == "stream"
    assert page.locator("[data-testid=stream-connected]").inner_text().startswith("connected")
    assert page.locator("[data-testid=stream-reconnects]").inner_text() == "0"
    assert page.locator("[data-testid=state-age]").inner_text().endswith(" s")
    shots = Path("var/screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    page.locator("#agent-health").screenshot(path=str(shots / "system-health-stream.png"))

"""A trader reads the Bots and Greg Lab tabs in a real browser (screenshots kept)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from greg.services.evaluation import greg_evaluate
from greg.services.positions import positions_review, sandbox_open

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("GREG_SCREENSHOT_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_trader_reads_the_bots_and_lab_tabs(
    agent_settings, sim_client, sim_exchange, browser_login, tmp_path
):
    greg_evaluate(client=sim_client, underlyings=["BTC", "ETH"])
    sandbox_open(client=sim_client, underlyings=["BTC", "ETH"], run_id="browser-run")
    sim_exchange.clock.advance(86_400)
    positions_review(client=sim_client)
    shots = _shots(tmp_path)

    page = browser_login("/bots/")
    page.wait_for_selector("[data-testid=bot-BTC]")
    assert page.locator("[data-testid=bot-ETH]").is_visible()
    sensors = page.locator("[data-testid=sensors-BTC]").inner_text()
    assert "vrp_30d" in sensors
    assert "missing" in sensors  # price_vs_ma200 on the simulator's short history
    assert page.locator("[data-testid^=rule-BTC-]").count() == 9
    assert page.locator(".rule.chosen").count() == 2
    page.screenshot(path=str(shots / "greg-bots.png"), full_page=True)

    page.click("nav.tabs >> text=Greg Lab")
    page.wait_for_selector("[data-testid=positions]")
    assert "ADVICE ONLY" in page.locator("[data-testid=mode-banner]").inner_text()
    assert "14 open sandbox positions" in page.locator("[data-testid=sandbox-summary]").inner_text()
    assert page.locator("[data-testid^=badge-]").first.inner_text() == "SANDBOX"
    page.wait_for_selector("[data-testid=notes]")
    assert "template" in page.locator("[data-testid=notes]").inner_text()
    page.locator("details summary").first.click()
    assert "opened" in page.locator("[data-testid^=timeline-]").first.inner_text()
    page.screenshot(path=str(shots / "greg-lab.png"), full_page=True)

    # A suggested CLOSE on a sandbox position needs its "confirm" box ticked (the browser's
    # required field; the server refuses without it too), then closes on paper.
    page.on("dialog", lambda dialog: dialog.accept())
    form = page.locator("[data-testid^=act-]").first
    assert "confirm(" in (form.get_attribute("onsubmit") or "")
    form.locator("button").click()
    assert page.locator("article.message").count() == 0
    form.locator("input[name=confirm]").check()
    form.locator("button").click()
    page.wait_for_selector("article.message")
    assert "CLOSE #" in page.locator("article.message").first.inner_text()

    page.select_option("select[name=underlying]", "ETH")
    page.click("[data-testid=filters] button")
    page.wait_for_selector("[data-testid=positions]")
    assert "BTC" not in page.locator("[data-testid=positions] tbody").inner_text()

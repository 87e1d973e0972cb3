"""An operator opens the AI Steward tab in a real browser, refreshes the report (the task runs
inline here) while the progress polls, reads the next tasks, follows one and asks the assistant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path("var/screenshots")


@pytest.mark.usefixtures("tasks_inline")
def test_an_operator_refreshes_the_report_and_asks_the_steward(browser_login, decisions: Any):
    page = browser_login("/steward/")
    assert page.locator("[data-testid=empty]").is_visible()
    page.click("[data-testid=refresh]")
    page.wait_for_selector("[data-testid=report]", timeout=60_000)
    summary = page.locator("[data-testid=summary]").inner_text()
    assert "Template report (no LLM)" in summary
    assert "Decisions: 2 (" in summary
    tasks = page.locator("[data-testid=next-tasks] li")
    assert tasks.count() >= 1
    assert "#" in page.locator("[data-testid=history]").inner_text()

    page.fill("[data-testid=assistant-input]", "What should I do next?")
    page.click("[data-testid=assistant-send]")
    page.wait_for_selector("[data-testid=assistant-assistant]")
    assert "Next tasks" in page.locator("[data-testid=assistant-log]").inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "steward-tab.png"), full_page=True)

    tasks.first.locator("a").click()
    page.wait_for_selector("nav.tabs")
    assert "/steward/" not in page.url

"""A researcher launches training mode from the Backtesting tab in a real browser, follows it
to the end and finds each profile's summary and the corpus downloads."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("tasks_inline")
def test_a_researcher_launches_training_mode_and_sees_profiles_and_downloads(browser_login):
    page = browser_login("/backtests/")
    page.click("[data-testid=training-link]")
    form = page.locator("[data-testid=training-form]")
    form.locator("input[value=research]").uncheck()
    form.locator("input[name=days]").fill("10")
    form.locator("input[name=decision_interval_hours]").fill("6")
    form.locator("[data-testid=launch-training]").click()

    page.wait_for_selector("[data-testid=training-files]", timeout=60_000)
    assert page.locator("[data-testid=status]").inner_text() == "succeeded"
    profiles = page.locator("[data-testid=training-profiles]").inner_text()
    assert "aggressive_exploration" in profiles
    assert "per_expiry_limit" in profiles
    assert "research\t" not in profiles
    assert page.locator("[data-testid=download-corpus_train]").count() == 1
    assert "0 error(s)" in page.locator("[data-testid=corpus-check]").inner_text()
    shots = Path(settings.VAR_DIR) / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "training-run.png"), full_page=True)

"""A researcher launches an environment heatmap from the Lab tab in a real browser, waits for it
and reads its picture, then follows a cell's "dates" link (issue 15)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("tasks_inline")
def test_a_researcher_launches_an_environment_heatmap_and_reads_its_picture(
    browser_login, tmp_path: Path
):
    page = browser_login("/backtests/")
    page.click("[data-testid=environment-link]")
    form = page.locator("[data-testid=environment-form]")
    form.locator("input[name=start]").fill("2025-01-01")
    form.locator("input[name=days]").fill("30")
    form.locator("select[name=y_metric]").select_option("return_1d")
    form.locator("input[name=y_edges]").fill("-0.06, -0.02, 0, 0.02, 0.06")
    form.locator("input[name=interval_hours]").fill("2")
    form.locator("[data-testid=launch-environment]").click()

    page.wait_for_selector("[data-testid=study-picture] svg", timeout=60_000)
    assert page.locator("[data-testid=status]").inner_text() == "succeeded"
    picture = page.locator("[data-testid=study-picture] svg").inner_html()
    assert "ATM IV / RV" in picture  # the x axis names the metric in words
    assert "share of time" in picture  # the colour bar names the measure
    table = page.locator("[data-testid=environment-table]").inner_text()
    assert "%" in table
    summary = page.locator("[data-testid=environment-summary]").inner_text()
    assert "sampled times" in summary
    page.screenshot(path=str(tmp_path / "environment.png"), full_page=True)

    page.locator("[data-testid=regime-link]").first.click()
    page.wait_for_selector("[data-testid=regime-dates]")
    assert "2025-01" in page.locator("[data-testid=regime-dates]").inner_text()
    page.screenshot(path=str(tmp_path / "regime.png"), full_page=True)

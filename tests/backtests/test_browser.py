"""A trader launches a backtest from the Backtesting tab in a real browser and reads its report."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("tasks_inline")
def test_a_trader_launches_a_run_and_sees_its_pictures_and_report(browser_login, tmp_path: Path):
    page = browser_login("/backtests/")
    page.wait_for_selector("[data-testid=lab-form]")
    assert page.locator("[data-testid=empty]").is_visible()

    form = page.locator("[data-testid=lab-form]")
    form.locator("input[name=name]").fill("browser 45d")
    form.locator("input[name=days]").fill("45")
    form.locator("[data-testid=launch]").click()

    page.wait_for_selector("[data-testid=equity-chart] svg", timeout=60_000)
    assert page.locator("[data-testid=drawdown-chart] svg").count() == 1
    report = page.locator("[data-testid=metrics]").inner_text()
    assert "Total return, %" in report  # metric names are words with units (issue #19)
    assert "%" in report
    page.screenshot(path=str(tmp_path / "backtest-run.png"), full_page=True)

    page.click("nav.tabs >> text=Backtesting")
    runs = page.locator("[data-testid=runs-table]").inner_text()
    assert "browser 45d" in runs
    assert "succeeded" in runs


@pytest.mark.usefixtures("tasks_inline")
def test_a_researcher_launches_a_heatmap_from_the_tab_and_reads_its_picture(
    browser_login, tmp_path: Path
):
    page = browser_login("/backtests/")
    page.click("[data-testid=studies-link]")
    form = page.locator("[data-testid=study-form]")
    form.locator("select[name=kind]").select_option("heatmap")
    form.locator("input[name=days]").fill("20")
    form.locator("input[name=x_values]").fill("0.2, 0.3, 0.4, 0.5")
    form.locator("input[name=y_values]").fill("0.6, 0.8, 1.0, 1.2")
    form.locator("[data-testid=launch-study]").click()

    page.wait_for_selector("[data-testid=study-picture] svg", timeout=60_000)
    table = page.locator("[data-testid=heatmap]").inner_text()
    assert "ivrv_min" in table
    assert "delta_max" in table
    assert page.locator("[data-testid=status]").inner_text() == "succeeded"
    page.screenshot(path=str(tmp_path / "heatmap.png"), full_page=True)

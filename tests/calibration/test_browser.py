"""An operator reads the Calibration tab in a real browser and applies a recommendation."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from calibration import services
from calibration.models import PolicyDecision

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_reads_the_fits_and_applies_a_recommendation(
    browser_login, snapshots_root: Path, tmp_path: Path
):
    root = tmp_path / "harvest"
    for underlying, day in (("BTC", "2025-12-12"), ("ETH", "2025-12-11")):
        target = root / underlying / day
        target.mkdir(parents=True)
        for path in sorted((snapshots_root / underlying / day).glob("*.parquet"))[::30]:
            shutil.copy(path, target / path.name)
    runs = services.auto_calibrate(underlyings=["BTC", "ETH"], root=root, trigger="command")
    services.regimes_fit(underlying="BTC", seed=0)

    page = browser_login("/calibration/")
    page.wait_for_selector("[data-testid=smiles-BTC] svg")
    assert page.locator("[data-testid=smiles-ETH] svg").count() == 1
    assert page.locator("[data-testid=term-structure] svg").count() == 1
    assert page.locator("[data-testid=regime-timeline] svg").count() == 1
    assert float(page.locator("[data-testid=surface-mae]").first.inner_text()) <= 0.25
    page.screenshot(path=str(tmp_path / "calibration.png"), full_page=True)
    if os.environ.get("CALIBRATION_SCREENSHOT"):
        shutil.copy(tmp_path / "calibration.png", os.environ["CALIBRATION_SCREENSHOT"])

    page.click(f"[data-testid=apply-{runs[0].pk}]")
    page.wait_for_selector("[data-testid=decisions]")
    assert "applied" in page.locator("[data-testid=decisions]").inner_text()
    assert PolicyDecision.objects.get().outcome == "applied"

"""The Calibration tab: pictures, panels and operator-only policy buttons."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from calibration import services
from calibration.models import PolicyDecision

pytestmark = pytest.mark.django_db


@pytest.fixture
def calibrated(snapshots_root: Path, tmp_path: Path):
    """One auto-calibration per underlying on a few real snapshots."""
    for underlying, day in (("BTC", "2025-12-12"), ("ETH", "2025-12-11")):
        target = tmp_path / underlying / day
        target.mkdir(parents=True)
        for path in sorted((snapshots_root / underlying / day).glob("*.parquet"))[::30]:
            shutil.copy(path, target / path.name)
    return services.auto_calibrate(underlyings=["BTC", "ETH"], root=tmp_path, trigger="command")


def test_the_empty_tab_says_so(client_as):
    page = client_as("viewer").get("/calibration/").content.decode()
    assert 'data-testid="empty"' in page


def test_a_viewer_sees_smiles_term_structure_quality_and_history_but_no_buttons(
    client_as, calibrated
):
    page = client_as("viewer").get("/calibration/").content.decode()
    for marker in (
        "smiles-BTC",
        "smiles-ETH",
        "term-structure",
        "quality",
        "history-chart",
        "buckets",
    ):
        assert f'data-testid="{marker}"' in page, marker
    assert page.count("<svg") >= 4
    assert "apply-" not in page
    run = calibrated[0]
    response = client_as("researcher").post(f"/calibration/runs/{run.pk}/apply")
    assert response.status_code == 403
    assert not PolicyDecision.objects.exists()


def test_an_operator_applies_and_holds_from_the_tab(client_as, calibrated):
    operator = client_as("operator")
    run = calibrated[0]
    assert f'data-testid="apply-{run.pk}"' in operator.get("/calibration/").content.decode()
    operator.post(f"/calibration/runs/{run.pk}/apply")
    operator.post(f"/calibration/runs/{run.pk}/hold", {"note": "later"})
    outcomes = list(PolicyDecision.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["applied", "held"]
    page = operator.get("/calibration/").content.decode()
    assert 'data-testid="decisions"' in page
    assert "later" in page

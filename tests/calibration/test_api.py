"""Calibration API: viewers read; only operators apply, hold and override."""

from __future__ import annotations

import pytest

from calibration.models import AppliedMultipliers, CalibrationRun, PolicyDecision

pytestmark = pytest.mark.django_db


def _run(**fields: object) -> CalibrationRun:
    base: dict[str, object] = {
        "underlying": "BTC",
        "source": "harvested",
        "content_sha256": "a" * 64,
        "multipliers": {"7-30d": 1.05},
        "guardrail_ok": True,
        "surface_vw_mae_volpts": 0.12,
        "fit": {"expiries": []},
        "files": ["x.parquet"],
    }
    base.update(fields)
    return CalibrationRun.objects.create(**base)


def test_viewers_read_history_latest_and_multipliers(client_as):
    _run()
    newest = _run(underlying="ETH")
    viewer = client_as("viewer")
    listing = viewer.get("/api/calibration/runs?underlying=ETH").json()
    assert [r["id"] for r in listing["results"]] == [newest.pk]
    assert "fit" not in listing["results"][0]
    detail = viewer.get(f"/api/calibration/runs/{newest.pk}").json()
    assert detail["files"] == ["x.parquet"]
    latest = viewer.get("/api/calibration/runs/latest").json()
    assert [r["underlying"] for r in latest] == ["BTC", "ETH"]
    for path in ("quality", "decisions", "harvests", "regimes"):
        assert viewer.get(f"/api/calibration/{path}").status_code == 200
    assert viewer.get("/api/calibration/multipliers").json() == []


def test_only_operators_apply_hold_and_override(client_as):
    run = _run()
    viewer = client_as("viewer")
    researcher = client_as("researcher")
    for client in (viewer, researcher):
        assert client.post(f"/api/calibration/runs/{run.pk}/apply").status_code == 403
        assert client.post(f"/api/calibration/runs/{run.pk}/hold", {}).status_code == 403
        response = client.post(
            "/api/calibration/multipliers",
            {"underlying": "BTC", "multipliers": {"7-30d": 1.1}, "note": "x"},
            content_type="application/json",
        )
        assert response.status_code == 403
    assert not PolicyDecision.objects.exists()

    operator = client_as("operator")
    applied = operator.post(f"/api/calibration/runs/{run.pk}/apply")
    assert applied.status_code == 201
    assert applied.json()["outcome"] == "applied"
    assert applied.json()["actor"] == "user-operator"
    held = operator.post(
        f"/api/calibration/runs/{run.pk}/hold", {"note": "wait"}, content_type="application/json"
    )
    assert held.json()["outcome"] == "held"
    override = operator.post(
        "/api/calibration/multipliers",
        {"underlying": "btc", "multipliers": {"90d+": 1.2}, "note": "event week"},
        content_type="application/json",
    )
    assert override.status_code == 201
    assert AppliedMultipliers.objects.get(underlying="BTC").multipliers == {"90d+": 1.2}


def test_an_override_needs_a_reason_and_known_bands_in_bounds(client_as):
    operator = client_as("operator")
    for body in (
        {"underlying": "BTC", "multipliers": {"7-30d": 1.1}},
        {"underlying": "BTC", "multipliers": {"1y": 1.1}, "note": "x"},
        {"underlying": "BTC", "multipliers": {"7-30d": 5.0}, "note": "x"},
    ):
        response = operator.post(
            "/api/calibration/multipliers", body, content_type="application/json"
        )
        assert response.status_code == 400
        assert "error" in response.json()
    assert not AppliedMultipliers.objects.exists()

"""Environment heatmaps and synthetic-vs-live comparisons as stored studies (issue 15):
launched from the API and the Lab tab, run on the research queue, shown as pictures and tables,
with a cell's dates one link away."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from backtests import lab_services, research_services
from backtests.models import SelectorStudy
from tests.backtests.conftest import SHORT_SOURCE, study_post

pytestmark = pytest.mark.django_db
URL = "/api/backtests/studies"
ENV_PARAMS = {
    "x_metric": "ivrv",
    "x_edges": [0.5, 1.0, 1.5, 3.0],
    "y_metric": "return_1d",
    "y_edges": [-0.2, 0.0, 0.2],
    "target_dte_days": 2,
    "interval_hours": 2,
}


def test_an_environment_heatmap_is_stored_with_counts_outcomes_and_regimes(
    api, eager_celery, django_capture_on_commit_callbacks
) -> None:
    body = {
        "kind": "environment",
        "source": SHORT_SOURCE.model_dump(mode="json"),
        "params": ENV_PARAMS,
    }

    created = study_post(api, body, django_capture_on_commit_callbacks)

    assert created.status_code == 201
    study = api.get(f"{URL}/{created.json()['id']}").json()
    assert study["status"] == "succeeded"
    result = study["result"]
    assert len(result["counts"]) == 2
    assert len(result["counts"][0]) == 3
    assert sum(map(sum, result["counts"])) == result["in_grid"] > 0
    assert result["in_grid"] + result["missing"] + result["outside"] == result["samples"]
    assert "cell_of_sample" not in result  # served by cell through `regime`
    busiest = max(
        ((y, x) for y in range(2) for x in range(3)), key=lambda c: result["counts"][c[0]][c[1]]
    )
    dates = api.get(f"{URL}/{study['id']}/regime", {"x": busiest[1], "y": busiest[0]}).json()
    assert sum(d["times"] for d in dates) == result["counts"][busiest[0]][busiest[1]]
    assert api.get(f"{URL}/{study['id']}/regime", {"x": 9, "y": 0}).status_code == 400


def test_an_iv_rv_history_heatmap_covers_six_real_months_without_outcomes(
    api, eager_celery, django_capture_on_commit_callbacks, shared_dir
) -> None:
    params = {
        "data": "volatility_history",
        "x_metric": "atm_iv",
        "x_edges": [0.5, 0.6, 0.7, 0.9],
        "y_metric": "iv_change_7d",
        "y_edges": [-0.2, 0.0, 0.2],
        "interval_hours": 24,
    }
    body = {
        "kind": "environment",
        "source": {"kind": "snapshots", "underlying": "ETH"},
        "params": params,
    }

    created = study_post(api, body, django_capture_on_commit_callbacks)

    study = api.get(f"{URL}/{created.json()['id']}").json()
    assert study["status"] == "succeeded", study["error"]
    result = study["result"]
    assert result["samples"] == 181  # daily, 2025-06-15 to 2025-12-12
    assert result["in_grid"] > 150
    assert result["reference"] is None
    assert "IV/RV history" in study["name"]
    bad = dict(params, y_metric="return_7d")  # no index in the history
    response = api.post(URL, dict(body, params=bad), format="json")
    assert response.status_code == 400


def test_a_bad_environment_request_is_a_400(api) -> None:
    body = {"kind": "environment", "params": {"x_metric": "ivrv", "y_metric": "nope"}}
    assert api.post(URL, body, format="json").status_code == 400
    body = {"kind": "environment", "params": {"x_edges": [1, 0.5]}}
    response = api.post(URL, body, format="json")
    assert response.status_code == 400
    assert "params" in response.json()["error"]["details"]


def test_a_viewer_reads_regimes_but_cannot_launch(django_user_model) -> None:
    viewer = django_user_model.objects.create(username="viewer")
    client = APIClient()
    client.force_authenticate(viewer)

    assert client.post(URL, {"kind": "environment"}, format="json").status_code == 403
    study = SelectorStudy.objects.create(kind="funnel", result={"steps": []})
    assert client.get(f"{URL}/{study.pk}/regime", {"x": 0, "y": 0}).status_code == 409


def test_lab_studies_go_to_the_research_queue(monkeypatch) -> None:
    from backtests import tasks

    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(tasks.lab_study, "apply_async", lambda args, **kw: sent.append(kw))
    study = lab_services.lab_study_create(
        kind="environment",
        source=SHORT_SOURCE,
        config=lab_services.BacktestConfig(),
        enqueue=False,
    )

    lab_services.lab_study_dispatch(study_id=study.pk)
    research_services.selector_study_dispatch(study_id=study.pk)  # routes to the lab task too

    assert sent == [{"queue": "research"}, {"queue": "research"}]
    assert study.params["x_metric"] == "ivrv"
    assert study.params["x_edges"] == lab_services.DEFAULT_EDGES["ivrv"]


def test_the_tab_launches_an_environment_heatmap_and_links_a_cells_dates(
    desk_client, eager_celery, django_capture_on_commit_callbacks
) -> None:
    form = {
        "form": "environment",
        "source": "synthetic",
        "underlying": "BTC",
        "start": "2025-02-03",
        "days": "12",
        "seed": "3",
        "x_metric": "atm_iv",
        "x_edges": "0.2, 0.4, 0.6, 0.8",
        "y_metric": "skew_25d",
        "y_edges": "-0.1, -0.02, 0, 0.1",
        "target_delta": "0.25",
        "target_dte_days": "3",
        "interval_hours": "4",
    }
    assert 'data-testid="environment-link"' in desk_client.get("/backtests/").content.decode()
    blank = desk_client.get("/backtests/environment/").content.decode()
    assert "This field is required" not in blank  # a GET shows the forms unbound, with defaults

    with django_capture_on_commit_callbacks(execute=True):
        response = desk_client.post("/backtests/environment/", form)

    assert response.status_code == 302
    page = desk_client.get(response["Location"]).content.decode()
    assert 'data-testid="study-picture"' in page
    assert "<svg" in page
    assert 'data-testid="environment-table"' in page
    study = SelectorStudy.objects.get(kind="environment")
    assert study.status == "succeeded"
    pnl_page = desk_client.get(f"/backtests/studies/{study.pk}/?measure=mean_pnl_usd")
    assert "mean forward P&amp;L" in pnl_page.content.decode()
    counts = study.result["counts"]
    yi, xi = next((y, x) for y, row in enumerate(counts) for x, c in enumerate(row) if c)
    regime = desk_client.get(f"/backtests/studies/{study.pk}/regime/?x={xi}&y={yi}")
    assert regime.status_code == 200
    assert 'data-testid="regime-dates"' in regime.content.decode()
    assert desk_client.get(f"/backtests/studies/{study.pk}/regime/?x=99&y=0").status_code == 404
    listing = desk_client.get("/backtests/environment/").content.decode()
    assert "Environment heatmap" in listing


def test_synthetic_vs_live_is_stored_and_shown_with_its_verdict(
    desk_client, eager_celery, django_capture_on_commit_callbacks
) -> None:
    form = {
        "form": "source_compare",
        "underlying": "ETH",
        "seed": "42",
        "ks_max": "0.25",
        "alpha": "0.01",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = desk_client.post("/backtests/environment/", form)

    assert response.status_code == 302
    study = SelectorStudy.objects.get(kind="source_compare")
    assert study.status == "succeeded", study.error
    result = study.result
    assert result["verdict"] in ("agree", "diverge", "insufficient")
    assert result["window"]["start"].startswith("2025-12-07")
    assert {m["measure"] for m in result["measures"]} == {
        "premium_pct",
        "delta",
        "dte_days",
        "pnl_pct",
    }
    page = desk_client.get(response["Location"]).content.decode()
    assert 'data-testid="compare-verdict"' in page
    assert 'data-testid="compare-table"' in page
    assert "<svg" in page

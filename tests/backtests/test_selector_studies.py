"""Stored selector studies (issue 15): launched from the API and the tab, run on the research
queue (one task, or a chord of heatmap rows for simulated measures), shown as pictures."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from backtests import research_services
from backtests.models import SelectorStudy
from tests.backtests.conftest import SHORT_SOURCE, study_post

pytestmark = pytest.mark.django_db
URL = "/api/backtests/studies"
CONFIG = {"strategy": {"ivrv_min": 0}}


def test_a_funnel_is_stored_with_every_filter(
    api, eager_celery, django_capture_on_commit_callbacks
) -> None:
    body = {"kind": "funnel", "source": SHORT_SOURCE.model_dump(mode="json"), "config": CONFIG}

    created = study_post(api, body, django_capture_on_commit_callbacks)

    assert created.status_code == 201
    study = api.get(f"{URL}/{created.json()['id']}").json()
    assert study["status"] == "succeeded"
    names = [step["name"] for step in study["result"]["steps"]]
    assert names == ["delta", "dte", "ivrv", "premium", "spread", "open_interest"]
    assert study["result"]["decision_times"] > 200


def test_a_simulated_heatmap_fans_out_one_task_per_row(
    api, eager_celery, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    from backtests import tasks

    queues: list[str] = []
    original = tasks.selector_heatmap_row.si

    def spy(*args: Any) -> Any:
        signature = original(*args)
        queues.append("row")
        return signature

    monkeypatch.setattr(tasks.selector_heatmap_row, "si", spy)
    params = {
        "x_param": "delta_max",
        "x_values": [0.3, 0.4],
        "y_param": "ivrv_min",
        "y_values": [0.0, 1.0, 5.0],
        "measure": "num_trades",
    }
    body = {
        "kind": "heatmap",
        "source": SHORT_SOURCE.model_dump(mode="json"),
        "config": CONFIG,
        "params": params,
    }

    created = study_post(api, body, django_capture_on_commit_callbacks)

    study = SelectorStudy.objects.get(pk=created.json()["id"])
    assert study.status == SelectorStudy.Status.SUCCEEDED
    assert len(queues) == 3
    values = study.result["values"]
    assert len(values) == 3
    assert all(len(row) == 2 for row in values)
    assert values[2] == [0, 0]  # IV/RV >= 5 never happens
    assert values[0][1] >= values[0][0] or values[0][1] > 0


def test_studies_go_to_the_research_queue(monkeypatch) -> None:
    from backtests import tasks

    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(tasks.selector_study, "apply_async", lambda args, **kw: sent.append(kw))
    study = research_services.selector_study_create(
        kind="funnel",
        source=SHORT_SOURCE,
        config=research_services.BacktestConfig(),
        enqueue=False,
    )

    research_services.selector_study_dispatch(study_id=study.pk)

    assert sent == [{"queue": "research"}]


def test_a_bad_heatmap_request_is_a_400(api) -> None:
    body = {"kind": "heatmap", "params": {"x_param": "delta_max", "y_param": "nope"}}

    response = api.post(URL, body, format="json")

    assert response.status_code == 400
    assert "params" in response.json()["error"]["details"]


def test_a_viewer_reads_but_cannot_launch(django_user_model) -> None:
    viewer = django_user_model.objects.create(username="viewer")
    client = APIClient()
    client.force_authenticate(viewer)

    assert client.get(URL).status_code == 200
    assert client.post(URL, {"kind": "funnel"}, format="json").status_code == 403


def test_the_tab_launches_a_heatmap_and_shows_its_picture(
    desk_client, eager_celery, django_capture_on_commit_callbacks
) -> None:
    form = {
        "kind": "heatmap",
        "source": "synthetic",
        "underlying": "BTC",
        "days": "12",
        "seed": "3",
        "x_param": "delta_max",
        "x_values": "0.2, 0.3, 0.4",
        "y_param": "ivrv_min",
        "y_values": "0.8, 1.0",
        "measure": "pass_rate",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = desk_client.post("/backtests/studies/", form)

    assert response.status_code == 302
    page = desk_client.get(response["Location"]).content.decode()
    assert 'data-testid="study-picture"' in page
    assert "<svg" in page
    assert 'data-testid="heatmap"' in page
    listing = desk_client.get("/backtests/studies/").content.decode()
    assert "Selector heatmap" in listing


def test_an_arena_run_is_stored_with_its_league_table_and_forest_plot(
    api, desk_client, eager_celery, django_capture_on_commit_callbacks
) -> None:
    body = {"kind": "arena", "source": SHORT_SOURCE.model_dump(mode="json")}

    created = study_post(api, body, django_capture_on_commit_callbacks)

    study = api.get(f"{URL}/{created.json()['id']}").json()
    assert study["status"] == "succeeded"
    rows = study["result"]["rows"]
    assert len(rows) == 6
    greg = next(r for r in rows if r["name"] == "Greg (covered-call outcomes)")
    assert "Greg waterfall" in greg["note"]
    assert study["result"]["left_out"] == [
        "LLM not configured and no recorded LLM decisions in this period: left out"
    ]
    baseline = next(r for r in rows if r["name"] == "research (baseline)")
    assert baseline["diff_vs_baseline_usd"] == 0.0
    page = desk_client.get(f"/backtests/studies/{study['id']}/").content.decode()
    assert 'data-testid="league"' in page
    assert 'data-testid="study-picture"' in page
    assert "<svg" in page

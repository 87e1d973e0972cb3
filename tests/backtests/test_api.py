"""The backtests API through the test client."""

from __future__ import annotations

import csv
import io
import json

import pytest
from rest_framework.test import APIClient

from backtests import services
from backtests.domain.grid import GridSpec
from backtests.models import BacktestRun
from tests.backtests.conftest import SHORT_SOURCE, TRADING_CONFIG

pytestmark = pytest.mark.django_db
URL = "/api/backtests"


def _source() -> dict[str, object]:
    return SHORT_SOURCE.model_dump(mode="json")


def test_it_requires_authentication() -> None:
    assert APIClient().get(URL).status_code == 401


def test_it_creates_and_runs_a_backtest(
    api: APIClient, eager_celery: None, django_capture_on_commit_callbacks
) -> None:
    body = {
        "name": "from api",
        "source": _source(),
        "config": {"strategy": {"ivrv_min": 0}, "exit": {"style": "take_profit"}},
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(URL, body, format="json")

    assert response.status_code == 201, response.content
    run = BacktestRun.objects.get(pk=response.json()["id"])
    assert run.status == BacktestRun.Status.SUCCEEDED
    assert run.config["exit"]["style"] == "take_profit"
    detail = api.get(f"{URL}/{run.pk}").json()
    assert detail["metrics"]["num_trades"] == run.trades.count()
    assert detail["assumptions"]["fills"].startswith("sell at best bid")


def test_it_creates_a_grid_with_one_cell_per_combination(api: APIClient) -> None:
    body = {
        "source": _source(),
        "config": {"strategy": {"ivrv_min": 0}},
        "grid": {"axes": {"dte_range": [[1, 5], [5, 10]], "exit_style": ["hold_to_expiry"]}},
    }
    response = api.post(URL, body, format="json")

    assert response.status_code == 201
    run = BacktestRun.objects.get(pk=response.json()["id"])
    assert run.kind == BacktestRun.Kind.GRID
    assert run.children.count() == 2


def test_a_grid_with_the_longest_name_allowed_names_its_cells_within_the_column(
    api: APIClient,
) -> None:
    """Schemathesis on PostgreSQL: a 200-character grid name made its cells "name #0" (203
    characters) and the create a 500. A cell keeps its number and as much of the name as fits."""
    body = {
        "name": "g" * 200,
        "source": _source(),
        "grid": {"axes": {"exit_style": ["hold_to_expiry", "stop_loss"]}},
    }
    response = api.post(URL, body, format="json")

    assert response.status_code == 201
    run = BacktestRun.objects.get(pk=response.json()["id"])
    names = list(run.children.order_by("combo_index").values_list("name", flat=True))
    assert [len(name) for name in names] == [200, 200]
    assert names == ["g" * 197 + " #0", "g" * 197 + " #1"]


def test_it_rejects_invalid_configurations_with_field_messages(api: APIClient) -> None:
    strategy = {"delta_min": 0.5, "delta_max": 0.1}
    bad_delta = api.post(URL, {"config": {"strategy": strategy}}, format="json")
    bad_axis = api.post(URL, {"grid": {"axes": {"moon_phase": [1]}}}, format="json")
    bad_source = api.post(URL, {"source": {"kind": "crystal_ball"}}, format="json")

    assert bad_delta.status_code == bad_axis.status_code == bad_source.status_code == 400
    assert "delta_min" in json.dumps(bad_delta.json())
    assert "unknown grid axes" in json.dumps(bad_axis.json())
    assert "source" in bad_source.json()["error"]["details"]


def test_it_lists_runs_without_grid_cells_and_filters(
    api: APIClient, done_run: BacktestRun
) -> None:
    grid = services.grid_run_create(
        spec=GridSpec(base=TRADING_CONFIG, axes={"ivrv_min": [0, 1]}),
        source=SHORT_SOURCE,
        enqueue=False,
    )
    listed = api.get(URL).json()["results"]
    grids = api.get(URL, {"kind": "grid"}).json()["results"]
    with_cells = api.get(URL, {"include_cells": "1"}).json()["results"]

    assert {row["id"] for row in listed} == {done_run.pk, grid.pk}
    assert [row["id"] for row in grids] == [grid.pk]
    assert len(with_cells) == 4
    row = next(r for r in listed if r["id"] == done_run.pk)
    assert row["headline"]["num_trades"] == done_run.metrics["num_trades"]


def test_it_pages_trades_and_downloads_json_and_csv(api: APIClient, done_run: BacktestRun) -> None:
    trades = api.get(f"{URL}/{done_run.pk}/trades").json()
    as_json = api.get(f"{URL}/{done_run.pk}/download", {"as": "json"})
    as_csv = api.get(f"{URL}/{done_run.pk}/download", {"as": "csv"})

    assert trades["count"] == done_run.trades.count()
    assert "pnl_usd" in trades["results"][0]
    assert 'filename="backtest_' in as_json["Content-Disposition"]
    assert len(json.loads(as_json.content)["trades"]) == done_run.trades.count()
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode())))
    assert len(rows) == done_run.trades.count()
    assert rows[0]["instrument_name"].startswith("BTC-")


def test_it_stops_resumes_and_deletes(api: APIClient, eager_celery: None) -> None:
    run = services.backtest_run_create(config=TRADING_CONFIG, source=SHORT_SOURCE, enqueue=False)

    stopped = api.post(f"{URL}/{run.pk}/stop").json()
    not_a_grid = api.post(f"{URL}/{run.pk}/resume")
    deleted = api.delete(f"{URL}/{run.pk}")

    assert stopped["status"] == "stopped"
    assert not_a_grid.status_code == 409  # conflict: not a grid
    assert deleted.status_code == 204
    assert not BacktestRun.objects.filter(pk=run.pk).exists()


def test_it_resumes_a_grids_unfinished_cells(api: APIClient, eager_celery: None) -> None:
    grid = services.grid_run_create(
        spec=GridSpec(base=TRADING_CONFIG, axes={"ivrv_min": [0, 0.5]}),
        source=SHORT_SOURCE,
        enqueue=False,
    )

    nothing_lost = api.post(f"{URL}/{grid.pk}/resume")
    response = api.post(f"{URL}/{grid.pk}/resume", {"include_queued": True}, format="json")

    assert nothing_lost.json() == {"resent": 0}
    assert response.json() == {"resent": 2}
    grid.refresh_from_db()
    assert grid.status == BacktestRun.Status.SUCCEEDED


def test_it_compares_and_diffs_two_runs(api: APIClient, done_run: BacktestRun) -> None:
    other = services.backtest_run_create(
        config=TRADING_CONFIG.model_copy(update={"seed": 1}), source=SHORT_SOURCE, enqueue=False
    )
    services.backtest_run_execute(run_id=other.pk)

    compared = api.get(f"{URL}/compare", {"ids": f"{done_run.pk},{other.pk}"}).json()
    diff = api.get(f"{URL}/diff", {"a": done_run.pk, "b": other.pk}).json()
    missing = api.get(f"{URL}/compare", {"ids": "999999"})
    garbage = api.get(f"{URL}/compare", {"ids": "x"})

    assert [r["id"] for r in compared["runs"]] == [done_run.pk, other.pk]
    assert compared["rows"][0]["metric"] == "num_trades"
    assert diff["config_changes"] == [{"key": "config.seed", "a": 0, "b": 1}]
    assert (missing.status_code, garbage.status_code) == (404, 400)

"""Backtest grids you can navigate: cells link to their runs, a stopped grid shows finished
cells, a heatmap over two chosen axes, "use these parameters live" (operator), size sold."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from backtests import lab_services, research_services, services, training_services
from backtests.domain.grid import GridSpec
from backtests.models import BacktestRun
from tests.backtests.conftest import SHORT_SOURCE, TRADING_CONFIG
from trading.models import RuntimeControl, RuntimeControlChange

pytestmark = pytest.mark.django_db

AXES: dict[str, list[Any]] = {"delta_range": [[0.1, 0.3], [0.2, 0.4]], "ivrv_min": [0.0, 0.5]}


@pytest.fixture(scope="module")
def grid_done(django_db_setup: Any, django_db_blocker: Any) -> Any:
    """One finished 2 x 2 grid, shared by the module's tests (a backtest per cell is slow)."""
    with django_db_blocker.unblock():
        grid = services.grid_run_create(
            spec=GridSpec(base=TRADING_CONFIG, axes=AXES), source=SHORT_SOURCE, enqueue=False
        )
        services.grid_run_execute_inline(run=grid)
        yield BacktestRun.objects.get(pk=grid.pk)
        BacktestRun.objects.filter(pk=grid.pk).delete()


def test_cells_link_to_their_run_pages_and_a_heatmap_shows_the_ranked_metric(
    grid_done: BacktestRun, client_as: Any
) -> None:
    viewer = client_as("viewer")
    html = viewer.get(f"/backtests/runs/{grid_done.pk}/").content.decode()
    cells = list(grid_done.children.all())
    assert len(cells) == 4
    for cell in cells:
        assert f'href="/backtests/runs/{cell.pk}/"' in html
    assert 'data-testid="grid-heatmap"' in html
    assert "<svg" in html.split('data-testid="grid-heatmap"')[1]
    assert 'data-testid="use-live"' not in html  # viewers cannot copy parameters live
    page = viewer.get(f"/backtests/runs/{cells[0].pk}/")
    assert page.status_code == 200
    assert 'data-testid="cell-no-curve"' not in page.content.decode()
    assert 'data-testid="metrics"' in page.content.decode()
    chosen = viewer.get(
        f"/backtests/runs/{grid_done.pk}/?metric=max_drawdown_pct&x=ivrv_min&y=delta_range"
    ).content.decode()
    assert "Max drawdown, %" in chosen


def test_a_stopped_grid_shows_the_cells_that_finished(
    grid_done: BacktestRun, client_as: Any
) -> None:
    unfinished = grid_done.children.order_by("combo_index").last()
    assert unfinished is not None
    BacktestRun.objects.filter(pk=unfinished.pk).update(status=BacktestRun.Status.STOPPED)
    BacktestRun.objects.filter(pk=grid_done.pk).update(status=BacktestRun.Status.STOPPED)
    try:
        html = client_as("viewer").get(f"/backtests/runs/{grid_done.pk}/").content.decode()
        assert "Cells that finished before the grid was stopped (3 of 4)" in html
        assert f'href="/backtests/runs/{unfinished.pk}/" data-testid="grid-cell-link"' not in html
    finally:
        BacktestRun.objects.filter(pk=unfinished.pk).update(status=BacktestRun.Status.SUCCEEDED)
        BacktestRun.objects.filter(pk=grid_done.pk).update(status=BacktestRun.Status.SUCCEEDED)


def test_an_operator_copies_a_cells_parameters_into_the_live_controls(
    grid_done: BacktestRun, client_as: Any
) -> None:
    cell = grid_done.children.get(combo_index=3)
    params = cell.grid["params"]
    assert client_as("researcher").post(f"/backtests/runs/{cell.pk}/use-live/").status_code == 403
    operator = client_as("operator")
    assert (
        'data-testid="use-live"'
        in operator.get(f"/backtests/runs/{grid_done.pk}/").content.decode()
    )

    response = operator.post(f"/backtests/runs/{cell.pk}/use-live/")

    assert response.status_code == 302
    control = RuntimeControl.load()
    assert (control.delta_min, control.delta_max) == tuple(params["delta_range"])
    assert control.ivrv_min == params["ivrv_min"]
    change = RuntimeControlChange.objects.latest("changed_at")
    assert change.source == "backtest"
    assert f"grid cell #{cell.pk}" in change.note


def test_a_cells_page_shows_its_equity_trades_and_csv_without_running_again(
    grid_done: BacktestRun, client_as: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_run(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a cell's page must not run a backtest")

    monkeypatch.setattr(services, "backtest_run_execute", no_run)
    # Every module holding its own reference (a module first imported while only `services`
    # was patched would keep `no_run` after the test).
    for module in (services, lab_services, research_services, training_services):
        monkeypatch.setattr(module, "simulator_for", no_run)
    runs_before = BacktestRun.objects.count()
    cell = grid_done.children.get(combo_index=1)
    researcher = client_as("researcher")

    html = researcher.get(f"/backtests/runs/{cell.pk}/").content.decode()
    csv_response = researcher.get(f"/api/backtests/{cell.pk}/download?as=csv")

    assert 'data-testid="equity-chart"' in html
    assert 'data-testid="drawdown-chart"' in html
    assert 'data-testid="trades"' in html
    assert 'data-testid="cell-no-curve"' not in html
    assert "Trades CSV" in html
    assert csv_response.status_code == 200
    rows = csv_response.content.decode().strip().splitlines()
    assert rows[0].startswith("seq,")
    assert len(rows) - 1 == cell.metrics["num_trades"] > 0
    assert BacktestRun.objects.count() == runs_before


def test_a_stopped_grids_finished_cells_keep_their_trades(client_as: Any) -> None:
    grid = services.grid_run_create(
        spec=GridSpec(base=TRADING_CONFIG, axes={"ivrv_min": [0.0, 0.5]}),
        source=SHORT_SOURCE,
        enqueue=False,
    )
    first, second = grid.children.order_by("combo_index")
    services.backtest_run_execute(run_id=first.pk)
    services.backtest_run_stop(run=grid)
    services.backtest_run_execute(run_id=second.pk)  # a stop reached it: it never runs

    grid.refresh_from_db()
    assert grid.status == BacktestRun.Status.STOPPED
    viewer = client_as("viewer")
    html = viewer.get(f"/backtests/runs/{grid.pk}/").content.decode()
    assert f'href="/backtests/runs/{first.pk}/" data-testid="grid-cell-link"' in html
    cell_html = viewer.get(f"/backtests/runs/{first.pk}/").content.decode()
    assert 'data-testid="equity-chart"' in cell_html
    assert 'data-testid="trades"' in cell_html


def test_a_cell_stored_without_trades_runs_again_on_its_own_with_equity_trades_and_csv(
    grid_done: BacktestRun, client_as: Any
) -> None:
    cell = grid_done.children.get(combo_index=0)
    BacktestRun.objects.filter(pk=cell.pk).update(equity_curve={})  # as grids stored them once
    cell.trades.all().delete()
    assert 'data-testid="cell-no-curve"' in (
        client_as("viewer").get(f"/backtests/runs/{cell.pk}/").content.decode()
    )
    researcher = client_as("researcher")
    response = researcher.post(f"/backtests/runs/{cell.pk}/rerun/")
    assert response.status_code == 302
    single = BacktestRun.objects.get(name=f"cell #{cell.pk} of grid #{grid_done.pk}")
    assert single.config == services.grid_cell_as_config(cell).model_dump(mode="json")
    services.backtest_run_execute(run_id=single.pk)
    html = researcher.get(f"/backtests/runs/{single.pk}/").content.decode()
    assert 'data-testid="equity-chart"' in html
    assert "Trades CSV" in html
    assert client_as("viewer", "v2").post(f"/backtests/runs/{cell.pk}/rerun/").status_code == 403


def test_the_lab_form_sets_the_size_sold(client_as: Any) -> None:
    researcher: Client = client_as("researcher")
    form = {
        "name": "sized", "source": "synthetic", "underlying": "BTC", "start": "2025-02-03",
        "days": 12, "seed": 3, "delta_min": 0.1, "delta_max": 0.4, "dte_min_days": 1,
        "dte_max_days": 10, "ivrv_min": 0, "premium_min_usd": 50, "explore_prob": 0.25,
        "explore_top_k": 3, "exit_style": "hold_to_expiry", "take_profit_pct": 0.5,
        "roll_dte_days": 1, "fill_style": "bid_ask", "haircut_pct": 0.05,
        "decision_interval_hours": 1, "rank_by": "sharpe", "quantity_coin": 0.5,
        "initial_coin": 2,
    }  # fmt: skip
    response = researcher.post("/backtests/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    run = BacktestRun.objects.get(name="sized")
    assert run.config["quantity_coin"] == 0.5
    assert run.config["initial_coin"] == 2.0

"""The Backtesting tab: lab form, runs table, run page pictures, progress polling, compare."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from backtests import services
from backtests.domain.grid import GridSpec
from backtests.models import BacktestRun
from tests.backtests.conftest import SHORT_SOURCE, TRADING_CONFIG

pytestmark = pytest.mark.django_db
HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}


def _lab(**overrides: object) -> dict[str, object]:
    form: dict[str, object] = {
        "name": "lab run",
        "source": "synthetic",
        "underlying": "BTC",
        "start": "2025-02-03",
        "days": 12,
        "seed": 3,
        "delta_min": 0.1,
        "delta_max": 0.4,
        "dte_min_days": 1,
        "dte_max_days": 10,
        "ivrv_min": 0,
        "premium_min_usd": 50,
        "explore_prob": 0.25,
        "explore_top_k": 3,
        "exit_style": "hold_to_expiry",
        "take_profit_pct": 0.5,
        "roll_dte_days": 1,
        "fill_style": "bid_ask",
        "haircut_pct": 0.05,
        "decision_interval_hours": 1,
        "rank_by": "sharpe",
    }
    form.update(overrides)
    return form


def test_it_asks_for_a_login(client: Client) -> None:
    response = client.get("/backtests/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_it_shows_the_lab_and_an_empty_runs_table(desk_client: Client) -> None:
    response = desk_client.get("/backtests/")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="lab-form"' in html
    assert 'data-testid="empty"' in html


def test_it_launches_a_run_from_the_lab_form(
    desk_client: Client, eager_celery: None, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = desk_client.post("/backtests/", _lab())

    run = BacktestRun.objects.get(name="lab run")
    assert response.status_code == 302
    assert response["Location"] == f"/backtests/runs/{run.pk}/"
    assert run.status == BacktestRun.Status.SUCCEEDED
    assert run.source["start"].startswith("2025-02-03")


def test_it_launches_a_grid_and_reports_form_errors(desk_client: Client) -> None:
    axes = '{"exit_style": ["hold_to_expiry", "take_profit"]}'
    grid = desk_client.post("/backtests/", _lab(name="lab grid", grid_axes=axes))
    bad = desk_client.post("/backtests/", _lab(delta_min=0.5, delta_max=0.1))
    not_json = desk_client.post("/backtests/", _lab(grid_axes="{oops"))

    assert grid.status_code == 302
    assert BacktestRun.objects.get(name="lab grid").children.count() == 2
    assert bad.status_code == 200
    assert "delta_min" in bad.content.decode()
    assert "not JSON" in not_json.content.decode()


def test_it_refreshes_only_the_runs_table_for_htmx(
    desk_client: Client, done_run: BacktestRun
) -> None:
    response = desk_client.get("/backtests/", **HTMX)

    html = response.content.decode()
    assert 'id="runs"' in html
    assert "lab-form" not in html
    assert "done run" in html


def test_it_shows_a_finished_run_with_pictures_trades_and_assumptions(
    desk_client: Client, done_run: BacktestRun
) -> None:
    html = desk_client.get(f"/backtests/runs/{done_run.pk}/").content.decode()

    for testid in ("equity-chart", "drawdown-chart", "trades-chart", "trades", "assumptions"):
        assert f'data-testid="{testid}"' in html, testid
    assert html.count("<svg") == 3
    assert "hx-trigger" not in html  # nothing to poll
    assert done_run.trades.first().instrument_name in html  # type: ignore[union-attr]


def test_it_polls_progress_until_done_then_stops_polling(
    desk_client: Client, done_run: BacktestRun
) -> None:
    queued = services.backtest_run_create(config=TRADING_CONFIG, source=SHORT_SOURCE, enqueue=False)

    running = desk_client.get(f"/backtests/runs/{queued.pk}/progress/", **HTMX)
    finished = desk_client.get(f"/backtests/runs/{done_run.pk}/progress/", **HTMX)
    page = desk_client.get(f"/backtests/runs/{queued.pk}/").content.decode()

    assert running.status_code == 200
    assert 'hx-trigger="every 1s"' in running.content.decode()
    assert finished.status_code == 286
    assert finished["HX-Refresh"] == "true"
    assert 'data-testid="stop"' in page


def test_it_stops_a_run_from_its_page(desk_client: Client) -> None:
    run = services.backtest_run_create(config=TRADING_CONFIG, source=SHORT_SOURCE, enqueue=False)

    fragment = desk_client.post(f"/backtests/runs/{run.pk}/stop/", **HTMX)
    plain = desk_client.post(f"/backtests/runs/{run.pk}/stop/")

    run.refresh_from_db()
    assert run.status == BacktestRun.Status.STOPPED
    assert "stopped" in fragment.content.decode()
    assert plain.status_code == 302


def test_it_shows_a_grid_ranking(desk_client: Client) -> None:
    grid = services.grid_run_create(
        spec=GridSpec(base=TRADING_CONFIG, axes={"exit_style": ["hold_to_expiry", "stop_loss"]}),
        source=SHORT_SOURCE,
        enqueue=False,
    )
    services.grid_run_execute_inline(run=grid)

    html = desk_client.get(f"/backtests/runs/{grid.pk}/").content.decode()

    assert 'data-testid="grid-results"' in html
    assert "stop_loss" in html


def test_it_compares_runs_with_a_diff_and_deletes(
    desk_client: Client, done_run: BacktestRun
) -> None:
    other = services.backtest_run_create(
        config=TRADING_CONFIG.model_copy(update={"seed": 4}), source=SHORT_SOURCE, enqueue=False
    )
    services.backtest_run_execute(run_id=other.pk)

    html = desk_client.get(f"/backtests/compare/?ids={done_run.pk}&ids={other.pk}").content.decode()
    deleted = desk_client.post(f"/backtests/runs/{other.pk}/delete/")

    assert 'data-testid="compare-table"' in html
    assert 'data-testid="diff-table"' in html
    assert "config.seed" in html
    assert deleted.status_code == 302
    assert not BacktestRun.objects.filter(pk=other.pk).exists()
    assert desk_client.get("/backtests/compare/?ids=x").status_code == 404


def test_the_progress_poll_reads_a_grid_without_writing_it(desk_client: Client) -> None:
    spec = GridSpec(base=TRADING_CONFIG, axes={"exit_style": ["hold_to_expiry", "take_profit"]})
    grid = services.grid_run_create(spec=spec, source=SHORT_SOURCE, enqueue=False)
    cell = grid.children.order_by("combo_index").first()
    assert cell is not None
    BacktestRun.objects.filter(pk=cell.pk).update(status=BacktestRun.Status.SUCCEEDED)
    stamp = BacktestRun.objects.get(pk=grid.pk)

    response = desk_client.get(f"/backtests/runs/{grid.pk}/progress/", **HTMX)

    assert response.status_code == 200
    assert "50%" in response.content.decode()
    after = BacktestRun.objects.get(pk=grid.pk)
    assert (after.progress, after.status) == (stamp.progress, stamp.status)

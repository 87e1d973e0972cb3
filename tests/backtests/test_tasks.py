"""Celery tasks of the backtests app: explicit names, ids as arguments, a chord for grids."""

from __future__ import annotations

import pytest

from backtests import services, tasks
from backtests.domain.grid import GridSpec
from backtests.models import BacktestRun
from tests.backtests.conftest import SHORT_SOURCE, TRADING_CONFIG

pytestmark = pytest.mark.django_db


def test_it_names_every_task_explicitly() -> None:
    assert tasks.run_backtest.name == "backtests.run_backtest"
    assert tasks.run_grid_cell.name == "backtests.run_grid_cell"
    assert tasks.finalize_grid.name == "backtests.finalize_grid"
    assert tasks.resume_grid.name == "backtests.resume_grid"
    assert tasks.run_backtest.acks_late


def test_the_tasks_take_ids_and_tolerate_deleted_runs() -> None:
    run = services.backtest_run_create(config=TRADING_CONFIG, source=SHORT_SOURCE, enqueue=False)

    assert tasks.run_backtest.run(run.pk) == "succeeded"
    assert tasks.run_backtest.run(999_999) == "deleted"
    assert tasks.finalize_grid.run(999_999) == "deleted"
    assert tasks.resume_grid.run(999_999) == 0


def test_a_grid_fans_out_as_a_chord_whose_callback_ranks_it(
    eager_celery: None, django_capture_on_commit_callbacks
) -> None:
    spec = GridSpec(base=TRADING_CONFIG, axes={"exit_style": ["hold_to_expiry", "stop_loss"]})
    with django_capture_on_commit_callbacks(execute=True):
        grid = services.grid_run_create(spec=spec, source=SHORT_SOURCE)

    grid.refresh_from_db()
    assert grid.status == BacktestRun.Status.SUCCEEDED
    assert len(grid.results) == 2
    assert tasks.finalize_grid.run(grid.pk) == "succeeded"  # idempotent

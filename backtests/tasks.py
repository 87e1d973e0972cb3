"""Celery tasks of the backtests app: thin, explicitly named, ids as arguments, redo-safe.

Late acknowledgement (settings) plus redo-safe services mean a task redelivered after its worker
died simply runs again; a cell that already succeeded is skipped.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task


def _status(row: Any) -> str:
    """What a task that executes a stored run or study returns: its status, or "deleted" when
    the row went before the task ran."""
    return "deleted" if row is None else str(row.status)


@shared_task(name="backtests.run_backtest", acks_late=True, ignore_result=False)
def run_backtest(run_id: int) -> str:
    """Run one queued backtest (single run or grid cell) and store its results."""
    from backtests.services import backtest_run_execute

    run = backtest_run_execute(run_id=run_id)
    return _status(run)


@shared_task(name="backtests.run_grid_cell", acks_late=True, ignore_result=False)
def run_grid_cell(run_id: int) -> str:
    """Run one cell of a grid search (a chord header task)."""
    from backtests.services import backtest_run_execute

    run = backtest_run_execute(run_id=run_id)
    return _status(run)


@shared_task(name="backtests.finalize_grid", acks_late=True, ignore_result=False)
def finalize_grid(run_id: int) -> str:
    """Chord callback: rank a grid's cells and close it (idempotent)."""
    from backtests.services import grid_run_refresh

    run = grid_run_refresh(run_id=run_id)
    return _status(run)


@shared_task(name="backtests.resume_grid", acks_late=True, ignore_result=False)
def resume_grid(run_id: int) -> int:
    """Re-send the unfinished cells of a grid (after a worker was lost)."""
    from backtests.models import BacktestRun
    from backtests.services import grid_run_resume

    run = BacktestRun.objects.filter(pk=run_id).first()
    return 0 if run is None else grid_run_resume(run=run)


@shared_task(name="backtests.selector_study", acks_late=True, ignore_result=False)
def selector_study(study_id: int) -> str:
    """Run a selector funnel or a pass-rate heatmap (research queue)."""
    from backtests.research_services import selector_study_execute

    study = selector_study_execute(study_id=study_id)
    return _status(study)


@shared_task(name="backtests.selector_heatmap_row", acks_late=True, ignore_result=False)
def selector_heatmap_row(study_id: int, row: int) -> list[float | None]:
    """One row of cells of a simulated heatmap (a chord header task, research queue)."""
    from backtests.research_services import heatmap_row_compute

    return heatmap_row_compute(study_id=study_id, row=row)


@shared_task(name="backtests.selector_heatmap_finish", acks_late=True, ignore_result=False)
def selector_heatmap_finish(rows: list[list[float | None]], study_id: int) -> str:
    """Chord callback: store the heatmap assembled from its rows."""
    from backtests.research_services import heatmap_finish

    study = heatmap_finish(study_id=study_id, rows=rows)
    return _status(study)


@shared_task(name="backtests.training_run", acks_late=True, ignore_result=False)
def training_run(run_id: int) -> str:
    """Collect training data with several profiles and build the corpus (research queue)."""
    from backtests.training_services import training_run_execute

    run = training_run_execute(run_id=run_id)
    return _status(run)


@shared_task(name="backtests.lab_study", acks_late=True, ignore_result=False)
def lab_study(study_id: int) -> str:
    """Run an environment heatmap or a synthetic-vs-live comparison (research queue)."""
    from backtests.lab_services import lab_study_execute

    study = lab_study_execute(study_id=study_id)
    return _status(study)

"""Celery tasks of the backtests app: thin, explicitly named, ids as arguments, redo-safe.

Late acknowledgement (settings) plus redo-safe services mean a task redelivered after its worker
died simply runs again; a cell that already succeeded is skipped.
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="backtests.run_backtest", acks_late=True, ignore_result=False)
def run_backtest(run_id: int) -> str:
    """Run one queued backtest (single run or grid cell) and store its results."""
    from backtests.services import backtest_run_execute

    run = backtest_run_execute(run_id=run_id)
    return run.status if run is not None else "deleted"


@shared_task(name="backtests.run_grid_cell", acks_late=True, ignore_result=False)
def run_grid_cell(run_id: int) -> str:
    """Run one cell of a grid search (a chord header task)."""
    from backtests.services import backtest_run_execute

    run = backtest_run_execute(run_id=run_id)
    return run.status if run is not None else "deleted"


@shared_task(name="backtests.finalize_grid", acks_late=True, ignore_result=False)
def finalize_grid(run_id: int) -> str:
    """Chord callback: rank a grid's cells and close it (idempotent)."""
    from backtests.services import grid_run_refresh

    run = grid_run_refresh(run_id=run_id)
    return run.status if run is not None else "deleted"


@shared_task(name="backtests.resume_grid", acks_late=True, ignore_result=False)
def resume_grid(run_id: int) -> int:
    """Re-send the unfinished cells of a grid (after a worker was lost)."""
    from backtests.models import BacktestRun
    from backtests.services import grid_run_resume

    run = BacktestRun.objects.filter(pk=run_id).first()
    return 0 if run is None else grid_run_resume(run=run)

"""Reads of the backtests app for views, API, tasks and commands."""

from __future__ import annotations

import math
from typing import Any

from django.db.models import QuerySet

from backtests.domain.metrics import format_metric
from backtests.models import BacktestRun, SelectorStudy, SimulatedTrade, TrainingRun


def grid_progress_read(run: BacktestRun) -> BacktestRun:
    """A grid's progress for display, counted from its cells; nothing is saved.

    The progress page polls every second: it reads. Each finishing cell (and the chord's
    callback) writes the grid's stored progress through `services.grid_run_refresh`.
    """
    if run.kind != BacktestRun.Kind.GRID or run.is_done:
        return run
    statuses = list(run.children.values_list("status", flat=True))
    if statuses:
        run.progress = sum(s in BacktestRun.TERMINAL for s in statuses) / len(statuses)
    return run


#: Metrics shown side by side when comparing runs, in report order.
COMPARE_METRICS = (
    "num_trades",
    "net_profit_usd",
    "total_return_pct",
    "buy_and_hold_return_pct",
    "excess_vs_buy_and_hold_pct",
    "cagr_pct",
    "max_drawdown_pct",
    "sharpe",
    "sortino",
    "calmar",
    "overlay_sharpe",
    "profit_factor",
    "win_rate",
    "expectancy_usd",
    "premium_captured_pct",
    "assignment_rate",
    "fees_pct_of_premium",
    "exposure_pct",
    "worst_week_pct",
)


def backtest_run_list(
    *, kind: str | None = None, status: str | None = None, include_cells: bool = False
) -> QuerySet[BacktestRun]:
    """Runs newest first; grid cells are hidden unless asked for."""
    runs = BacktestRun.objects.all()
    if not include_cells:
        runs = runs.exclude(kind=BacktestRun.Kind.GRID_CELL)
    if kind:
        runs = runs.filter(kind=kind)
    if status:
        runs = runs.filter(status=status)
    return runs.defer("equity_curve", "results")


def backtest_run_get(*, run_id: int) -> BacktestRun:
    """One run (raises DoesNotExist)."""
    return BacktestRun.objects.get(pk=run_id)


def run_trade_list(*, run: BacktestRun) -> QuerySet[SimulatedTrade]:
    """A run's trades in order."""
    return run.trades.order_by("seq")


def grid_cell_list(*, run: BacktestRun) -> QuerySet[BacktestRun]:
    """The cells of a grid in combination order."""
    return run.children.order_by("combo_index").defer("equity_curve")


def backtest_run_compare(*, runs: list[BacktestRun]) -> list[dict[str, Any]]:
    """One row per metric with each run's value (for a side-by-side table)."""
    return [
        {
            "metric": name,
            "values": [run.metrics.get(name) for run in runs],
            "display": [format_metric(name, run.metrics.get(name)) for run in runs],
        }
        for name in COMPARE_METRICS
    ]


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): value}


def backtest_run_diff(*, a: BacktestRun, b: BacktestRun) -> dict[str, Any]:
    """What differs between two runs: configuration, data source, and metric changes (b - a)."""
    config_a = _flatten({"config": a.config, "source": a.source})
    config_b = _flatten({"config": b.config, "source": b.source})
    changed = [
        {"key": key, "a": config_a.get(key), "b": config_b.get(key)}
        for key in sorted(set(config_a) | set(config_b))
        if config_a.get(key) != config_b.get(key)
    ]
    metrics = []
    for name in COMPARE_METRICS:
        value_a, value_b = a.metrics.get(name), b.metrics.get(name)
        delta = None
        if isinstance(value_a, int | float) and isinstance(value_b, int | float):
            delta = value_b - value_a if math.isfinite(value_b - value_a) else None
        metrics.append({"metric": name, "a": value_a, "b": value_b, "delta": delta})
    return {"a": a.pk, "b": b.pk, "config_changes": changed, "metrics": metrics}


def research_active_count(*, user: Any) -> int:
    """How many of `user`'s research runs are queued or running: backtest singles and grids
    (not their cells), selector and lab studies, and training runs (`RESEARCH_QUEUED_RUNS_PER_USER`
    caps their sum)."""
    if not getattr(user, "is_authenticated", False):
        return 0
    active = (BacktestRun.Status.QUEUED, BacktestRun.Status.RUNNING)
    runs = BacktestRun.objects.filter(
        created_by=user,
        kind__in=(BacktestRun.Kind.SINGLE, BacktestRun.Kind.GRID),
        status__in=active,
    ).count()
    studies = SelectorStudy.objects.filter(created_by=user, status__in=active).count()
    training = TrainingRun.objects.filter(created_by=user, status__in=active).count()
    return runs + studies + training

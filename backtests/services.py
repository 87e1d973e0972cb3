"""Writes and orchestration of the backtests app (<entity>_<verb>, keyword-only).

Every execute service is redo-safe: a run (or grid cell) that already succeeded is left alone,
so a task redelivered after a worker died, or re-sent by `grid_run_resume`, does no harm.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backtests.domain.grid import GridRow as DomainGridRow
from backtests.domain.grid import (
    GridSpec,
    apply_params,
    holdout_simulators,
    rank_rows,
    sample_summary,
)
from backtests.domain.panel import ChainPanel
from backtests.domain.simulator import CoveredCallSimulator, SimulationResult, SimulationStopped
from backtests.domain.sources.base import MarketDataSource
from backtests.domain.sources.spec import SourceSpec
from backtests.domain.stress import MAX_STRESS_POINTS, worst_scenario_loss_pct
from backtests.domain.training import (
    candidate_examples,
    chat_examples,
    decision_examples,
    export_chat_jsonl,
    export_frame,
)
from backtests.domain.types import BacktestConfig, epoch_to_datetime
from backtests.models import BacktestRun, SimulatedTrade, TrainingExport
from optionsdesk.redaction import public_error

logger = logging.getLogger(__name__)

MAX_CURVE_POINTS = 1500
#: A grid cell keeps a coarser curve: enough for its page, small and quick beside hundreds of
#: cells (its worst-scenario series is computed at fewer times, interpolated between).
CELL_CURVE_POINTS = 400
CELL_STRESS_POINTS = 60
PROGRESS_EVERY_S = 0.5
Status = BacktestRun.Status


# ------------------------------------------------------------------ market data


def snapshots_root() -> Path:
    """Where harvested snapshots live (setting BACKTEST_DERIBIT_DATA_DIR or ../shared)."""
    configured = getattr(settings, "BACKTEST_DERIBIT_DATA_DIR", None)
    if configured:
        return Path(configured)
    return Path(settings.BASE_DIR).parent / "shared" / "data" / "deribit"


def source_build(*, spec: SourceSpec) -> MarketDataSource:
    """The `MarketDataSource` a spec describes."""
    if spec.kind == "synthetic":
        from backtests.domain.sources.synthetic import SyntheticSource
        from calibration.selectors import market_params_applied

        # The IV multipliers the calibration update policy applied (none: the model as fitted).
        return SyntheticSource(
            params=market_params_applied(),
            seed=spec.seed,
            start=spec.start,
            days=spec.days,
            max_dte_days=spec.max_dte_days,
        )
    if spec.kind == "synthetic_v2":
        from calibration.domain.universe_v2 import SyntheticV2Source
        from calibration.selectors import market_params_v2, regime_dynamics

        return SyntheticV2Source(
            regimes=regime_dynamics(),
            params=market_params_v2(),
            seed=spec.seed,
            start=spec.start,
            days=spec.days,
            max_dte_days=spec.max_dte_days,
        )
    if spec.kind == "snapshots":
        from backtests.domain.sources.snapshots import ParquetSnapshotSource

        root = snapshots_root()
        return ParquetSnapshotSource(root / "snapshots", volatility_dir=root / "volatility_history")
    from backtests.domain.sources.history import DeribitHistorySource
    from trading.exchange import market_data_client, market_data_venue

    # Public history of the configured environment (the simulator offline), or of Deribit
    # mainnet's public API with no keys (DERIBIT_MARKET_DATA=mainnet_public).
    venue = market_data_venue()
    cache = Path(settings.VAR_DIR) / "backtests" / "deribit_history" / venue
    return DeribitHistorySource(
        market_data_client(), cache_dir=cache, max_dte_days=spec.max_dte_days, venue=venue
    )


def panel_cache_key(spec: SourceSpec) -> str:
    """The panel cache's key: the spec, and where its data comes from (the data directory, the
    exchange environment and the market-data venue), so a changed setting never reuses a panel
    built from other data."""
    where = (
        f"data_dir={snapshots_root()}|var={settings.VAR_DIR}"
        f"|env={settings.DERIBIT_ENV}|venue={getattr(settings, 'DERIBIT_MARKET_DATA', '')}"
    )
    return f"{spec.cache_key()}|{where}"


class _PanelCache:
    """The last few panels built in this process (a grid's cells share one panel)."""

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self._items: OrderedDict[str, CoveredCallSimulator] = OrderedDict()
        self._splits: OrderedDict[str, tuple[CoveredCallSimulator, CoveredCallSimulator]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def simulator(self, spec: SourceSpec) -> CoveredCallSimulator:
        key = panel_cache_key(spec)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        start, end = spec.period()
        panel = source_build(spec=spec).load_panel(underlying=spec.underlying, start=start, end=end)
        simulator = CoveredCallSimulator(panel)
        with self._lock:
            self._items[key] = simulator
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return simulator

    def holdout(
        self, spec: SourceSpec, holdout_frac: float
    ) -> tuple[CoveredCallSimulator, CoveredCallSimulator]:
        """In-sample and out-of-sample simulators of the spec's panel (cached like panels)."""
        key = f"{panel_cache_key(spec)}|holdout={holdout_frac:g}"
        with self._lock:
            if key in self._splits:
                self._splits.move_to_end(key)
                return self._splits[key]
        pair = holdout_simulators(self.simulator(spec), holdout_frac)
        with self._lock:
            self._splits[key] = pair
            while len(self._splits) > self.size:
                self._splits.popitem(last=False)
        return pair

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._splits.clear()


PANELS = _PanelCache()


def simulator_for(*, spec: SourceSpec) -> CoveredCallSimulator:
    """A simulator over the spec's panel (built once per process and reused)."""
    return PANELS.simulator(spec)


# ------------------------------------------------------------------ single runs


def backtest_run_create(
    *,
    config: BacktestConfig,
    source: SourceSpec,
    name: str = "",
    user: Any = None,
    enqueue: bool = True,
) -> BacktestRun:
    """Record a queued single run and, once committed, hand it to a worker."""
    with transaction.atomic():
        run = BacktestRun.objects.create(
            name=name or _default_name(config, source),
            kind=BacktestRun.Kind.SINGLE,
            config=config.model_dump(mode="json"),
            source=source.model_dump(mode="json"),
            created_by=user if getattr(user, "is_authenticated", False) else None,
            task_id=str(uuid.uuid4()),
        )
        if enqueue:
            from backtests.tasks import run_backtest

            task_id = run.task_id
            transaction.on_commit(lambda: run_backtest.apply_async((run.pk,), task_id=task_id))
    return run


def _default_name(config: BacktestConfig, source: SourceSpec) -> str:
    s = config.strategy
    return (
        f"{source.underlying} {source.kind} d{s.delta_min:g}-{s.delta_max:g} "
        f"dte{s.dte_min_days:g}-{s.dte_max_days:g} {config.exit.style.value.replace('_', ' ')}"
    )


@dataclass
class _Progress:
    """Throttled progress writes and stop checks for one running run."""

    run_id: int
    last_write: float = 0.0
    last_check: float = 0.0
    stop: bool = False

    def report(self, fraction: float) -> None:
        now = time.monotonic()
        if now - self.last_write >= PROGRESS_EVERY_S:
            self.last_write = now
            BacktestRun.objects.filter(pk=self.run_id).update(progress=round(fraction, 4))

    def should_stop(self) -> bool:
        now = time.monotonic()
        if now - self.last_check >= PROGRESS_EVERY_S:
            self.last_check = now
            row = BacktestRun.objects.filter(pk=self.run_id).values("stop_requested").first()
            self.stop = row is None or bool(row["stop_requested"])
        return self.stop


def _claim(run_id: int) -> BacktestRun | None:
    """Mark a run RUNNING unless it is gone, finished or stopped; None when nothing to do."""
    with transaction.atomic():
        run = BacktestRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status == Status.SUCCEEDED:
            return None
        if run.stop_requested:
            run.status, run.finished_at = Status.STOPPED, timezone.now()
            run.save(update_fields=["status", "finished_at"])
            stopped_parent = run.parent_id
        else:
            run.status, run.started_at, run.error = Status.RUNNING, timezone.now(), ""
            run.save(update_fields=["status", "started_at", "error"])
            return run
    if stopped_parent is not None:
        grid_run_refresh(run_id=stopped_parent)
    return None


def backtest_run_execute(*, run_id: int) -> BacktestRun | None:
    """Run a queued single run (or grid cell) to completion and store its results."""
    run = _claim(run_id)
    if run is None:
        return BacktestRun.objects.filter(pk=run_id).first()
    progress = _Progress(run_id)
    holdout = float(run.grid.get("holdout_frac") or 0.0) if run.grid else 0.0
    out_of_sample = None
    try:
        config = BacktestConfig.model_validate(run.config)
        spec = SourceSpec.model_validate(run.source)
        if holdout > 0:
            # A grid cell with a holdout: ranked on the in-sample part, the rest shown beside.
            simulator, outside = PANELS.holdout(spec, holdout)
            out_of_sample = sample_summary(outside.simulate_policy(config))
        else:
            simulator = simulator_for(spec=spec)
        result = simulator.simulate_policy(
            config, progress=progress.report, should_stop=progress.should_stop
        )
    except SimulationStopped:
        _finish(run_id, status=Status.STOPPED)
    except Exception as exc:  # the run records the failure; the task must not retry forever
        logger.exception("backtest run %s failed", run_id)
        _finish(run_id, status=Status.FAILED, error=public_error(exc))  # no server paths
    else:
        backtest_run_store_result(
            run_id=run_id,
            result=result,
            panel=simulator.panel,
            out_of_sample=out_of_sample,
        )
    return BacktestRun.objects.filter(pk=run_id).first()


def _finish(run_id: int, *, status: str, error: str = "") -> None:
    """Close a run that did not succeed; a grid cell also updates its grid."""
    BacktestRun.objects.filter(pk=run_id).update(
        status=status, error=error, finished_at=timezone.now()
    )
    parent_id = BacktestRun.objects.filter(pk=run_id).values_list("parent_id", flat=True).first()
    if parent_id is not None:
        grid_run_refresh(run_id=parent_id)


def equity_curve_columns(
    result: SimulationResult,
    max_points: int = MAX_CURVE_POINTS,
    stress_points: int = MAX_STRESS_POINTS,
) -> dict:
    """Downsampled equity curve as JSON columns (times ISO, USD and coin equity, drawdown, and
    the worst-scenario loss computed at `stress_points` times, interpolated between)."""
    curve = result.curve
    n = len(curve.times)
    index = np.unique(np.linspace(0, n - 1, min(n, max_points)).round().astype(int))
    hold = curve.buy_and_hold_usd(result.config.initial_coin)
    return {
        "t": [epoch_to_datetime(float(t)).isoformat() for t in curve.times[index]],
        "equity_usd": np.round(curve.equity_usd[index], 2).tolist(),
        "equity_coin": np.round(curve.equity_coin[index], 8).tolist(),
        "hold_usd": np.round(hold[index], 2).tolist(),
        "drawdown": np.round(curve.drawdown_pct()[index], 6).tolist(),
        "worst_loss_pct": np.round(
            worst_scenario_loss_pct(
                curve,
                result.trades,
                underlying=result.config.underlying,
                max_points=stress_points,
            )[index],
            4,
        ).tolist(),
    }


def _trade_rows(run: BacktestRun, result: SimulationResult) -> list[SimulatedTrade]:
    rows = []
    for seq, trade in enumerate(result.trades):
        rows.append(
            SimulatedTrade(
                run=run,
                seq=seq,
                instrument_name=trade.instrument_name,
                strike=trade.strike,
                expiry=epoch_to_datetime(trade.expiry_ts),
                entry_time=epoch_to_datetime(trade.entry_ts),
                exit_time=epoch_to_datetime(trade.exit_ts),
                exit_reason=trade.exit_reason.value,
                quantity_coin=trade.quantity_coin,
                entry_price_coin=trade.entry_price_coin,
                exit_price_coin=trade.exit_price_coin,
                spot_entry_usd=trade.spot_entry_usd,
                spot_exit_usd=trade.spot_exit_usd,
                premium_usd=trade.premium_usd,
                fees_coin=trade.fees_coin,
                fees_usd=trade.fees_usd,
                pnl_coin=trade.pnl_coin,
                pnl_usd=trade.pnl_usd,
                delta_entry=trade.delta_entry,
                iv_entry=trade.iv_entry,
                dte_entry_days=trade.dte_entry_days,
                score=None if np.isnan(trade.score) else trade.score,
                rank=trade.rank,
                explored=trade.explored,
                fallback_fill=trade.fallback_fill,
            )
        )
    return rows


def backtest_run_store_result(
    *,
    run_id: int,
    result: SimulationResult,
    panel: ChainPanel,
    with_trades: bool = True,
    out_of_sample: dict[str, Any] | None = None,
) -> None:
    """Store a finished simulation: metrics, flags, assumptions, provenance, curve, trades.

    Grid cells keep their trades and a coarser equity curve too, so a cell's page shows its
    equity, trades and CSV without running again (also the cells of a stopped grid). A grid
    cell with a holdout keeps its out-of-sample summary in `grid["out_of_sample"]`; its curve
    and trades are the in-sample part it was ranked on.
    """
    with transaction.atomic():
        run = BacktestRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            return
        summary = result.summary()
        run.metrics = summary["metrics"]
        run.flags = summary["flags"]
        run.assumptions = summary["assumptions"]
        run.provenance = panel.provenance.model_dump(mode="json")
        cell = run.kind == BacktestRun.Kind.GRID_CELL
        points, stress = (
            (CELL_CURVE_POINTS, CELL_STRESS_POINTS)
            if cell
            else (MAX_CURVE_POINTS, MAX_STRESS_POINTS)
        )
        run.equity_curve = equity_curve_columns(result, points, stress) if with_trades else {}
        run.status, run.progress, run.finished_at = Status.SUCCEEDED, 1.0, timezone.now()
        if out_of_sample is not None:
            run.grid = {**run.grid, "out_of_sample": out_of_sample}
        run.save()
        if with_trades:
            run.trades.all().delete()
            SimulatedTrade.objects.bulk_create(_trade_rows(run, result), batch_size=500)
        parent_id = run.parent_id
    if parent_id is not None:
        grid_run_refresh(run_id=parent_id)


def backtest_run_stop(*, run: BacktestRun) -> BacktestRun:
    """Ask a run (or every cell of a grid) to stop; queued runs stop at once."""
    with transaction.atomic():
        ids = [run.pk, *run.children.values_list("pk", flat=True)]
        BacktestRun.objects.filter(pk__in=ids).exclude(status__in=BacktestRun.TERMINAL).update(
            stop_requested=True
        )
        BacktestRun.objects.filter(pk__in=ids, status=Status.QUEUED).update(
            status=Status.STOPPED, finished_at=timezone.now()
        )
    if run.kind == BacktestRun.Kind.GRID:
        grid_run_refresh(run_id=run.pk)
    run.refresh_from_db()
    return run


def backtest_run_delete(*, run: BacktestRun) -> None:
    """Delete a run with its trades, cells and exports (a running task then finds it gone)."""
    with transaction.atomic():
        run.delete()


# ------------------------------------------------------------------ grids


def _cell_name(grid_name: str, index: int) -> str:
    """A cell's name: its grid's, cut to leave room for " #index" within the column's length."""
    suffix = f" #{index}"
    room = BacktestRun._meta.get_field("name").max_length or 200
    return f"{grid_name[: room - len(suffix)]}{suffix}"


def grid_run_create(
    *,
    spec: GridSpec,
    source: SourceSpec,
    name: str = "",
    user: Any = None,
    enqueue: bool = True,
    queue: str | None = None,
) -> BacktestRun:
    """Record a grid and one queued cell per combination; fan the cells out as a chord."""
    configs, params = spec.combinations(), spec.combination_params()
    with transaction.atomic():
        parent = BacktestRun.objects.create(
            name=name or f"grid of {spec.size} ({source.underlying} {source.kind})",
            kind=BacktestRun.Kind.GRID,
            config=spec.base.model_dump(mode="json"),
            source=source.model_dump(mode="json"),
            grid=spec.model_dump(mode="json"),
            created_by=user if getattr(user, "is_authenticated", False) else None,
            task_id=str(uuid.uuid4()),
        )
        BacktestRun.objects.bulk_create(
            BacktestRun(
                name=_cell_name(parent.name, index),
                kind=BacktestRun.Kind.GRID_CELL,
                parent=parent,
                combo_index=index,
                config=config.model_dump(mode="json"),
                source=parent.source,
                grid={"params": values}
                | ({"holdout_frac": spec.holdout_frac} if spec.holdout_frac > 0 else {}),
                task_id=str(uuid.uuid4()),
            )
            for index, (config, values) in enumerate(zip(configs, params, strict=True))
        )
        if enqueue:
            transaction.on_commit(lambda: grid_run_dispatch(run_id=parent.pk, queue=queue))
    return parent


def grid_run_dispatch(*, run_id: int, queue: str | None = None) -> None:
    """Send every unfinished cell as one chord: the cells, then `finalize_grid`.

    The chord's group id is stored as the grid's `task_id`, so a lost cell can later be
    re-sent as a member of the same chord. `queue` routes the whole chord.
    """
    from celery import chord, group

    from backtests.tasks import finalize_grid, run_grid_cell

    cells = list(
        BacktestRun.objects.filter(parent_id=run_id)
        .exclude(status__in=BacktestRun.TERMINAL)
        .order_by("combo_index")
        .values_list("pk", "task_id")
    )
    if not cells:
        grid_run_refresh(run_id=run_id)
        return
    route: dict[str, Any] = {"queue": queue} if queue else {}
    header = group(run_grid_cell.si(pk).set(task_id=task_id, **route) for pk, task_id in cells)
    body = chord(header)(finalize_grid.si(run_id).set(**route))
    group_id = getattr(body.parent, "id", None)  # the header's group: keys the chord's counter
    if group_id:
        BacktestRun.objects.filter(pk=run_id).update(task_id=group_id)


def grid_run_resume(
    *, run: BacktestRun, queue: str | None = None, include_queued: bool = False
) -> int:
    """Re-send the cells lost with a dead worker (RUNNING ones); returns how many.

    With late acknowledgement a worker holds one message at a time, so what a dead worker
    loses is the cell it was running; queued cells still wait in the broker and are left
    alone unless `include_queued` (the broker itself lost messages). Re-sent cells keep their
    task ids and join the grid's chord again, so its callback still fires once; a late
    duplicate of a cell that already succeeded is a no-op. Call it once the worker is gone.
    """
    from backtests.tasks import finalize_grid, run_grid_cell

    run.refresh_from_db(fields=["task_id"])
    statuses = [Status.RUNNING, Status.QUEUED] if include_queued else [Status.RUNNING]
    lost = list(run.children.filter(status__in=statuses).values_list("pk", "task_id"))
    BacktestRun.objects.filter(pk__in=[pk for pk, _ in lost]).update(status=Status.QUEUED)
    route: dict[str, Any] = {"queue": queue} if queue else {}
    callback = finalize_grid.si(run.pk).set(**route)
    # Celery's own chord options: the cell rejoins the grid's group and carries the callback.
    membership: dict[str, Any] = {"group_id": run.task_id, "chord": callback, **route}
    for pk, task_id in lost:
        run_grid_cell.apply_async((pk,), task_id=task_id, **membership)
    return len(lost)


def grid_rows(run: BacktestRun) -> list[DomainGridRow]:
    """The succeeded cells of a grid as domain grid rows."""
    rows = []
    for cell in run.children.filter(status=Status.SUCCEEDED).order_by("combo_index"):
        rows.append(
            DomainGridRow(
                index=cell.combo_index or 0,
                params=cell.grid.get("params", {}),
                metrics=cell.metrics,
                flags=[flag["code"] for flag in cell.flags],
                num_trades=int(cell.metrics.get("num_trades") or 0),
                out_of_sample=cell.grid.get("out_of_sample"),
            )
        )
    return rows


def grid_run_refresh(*, run_id: int) -> BacktestRun | None:
    """Update a grid's progress; when every cell is finished, rank them and close the grid.

    Idempotent: the chord callback and every finishing cell may call it.
    """
    with transaction.atomic():
        run = BacktestRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.kind != BacktestRun.Kind.GRID:
            return run
        counts = {s: 0 for s in Status.values}
        for status in run.children.values_list("status", flat=True):
            counts[status] += 1
        total = sum(counts.values())
        done = counts[Status.SUCCEEDED] + counts[Status.FAILED] + counts[Status.STOPPED]
        run.progress = done / total if total else 1.0
        if total and done == total and not run.is_done:
            spec = GridSpec.model_validate(run.grid)
            ranked = rank_rows(grid_rows(run), spec.rank_by)
            run.results = [_grid_row_json(row) for row in ranked]
            run.metrics = ranked[0].metrics if ranked else {}
            run.status = Status.STOPPED if run.stop_requested else Status.SUCCEEDED
            if counts[Status.FAILED] == total:
                run.status = Status.FAILED
            run.finished_at = timezone.now()
        elif not run.is_done and done < total:
            run.status = Status.RUNNING if done or counts[Status.RUNNING] else run.status
            run.started_at = run.started_at or timezone.now()
        run.save()
    return run


def _grid_row_json(row: DomainGridRow) -> dict[str, Any]:
    return {
        "index": row.index,
        "params": row.params,
        "metrics": row.metrics,
        "flags": row.flags,
        "num_trades": row.num_trades,
        "out_of_sample": row.out_of_sample,
    }


def grid_run_execute_inline(
    *, run: BacktestRun, on_progress: Callable[[int, int], None] | None = None
) -> BacktestRun:
    """Run every cell of a grid in this process (the command line), sharing one panel."""
    cells = list(run.children.order_by("combo_index").values_list("pk", flat=True))
    for done, pk in enumerate(cells, start=1):
        backtest_run_execute(run_id=pk)
        if on_progress is not None:
            on_progress(done, len(cells))
    refreshed = grid_run_refresh(run_id=run.pk)
    assert refreshed is not None
    return refreshed


def grid_cell_as_config(run: BacktestRun) -> BacktestConfig:
    """The configuration of a cell (base with its varied values), validated."""
    base = BacktestConfig.model_validate(run.parent.config if run.parent else run.config)
    return apply_params(base, run.grid.get("params", {}))


# ------------------------------------------------------------------ training data


def training_export_create(
    *, run: BacktestRun, kind: str, fmt: str, out_dir: Path | None = None
) -> TrainingExport:
    """Re-simulate a run recording its decisions and write one training file."""
    config = BacktestConfig.model_validate(run.config)
    simulator = simulator_for(spec=SourceSpec.model_validate(run.source))
    result = simulator.simulate_policy(config, record_decisions=True)
    folder = out_dir or Path(settings.VAR_DIR) / "exports" / f"run_{run.pk}"
    if kind == TrainingExport.Kind.DECISIONS:
        frame = decision_examples(simulator, result)
        path = export_frame(frame, folder / f"decisions.{fmt}", fmt)  # type: ignore[arg-type]
        rows = len(frame)
    elif kind == TrainingExport.Kind.CANDIDATES:
        frame = candidate_examples(simulator, result)
        path = export_frame(frame, folder / f"candidates.{fmt}", fmt)  # type: ignore[arg-type]
        rows = len(frame)
    elif kind == TrainingExport.Kind.CHAT:
        records = chat_examples(candidate_examples(simulator, result))
        path = export_chat_jsonl(records, folder / "chat.jsonl")
        fmt, rows = "jsonl", len(records)
    else:
        raise ValueError(f"unknown export kind {kind!r}")
    return TrainingExport.objects.create(run=run, kind=kind, fmt=fmt, path=str(path), rows=rows)

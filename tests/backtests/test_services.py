"""Backtest services against the database: runs, grids, stop, redo-safety, exports."""

from __future__ import annotations

from pathlib import Path

import pytest

from backtests import selectors, services
from backtests.domain.grid import GridSpec
from backtests.models import BacktestRun, TrainingExport
from tests.backtests.conftest import SHORT_SOURCE, TRADING_CONFIG

pytestmark = pytest.mark.django_db
Status = BacktestRun.Status


def _run() -> BacktestRun:
    return services.backtest_run_create(
        config=TRADING_CONFIG, source=SHORT_SOURCE, name="t", enqueue=False
    )


def test_it_runs_a_queued_backtest_and_stores_the_whole_report() -> None:
    run = _run()
    assert run.status == Status.QUEUED

    done = services.backtest_run_execute(run_id=run.pk)

    assert done is not None
    assert done.status == Status.SUCCEEDED
    assert done.progress == 1.0
    assert done.metrics["num_trades"] == done.trades.count() > 0
    assert {"fees", "fills", "data", "settlement"} <= set(done.assumptions)
    assert done.provenance["source"] == "synthetic"
    assert len(done.equity_curve["t"]) == len(done.equity_curve["equity_usd"]) > 100
    first = done.trades.first()
    assert first is not None
    assert first.seq == 0
    assert first.fees_coin > 0
    assert done.started_at is not None
    assert done.finished_at is not None


def test_it_is_redo_safe_once_a_run_succeeded() -> None:
    run = _run()
    services.backtest_run_execute(run_id=run.pk)
    trades = list(run.trades.values_list("pk", flat=True))

    again = services.backtest_run_execute(run_id=run.pk)

    assert again is not None
    assert again.status == Status.SUCCEEDED
    assert list(run.trades.values_list("pk", flat=True)) == trades


def test_it_stops_queued_runs_at_once_and_running_ones_at_their_next_check() -> None:
    queued = _run()
    services.backtest_run_stop(run=queued)
    queued.refresh_from_db()
    assert queued.status == Status.STOPPED

    running = _run()
    BacktestRun.objects.filter(pk=running.pk).update(status=Status.RUNNING, stop_requested=True)
    BacktestRun.objects.filter(pk=running.pk).update(status=Status.QUEUED)
    result = services.backtest_run_execute(run_id=running.pk)
    assert result is not None
    assert result.status == Status.STOPPED
    assert result.trades.count() == 0


def test_it_records_a_failure_instead_of_raising() -> None:
    run = _run()
    BacktestRun.objects.filter(pk=run.pk).update(config={"strategy": {"delta_min": 5}})

    done = services.backtest_run_execute(run_id=run.pk)

    assert done is not None
    assert done.status == Status.FAILED
    assert "delta_min" in done.error


def test_it_ignores_a_run_deleted_before_it_started() -> None:
    run = _run()
    services.backtest_run_delete(run=run)

    assert services.backtest_run_execute(run_id=run.pk) is None
    assert not BacktestRun.objects.filter(pk=run.pk).exists()


def _grid(**kwargs: object) -> BacktestRun:
    spec = GridSpec(
        base=TRADING_CONFIG,
        axes={
            "delta_range": [[0.1, 0.25], [0.25, 0.4]],
            "exit_style": ["hold_to_expiry", "take_profit"],
        },
        rank_by="net_profit_usd",
    )
    return services.grid_run_create(spec=spec, source=SHORT_SOURCE, enqueue=False, **kwargs)  # type: ignore[arg-type]


def test_it_creates_one_cell_per_combination_and_ranks_them_when_done() -> None:
    grid = _grid()
    assert grid.children.count() == 4
    assert set(grid.children.values_list("combo_index", flat=True)) == {0, 1, 2, 3}

    done = services.grid_run_execute_inline(run=grid)

    assert done.status == Status.SUCCEEDED
    assert done.progress == 1.0
    assert [row["index"] for row in done.results] != []
    profits = [row["metrics"]["net_profit_usd"] for row in done.results]
    assert profits == sorted(profits, reverse=True)
    assert done.metrics == done.results[0]["metrics"]
    cell = done.children.get(combo_index=1)
    assert cell.grid["params"] == {"delta_range": [0.1, 0.25], "exit_style": "take_profit"}
    assert cell.trades.count() == cell.metrics["num_trades"] > 0  # its page needs no re-run
    assert 0 < len(cell.equity_curve["t"]) <= services.CELL_CURVE_POINTS
    assert services.grid_cell_as_config(cell).exit.style.value == "take_profit"


def test_it_refreshes_a_grid_idempotently() -> None:
    grid = _grid()
    first_cell = grid.children.order_by("combo_index").first()
    assert first_cell is not None
    services.backtest_run_execute(run_id=first_cell.pk)

    partial = services.grid_run_refresh(run_id=grid.pk)
    assert partial is not None
    assert partial.progress == pytest.approx(0.25)
    assert partial.status == Status.RUNNING

    done = services.grid_run_execute_inline(run=grid)
    results = done.results
    again = services.grid_run_refresh(run_id=grid.pk)
    assert again is not None
    assert again.results == results
    assert again.status == Status.SUCCEEDED


def test_it_resends_only_unfinished_cells(eager_celery: None) -> None:
    grid = _grid()
    cells = list(grid.children.order_by("combo_index"))
    services.backtest_run_execute(run_id=cells[0].pk)
    BacktestRun.objects.filter(pk=cells[1].pk).update(status=Status.RUNNING)  # its worker died

    lost = services.grid_run_resume(run=grid)
    grid.refresh_from_db()
    assert lost == 1  # the cell whose worker died; queued ones still wait in the broker
    assert grid.status != Status.SUCCEEDED

    resent = services.grid_run_resume(run=grid, include_queued=True)

    assert resent == 2
    grid.refresh_from_db()
    assert grid.status == Status.SUCCEEDED
    assert grid.children.filter(status=Status.SUCCEEDED).count() == 4


def test_it_stops_a_whole_grid() -> None:
    grid = _grid()

    services.backtest_run_stop(run=grid)

    grid.refresh_from_db()
    assert grid.children.filter(status=Status.STOPPED).count() == 4
    assert grid.status == Status.STOPPED


def test_it_compares_and_diffs_runs() -> None:
    a, b = (
        _run(),
        services.backtest_run_create(
            config=TRADING_CONFIG.model_copy(update={"seed": 9}), source=SHORT_SOURCE, enqueue=False
        ),
    )
    services.backtest_run_execute(run_id=a.pk)
    services.backtest_run_execute(run_id=b.pk)
    a.refresh_from_db()
    b.refresh_from_db()

    rows = selectors.backtest_run_compare(runs=[a, b])
    diff = selectors.backtest_run_diff(a=a, b=b)

    assert rows[0]["metric"] == "num_trades"
    assert len(rows[0]["values"]) == 2
    assert diff["config_changes"] == [{"key": "config.seed", "a": 0, "b": 9}]
    sharpe = next(m for m in diff["metrics"] if m["metric"] == "sharpe")
    if sharpe["a"] is not None and sharpe["b"] is not None:
        assert sharpe["delta"] == pytest.approx(sharpe["b"] - sharpe["a"])


def test_it_exports_training_files_for_a_run(tmp_path: Path) -> None:
    run = _run()
    services.backtest_run_execute(run_id=run.pk)

    exports = [
        services.training_export_create(run=run, kind=kind, fmt="csv", out_dir=tmp_path)
        for kind in TrainingExport.Kind.values
    ]

    assert [Path(e.path).name for e in exports] == ["decisions.csv", "candidates.csv", "chat.jsonl"]
    assert all(Path(e.path).exists() and e.rows > 0 for e in exports)
    assert run.exports.count() == 3
    with pytest.raises(ValueError, match="unknown export kind"):
        services.training_export_create(run=run, kind="pictures", fmt="csv", out_dir=tmp_path)


def test_it_queues_on_commit(django_capture_on_commit_callbacks, eager_celery: None) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        run = services.backtest_run_create(config=TRADING_CONFIG, source=SHORT_SOURCE)

    run.refresh_from_db()
    assert run.status == Status.SUCCEEDED


def test_the_panel_cache_key_names_the_data_directory_and_the_environment(settings, tmp_path):
    from backtests.domain.sources.spec import SourceSpec

    spec = SourceSpec.model_validate(SHORT_SOURCE)
    settings.BACKTEST_DERIBIT_DATA_DIR = str(tmp_path / "a")
    settings.DERIBIT_ENV = "sim"
    first = services.panel_cache_key(spec)
    settings.BACKTEST_DERIBIT_DATA_DIR = str(tmp_path / "b")
    second = services.panel_cache_key(spec)
    settings.DERIBIT_ENV = "testnet"
    third = services.panel_cache_key(spec)
    assert len({first, second, third}) == 3
    assert str(tmp_path / "a") in first
    assert "env=testnet" in third

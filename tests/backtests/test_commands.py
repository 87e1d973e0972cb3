"""`run_backtest` and `export_training_data` management commands."""

from __future__ import annotations

import io
import json
from pathlib import Path
from unittest import mock

import pytest
from django.core.management import CommandError, call_command

from backtests.models import BacktestRun

pytestmark = pytest.mark.django_db
SHORT = ["--start", "2025-02-03", "--days", "12", "--seed", "3", "--ivrv-min", "0"]


def _call(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_it_runs_one_backtest_in_process_and_prints_the_report() -> None:
    output = _call("run_backtest", *SHORT, "--exit", "take_profit_and_roll", "--name", "cli")

    run = BacktestRun.objects.get(name="cli")
    assert run.status == BacktestRun.Status.SUCCEEDED
    assert run.config["exit"]["style"] == "take_profit_and_roll"
    assert "succeeded" in output
    assert "net_profit_usd" in output
    assert "fees:" in output


def test_it_runs_a_grid_in_process_and_ranks_it(tmp_path: Path) -> None:
    axes = tmp_path / "axes.json"
    axes.write_text(json.dumps({"exit_style": ["hold_to_expiry", "stop_loss"], "ivrv_min": [0]}))

    output = _call("run_backtest", *SHORT, "--grid", str(axes), "--rank-by", "net_profit_usd")

    grid = BacktestRun.objects.get(kind=BacktestRun.Kind.GRID)
    assert grid.status == BacktestRun.Status.SUCCEEDED
    assert len(grid.results) == 2
    assert "rank" in output


def test_it_queues_instead_when_asked(django_capture_on_commit_callbacks) -> None:
    with (
        mock.patch("backtests.tasks.run_backtest.apply_async") as send,
        django_capture_on_commit_callbacks(execute=True),
    ):
        output = _call("run_backtest", *SHORT, "--queue")

    run = BacktestRun.objects.get()
    assert f"queued run #{run.pk}" in output
    send.assert_called_once_with((run.pk,), task_id=run.task_id)


def test_it_rejects_bad_options() -> None:
    with pytest.raises(CommandError, match="delta_min"):
        _call("run_backtest", *SHORT, "--delta-min", "0.5", "--delta-max", "0.1")
    with pytest.raises(CommandError, match="JSON"):
        _call("run_backtest", *SHORT, "--grid", "{nope")
    with pytest.raises(CommandError, match="ISO"):
        _call("run_backtest", "--start", "yesterday")


def test_it_exports_training_data_for_a_new_or_existing_run(tmp_path: Path) -> None:
    output = _call(
        "export_training_data", *SHORT, "--format", "jsonl", "--out", str(tmp_path / "new")
    )
    run = BacktestRun.objects.get()
    again = _call(
        "export_training_data",
        "--run",
        str(run.pk),
        "--kind",
        "candidates",
        "--format",
        "parquet",
        "--out",
        str(tmp_path / "old"),
    )

    assert {p.name for p in (tmp_path / "new").iterdir()} == {
        "decisions.jsonl",
        "candidates.jsonl",
        "chat.jsonl",
    }
    assert (tmp_path / "old" / "candidates.parquet").exists()
    assert "candidates:" in again
    assert f"ran backtest #{run.pk}" in output
    with pytest.raises(CommandError, match="no backtest run"):
        _call("export_training_data", "--run", "999999")

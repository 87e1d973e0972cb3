"""A grid search through real Celery workers: every cell stored, none lost to a killed worker.

Runs against the configured broker (Redis in CI: CELERY_BROKER_URL=redis://...; the filesystem
broker locally) and database, with `celery worker` subprocesses on a private queue.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django_celery_results.models import TaskResult

from backtests import services
from backtests.domain.grid import GridSpec
from backtests.domain.sources.spec import SourceSpec
from backtests.models import BacktestRun
from tests.backtests.conftest import TRADING_CONFIG
from tests.workers import database_url_for_subprocess, worker_stop

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
Status = BacktestRun.Status
# Three years of hourly chains: each cell takes long enough to be caught mid-grid.
LONG_SOURCE = SourceSpec(kind="synthetic", start=datetime(2023, 1, 1, tzinfo=UTC), days=1095)
AXES: dict[str, list[Any]] = {
    "delta_range": [[0.05, 0.15], [0.1, 0.2], [0.15, 0.25], [0.2, 0.3], [0.25, 0.35]],
    "exit_style": ["hold_to_expiry", "take_profit_and_roll", "stop_loss", "roll_at_dte"],
    "ivrv_min": [0.0, 0.8],
}


def _start_worker(queue: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": database_url_for_subprocess(), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "optionsdesk", "worker", "--pool", "solo",
         "-Q", queue, "-n", f"{queue}-{uuid.uuid4().hex[:4]}@%h", "--without-gossip",
         "--without-mingle", "-l", "warning"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture
def workers() -> Iterator[tuple[str, Callable[[], subprocess.Popen[bytes]]]]:
    """A private queue and a way to start workers on it; every worker is stopped afterwards."""
    queue = f"bt-{uuid.uuid4().hex[:8]}"
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        proc = _start_worker(queue)
        started.append(proc)
        return proc

    yield queue, start
    for proc in started:
        worker_stop(proc)


def _wait(predicate: Callable[[], bool], timeout_s: float, poll_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll_s)
    return False


def _counts(grid: BacktestRun) -> dict[str, int]:
    counts = dict.fromkeys(Status.values, 0)
    for status in grid.children.values_list("status", flat=True):
        counts[status] += 1
    return counts


def test_a_killed_worker_loses_no_grid_cell(
    workers: tuple[str, Callable[[], subprocess.Popen[bytes]]],
) -> None:
    if os.environ.get("OPTIONSDESK_REQUIRE_SERVICES"):
        assert settings.CELERY_BROKER_URL.startswith("redis://")
    queue, start = workers
    spec = GridSpec(base=TRADING_CONFIG, axes=AXES, rank_by="sharpe")
    grid = services.grid_run_create(spec=spec, source=LONG_SOURCE, enqueue=False)
    first = start()
    services.grid_run_dispatch(run_id=grid.pk, queue=queue)

    # Kill the first worker with SIGKILL in the middle of a cell, after it finished a few.
    def mid_cell() -> bool:
        counts = _counts(grid)
        return counts[Status.SUCCEEDED] >= 3 and counts[Status.RUNNING] == 1

    caught = _wait(mid_cell, timeout_s=120, poll_s=0.01)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=20)
    at_kill = _counts(grid)
    assert caught, "the first worker was never caught in the middle of a cell"
    assert at_kill[Status.RUNNING] == 1  # the cell that dies with the worker
    assert at_kill[Status.SUCCEEDED] < spec.size

    # A second worker picks up what is queued; the cell that died with its worker is re-sent.
    start()
    resent = services.grid_run_resume(run=grid, queue=queue)
    assert resent == 1
    task_ids = list(grid.children.values_list("task_id", flat=True))

    def all_stored() -> bool:
        done = BacktestRun.objects.get(pk=grid.pk).status == Status.SUCCEEDED
        stored = TaskResult.objects.filter(task_id__in=task_ids, status="SUCCESS").count()
        callback = TaskResult.objects.filter(
            task_name="backtests.finalize_grid", status="SUCCESS"
        ).exists()
        return done and stored == spec.size and callback

    finished = _wait(all_stored, timeout_s=240)

    grid.refresh_from_db()
    assert finished, _counts(grid)
    # Every combination is stored once, ranked, with its task result under its own id,
    # and the chord's callback ran once every cell (including the re-sent one) reported.
    errors = list(grid.children.exclude(error="").values_list("combo_index", "error"))
    assert _counts(grid)[Status.SUCCEEDED] == spec.size, (_counts(grid), errors)
    assert sorted(row["index"] for row in grid.results) == list(range(spec.size))
    assert all(row["metrics"]["num_trades"] is not None for row in grid.results)

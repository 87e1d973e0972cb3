"""End to end: a real Celery beat and worker harvest the simulator's chains to Parquet that the
backtests' snapshot source reads back.

Beat (django-celery-beat's database scheduler, a subprocess) sends `calibration.harvest` on a
private queue; a worker (another subprocess) runs it against the simulated exchange served over
loopback by this test process, writing under a temporary CALIBRATION_DATA_DIR.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from backtests.domain.sources.snapshots import ParquetSnapshotSource
from calibration.models import HarvestRun
from tests.optionsdesk.test_celery_worker import database_url_for_subprocess
from tests.trading.agent_helpers import SIM_START
from trading.deribit.simulator import ServerThread, SimConfig, SimulatedExchange, create_app

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
DEADLINE_S = 90


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "optionsdesk", *argv],
            cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_beat_and_a_worker_harvest_parquet_the_backtest_source_reads_back(tmp_path: Path):
    exchange = SimulatedExchange(SimConfig(seed=42, start=SIM_START, rate_limits=None))
    server = ServerThread(create_app(exchange), port=0).start()
    queue = f"harvest-e2e-{uuid.uuid4().hex[:8]}"
    PeriodicTask.objects.create(
        name="calibration.harvest",
        task="calibration.harvest",
        interval=IntervalSchedule.objects.create(every=2, period="seconds"),
        queue=queue,
        expire_seconds=10,
    )
    data_dir = tmp_path / "harvest"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DERIBIT_")}
    env.update(
        DATABASE_URL=database_url_for_subprocess(),
        DERIBIT_ENV="sim",
        DERIBIT_SIM_URL=server.base_url,
        CALIBRATION_DATA_DIR=str(data_dir),
        CALIBRATION_UNDERLYINGS="BTC,ETH",
        PYTHONUNBUFFERED="1",
    )
    logs = [tmp_path / "worker.log", tmp_path / "beat.log"]
    worker = _start(
        ["worker", "--pool", "solo", "-Q", queue, "-n", f"{queue}@%h", "--without-gossip",
         "--without-mingle", "-l", "info"],
        env, logs[0],
    )  # fmt: skip
    beat = _start(
        ["beat", "-l", "info", "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
         "--schedule", str(tmp_path / "beat-schedule"), "--max-interval", "1"],
        env, logs[1],
    )  # fmt: skip
    try:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            if HarvestRun.objects.filter(status=HarvestRun.Status.OK).exists():
                break
            time.sleep(0.5)
        run = HarvestRun.objects.filter(status=HarvestRun.Status.OK).first()
        output = "\n".join(p.read_text(errors="replace")[-3000:] for p in logs)
        assert run is not None, output
    finally:
        _stop(beat)
        _stop(worker)
        server.stop()
    assert run.trigger == "beat"
    assert run.venue == "sim"
    assert run.rows > 200
    assert len(run.files) == 2
    assert all(Path(f).is_relative_to(data_dir) for f in run.files)
    assert not list(data_dir.rglob(".*.tmp"))
    panel = ParquetSnapshotSource(data_dir, min_rows=10).load_panel(underlying="ETH")
    assert panel.n_rows > 0

"""End to end: a real Celery beat and worker harvest the simulator's chains to Parquet that the
backtests' snapshot source reads back.

Beat (django-celery-beat's database scheduler, a subprocess) sends `calibration.harvest` on a
private queue; a worker (another subprocess) runs it against the simulated exchange served over
loopback by this test process, writing under a temporary CALIBRATION_DATA_DIR.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from backtests.domain.sources.snapshots import ParquetSnapshotSource
from calibration.models import HarvestRun

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
DEADLINE_S = 90


def test_beat_and_a_worker_harvest_parquet_the_backtest_source_reads_back(
    tmp_path: Path, celery_on_sim
):
    queue = f"harvest-e2e-{uuid.uuid4().hex[:8]}"
    PeriodicTask.objects.create(
        name="calibration.harvest",
        task="calibration.harvest",
        interval=IntervalSchedule.objects.create(every=2, period="seconds"),
        queue=queue,
        expire_seconds=10,
    )
    data_dir = tmp_path / "harvest"
    celery = celery_on_sim(
        queue, CALIBRATION_DATA_DIR=str(data_dir), CALIBRATION_UNDERLYINGS="BTC,ETH"
    )
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if HarvestRun.objects.filter(status=HarvestRun.Status.OK).exists():
            break
        time.sleep(0.5)
    run = HarvestRun.objects.filter(status=HarvestRun.Status.OK).first()
    assert run is not None, celery.output()
    assert run.trigger == "beat"
    assert run.venue == "sim"
    assert run.rows > 200
    assert len(run.files) == 2
    assert all(Path(f).is_relative_to(data_dir) for f in run.files)
    assert not list(data_dir.rglob(".*.tmp"))
    panel = ParquetSnapshotSource(data_dir, min_rows=10).load_panel(underlying="ETH")
    assert panel.n_rows > 0

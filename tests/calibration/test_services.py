"""Services against the real database: history with provenance, guardrails, policy, harvester."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.domain.sources.snapshots import ParquetSnapshotSource
from calibration import selectors, services
from calibration.domain.policy import ewma_series
from calibration.domain.snapshots import snapshots_list
from calibration.models import AppliedMultipliers, CalibrationRun, HarvestRun, PolicyDecision
from tests.trading.deribit.conftest import make_client, make_exchange

pytestmark = pytest.mark.django_db
REPO_ROOT = Path(__file__).resolve().parents[2]


def _day_copy(snapshots_root: Path, tmp_path: Path, underlying: str, day: str, every: int = 10):
    """A few snapshot files of one day, copied into a temp harvest root (reference layout)."""
    target = tmp_path / underlying / day
    target.mkdir(parents=True)
    for path in sorted((snapshots_root / underlying / day).glob("*.parquet"))[::every]:
        shutil.copy(path, target / path.name)
    return tmp_path


def test_auto_calibration_on_the_shared_snapshots_writes_history_with_provenance(
    snapshots_root: Path, tmp_path: Path
):
    root = _day_copy(snapshots_root, tmp_path, "BTC", "2025-12-11")
    runs = services.auto_calibrate(underlyings=["BTC"], root=root, trigger="command")
    run = CalibrationRun.objects.get(pk=runs[0].pk)
    assert run.source == "harvested"
    assert run.underlying == "BTC"
    assert 1 <= len(run.files) <= services.SNAPSHOTS_PER_CALIBRATION
    assert all(Path(f).exists() for f in run.files)
    assert len(run.snapshot_times) == len(run.files)
    assert run.n_rows > 1000
    assert len(run.content_sha256) == 64
    assert run.guardrail_ok, run.guardrail_reasons
    assert run.surface_vw_mae_volpts is not None
    assert run.surface_vw_mae_volpts <= 0.25
    assert set(run.multipliers) == {"0-7d", "7-30d", "30-90d", "90d+"}
    assert len(run.fit["expiries"]) >= 8
    assert run.quality_report is not None
    assert run.quality_report.verdict in ("ok", "warn")
    # auto-calibration never touches the applied multipliers
    assert not AppliedMultipliers.objects.exists()
    again = services.auto_calibrate(underlyings=["BTC"], root=root, trigger="command")[0]
    assert again.content_sha256 == run.content_sha256


def test_guardrails_refuse_a_planted_bad_day_and_the_policy_records_why(
    snapshots_root: Path, tmp_path: Path
):
    source = sorted((snapshots_root / "ETH" / "2025-12-12").glob("*.parquet"))[-3:]
    day_dir = tmp_path / "ETH" / "2025-12-12"
    day_dir.mkdir(parents=True)
    for path in source:
        frame = pd.read_parquet(path)
        zeroed = np.arange(len(frame)) % 2 == 0
        frame.loc[zeroed, "mark_price"] = 0.0
        frame.loc[zeroed, "mark_iv"] = 0.0
        frame.to_parquet(day_dir / path.name)
    run = services.calibration_run_harvested(underlying="ETH", root=tmp_path, trigger="command")
    assert not run.guardrail_ok
    assert any("coverage" in r for r in run.guardrail_reasons)
    assert run.quality_report is not None
    assert run.quality_report.verdict == "bad"
    decision = services.policy_apply(run=run)
    assert decision.outcome == PolicyDecision.Outcome.REFUSED
    assert AppliedMultipliers.objects.get(underlying="ETH").multipliers == {}


def _run(multipliers: dict[str, float], ok: bool = True) -> CalibrationRun:
    return CalibrationRun.objects.create(
        underlying="BTC",
        source="files",
        content_sha256="0" * 64,
        multipliers=multipliers,
        guardrail_ok=ok,
    )


def test_the_policy_smooths_applied_multipliers_exactly_like_a_hand_ewma(settings):
    sequence = [1.10, 1.20, 0.90, 1.05, 1.00, 1.30]
    services.POLICY = services.PolicyConfig(ewma_alpha=0.4, min_change=0.0, max_step=10.0)
    try:
        for value in sequence:
            services.policy_apply(run=_run({"7-30d": value}))
    finally:
        services.POLICY = services.PolicyConfig()
    alpha = 0.4
    hand = sequence[0]
    for value in sequence[1:]:
        hand = alpha * value + (1 - alpha) * hand
    store = AppliedMultipliers.objects.get(underlying="BTC")
    assert store.multipliers["7-30d"] == pytest.approx(hand, abs=1e-12)
    assert store.multipliers["7-30d"] == pytest.approx(ewma_series(sequence, alpha)[-1])
    assert PolicyDecision.objects.filter(outcome="applied").count() == len(sequence)


def test_applied_multipliers_reach_the_simulator_and_backtest_parameters(admin_user):
    base = selectors.market_params_applied()
    assert base.currencies["BTC"].iv_multiplier_by_dte == ()
    services.multipliers_override(
        underlying="BTC", multipliers={"7-30d": 1.2}, actor=admin_user, note="test"
    )
    params = selectors.market_params_applied()
    bands = dict((round(hi), m) for hi, m in params.currencies["BTC"].iv_multiplier_by_dte)
    assert bands[30] == 1.2
    assert bands[7] == 1.0
    assert params.currencies["ETH"].iv_multiplier_by_dte == ()
    decision = PolicyDecision.objects.get(outcome="override")
    assert decision.actor == admin_user
    assert decision.note == "test"
    with pytest.raises(ValueError, match="reason"):
        services.multipliers_override(underlying="BTC", multipliers={}, actor=None, note=" ")


def test_the_harvester_writes_parquet_the_backtest_snapshot_source_reads_back(tmp_path: Path):
    exchange = make_exchange()
    with make_client(exchange) as client:
        run = services.harvest_run(
            underlyings=["BTC", "ETH"], trigger="command", client=client, root=tmp_path
        )
        services.harvest_run(underlyings=["BTC"], trigger="command", client=client, root=tmp_path)
    assert run.status == HarvestRun.Status.OK
    assert run.rows > 200
    assert len(run.files) == 2
    written = sorted(tmp_path.rglob("*.parquet"))
    assert all(p.parent.name.startswith("date=") for p in written)
    assert all(p.parent.parent.name.startswith("underlying=") for p in written)
    assert not list(tmp_path.rglob(".*"))
    refs = snapshots_list(tmp_path, "BTC")
    assert refs
    frame = pd.read_parquet(refs[0].path)
    assert (frame["schema_version"] == 3).all()
    panel = ParquetSnapshotSource(tmp_path, min_rows=10).load_panel(underlying="BTC")
    assert panel.n_rows > 0
    summary = services.snapshot_file_calibrate(path=refs[0].path)
    assert summary["expiries"] >= 5
    assert summary["surface_vw_mae_volpts"] < 0.5


def test_a_killed_harvest_leaves_no_partial_file(tmp_path: Path):
    script = textwrap.dedent(
        f"""
        import os, sys, time
        sys.path.insert(0, {str(REPO_ROOT)!r})
        import pandas as pd, pyarrow.parquet as pq
        from calibration.domain import snapshots
        original = pq.write_table
        def slow_write(table, where, **kw):
            original(table, where, **kw)
            print("written-temp", flush=True)
            time.sleep(60)
        snapshots.pq.write_table = slow_write
        frame = pd.DataFrame({{"a": range(1000)}})
        target = snapshots.Path({str(tmp_path)!r}) / "BTC_2025-12-10_0900.parquet"
        snapshots.snapshot_write_atomic(frame, target)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=REPO_ROOT)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()
    assert line == "written-temp"
    assert list(tmp_path.glob(".*.tmp"))  # the temp file exists mid-write
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert not list(tmp_path.glob("*.parquet"))
    assert snapshots_list(tmp_path, "BTC") == []
    # the next write of the same snapshot sweeps the dead temp file away
    from calibration.domain.snapshots import snapshot_write_atomic

    snapshot_write_atomic(pd.DataFrame({"a": [1]}), tmp_path / "BTC_2025-12-10_0900.parquet")
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_live_calibration_of_the_simulator_chain_writes_history():
    exchange = make_exchange()
    with make_client(exchange) as client:
        run = services.calibration_run_live(underlying="ETH", trigger="command", client=client)
    assert run.source == "live"
    assert run.files == ["live:ETH"]
    assert run.n_rows > 100
    assert run.surface_vw_mae_volpts is not None
    assert run.surface_vw_mae_volpts < 0.5
    assert run.quality_report is not None
    # the simulator prices on the market model itself: its own multiplier is about one
    assert run.multipliers
    assert all(0.7 < m < 1.4 for m in run.multipliers.values())

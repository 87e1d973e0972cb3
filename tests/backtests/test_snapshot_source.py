"""The harvested-Parquet source over the real Deribit snapshots in ../shared."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.domain.simulator import CoveredCallSimulator
from backtests.domain.sources.base import MarketDataSource, iter_snapshots
from backtests.domain.sources.snapshots import (
    ParquetSnapshotSource,
    list_snapshot_files,
    settlement_gaps_hours,
)
from backtests.domain.types import BacktestConfig


@pytest.fixture(scope="module")
def source(shared_dir: Path) -> ParquetSnapshotSource:
    root = shared_dir / "data" / "deribit"
    return ParquetSnapshotSource(root / "snapshots", volatility_dir=root / "volatility_history")


@pytest.fixture(scope="module")
def btc(source: ParquetSnapshotSource):
    return source.load_panel(underlying="BTC")


def test_it_is_a_market_data_source(source: ParquetSnapshotSource) -> None:
    assert isinstance(source, MarketDataSource)


def test_it_reads_both_schema_versions_and_skips_partial_harvests(btc) -> None:
    details = btc.provenance.details

    assert details["skipped_partial_files"] == [
        "BTC_2025-12-07_2030.parquet",
        "BTC_2025-12-07_2034.parquet",
    ]
    assert details["files"] == len(btc.times) == 225
    assert btc.provenance.start is not None
    assert btc.provenance.start.day == 7
    assert btc.provenance.end is not None
    assert btc.provenance.end.day == 12
    # Old files lack strike/expiry/type: they were parsed from the names.
    assert np.isfinite(btc.strike).all()
    assert np.isfinite(btc.expiry_ts).all()


def test_it_uses_real_quotes_and_a_plausible_index(btc) -> None:
    assert 80_000 < btc.spot_usd.min() < btc.spot_usd.max() < 100_000
    quoted = np.isfinite(btc.bid_coin) & np.isfinite(btc.ask_coin)
    assert quoted.mean() > 0.5
    assert (btc.bid_coin[quoted] <= btc.ask_coin[quoted]).all()
    # Realised vol is taken as of each snapshot from the hourly history (decimal).
    assert 0.2 < np.nanmin(btc.rv) <= np.nanmax(btc.rv) < 1.0
    calls = btc.is_call[btc.row_instrument]
    assert (btc.delta[calls & np.isfinite(btc.delta)] >= 0).all()


def test_it_says_where_settlements_were_interpolated(btc) -> None:
    gaps = btc.provenance.details["settlement_gaps_hours"]

    assert gaps["2025-12-08"] > 24  # no harvest on 2025-12-09: both expiries interpolated
    times = np.array([0.0, 3_600.0, 10 * 3_600.0])
    assert settlement_gaps_hours(times, np.array([1_800.0, 5 * 3_600.0])) == {"1970-01-01": 9.0}


def test_it_filters_files_by_period(shared_dir: Path) -> None:
    root = shared_dir / "data" / "deribit" / "snapshots"
    start = datetime(2025, 12, 10, 18, tzinfo=UTC)
    end = datetime(2025, 12, 11, 0, tzinfo=UTC)

    files = list_snapshot_files(root, "ETH", start, end)

    assert files
    assert all(start.replace(minute=0) <= f.time <= end for f in files)
    assert list_snapshot_files(root, "SOL") == []


def test_a_policy_run_over_the_real_snapshots_completes_with_a_sane_report(btc) -> None:
    result = CoveredCallSimulator(btc).simulate_policy(BacktestConfig(underlying="BTC"))

    metrics = result.metrics
    assert metrics.num_trades >= 1
    assert 4 < metrics.years * 365 < 6
    for trade in result.trades:
        assert 0.10 <= trade.delta_entry <= 0.40
        assert 1 <= trade.dte_entry_days <= 21
        assert 0 < trade.entry_price_coin < 0.1
        assert trade.fees_coin > 0
    assert -0.2 < metrics.total_return_pct < 0.2
    assert abs(metrics.excess_vs_buy_and_hold_pct) < 0.1
    codes = {flag.code for flag in result.flags}
    assert {"too_few_trades", "short_sample"} <= codes  # five days cannot prove anything
    assert "harvested Deribit" in result.assumptions["data"]


def test_it_yields_snapshots_in_the_chain_shape(btc) -> None:
    snapshot = next(iter_snapshots(btc, interval_hours=6))

    assert snapshot.chain["harvest_time"].nunique() == 1
    assert isinstance(snapshot.chain["harvest_time"].iloc[0], pd.Timestamp)
    assert snapshot.spot_usd == pytest.approx(btc.spot_usd[0])


def test_it_refuses_a_directory_without_snapshots(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no BTC snapshots"):
        ParquetSnapshotSource(tmp_path).load_panel(underlying="BTC")

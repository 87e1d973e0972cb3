"""Environment heatmap (issue 15): occupancy of market time over two metrics and the forward
outcome of a reference call per cell, checked against a direct count on the real snapshots."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backtests.domain.environment import (
    ReferenceCall,
    bin_index,
    check_edges,
    environment_heatmap,
    environment_samples,
    regime_dates,
)
from backtests.domain.panel import ChainPanel
from backtests.domain.simulator import CoveredCallSimulator
from backtests.domain.sources.snapshots import ParquetSnapshotSource
from backtests.domain.sources.synthetic import SyntheticSource

ATM_EDGES = [0.4, 0.5, 0.55, 0.6, 0.7, 0.9]
SKEW_EDGES = [-0.05, 0.0, 0.01, 0.05]
INTERVAL_H = 0.25
REFERENCE = ReferenceCall(target_delta=0.25, target_dte_days=1.0)


@pytest.fixture(scope="module")
def real(shared_dir: Path) -> CoveredCallSimulator:
    root = shared_dir / "data" / "deribit"
    source = ParquetSnapshotSource(root / "snapshots", volatility_dir=root / "volatility_history")
    return CoveredCallSimulator(source.load_panel(underlying="ETH"))


def _first_nearest(rows: list[int], values: np.ndarray, target: float) -> int:
    best = rows[0]
    for row in rows:
        if abs(values[row] - target) < abs(values[best] - target):
            best = row
    return best


def _direct_state(panel: ChainPanel, t: int) -> tuple[float, float, float]:
    """(atm_iv, skew, forward P&L USD of the reference call) at time t, by plain loops and
    Deribit's fee schedule written out (0.03% capped at 12.5% of the price; delivery 0.015%)."""
    start, stop = int(panel.time_start[t]), int(panel.time_start[t + 1])
    calls = [
        r
        for r in range(start, stop)
        if panel.is_call[panel.row_instrument[r]]
        and math.isfinite(panel.iv[r])
        and math.isfinite(panel.delta[r])
        and panel.dte_days[r] >= 1 / 24
    ]
    if not calls:
        return math.nan, math.nan, math.nan
    nearest = _first_nearest(calls, panel.dte_days, REFERENCE.target_dte_days)
    expiry = panel.expiry_ts[panel.row_instrument[nearest]]
    same = [r for r in calls if panel.expiry_ts[panel.row_instrument[r]] == expiry]
    atm = _first_nearest(same, panel.delta, 0.5)
    wing = _first_nearest(same, panel.delta, 0.25)

    def sell(r: int) -> float:
        price = panel.bid_coin[r] if panel.bid_coin[r] > 0 else panel.mark_coin[r] * 0.95
        return price if price > 0 else math.nan

    sellable = [r for r in same if math.isfinite(sell(r))]
    pnl = math.nan
    if sellable:
        ref = _first_nearest(sellable, panel.delta, REFERENCE.target_delta)
        j = panel.row_instrument[ref]
        settle, strike, spot = panel.settlement_usd[j], panel.strike[j], panel.spot_usd[t]
        if math.isfinite(settle):
            price = sell(ref)
            payout = max(settle - strike, 0.0)
            entry_fee = min(0.0003, 0.125 * price) * spot
            delivery_fee = min(0.00015, 0.125 * payout / settle) * settle if payout > 0 else 0.0
            pnl = price * spot - payout - entry_fee - delivery_fee
    atm_iv = float(panel.iv[atm])
    return atm_iv, float(panel.iv[wing]) - atm_iv, pnl


def _bin(value: float, edges: list[float]) -> int:
    for k in range(len(edges) - 1):
        if edges[k] <= value < edges[k + 1]:
            return k
    return -1


def test_cells_agree_with_a_direct_count_on_real_snapshots(real) -> None:
    panel = real.panel
    samples = environment_samples(real, interval_hours=INTERVAL_H, reference=REFERENCE)
    result = environment_heatmap(
        samples, x_metric="atm_iv", x_edges=ATM_EDGES, y_metric="skew_25d", y_edges=SKEW_EDGES
    )

    direct: dict[tuple[int, int], list[float]] = {}
    for t in np.flatnonzero(panel.decision_mask(INTERVAL_H)):
        atm_iv, skew, pnl = _direct_state(panel, int(t))
        cell = (_bin(skew, SKEW_EDGES), _bin(atm_iv, ATM_EDGES))
        if -1 not in cell:
            direct.setdefault(cell, []).append(pnl)
    # The two busiest cells with outcomes: counts, mean P&L and win rate.
    busiest = sorted(direct, key=lambda c: -sum(math.isfinite(v) for v in direct[c]))[:2]
    assert len(busiest) == 2
    for yi, xi in busiest:
        outcomes = [v for v in direct[(yi, xi)] if math.isfinite(v)]
        assert outcomes, "a busy cell must have settled reference calls"
        assert result["counts"][yi][xi] == len(direct[(yi, xi)])
        assert result["outcomes"][yi][xi] == len(outcomes)
        assert result["mean_pnl_usd"][yi][xi] == pytest.approx(np.mean(outcomes), abs=1e-5)
        wins = sum(v > 0 for v in outcomes) / len(outcomes)
        assert result["win_rate"][yi][xi] == pytest.approx(wins, abs=1e-6)
    assert sum(map(sum, result["counts"])) == sum(len(v) for v in direct.values())
    assert result["samples"] == int(panel.decision_mask(INTERVAL_H).sum())


def test_ivrv_uses_the_harvests_realised_vol(real) -> None:
    samples = environment_samples(real, interval_hours=1.0, reference=REFERENCE)
    ratio = samples.metrics["atm_iv"] / samples.metrics["rv"]

    np.testing.assert_allclose(samples.metrics["ivrv"], ratio)
    assert np.isfinite(samples.metrics["ivrv"]).all()


def test_a_trailing_return_is_missing_until_the_data_reaches_back() -> None:
    source = SyntheticSource(seed=4, start=datetime(2025, 5, 1, tzinfo=UTC), days=10)
    simulator = CoveredCallSimulator(source.load_panel(underlying="BTC"))

    samples = environment_samples(simulator, interval_hours=6.0)

    week = samples.metrics["return_7d"]
    early = samples.times < samples.times[0] + 7 * 86_400
    assert np.isnan(week[early]).all()
    assert np.isfinite(week[~early]).all()
    spot = simulator.panel.spot_usd
    last = int(np.flatnonzero(simulator.panel.times == samples.times[-1])[0])
    back = int(np.searchsorted(simulator.panel.times, samples.times[-1] - 7 * 86_400))
    assert week[-1] == pytest.approx(spot[last] / spot[back] - 1.0)


def test_bins_are_half_open_and_missing_values_fall_outside() -> None:
    values = np.array([0.0, 0.5, 1.0, 1.5, 2.0, np.nan, -1.0])

    assert bin_index(values, [0.0, 1.0, 2.0]).tolist() == [0, 0, 1, 1, -1, -1, -1]
    with pytest.raises(ValueError, match="increase"):
        check_edges([1.0, 1.0], "x_edges")
    with pytest.raises(ValueError, match="2 to 26"):
        check_edges([1.0], "x_edges")


def test_a_cells_dates_list_its_sampled_days() -> None:
    day = 86_400.0
    t0 = datetime(2025, 3, 1, tzinfo=UTC).timestamp()
    result: dict[str, Any] = {
        "cell_of_sample": {
            "t": [t0, t0 + 3600, t0 + day, t0 + 2 * day],
            "xi": [0, 0, 1, 0],
            "yi": [1, 1, 1, 1],
            "pnl_usd": [10.0, None, 5.0, -4.0],
        }
    }

    dates = regime_dates(result, xi=0, yi=1)

    assert dates == [
        {"date": "2025-03-01", "times": 2, "outcomes": 1, "mean_pnl_usd": 10.0},
        {"date": "2025-03-03", "times": 1, "outcomes": 1, "mean_pnl_usd": -4.0},
    ]


def test_the_iv_rv_history_cells_agree_with_a_direct_count(shared_dir: Path) -> None:
    import pandas as pd

    from backtests.domain.environment import history_samples, read_iv_rv_history

    path = shared_dir / "data" / "deribit" / "volatility_history" / "btc_volatility_history.parquet"
    iv_edges, change_edges = [0.3, 0.36, 0.4, 0.45, 0.7], [-0.2, -0.02, 0.0, 0.02, 0.2]
    times, iv, rv = read_iv_rv_history(path)
    samples = history_samples(times, iv, rv, interval_hours=1.0)
    result = environment_heatmap(
        samples,
        x_metric="atm_iv",
        x_edges=iv_edges,
        y_metric="iv_change_7d",
        y_edges=change_edges,
    )

    frame = pd.read_parquet(path).set_index("timestamp").sort_index()
    week_ago = frame["iv_30d"].reindex(frame.index - pd.Timedelta(days=7)).to_numpy() / 100.0
    level = frame["iv_30d"].to_numpy() / 100.0
    change = level - week_ago
    for yi, xi in ((1, 1), (2, 2)):
        in_cell = (
            (level >= iv_edges[xi])
            & (level < iv_edges[xi + 1])
            & (change >= change_edges[yi])
            & (change < change_edges[yi + 1])
        )
        assert result["counts"][yi][xi] == int(in_cell.sum()) > 20
    assert result["samples"] == len(frame)
    assert result["outcomes"] == [[0] * 4] * 4  # no chains, no reference call
    assert result["missing"] == 7 * 24  # the first week has no 7-day change

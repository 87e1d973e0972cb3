"""Environment heatmap: how market time is spread over two metrics, and what a reference short
call earned in each regime (issue 15).

Selector-free: at every sampled time of a panel (the first snapshot of each `interval_hours`
step) the market state is measured, not filtered:

* `atm_iv`: implied vol (decimal) of the call nearest 0.5 delta at the *reference expiry*, the
  expiry whose days to expiry are nearest `target_dte_days`;
* `ivrv`: `atm_iv` over the realised vol of the panel at that time;
* `skew_25d`: IV of the call nearest 0.25 delta minus `atm_iv`, same expiry (calls only, so
  the synthetic source, which lists calls, measures it too);
* `return_1d`, `return_7d`: index return over the trailing 1 or 7 days (NaN until the data
  reaches that far back);
* `rv`: the panel's realised vol;
* `iv_change_7d`: `atm_iv` now minus `atm_iv` at the sampled time 7 days earlier.

`history_samples` measures the same from an IV/RV history alone (the harvest's hourly
`iv_30d`/`rv_30d`): `atm_iv` is then the 30-day IV, and there is no skew, return or outcome.

The *reference call* is the call of the reference expiry nearest `target_delta`, sold at the
backtester's fill (best bid; mark less the haircut when the bid is empty) and held to delivery
by the backtester itself (`CoveredCallSimulator.trade_at_row`, Deribit fees included). Its
forward outcome is the option leg's P&L in USD; a call whose expiry lies beyond the data has no
outcome (it is counted in the occupancy but not in the outcome statistics).

Cells are half-open bins `[edge_k, edge_k+1)` of each metric; samples with a missing metric or
outside the edges are counted apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.domain.panel import IntArray
from backtests.domain.simulator import CoveredCallSimulator
from backtests.domain.types import BacktestConfig, ExitPolicy, FillModel, FloatArray

#: Metrics an environment heatmap can use, with their labels (units in the label).
ENV_METRICS: dict[str, str] = {
    "ivrv": "ATM IV / RV",
    "atm_iv": "ATM IV (decimal)",
    "skew_25d": "25-delta call IV - ATM IV (decimal)",
    "return_1d": "index return over 1 day",
    "return_7d": "index return over 7 days",
    "rv": "realised vol (decimal)",
    "iv_change_7d": "ATM IV change over 7 days (decimal)",
}
#: Metrics the IV/RV history alone gives (no chains, no index: no skew, returns or outcome).
HISTORY_METRICS: tuple[str, ...] = ("atm_iv", "rv", "ivrv", "iv_change_7d")
#: Measures the picture can show per cell.
ENV_MEASURES: dict[str, str] = {
    "share": "share of time",
    "mean_pnl_usd": "mean forward P&L of the reference call, USD",
    "win_rate": "win rate of the reference call",
    "count": "sampled times",
}
MAX_EDGES = 26
#: A trailing return needs a snapshot this close to the look-back time (else NaN).
RETURN_LOOKBACK_SLACK_S = 6 * 3600.0
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class ReferenceCall:
    """The call whose forward outcome each cell reports: nearest delta at the nearest DTE."""

    target_delta: float = 0.25
    target_dte_days: float = 7.0
    min_dte_days: float = 1.0 / 24.0

    def config(self, underlying: str) -> BacktestConfig:
        """How the backtester sells and holds it: bid fill, hold to delivery, one contract."""
        return BacktestConfig(
            underlying=underlying,  # type: ignore[arg-type]
            exit=ExitPolicy(),
            fill=FillModel(),
            initial_coin=1.0,
            quantity_coin=1.0,
        )


@dataclass(frozen=True, slots=True)
class EnvironmentSamples:
    """Per sampled time: its epoch seconds, every metric, the reference call and its outcome."""

    times: FloatArray
    metrics: dict[str, FloatArray]
    reference_row: IntArray  # panel row of the reference call, -1 when none
    pnl_usd: FloatArray  # forward P&L of the reference call, NaN when none or unsettled


def _trailing_return(times: FloatArray, spot: FloatArray, index: int, days: float) -> float:
    target = times[index] - days * SECONDS_PER_DAY
    back = int(np.searchsorted(times, target, side="right")) - 1
    if back < 0 or times[back] < target - RETURN_LOOKBACK_SLACK_S:
        return math.nan
    return float(spot[index] / spot[back] - 1.0)


def trailing_change(
    times: FloatArray, values: FloatArray, days: float, slack_s: float
) -> FloatArray:
    """values[t] - values[t - days] (the latest time at or before, within `slack_s`), else NaN."""
    target = times - days * SECONDS_PER_DAY
    back = np.searchsorted(times, target, side="right") - 1
    ok = (back >= 0) & (times[np.maximum(back, 0)] >= target - slack_s)
    result: FloatArray = np.where(ok, values - values[np.maximum(back, 0)], np.nan)
    return result


def grid_indexes(times: FloatArray, interval_hours: float) -> IntArray:
    """Indexes of the first time at or after each step of an `interval_hours` grid."""
    if len(times) == 0:
        return np.zeros(0, dtype=np.int64)
    step = interval_hours * 3600.0
    count = int(np.floor((times[-1] - times[0]) / step + 1e-9)) + 1
    grid = times[0] + step * np.arange(count)
    indexes = np.searchsorted(times, grid - 1e-6, side="left")
    result: IntArray = np.unique(indexes[indexes < len(times)]).astype(np.int64)
    return result


def history_samples(
    times: FloatArray, iv: FloatArray, rv: FloatArray, *, interval_hours: float = 1.0
) -> EnvironmentSamples:
    """Samples from an IV/RV history alone (`atm_iv` is its 30-day IV): occupancy only, since
    without chains or an index there is no skew, return or reference call."""
    order = np.argsort(times, kind="stable")
    times, iv, rv = times[order], iv[order], rv[order]
    keep = grid_indexes(times, interval_hours)
    t, iv_s, rv_s = times[keep], iv[keep], rv[keep]
    slack = max(RETURN_LOOKBACK_SLACK_S, interval_hours * 3600.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ivrv = np.where(rv_s > 0, iv_s / rv_s, np.nan)
    missing = np.full(len(t), np.nan)
    metrics = {name: missing.copy() for name in ENV_METRICS}
    metrics |= {
        "atm_iv": iv_s,
        "rv": rv_s,
        "ivrv": ivrv,
        "iv_change_7d": trailing_change(t, iv_s, 7.0, slack),
    }
    return EnvironmentSamples(
        times=t, metrics=metrics, reference_row=np.full(len(t), -1, dtype=np.int64), pnl_usd=missing
    )


def read_iv_rv_history(
    path: Path, start: datetime | None = None, end: datetime | None = None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(epoch seconds, IV, RV) of a harvest's `<ccy>_volatility_history.parquet` (percent in
    the file, decimal here) within [start, end]."""
    frame = pd.read_parquet(path, columns=["timestamp", "iv_30d", "rv_30d"])
    stamps = pd.to_datetime(frame["timestamp"], utc=True)
    keep = np.ones(len(frame), dtype=bool)
    if start is not None:
        keep &= (stamps >= pd.Timestamp(start)).to_numpy()
    if end is not None:
        keep &= (stamps <= pd.Timestamp(end)).to_numpy()
    seconds = (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=np.float64)
    iv = frame["iv_30d"].to_numpy(dtype=np.float64) / 100.0
    rv = frame["rv_30d"].to_numpy(dtype=np.float64) / 100.0
    return seconds[keep], iv[keep], rv[keep]


def _nearest(values: FloatArray, target: float) -> int:
    return int(np.argmin(np.abs(values - target)))


def _state_at(
    simulator: CoveredCallSimulator, t: int, reference: ReferenceCall, sell_coin: FloatArray
) -> tuple[float, float, int]:
    """(atm_iv, skew_25d, reference row) at panel time `t`; NaN/-1 when the chain lacks them."""
    panel = simulator.panel
    rows = np.arange(panel.rows_at(t).start, panel.rows_at(t).stop)
    calls = rows[
        panel.is_call[panel.row_instrument[rows]]
        & np.isfinite(panel.iv[rows])
        & np.isfinite(panel.delta[rows])
        & (panel.dte_days[rows] >= reference.min_dte_days)
    ]
    if len(calls) == 0:
        return math.nan, math.nan, -1
    expiries = panel.expiry_ts[panel.row_instrument[calls]]
    dte = panel.dte_days[calls]
    chosen_expiry = expiries[_nearest(dte, reference.target_dte_days)]
    same = calls[expiries == chosen_expiry]
    delta = panel.delta[same]
    atm_iv = float(panel.iv[same[_nearest(delta, 0.5)]])
    skew = float(panel.iv[same[_nearest(delta, 0.25)]]) - atm_iv
    sellable = same[np.isfinite(sell_coin[same]) & (sell_coin[same] > 0)]
    if len(sellable) == 0:
        return atm_iv, skew, -1
    return atm_iv, skew, int(sellable[_nearest(panel.delta[sellable], reference.target_delta)])


def environment_samples(
    simulator: CoveredCallSimulator,
    *,
    interval_hours: float = 1.0,
    reference: ReferenceCall | None = None,
    progress: Callable[[float], None] | None = None,
) -> EnvironmentSamples:
    """Measure the market and the reference call's forward outcome at every sampled time."""
    reference = reference or ReferenceCall()
    panel = simulator.panel
    config = reference.config(panel.underlying)
    sell_coin = simulator.fills(config.fill).sell_coin
    indexes = np.flatnonzero(simulator.decision_mask(interval_hours))
    n = len(indexes)
    names = ("atm_iv", "skew_25d", "return_1d", "return_7d")
    values = {name: np.full(n, np.nan) for name in names}
    reference_row = np.full(n, -1, dtype=np.int64)
    pnl = np.full(n, np.nan)
    for k, t in enumerate(indexes):
        atm_iv, skew, row = _state_at(simulator, int(t), reference, sell_coin)
        values["atm_iv"][k], values["skew_25d"][k] = atm_iv, skew
        values["return_1d"][k] = _trailing_return(panel.times, panel.spot_usd, int(t), 1.0)
        values["return_7d"][k] = _trailing_return(panel.times, panel.spot_usd, int(t), 7.0)
        if row >= 0:
            reference_row[k] = row
            trade = simulator.trade_at_row(row, config)
            if trade.settled:
                pnl[k] = trade.pnl_usd
        if progress is not None and k % 200 == 0:
            progress(k / max(n, 1))
    rv = panel.rv[indexes]
    with np.errstate(divide="ignore", invalid="ignore"):
        values["ivrv"] = np.where(rv > 0, values["atm_iv"] / rv, np.nan)
    values["rv"] = rv.astype(np.float64)
    slack = max(RETURN_LOOKBACK_SLACK_S, interval_hours * 3600.0)
    values["iv_change_7d"] = trailing_change(panel.times[indexes], values["atm_iv"], 7.0, slack)
    return EnvironmentSamples(
        times=panel.times[indexes], metrics=values, reference_row=reference_row, pnl_usd=pnl
    )


def check_edges(edges: Sequence[float], name: str) -> list[float]:
    """Bin edges: 2 to 26 finite numbers, strictly increasing (else ValueError)."""
    values = [float(v) for v in edges]
    if not 2 <= len(values) <= MAX_EDGES:
        raise ValueError(f"{name} needs 2 to {MAX_EDGES} edges")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{name} must be finite numbers")
    if any(b <= a for a, b in pairwise(values)):
        raise ValueError(f"{name} must increase strictly")
    return values


def bin_index(values: FloatArray, edges: Sequence[float]) -> IntArray:
    """Cell of each value in half-open bins `[edge_k, edge_k+1)`; -1 outside or missing."""
    edge_array = np.asarray(edges, dtype=np.float64)
    index = np.searchsorted(edge_array, values, side="right") - 1
    inside = np.isfinite(values) & (index >= 0) & (index < len(edge_array) - 1)
    result: IntArray = np.where(inside, index, -1).astype(np.int64)
    return result


def _rounded(value: float) -> float | None:
    return None if not math.isfinite(value) else round(value, 6)


def environment_heatmap(
    samples: EnvironmentSamples,
    *,
    x_metric: str,
    x_edges: Sequence[float],
    y_metric: str,
    y_edges: Sequence[float],
) -> dict[str, Any]:
    """Occupancy and outcome per cell, plus each sample's cell (for "find me this regime")."""
    for name in (x_metric, y_metric):
        if name not in ENV_METRICS:
            raise ValueError(f"unknown metric {name!r}; known: {list(ENV_METRICS)}")
    xs, ys = check_edges(x_edges, "x_edges"), check_edges(y_edges, "y_edges")
    x_values, y_values = samples.metrics[x_metric], samples.metrics[y_metric]
    xi, yi = bin_index(x_values, xs), bin_index(y_values, ys)
    inside = (xi >= 0) & (yi >= 0)
    missing = ~(np.isfinite(x_values) & np.isfinite(y_values))
    n_x, n_y = len(xs) - 1, len(ys) - 1
    counts = np.zeros((n_y, n_x), dtype=np.int64)
    np.add.at(counts, (yi[inside], xi[inside]), 1)
    has_outcome = inside & np.isfinite(samples.pnl_usd)
    outcomes = np.zeros((n_y, n_x), dtype=np.int64)
    pnl_sum = np.zeros((n_y, n_x))
    wins = np.zeros((n_y, n_x), dtype=np.int64)
    cells = (yi[has_outcome], xi[has_outcome])
    np.add.at(outcomes, cells, 1)
    np.add.at(pnl_sum, cells, samples.pnl_usd[has_outcome])
    np.add.at(wins, cells, (samples.pnl_usd[has_outcome] > 0).astype(np.int64))
    total = max(int(inside.sum()), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(outcomes > 0, pnl_sum / outcomes, np.nan)
        win_rate = np.where(outcomes > 0, wins / outcomes, np.nan)
    return {
        "x_metric": x_metric,
        "y_metric": y_metric,
        "x_edges": xs,
        "y_edges": ys,
        "samples": len(samples.times),
        "in_grid": int(inside.sum()),
        "missing": int(missing.sum()),
        "outside": int((~inside & ~missing).sum()),
        "counts": counts.tolist(),
        "share": [[round(c / total, 6) for c in row] for row in counts.tolist()],
        "outcomes": outcomes.tolist(),
        "mean_pnl_usd": [[_rounded(float(v)) for v in row] for row in mean],
        "win_rate": [[_rounded(float(v)) for v in row] for row in win_rate],
        "cell_of_sample": {
            "t": [float(t) for t in samples.times],
            "xi": xi.tolist(),
            "yi": yi.tolist(),
            "pnl_usd": [_rounded(float(v)) for v in samples.pnl_usd],
        },
    }


def regime_dates(result: dict[str, Any], *, xi: int, yi: int) -> list[dict[str, Any]]:
    """The UTC dates whose sampled times fall in cell (xi, yi): hours there and mean outcome."""
    cell = result.get("cell_of_sample") or {}
    by_date: dict[str, list[float | None]] = {}
    for t, x, y, pnl in zip(cell["t"], cell["xi"], cell["yi"], cell["pnl_usd"], strict=True):
        if x == xi and y == yi:
            day = datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%d")
            by_date.setdefault(day, []).append(pnl)
    rows = []
    for day, outcomes in sorted(by_date.items()):
        known = [v for v in outcomes if v is not None]
        rows.append(
            {
                "date": day,
                "times": len(outcomes),
                "outcomes": len(known),
                "mean_pnl_usd": round(sum(known) / len(known), 2) if known else None,
            }
        )
    return rows

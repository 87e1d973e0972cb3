"""Worst-scenario loss of a backtest's book over time (the live risk engine's stress figure).

At each sampled time the book is the coins held (the curve's coin equity) plus the calls open
then, revalued on the same scenario grid as the live risk engine
(`trading.domain.portfolio.scenario_grid`: spot -40%..+40% x vol -50%..+100% x now/+1 d/+7 d).
An approximation stated in the report: each call keeps its IV at entry and its forward is the
spot of that time (the backtest stores no surface per hour).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from backtests.domain.types import EquityCurve, SimulatedTrade
from trading.domain.portfolio import Book, BookOption, ScenarioSpec, scenario_grid

FloatArray = npt.NDArray[np.float64]

#: Grids computed per run at most; the series is interpolated between them.
MAX_STRESS_POINTS = 250


def _book_at(
    ts: float, spot: float, coins: float, trades: Sequence[SimulatedTrade], underlying: str
) -> Book:
    now = datetime.fromtimestamp(ts, UTC)
    calls = tuple(
        BookOption(
            instrument_name=t.instrument_name,
            underlying=underlying,
            expiry=datetime.fromtimestamp(t.expiry_ts, UTC),
            strike_usd=t.strike,
            is_call=True,
            size=-t.quantity_coin,
            iv=t.iv_entry,
            forward_usd=spot,
        )
        for t in trades
        if t.entry_ts <= ts < t.exit_ts and t.iv_entry > 0
    )
    return Book(
        now=now,
        index_usd={underlying: spot},
        coins={underlying: coins},
        options=calls,
        equity_usd=coins * spot,
    )


def worst_scenario_loss_pct(
    curve: EquityCurve,
    trades: Sequence[SimulatedTrade],
    *,
    underlying: str = "BTC",
    spec: ScenarioSpec | None = None,
    max_points: int = MAX_STRESS_POINTS,
) -> FloatArray:
    """Loss at the worst scenario cell, percent of equity, at every time of `curve` (>= 0)."""
    n = len(curve.times)
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    sample = np.unique(np.linspace(0, n - 1, min(n, max_points)).round().astype(int))
    values = np.empty(sample.size, dtype=np.float64)
    for k, i in enumerate(sample):
        book = _book_at(
            float(curve.times[i]),
            float(curve.spot_usd[i]),
            float(curve.equity_coin[i]),
            trades,
            underlying,
        )
        share = scenario_grid(book, spec).worst.loss_pct_of_equity
        values[k] = 0.0 if share is None else share
    result: FloatArray = np.interp(np.arange(n), sample, values)
    return result

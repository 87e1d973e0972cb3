"""The `MarketDataSource` protocol and helpers every source shares.

A source turns some market data (harvested Parquet snapshots, Deribit public history, the
synthetic market model) into the one chain-snapshot shape the live agent also sees. The
backtester reads it as a `ChainPanel` (all snapshots as columns, for speed); anyone else can
iterate plain chain frames at decision times with `iter_snapshots`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from backtests.domain.panel import ChainPanel, snapshot_frame
from backtests.domain.types import DataProvenance, FloatArray, epoch_to_datetime

HOURS_PER_YEAR = 365.0 * 24.0


@dataclass(frozen=True, slots=True)
class ChainSnapshot:
    """One option chain at one time, in the canonical frame shape (see `backtests.domain.panel`)."""

    time: datetime
    underlying: str
    spot_usd: float
    rv: float
    chain: pd.DataFrame


@runtime_checkable
class MarketDataSource(Protocol):
    """Anything that can supply option chains for a period.

    `load_panel` returns every snapshot between `start` and `end` (UTC, inclusive; None means
    all available) for one underlying, with its `DataProvenance`.
    """

    name: str

    def load_panel(
        self, *, underlying: str, start: datetime | None = None, end: datetime | None = None
    ) -> ChainPanel:
        """All snapshots of the period as a panel."""
        ...


def iter_snapshots(panel: ChainPanel, *, interval_hours: float = 1.0) -> Iterator[ChainSnapshot]:
    """Chain snapshots of a panel at its decision times (first snapshot of each interval)."""
    for index in np.flatnonzero(panel.decision_mask(interval_hours)):
        yield ChainSnapshot(
            time=epoch_to_datetime(float(panel.times[index])),
            underlying=panel.underlying,
            spot_usd=float(panel.spot_usd[index]),
            rv=float(panel.rv[index]),
            chain=snapshot_frame(panel, int(index)),
        )


def rolling_realised_vol(
    times: FloatArray, spot_usd: FloatArray, *, window_hours: float = 720.0
) -> FloatArray:
    """Annualised realised vol of log returns over a trailing window (no look-ahead).

    Uses the returns whose end lies in (t - window, t]; NaN until the window holds at least
    a quarter of its length, so a fresh series does not report a noisy number.
    """
    n = len(times)
    result = np.full(n, np.nan)
    if n < 3:
        return result
    log_returns = np.diff(np.log(spot_usd))
    elapsed_hours = np.diff(times) / 3600.0
    squared = np.concatenate([[0.0], np.cumsum(log_returns**2)])
    hours = np.concatenate([[0.0], np.cumsum(elapsed_hours)])
    start = np.searchsorted(times, times - window_hours * 3600.0, side="left")
    span_hours = hours - hours[start]
    enough = span_hours >= 0.25 * window_hours
    variance_per_hour = np.divide(
        squared - squared[start], span_hours, out=np.zeros(n), where=span_hours > 0
    )
    result[enough] = np.sqrt(variance_per_hour[enough] * HOURS_PER_YEAR)
    return result


def clip_provenance(
    provenance: DataProvenance, panel_times: FloatArray, *, rows: int
) -> DataProvenance:
    """Provenance updated with the period and size actually loaded."""
    if len(panel_times) == 0:
        return provenance
    return provenance.model_copy(
        update={
            "start": epoch_to_datetime(float(panel_times[0])),
            "end": epoch_to_datetime(float(panel_times[-1])),
            "snapshots": len(panel_times),
            "rows": rows,
        }
    )

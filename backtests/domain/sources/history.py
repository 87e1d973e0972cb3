"""Deribit public history through our client, cached to Parquet.

Deribit keeps no history of whole option chains, so this source rebuilds them: the hourly
perpetual candles (`get_tradingview_chart_data`, a stand-in for the index) give the spot path,
DVOL (`get_volatility_index_data`) the 30-day ATM IV, and `ChainPricer` prices the listed calls
with the market model's smile, calendar and spreads. Real option trades
(`get_last_trades_by_currency_and_time`) are fetched too and compared with the rebuilt marks,
so every report says how far the rebuilt chain is from what actually traded.

The client is injected (anything with the three methods, normally `trading.deribit.client.
DeribitClient`); this module does no I/O besides the Parquet cache.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from backtests.domain.panel import ChainPanel
from backtests.domain.sources.base import rolling_realised_vol
from backtests.domain.sources.chains import ChainPricer, HourlyPath
from backtests.domain.types import DataProvenance, FloatArray
from trading.domain.market_model import MarketModelParams

HOUR_MS = 3_600_000
#: Hourly candles are labelled by their open time; their close belongs one hour later.
CANDLE_CLOSE_MS = HOUR_MS
CHUNK_HOURS = 720


class HistoryClient(Protocol):
    """The three public Deribit methods this source needs (as `DeribitClient` types them)."""

    def get_tradingview_chart_data(
        self, instrument_name: str, start_timestamp: int, end_timestamp: int, resolution: str = ...
    ) -> Any:
        """OHLCV candles (`ticks`, `close`, ...)."""
        ...

    def get_volatility_index_data(
        self, currency: str, start_timestamp: int, end_timestamp: int, resolution: str = ...
    ) -> Any:
        """DVOL candles (`data`, `continuation`)."""
        ...

    def get_last_trades_by_currency_and_time(
        self,
        currency: str,
        start_timestamp: int,
        end_timestamp: int,
        *,
        kind: str | None = ...,
        count: int = ...,
        sorting: str = ...,
    ) -> Any:
        """A page of public trades (`trades`, `has_more`)."""
        ...


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def fetch_perpetual_candles(
    client: HistoryClient, underlying: str, start_ms: int, end_ms: int
) -> pd.DataFrame:
    """Hourly closes of `<CCY>-PERPETUAL` in chunks: columns timestamp_ms (the close's
    time), close.

    Deribit labels a candle by its **open** time (the reference example asks for 10:30-11:20
    at 30 minutes and gets ticks 10:30 and 11:00; TradingView's convention): the close of the
    candle labelled t is the price at t + 1 h, so it is stored at t + 1 h (`CANDLE_CLOSE_MS`).
    """
    frames = []
    chunk_start = start_ms
    while chunk_start <= end_ms:
        chunk_end = min(chunk_start + CHUNK_HOURS * HOUR_MS, end_ms)
        chart = client.get_tradingview_chart_data(
            f"{underlying}-PERPETUAL", chunk_start, chunk_end, "60"
        )
        if chart.status == "ok" and chart.ticks:
            close_ms = np.asarray(chart.ticks, dtype=np.int64) + CANDLE_CLOSE_MS
            frames.append(pd.DataFrame({"timestamp_ms": close_ms, "close": chart.close}))
        chunk_start = chunk_end + 1
    if not frames:
        return pd.DataFrame({"timestamp_ms": [], "close": []})
    return pd.concat(frames).drop_duplicates("timestamp_ms").sort_values("timestamp_ms")


def fetch_dvol(client: HistoryClient, underlying: str, start_ms: int, end_ms: int) -> pd.DataFrame:
    """Hourly DVOL closes (vol points), paging backwards: columns timestamp_ms (the close's
    time: candles are labelled by their open, as the chart candles), dvol."""
    rows: list[tuple[int, float]] = []
    page_end = end_ms
    while page_end >= start_ms:
        page = client.get_volatility_index_data(underlying, start_ms, page_end, "3600")
        rows.extend((int(c[0]) + CANDLE_CLOSE_MS, float(c[4])) for c in page.data)
        if page.continuation is None or page.continuation >= page_end or not page.data:
            break
        page_end = int(page.continuation)
    frame = pd.DataFrame(rows, columns=["timestamp_ms", "dvol"])
    return frame.drop_duplicates("timestamp_ms").sort_values("timestamp_ms")


def fetch_option_trades(
    client: HistoryClient, underlying: str, start_ms: int, end_ms: int, *, max_pages: int = 50
) -> pd.DataFrame:
    """Public option trades, oldest first: instrument_name, timestamp_ms, price, iv, index."""
    rows: list[dict[str, Any]] = []
    cursor = start_ms
    for _ in range(max_pages):
        page = client.get_last_trades_by_currency_and_time(
            underlying, cursor, end_ms, kind="option", count=1000, sorting="asc"
        )
        for trade in page.trades:
            rows.append(
                {
                    "instrument_name": trade.instrument_name,
                    "timestamp_ms": int(trade.timestamp),
                    "price_coin": float(trade.price),
                    "iv_pct": math.nan if trade.iv is None else float(trade.iv),
                    "index_price": float(trade.index_price),
                }
            )
        if not page.has_more or not page.trades:
            break
        cursor = int(page.trades[-1].timestamp) + 1
    columns = ["instrument_name", "timestamp_ms", "price_coin", "iv_pct", "index_price"]
    return pd.DataFrame(rows, columns=columns)


def _asof(grid_ms: FloatArray, times_ms: FloatArray, values: FloatArray) -> FloatArray:
    position = np.searchsorted(times_ms, grid_ms, side="right") - 1
    result: FloatArray = np.where(position >= 0, values[np.maximum(position, 0)], np.nan)
    return result


class DeribitHistorySource:
    """Chains rebuilt from Deribit's public history (see the module docstring)."""

    name = "deribit_history"

    def __init__(
        self,
        client: HistoryClient,
        *,
        cache_dir: Path | None = None,
        params: MarketModelParams | None = None,
        max_dte_days: float = 35.0,
        rv_window_hours: float = 720.0,
        fetch_trades: bool = True,
        venue: str = "",
    ) -> None:
        self.client = client
        self.venue = venue
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.params = params or MarketModelParams()
        self.rv_window_hours = rv_window_hours
        self.fetch_trades = fetch_trades
        self.pricer = ChainPricer(params=self.params, max_dte_days=max_dte_days)
        self.fetches = 0

    def load_panel(
        self, *, underlying: str, start: datetime | None = None, end: datetime | None = None
    ) -> ChainPanel:
        """Fetch (or read from the cache) the period's history and rebuild hourly chains."""
        if start is None or end is None:
            raise ValueError("the Deribit history source needs an explicit start and end")
        start_ms = _ms(start) // HOUR_MS * HOUR_MS
        end_ms = _ms(end) // HOUR_MS * HOUR_MS
        warm_ms = start_ms - int(self.rv_window_hours) * HOUR_MS
        candles = self._cached(underlying, "perpetual", warm_ms, end_ms, fetch_perpetual_candles)
        # The candle opening an hour before the start closes at the start.
        dvol = self._cached(underlying, "dvol", start_ms - HOUR_MS, end_ms, fetch_dvol)
        if candles.empty or dvol.empty:
            raise ValueError(f"no {underlying} candles or DVOL between {start} and {end}")
        path = self._path(candles, dvol, start_ms, end_ms)
        provenance = DataProvenance(
            source=self.name,
            underlying=underlying,
            description=(
                f"Deribit public history: {underlying}-PERPETUAL hourly closes as the index, "
                "DVOL as 30-day ATM IV, chains rebuilt with the market model's smile and spreads"
            ),
            details={
                "candles": len(candles),
                "dvol_points": len(dvol),
                "venue": self.venue,
                "basis_per_year": self.pricer.params.currencies[underlying].basis_per_year,
                "drift_per_year": None,
            },
        )
        panel = self.pricer.panel(underlying, path, provenance)
        if self.fetch_trades:
            trades = self._cached(
                underlying, "option_trades", start_ms, end_ms, fetch_option_trades
            )
            details = panel.provenance.details | trade_agreement(panel, trades)
            panel = _replace_provenance(panel, details)
        return panel

    def _path(
        self, candles: pd.DataFrame, dvol: pd.DataFrame, start_ms: int, end_ms: int
    ) -> HourlyPath:
        candle_ms = candles["timestamp_ms"].to_numpy(dtype=np.float64)
        close = candles["close"].to_numpy(dtype=np.float64)
        rv_all = rolling_realised_vol(candle_ms / 1000.0, close, window_hours=self.rv_window_hours)
        grid_ms = np.arange(start_ms, end_ms + 1, HOUR_MS, dtype=np.float64)
        spot = _asof(grid_ms, candle_ms, close)
        atm_iv = _asof(
            grid_ms,
            dvol["timestamp_ms"].to_numpy(dtype=np.float64),
            dvol["dvol"].to_numpy(dtype=np.float64) / 100.0,
        )
        keep = np.isfinite(spot) & np.isfinite(atm_iv)
        return HourlyPath(
            times=grid_ms[keep] / 1000.0,
            spot_usd=spot[keep],
            atm_iv=atm_iv[keep],
            rv=_asof(grid_ms, candle_ms, rv_all)[keep],
        )

    def _cached(
        self,
        underlying: str,
        kind: str,
        start_ms: int,
        end_ms: int,
        fetch: Callable[[HistoryClient, str, int, int], pd.DataFrame],
    ) -> pd.DataFrame:
        """Read `kind` from the Parquet cache, or fetch it once and write it there."""
        path = None
        if self.cache_dir is not None:
            path = self.cache_dir / underlying / f"{kind}_{start_ms}_{end_ms}.parquet"
            if path.exists():
                return pd.read_parquet(path)
        frame = fetch(self.client, underlying, start_ms, end_ms)
        self.fetches += 1
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.to_parquet(path, index=False)
        return frame


def trade_agreement(panel: ChainPanel, trades: pd.DataFrame) -> dict[str, Any]:
    """How far rebuilt IVs are from real option trades of the same instrument and hour."""
    if trades.empty:
        return {"option_trades": 0, "trades_matched": 0, "median_abs_iv_error_pts": None}
    index = {str(name): j for j, name in enumerate(panel.instrument_name)}
    errors: list[float] = []
    for trade in trades.itertuples():
        j = index.get(str(trade.instrument_name))
        if j is None or not math.isfinite(float(trade.iv_pct)):
            continue
        rows = panel.path_order[panel.path_start[j] : panel.path_start[j + 1]]
        hour = np.searchsorted(panel.times, float(trade.timestamp_ms) / 1000.0, side="right") - 1
        at = rows[panel.row_time[rows] == hour]
        if len(at):
            errors.append(abs(float(panel.iv[at[0]]) * 100.0 - float(trade.iv_pct)))
    return {
        "option_trades": len(trades),
        "trades_matched": len(errors),
        "median_abs_iv_error_pts": float(np.median(errors)) if errors else None,
    }


def _replace_provenance(panel: ChainPanel, details: dict[str, Any]) -> ChainPanel:
    from dataclasses import replace

    return replace(panel, provenance=panel.provenance.model_copy(update={"details": details}))


def default_period(end: datetime, days: float) -> tuple[datetime, datetime]:
    """(start, end) covering `days` before `end` (helper for commands and services)."""
    return end - timedelta(days=days), end

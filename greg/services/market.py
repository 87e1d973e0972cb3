"""Market inputs for the sensors, fetched with our Deribit client (six requests per
underlying), with harvested history filling in where the exchange's history is short.

Requests (sent concurrently): the option chain (book summaries), the perpetual's summary
(index, predicted funding), hourly and daily perpetual candles, DVOL daily candles and the
instrument specs (plain JSON rows; a spec is built only for a leg's instrument). Harvested
30-day IV (``volatility_history/<ccy>_volatility_history.parquet`` under
``GREG_DERIBIT_DATA_DIR``, default ``../shared/data/deribit``) extends the DVOL history back to
six months when the exchange returns less (the simulator keeps ~35 days).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from django.conf import settings

from greg.domain.sensors import IV_RANK_DAYS, MarketInputs
from trading.deribit.client import DeribitClient
from trading.domain.instruments import ContractSpec, default_spec
from trading.services.state import chain_frame

logger = logging.getLogger("greg.market")
HOURLY_DAYS = 32
DAILY_DAYS = 400
FETCH_THREADS = 4


@dataclass(frozen=True)
class MarketFetch:
    """The sensors' inputs plus what the leg builders need (enriched chain, contract specs)."""

    inputs: MarketInputs
    specs: dict[str, ContractSpec]
    requests: int


def data_root() -> Path:
    """Where harvested Deribit data lives (setting GREG_DERIBIT_DATA_DIR or ../shared)."""
    configured = getattr(settings, "GREG_DERIBIT_DATA_DIR", None)
    if configured:
        return Path(configured)
    return Path(settings.BASE_DIR).parent / "shared" / "data" / "deribit"


@lru_cache(maxsize=8)
def _harvested(path: str, mtime: float, column: str) -> pd.Series:
    frame = pd.read_parquet(path, columns=["timestamp", column])
    index = pd.to_datetime(frame["timestamp"], utc=True)
    return pd.Series(frame[column].to_numpy(dtype=float), index=index).dropna().sort_index()


def harvested_history(underlying: str, column: str = "iv_30d") -> pd.Series | None:
    """Harvested hourly `iv_30d` or `rv_30d` (percent) of an underlying, or None."""
    path = data_root() / "volatility_history" / f"{underlying.lower()}_volatility_history.parquet"
    if not path.is_file():
        return None
    return _harvested(str(path), path.stat().st_mtime, column)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _candles(
    client: DeribitClient, name: str, start: datetime, end: datetime, res: str
) -> pd.DataFrame:
    chart = client.get_tradingview_chart_data(name, _ms(start), _ms(end), res)
    if chart.status != "ok" or not chart.close:
        return pd.DataFrame(columns=["high", "low", "close"])
    index = pd.to_datetime(chart.ticks, unit="ms", utc=True)
    return pd.DataFrame({"high": chart.high, "low": chart.low, "close": chart.close}, index=index)


def _iv_history(client: DeribitClient, underlying: str, now: datetime) -> tuple[pd.Series, str]:
    start = now - timedelta(days=IV_RANK_DAYS + 2)
    dvol = client.get_volatility_index_data(underlying, _ms(start), _ms(now), "1D")
    live = pd.Series(
        [c[4] for c in dvol.data],
        index=pd.to_datetime([c[0] for c in dvol.data], unit="ms", utc=True),
        dtype=float,
    ).sort_index()
    covered = not live.empty and live.index[0] <= pd.Timestamp(start) + pd.Timedelta(days=30)
    if covered:
        return live, "dvol"
    harvested = harvested_history(underlying)
    if harvested is None or harvested.empty:
        return live, "dvol (short)"
    first_live = live.index[0] if not live.empty else pd.Timestamp(now)
    older = harvested[(harvested.index < first_live) & (harvested.index <= pd.Timestamp(now))]
    daily = older.resample("1D").last().dropna()
    return pd.concat([daily, live]).sort_index(), "dvol + harvested iv_30d"


class InstrumentSpecs(dict[str, ContractSpec]):
    """Contract specs by instrument name, built on first lookup from `public/get_instruments`
    rows (Deribit's published terms when an instrument is not listed)."""

    def __init__(self, instruments: dict[str, Any]) -> None:
        super().__init__()
        self._rows = instruments

    def __missing__(self, name: str) -> ContractSpec:
        row = self._rows.get(name)
        if row is not None and not isinstance(row, dict):
            row = row.model_dump()
        try:
            spec = ContractSpec.from_deribit(row) if row else default_spec(name)
        except ValueError:
            logger.warning("unusable spec for %s; using the published terms", name)
            spec = default_spec(name)
        self[name] = spec
        return spec


def _specs(client: DeribitClient, underlying: str) -> InstrumentSpecs:
    """The options' rows as plain JSON: only the legs' few specs are ever built from them
    (validating ~600 typed `Instrument`s took 17 ms per underlying, a fifth of an evaluation)."""
    params = {"currency": underlying, "kind": "option", "expired": False}
    rows = client.call("public/get_instruments", params) or []
    return InstrumentSpecs(
        {
            str(r["instrument_name"]): r
            for r in rows
            if isinstance(r, dict) and "instrument_name" in r
        }
    )


def spec_lookup(specs: dict[str, ContractSpec]) -> Callable[[str], ContractSpec]:
    """A lookup by instrument name that falls back to Deribit's published terms."""

    def lookup(name: str) -> ContractSpec:
        return (
            specs[name]
            if isinstance(specs, InstrumentSpecs)
            else specs.get(name) or default_spec(name)
        )

    return lookup


def market_fetch(*, client: DeribitClient, underlying: str) -> MarketFetch:
    """Fetch one underlying's sensor inputs and contract specs from the exchange.

    The six reads are independent, so they are sent together (one thread each, over the
    client's connection pool): an evaluation waits about one round trip instead of six.
    """
    before = client.request_count
    with ThreadPoolExecutor(max_workers=FETCH_THREADS, thread_name_prefix="greg-fetch") as pool:
        summaries_job = pool.submit(client.get_book_summary_by_currency, underlying, "option")
        perp_job = pool.submit(client.get_book_summary_by_instrument, f"{underlying}-PERPETUAL")
        specs_job = pool.submit(_specs, client, underlying)
        # The candles' window ends at the exchange's clock, read from the chain's stamps.
        summaries = summaries_job.result()
        stamps = [r.creation_timestamp for r in summaries]
        now = datetime.fromtimestamp(max(stamps) / 1000, UTC) if stamps else datetime.now(UTC)
        perpetual = f"{underlying}-PERPETUAL"
        hourly_job = pool.submit(
            _candles, client, perpetual, now - timedelta(days=HOURLY_DAYS), now, "60"
        )
        daily_job = pool.submit(
            _candles, client, perpetual, now - timedelta(days=DAILY_DAYS), now, "1D"
        )
        iv_job = pool.submit(_iv_history, client, underlying, now)
        chain = chain_frame(summaries, now)
        perp, specs = perp_job.result(), specs_job.result()
        hourly, daily = hourly_job.result(), daily_job.result()
        iv_history, iv_source = iv_job.result()
    funding = perp.funding_8h if perp.funding_8h is not None else perp.current_funding
    inputs = MarketInputs(
        underlying=underlying,
        as_of=now,
        chain=chain if not chain.empty else None,
        chain_time=now,
        hourly_close=hourly["close"] if not hourly.empty else None,
        daily=daily if not daily.empty else None,
        iv_history=iv_history if not iv_history.empty else None,
        iv_history_source=iv_source,
        index_price=perp.estimated_delivery_price or perp.mark_price,
        funding_rate=funding,
        funding_time=datetime.fromtimestamp(perp.creation_timestamp / 1000, UTC),
        rv_30d_history=harvested_history(underlying, "rv_30d") if len(hourly) < 30 * 24 else None,
    )
    return MarketFetch(inputs=inputs, specs=specs, requests=client.request_count - before)

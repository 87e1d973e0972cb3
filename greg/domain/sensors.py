"""The eleven sensors: each a value with its inputs' time range and a staleness flag, or None
with the reason it could not be computed.

Inputs are what the exchange client (or harvested history) provides, already as plain series:
an option chain (``trading.domain.chain`` shape), hourly closes of the index/perpetual, daily
OHLC bars, a history of 30-day implied vol (DVOL or ATM IV, percent) and the perpetual's
predicted funding. Units: vol points (percent) for IVs, RVs, VRPs, the term spread and the
skew; a fraction for ``iv_rank_6m``; ratios unitless; ``price_vs_ma200`` in USD;
``predicted_funding_rate`` a fraction per 8 h.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from greg.domain.spec import SENSOR_NAMES
from trading.domain import measures

HOURS_PER_YEAR: Final[float] = 365.0 * 24.0
IV_RANK_DAYS: Final[int] = 182
IV_RANK_MIN_DAYS: Final[int] = 150
MA_DAYS: Final[int] = 200


class SensorReading(BaseModel):
    """One sensor: its value (None with ``reason`` when it cannot be computed), the time range
    of the data it used, whether that data is stale, and the intermediate numbers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    value: float | None
    reason: str = ""
    inputs_from: datetime | None = None
    inputs_to: datetime | None = None
    stale: bool = False
    source: str = ""
    inputs: dict[str, float | None] = {}

    @property
    def ok(self) -> bool:
        """True when the sensor has a value."""
        return self.value is not None


@dataclass(frozen=True)
class Staleness:
    """How old each kind of input may be before its sensor is flagged stale."""

    chain: timedelta = timedelta(minutes=15)
    hourly: timedelta = timedelta(hours=3)
    daily: timedelta = timedelta(days=2)
    iv_history: timedelta = timedelta(days=2)
    funding: timedelta = timedelta(hours=9)


@dataclass(frozen=True)
class MarketInputs:
    """Everything the sensors read for one underlying at ``as_of`` (UTC).

    ``hourly_close``/``daily`` are indexed by UTC timestamps; ``daily`` has columns high, low,
    close; ``iv_history`` is 30-day implied vol in percent; ``chain_time`` is when the chain
    was taken. Any input may be missing (None / empty): its sensors then say why.
    """

    underlying: str
    as_of: datetime
    chain: pd.DataFrame | None = None
    chain_time: datetime | None = None
    hourly_close: pd.Series | None = None
    daily: pd.DataFrame | None = None
    iv_history: pd.Series | None = None
    iv_history_source: str = "dvol"
    index_price: float | None = None
    funding_rate: float | None = None
    funding_time: datetime | None = None
    rv_30d_history: pd.Series | None = None
    staleness: Staleness = field(default_factory=Staleness)


class SensorSet(BaseModel):
    """The eleven readings of one underlying."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    underlying: str
    as_of: datetime
    readings: tuple[SensorReading, ...]

    def values(self) -> dict[str, float | None]:
        """Sensor name -> value (None when missing), what the waterfall reads."""
        return {r.name: r.value for r in self.readings}

    def get(self, name: str) -> SensorReading:
        """The reading of one sensor."""
        return next(r for r in self.readings if r.name == name)


@dataclass(frozen=True)
class _Measure:
    value: float | None
    reason: str = ""
    start: datetime | None = None
    end: datetime | None = None
    stale: bool = False
    source: str = ""


def _ts(value: object) -> datetime:
    stamp: datetime = pd.Timestamp(value).to_pydatetime()
    return stamp


def _missing(reason: str) -> _Measure:
    return _Measure(None, reason)


def _chain_ivs(inputs: MarketInputs) -> tuple[_Measure, _Measure, _Measure]:
    """ATM IV at 7 and 30 days and the 25-delta skew at 30 days (vol points) from the chain."""
    chain = inputs.chain
    if chain is None or chain.empty:
        missing = _missing("no option chain")
        return missing, missing, missing
    when = inputs.chain_time or inputs.as_of
    stale = inputs.as_of - when > inputs.staleness.chain
    table = measures.atm_iv_by_expiry(chain)
    if len(table) < 2:
        missing = _missing(f"chain has {len(table)} expiries with an ATM IV (needs 2)")
        return missing, missing, missing
    days = table["t_years"].to_numpy() * 365.0
    iv7, iv30 = (
        float(v) * 100.0
        for v in measures.interpolate_total_variance(
            table["t_years"], table["atm_iv"], np.array([7.0, 30.0]) / 365.0
        )
    )
    out_of_range = not (days.min() <= 7.0 and days.max() >= 30.0)
    note = "tenors extrapolated flat" if out_of_range else ""
    skew = measures.skew_25d(chain, tenor_days=30.0) * 100.0
    skew_measure = (
        _Measure(skew, note, when, when, stale, "chain")
        if math.isfinite(skew)
        else _missing("no 25-delta put and call IVs around 30 days")
    )
    return (
        _Measure(iv7, note, when, when, stale, "chain"),
        _Measure(iv30, note, when, when, stale, "chain"),
        skew_measure,
    )


def _harvested_rv(inputs: MarketInputs, reason: str) -> _Measure:
    """The harvested 30-day RV at ``as_of`` (fallback when the price history is short)."""
    history = inputs.rv_30d_history
    if history is None:
        return _missing(reason)
    known = history.dropna().sort_index()
    known = known[known.index <= pd.Timestamp(inputs.as_of)]
    if known.empty:
        return _missing(reason)
    end = _ts(known.index[-1])
    stale = inputs.as_of - end > inputs.staleness.hourly
    return _Measure(float(known.iloc[-1]), "", end, end, stale, "harvested rv_30d")


def _realized(inputs: MarketInputs, days: int) -> _Measure:
    """Close-to-close realized vol (vol points) over the last ``days`` of hourly closes."""
    closes = inputs.hourly_close
    if closes is None or closes.dropna().empty:
        reason = "no hourly price history"
        return _harvested_rv(inputs, reason) if days == 30 else _missing(reason)
    closes = closes.dropna().sort_index()
    window = closes[closes.index > closes.index[-1] - pd.Timedelta(days=days)]
    need = int(days * 24 * 0.9)
    if len(window) < need:
        reason = f"needs {need} hourly closes over {days} days, have {len(window)}"
        return _harvested_rv(inputs, reason) if days == 30 else _missing(reason)
    returns = np.diff(np.log(window.to_numpy(dtype=np.float64)))
    rv = float(np.std(returns, ddof=1) * math.sqrt(HOURS_PER_YEAR) * 100.0)
    end = _ts(window.index[-1])
    stale = inputs.as_of - end > inputs.staleness.hourly
    return _Measure(rv, "", _ts(window.index[0]), end, stale, "hourly closes")


def _iv_rank(inputs: MarketInputs, current_iv: _Measure) -> _Measure:
    """(IV now - 6m low) / (6m high - 6m low) over the IV history plus the current IV."""
    history = inputs.iv_history
    if history is None or history.dropna().empty:
        return _missing("no implied-vol history")
    history = history.dropna().sort_index()
    window = history[history.index >= history.index[-1] - pd.Timedelta(days=IV_RANK_DAYS)]
    span_days = (window.index[-1] - window.index[0]).total_seconds() / 86400.0
    if span_days < IV_RANK_MIN_DAYS:
        return _missing(f"needs {IV_RANK_MIN_DAYS} days of IV history, have {span_days:.0f}")
    now_iv = current_iv.value if current_iv.value is not None else float(window.iloc[-1])
    values = np.append(window.to_numpy(dtype=np.float64), now_iv)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return _missing("IV history is flat (high == low)")
    end = _ts(window.index[-1])
    stale = inputs.as_of - end > inputs.staleness.iv_history
    rank = (now_iv - low) / (high - low)
    return _Measure(rank, "", _ts(window.index[0]), end, stale, inputs.iv_history_source)


def _daily_indicator(inputs: MarketInputs, kind: str) -> _Measure:
    bars = inputs.daily
    if bars is None or bars.empty:
        return _missing("no daily price bars")
    bars = bars.sort_index()
    need = {"adx": 28, "rsi": 15, "ma": MA_DAYS}[kind]
    if len(bars) < need:
        return _missing(f"needs {need} daily bars, have {len(bars)}")
    if kind == "adx":
        series = measures.adx(bars["high"], bars["low"], bars["close"], 14)
    elif kind == "rsi":
        series = measures.rsi(bars["close"], 14)
    else:
        price = inputs.index_price or float(bars["close"].iloc[-1])
        series = price - measures.sma(bars["close"], MA_DAYS)
    value = float(series.iloc[-1])
    if not math.isfinite(value):
        return _missing(f"{kind} undefined on these bars")
    end = _ts(bars.index[-1])
    start = _ts(bars.index[-need]) if kind == "ma" else _ts(bars.index[0])
    stale = inputs.as_of - end > inputs.staleness.daily
    return _Measure(value, "", start, end, stale, "daily bars")


def _funding(inputs: MarketInputs) -> _Measure:
    if inputs.funding_rate is None or not math.isfinite(inputs.funding_rate):
        return _missing("no perpetual funding")
    when = inputs.funding_time or inputs.as_of
    stale = inputs.as_of - when > inputs.staleness.funding
    return _Measure(inputs.funding_rate, "", when, when, stale, "perpetual")


def _combine(
    name: str, parts: dict[str, _Measure], value: float | None, label: str = ""
) -> SensorReading:
    missing = [f"{key}: {m.reason}" for key, m in parts.items() if m.value is None]
    starts = [m.start for m in parts.values() if m.start is not None]
    ends = [m.end for m in parts.values() if m.end is not None]
    notes = sorted({m.reason for m in parts.values() if m.value is not None and m.reason})
    return SensorReading(
        name=name,
        value=None if missing or value is None else value,
        reason="; ".join(missing) if missing else "; ".join(notes),
        inputs_from=min(starts) if starts else None,
        inputs_to=max(ends) if ends else None,
        stale=any(m.stale for m in parts.values()),
        source=label or " + ".join(sorted({m.source for m in parts.values() if m.source})),
        inputs={key: m.value for key, m in parts.items()},
    )


def _diff(a: _Measure, b: _Measure) -> float | None:
    return None if a.value is None or b.value is None else a.value - b.value


def _ratio(a: _Measure, b: _Measure) -> float | None:
    if a.value is None or b.value is None or b.value <= 0:
        return None
    return a.value / b.value


def sensors_compute(inputs: MarketInputs) -> SensorSet:
    """Compute the eleven sensors of one underlying from its market inputs."""
    iv7, iv30, skew = _chain_ivs(inputs)
    rv7, rv30 = _realized(inputs, 7), _realized(inputs, 30)
    rank = _iv_rank(inputs, iv30)
    adx, rsi, ma = (_daily_indicator(inputs, k) for k in ("adx", "rsi", "ma"))
    funding = _funding(inputs)
    readings = (
        _combine("vrp_30d", {"iv_30d": iv30, "rv_30d": rv30}, _diff(iv30, rv30)),
        _combine("vrp_7d", {"iv_7d": iv7, "rv_7d": rv7}, _diff(iv7, rv7)),
        _combine("front_rv_iv_ratio", {"rv_7d": rv7, "iv_7d": iv7}, _ratio(rv7, iv7)),
        _combine("chop_factor_7d", {"rv_7d": rv7, "iv_30d": iv30}, _ratio(rv7, iv30)),
        _combine("iv_rank_6m", {"iv_rank": rank}, rank.value),
        _combine("term_structure_spread", {"iv_7d": iv7, "iv_30d": iv30}, _diff(iv7, iv30)),
        _combine("skew_25d", {"skew_25d": skew}, skew.value),
        _combine("adx_14d", {"adx_14d": adx}, adx.value),
        _combine("rsi_14d", {"rsi_14d": rsi}, rsi.value),
        _combine("price_vs_ma200", {"price_vs_ma200": ma}, ma.value),
        _combine("predicted_funding_rate", {"funding_8h": funding}, funding.value),
    )
    assert tuple(r.name for r in readings) == SENSOR_NAMES
    return SensorSet(underlying=inputs.underlying, as_of=inputs.as_of, readings=readings)

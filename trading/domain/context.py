"""Market context of one underlying: recent returns, realized volatility and a regime label.

Why: the rule policy screens calls on IV/RV (`rv_30d` here is its RV), the LLM and the chat
read the context to explain a decision ("BTC is up 12% in 30 days, trending"), and every
decision logs it for ML/RL. It is computed from a plain price series (index or perpetual
closes) of any regular sampling (hourly, daily, ...) indexed by UTC timestamps.

Definitions:

* returns over N days: price now / price at or before (now - N days) - 1, in percent;
* realized volatility over N days: close-to-close, annualised, as a fraction (0.45 = 45%), from
  `trading.domain.measures` on the samples inside the window;
* regime (the seed's rule): **bull** when the price is more than 5% above its long moving average
  (200 days, or all the history there is) and up more than 10% over 30 days; **bear** when more
  than 5% below and down more than 10%; otherwise **sideways**;
* vol trend: RV 7d over RV 30d: at or above 1.25 **rising**, at or below 0.8 **falling**, else
  **stable**.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from trading.domain.measures import realized_vol_close_to_close

DAYS_PER_YEAR = 365.0


class Regime(StrEnum):
    """Trend regime of the underlying (seed labels)."""

    BULL = "bull"
    BEAR = "bear"
    SIDEWAYS = "sideways"


class VolTrend(StrEnum):
    """Whether short-term realized volatility runs above or below the monthly one."""

    RISING = "rising"
    STABLE = "stable"
    FALLING = "falling"


class ContextParams(BaseModel):
    """Windows and thresholds of the context (defaults: the seed's)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ma_short_days: float = Field(default=50.0, gt=0)
    ma_long_days: float = Field(default=200.0, gt=0)
    trend_pct: float = Field(default=5.0, ge=0, description="distance from the long MA, percent")
    trend_return_30d_pct: float = Field(default=10.0, ge=0)
    vol_rising_ratio: float = Field(default=1.25, gt=1.0)
    vol_falling_ratio: float = Field(default=0.8, gt=0.0, lt=1.0)


class MarketContext(BaseModel):
    """Returns (percent), realized vols (annualised fractions) and regime labels at `as_of`.

    A field is None when the series does not reach back far enough to compute it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    underlying: str
    as_of: datetime
    last_price_usd: float
    return_1d_pct: float | None
    return_7d_pct: float | None
    return_30d_pct: float | None
    rv_7d: float | None
    rv_30d: float | None
    pct_from_ma_short: float | None
    pct_from_ma_long: float | None
    ma_long_days_used: float
    regime: Regime
    vol_trend: VolTrend | None
    history_days: float
    sample_hours: float

    @field_validator("as_of")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.utcoffset() is None:
            raise ValueError("as_of must be timezone-aware (UTC)")
        return value

    @property
    def rv_7d_pct(self) -> float | None:
        """RV 7d in percent (for people)."""
        return None if self.rv_7d is None else 100.0 * self.rv_7d

    @property
    def rv_30d_pct(self) -> float | None:
        """RV 30d in percent (for people)."""
        return None if self.rv_30d is None else 100.0 * self.rv_30d

    def summary(self) -> str:
        """One line for logs, chat and prompts."""

        def pct(value: float | None) -> str:
            return "n/a" if value is None else f"{value:+.1f}%"

        def vol(value: float | None) -> str:
            return "n/a" if value is None else f"{100 * value:.0f}%"

        return (
            f"{self.underlying} {self.last_price_usd:,.0f} USD, {self.regime.value}"
            f" (1d {pct(self.return_1d_pct)}, 7d {pct(self.return_7d_pct)}, 30d "
            f"{pct(self.return_30d_pct)}), RV 7d {vol(self.rv_7d)} / 30d {vol(self.rv_30d)}"
            + (f", vol {self.vol_trend.value}" if self.vol_trend else "")
        )


def _clean_series(prices: pd.Series, as_of: datetime | None) -> pd.Series:
    series = prices.dropna()
    series = series[series > 0]
    index = pd.DatetimeIndex(series.index)
    if index.tz is None:
        raise ValueError("the price series must be indexed by timezone-aware (UTC) timestamps")
    series = pd.Series(series.to_numpy(dtype=float), index=index.tz_convert("UTC")).sort_index()
    series = series[~series.index.duplicated(keep="last")]
    if as_of is not None:
        series = series[series.index <= pd.Timestamp(as_of)]
    if len(series) < 2:
        raise ValueError("need at least two positive prices to build a market context")
    return series


def _price_back(series: pd.Series, now: pd.Timestamp, days: float) -> float | None:
    target = now - pd.Timedelta(days=days)
    if series.index[0] > target:
        return None
    return float(series.asof(target))


def _return_pct(series: pd.Series, now: pd.Timestamp, days: float) -> float | None:
    past = _price_back(series, now, days)
    return None if past is None else (float(series.iloc[-1]) / past - 1.0) * 100.0


def _rv(series: pd.Series, now: pd.Timestamp, days: float, periods_per_year: float) -> float | None:
    start = now - pd.Timedelta(days=days)
    if series.index[0] > start:
        return None
    first = int(series.index.searchsorted(start, side="right")) - 1
    window = series.iloc[max(first, 0) :]
    if len(window) < 3:
        return None
    rolling = realized_vol_close_to_close(window, len(window) - 1, periods_per_year)
    value = float(rolling.iloc[-1])
    return value if np.isfinite(value) else None


def _pct_from_ma(series: pd.Series, now: pd.Timestamp, days: float) -> float | None:
    window = series[series.index > now - pd.Timedelta(days=days)]
    if len(window) == 0:
        return None
    return (float(series.iloc[-1]) / float(window.mean()) - 1.0) * 100.0


def classify_regime(
    pct_from_ma_long: float | None, return_30d_pct: float | None, params: ContextParams
) -> Regime:
    """The seed's trend rule (unknown inputs give SIDEWAYS)."""
    if pct_from_ma_long is None or return_30d_pct is None:
        return Regime.SIDEWAYS
    if pct_from_ma_long > params.trend_pct and return_30d_pct > params.trend_return_30d_pct:
        return Regime.BULL
    if pct_from_ma_long < -params.trend_pct and return_30d_pct < -params.trend_return_30d_pct:
        return Regime.BEAR
    return Regime.SIDEWAYS


def classify_vol_trend(
    rv_7d: float | None, rv_30d: float | None, params: ContextParams
) -> VolTrend | None:
    """RV 7d against RV 30d (None when either is unknown)."""
    if rv_7d is None or rv_30d is None or rv_30d <= 0:
        return None
    ratio = rv_7d / rv_30d
    if ratio >= params.vol_rising_ratio:
        return VolTrend.RISING
    if ratio <= params.vol_falling_ratio:
        return VolTrend.FALLING
    return VolTrend.STABLE


def market_context(
    prices: pd.Series,
    *,
    underlying: str,
    as_of: datetime | None = None,
    params: ContextParams | None = None,
) -> MarketContext:
    """Build the market context from prices (USD) indexed by UTC timestamps, as of `as_of`
    (default: the last sample). Samples after `as_of` are ignored (no look-ahead)."""
    cfg = params or ContextParams()
    series = _clean_series(prices, as_of)
    now = pd.Timestamp(as_of) if as_of is not None else series.index[-1]
    span_days = (now - series.index[0]) / pd.Timedelta(days=1)
    step = pd.Series(series.index).diff().dropna().median()
    sample_hours = step / pd.Timedelta(hours=1)
    periods_per_year = DAYS_PER_YEAR * 24.0 / sample_hours
    ma_long_days = min(cfg.ma_long_days, span_days)
    rv_7d = _rv(series, now, 7, periods_per_year)
    rv_30d = _rv(series, now, 30, periods_per_year)
    return_30d = _return_pct(series, now, 30)
    from_long = _pct_from_ma(series, now, ma_long_days)
    return MarketContext(
        underlying=underlying.upper(),
        as_of=now.to_pydatetime(),
        last_price_usd=float(series.iloc[-1]),
        return_1d_pct=_return_pct(series, now, 1),
        return_7d_pct=_return_pct(series, now, 7),
        return_30d_pct=return_30d,
        rv_7d=rv_7d,
        rv_30d=rv_30d,
        pct_from_ma_short=_pct_from_ma(series, now, cfg.ma_short_days),
        pct_from_ma_long=from_long,
        ma_long_days_used=float(ma_long_days),
        regime=classify_regime(from_long, return_30d, cfg),
        vol_trend=classify_vol_trend(rv_7d, rv_30d, cfg),
        history_days=float(span_days),
        sample_hours=float(sample_hours),
    )


def context_age(context: MarketContext, now: datetime) -> timedelta:
    """How old the context is at `now` (feeds the health guard's data-freshness check)."""
    return now - context.as_of

"""Hourly option chains priced from a spot path and an ATM-IV path with the market model.

Both the synthetic source (paths from `MarketModel` itself) and the Deribit-history source
(paths from index candles and DVOL) turn an `HourlyPath` into chains the same way: Deribit's
listing calendar (`listed_expiries`), the model's strike lattice (`strike_grid`), its smile and
term structure (`smile_iv`), Black-76 and its bid/ask rule (`quote_bid_ask`), all in one
vectorised pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import numpy as np
import numpy.typing as npt

from backtests.domain.panel import ChainPanel, IntArray, build_panel
from backtests.domain.sources.base import clip_provenance
from backtests.domain.types import BoolArray, DataProvenance, FloatArray
from trading.domain import black76
from trading.domain.instruments import format_instrument, listed_expiries
from trading.domain.market_model import (
    CurrencyModelParams,
    MarketModelParams,
    quote_bid_ask,
    smile_iv,
    strike_grid,
)

SECONDS_PER_HOUR = 3600.0
SECONDS_PER_YEAR = 365.0 * 86_400.0


@dataclass(frozen=True, slots=True)
class HourlyPath:
    """An hourly market path: times (epoch s), index (USD), 30-day ATM IV and realised vol."""

    times: FloatArray
    spot_usd: FloatArray
    atm_iv: FloatArray
    rv: FloatArray


@dataclass(frozen=True, slots=True)
class _ExpiryRows:
    expiry_ts: float
    strikes: FloatArray
    row_time: IntArray
    row_strike: IntArray


@dataclass(frozen=True, slots=True)
class ChainPricer:
    """Prices the calls (optionally puts) listed along an `HourlyPath` with the market model.

    To keep a year near a million marks, an expiry's strikes enter once they come within
    `band_sd_itm` standard deviations below or `band_sd_otm` above the forward (call deltas of
    about 0.69 to 0.006 at the defaults) and then stay until expiry, so every call that could be
    sold keeps its complete path however far spot moves afterwards.
    """

    params: MarketModelParams
    max_dte_days: float = 35.0
    include_puts: bool = False
    band_sd_itm: float = 0.5
    band_sd_otm: float = 2.5

    def panel(self, underlying: str, path: HourlyPath, provenance: DataProvenance) -> ChainPanel:
        """Price every listed option of the path into a panel."""
        cp = self.params.currencies[underlying]
        return self._price(underlying, cp, path, self._expiry_rows(cp, path), provenance)

    def _listing_times(self, path: HourlyPath) -> dict[float, int]:
        """First path index at which each expiry is listed (the calendar changes at 08:00)."""
        listed: dict[float, int] = {}
        hours = (path.times // SECONDS_PER_HOUR).astype(np.int64) % 24
        checkpoints = np.union1d([0], np.flatnonzero(hours == 8))
        for index in checkpoints.tolist():
            now = datetime.fromtimestamp(float(path.times[index]), tz=UTC)
            for expiry in listed_expiries(
                now,
                dailies=self.params.dailies,
                weeklies=self.params.weeklies,
                monthlies=self.params.monthlies,
                quarterlies=self.params.quarterlies,
            ):
                listed.setdefault(expiry.timestamp(), index)
        return listed

    def _expiry_rows(self, cp: CurrencyModelParams, path: HourlyPath) -> list[_ExpiryRows]:
        out: list[_ExpiryRows] = []
        horizon = self.max_dte_days * 86_400.0
        for expiry_ts, listed_at in sorted(self._listing_times(path).items()):
            first = max(listed_at, int(np.searchsorted(path.times, expiry_ts - horizon)))
            stop = int(np.searchsorted(path.times, expiry_ts, side="left"))
            window = np.arange(first, stop, dtype=np.int64)
            if len(window):
                out.append(self._lattice(cp, path, expiry_ts, listed_at, window))
        return out

    def _lattice(
        self,
        cp: CurrencyModelParams,
        path: HourlyPath,
        expiry_ts: float,
        listed_at: int,
        window: IntArray,
    ) -> _ExpiryRows:
        """Strikes of one expiry: the grid at listing, extended (never shrunk) as spot moves."""
        t_listed = (expiry_ts - path.times[listed_at]) / SECONDS_PER_YEAR
        initial = strike_grid(
            float(path.spot_usd[listed_at]),
            float(path.atm_iv[listed_at]),
            t_listed,
            count=cp.strikes_per_expiry,
            range_sd=cp.strike_range_sd,
        )
        step = float(np.min(np.diff(initial))) if len(initial) > 1 else float(initial[0])
        t_years = (expiry_ts - path.times[window]) / SECONDS_PER_YEAR
        width = cp.strike_range_sd * path.atm_iv[window] * np.sqrt(np.maximum(t_years, 7 / 365))
        spot = path.spot_usd[window]
        low = np.ceil(spot * np.exp(-width) / step) * step
        high = np.floor(spot * np.exp(np.minimum(width, math.log(4.0))) / step) * step
        low_bound = np.minimum(np.minimum.accumulate(low), initial[0])
        high_bound = np.maximum(np.maximum.accumulate(high), initial[-1])
        strikes = np.arange(max(low_bound.min(), step), high_bound.max() + step / 2, step)
        # Only strikes that have been within the tradable band (see class docstring) so far:
        # the cuts move monotonically, so a call once sellable keeps its whole path.
        sd = path.atm_iv[window] * np.sqrt(np.maximum(t_years, 1 / 8760))
        lower_cut = np.minimum.accumulate(spot * np.exp(-self.band_sd_itm * sd))
        upper_cut = np.maximum.accumulate(spot * np.exp(self.band_sd_otm * sd))
        low_edge = np.maximum(low_bound - step / 2, lower_cut - step)
        high_edge = np.minimum(high_bound + step / 2, upper_cut + step)
        listed = (strikes[None, :] >= low_edge[:, None]) & (strikes[None, :] <= high_edge[:, None])
        time_pos, strike_pos = np.nonzero(listed)
        return _ExpiryRows(
            expiry_ts=expiry_ts,
            strikes=strikes,
            row_time=window[time_pos].astype(np.int64),
            row_strike=strike_pos.astype(np.int64),
        )

    def _instruments(
        self, underlying: str, expiry_rows: list[_ExpiryRows]
    ) -> tuple[npt.NDArray[np.object_], FloatArray, FloatArray, BoolArray, IntArray, IntArray]:
        """Instrument columns plus each row's time and instrument index."""
        types = (True, False) if self.include_puts else (True,)
        names: list[str] = []
        strikes: list[FloatArray] = []
        expiries: list[FloatArray] = []
        calls: list[BoolArray] = []
        row_time: list[IntArray] = []
        row_instrument: list[IntArray] = []
        offset = 0
        for block in expiry_rows:
            moment = datetime.fromtimestamp(block.expiry_ts, tz=UTC)
            n = len(block.strikes)
            for is_call in types:
                names.extend(_names(underlying, moment, block.strikes, is_call))
                strikes.append(block.strikes)
                expiries.append(np.full(n, block.expiry_ts))
                calls.append(np.full(n, is_call))
                row_time.append(block.row_time)
                row_instrument.append(block.row_strike + offset)
                offset += n
        return (
            np.array(names, dtype=object),
            np.concatenate(strikes),
            np.concatenate(expiries),
            np.concatenate(calls),
            np.concatenate(row_time),
            np.concatenate(row_instrument),
        )

    def _price(
        self,
        underlying: str,
        cp: CurrencyModelParams,
        path: HourlyPath,
        expiry_rows: list[_ExpiryRows],
        provenance: DataProvenance,
    ) -> ChainPanel:
        if not expiry_rows:
            raise ValueError("no option expiries inside the requested period")
        names, strike, expiry_ts, is_call, row_time, row_instrument = self._instruments(
            underlying, expiry_rows
        )
        k = strike[row_instrument]
        t_years = np.maximum(
            (expiry_ts[row_instrument] - path.times[row_time]) / SECONDS_PER_YEAR, 1e-9
        )
        forward = path.spot_usd[row_time] * np.exp(cp.basis_per_year * t_years)
        # smile_iv broadcasts elementwise, so one ATM level per row prices every hour at once.
        atm_rows = cast(float, path.atm_iv[row_time])
        sigma = smile_iv(atm_rows, cp, k, t_years, forward)
        calls = is_call[row_instrument]
        g = black76.greeks(forward, k, t_years, sigma, calls)
        mark = np.maximum(g.price / forward, 0.0)
        abs_z = np.abs(np.log(k / forward) / (sigma * np.sqrt(t_years)))
        bid, ask = quote_bid_ask(mark, g.vega / forward, abs_z, t_years * 365.0, cp)
        provenance = clip_provenance(provenance, path.times, rows=len(row_time))
        return build_panel(
            underlying=underlying,
            times=path.times,
            spot_usd=path.spot_usd,
            rv=path.rv,
            instrument_name=names,
            strike=strike,
            expiry_ts=expiry_ts,
            is_call=is_call,
            row_time=row_time,
            row_instrument=row_instrument,
            forward_usd=forward,
            mark_coin=mark,
            bid_coin=bid,
            ask_coin=ask,
            iv=sigma,
            open_interest=None,
            provenance=provenance,
            delta=g.delta,
        )


def _names(underlying: str, expiry: datetime, strikes: FloatArray, is_call: bool) -> list[str]:
    """Deribit names of one expiry's strikes (`trading.domain.instruments.format_instrument`)."""
    kind = "C" if is_call else "P"
    return [format_instrument(underlying, expiry, float(k), kind) for k in strikes]

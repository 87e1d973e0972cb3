"""What the model lists and how its quotes are laid out: Deribit-like strike grids, stable
instrument ids, and the columnar `OptionListing` / `OptionQuotes` records (`build_listing`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from trading.domain.instruments import format_instrument
from trading.domain.market_model.units import BoolArray, FloatArray, IntArray


@dataclass
class OptionListing:
    """The options listed for one currency (columnar, sorted by expiry then strike, C then P)."""

    instrument_name: list[str]
    instrument_id: IntArray
    expiry_ms: IntArray
    strike: FloatArray
    is_call: BoolArray
    creation_ms: IntArray


@dataclass
class OptionQuotes:
    """Quotes of every listed option of one currency at one time (arrays aligned with listing).

    Prices in coin, IVs in percent, greeks as Deribit shows them (delta unitless, gamma per USD,
    vega USD per vol point, theta USD per day), amounts in coin; NaN bid/ask means no quote.
    """

    timestamp_ms: int
    listing: OptionListing
    index_price: float
    underlying_price: FloatArray
    t_years: FloatArray
    mark_price: FloatArray
    mark_iv: FloatArray
    best_bid_price: FloatArray
    best_ask_price: FloatArray
    best_bid_amount: FloatArray
    best_ask_amount: FloatArray
    bid_iv: FloatArray
    ask_iv: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray
    rho: FloatArray
    open_interest: FloatArray
    volume: FloatArray
    position: dict[str, int] = field(default_factory=dict)

    def index_of(self, instrument_name: str) -> int:
        """Row of an instrument; KeyError when it is not listed."""
        if not self.position:
            self.position = {n: i for i, n in enumerate(self.listing.instrument_name)}
        return self.position[instrument_name]


def build_listing(currency: str, expiries: Mapping[int, tuple[FloatArray, int]]) -> OptionListing:
    """A call and a put on every strike of every expiry, in `OptionListing` order.

    `expiries` maps an expiry (ms) to its strikes and the time (ms) they were first listed.
    """
    names: list[str] = []
    expiry: list[int] = []
    strikes: list[float] = []
    calls: list[bool] = []
    created: list[int] = []
    for expiry_ms in sorted(expiries):
        grid, created_ms = expiries[expiry_ms]
        moment = datetime.fromtimestamp(expiry_ms / 1000, tz=UTC)
        for strike in grid.tolist():
            for is_call in (True, False):
                names.append(format_instrument(currency, moment, strike, "C" if is_call else "P"))
                expiry.append(expiry_ms)
                strikes.append(strike)
                calls.append(is_call)
                created.append(created_ms)
    ids = np.array([stable_instrument_id(n) for n in names], dtype=np.int64)
    return OptionListing(
        instrument_name=names,
        instrument_id=ids,
        expiry_ms=np.array(expiry, dtype=np.int64),
        strike=np.array(strikes, dtype=np.float64),
        is_call=np.array(calls, dtype=bool),
        creation_ms=np.array(created, dtype=np.int64),
    )


def nice_step(raw: float) -> float:
    """Smallest 1/2/2.5/5 x 10^k at or above `raw` (Deribit-like strike increments)."""
    if raw <= 0:
        raise ValueError("raw step must be positive")
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for mantissa in (1.0, 2.0, 2.5, 5.0, 10.0):
        if mantissa * magnitude >= raw * (1 - 1e-12):
            return mantissa * magnitude
    return 10.0 * magnitude


def strike_grid(
    spot_usd: float, atm_iv: float, t_years: float, *, count: int, range_sd: float
) -> FloatArray:
    """About `count` round strikes spanning +-`range_sd` standard deviations around spot."""
    width = range_sd * atm_iv * math.sqrt(max(t_years, 7 / 365.0))
    low, high = spot_usd * math.exp(-width), spot_usd * math.exp(min(width, math.log(4.0)))
    step = nice_step((high - low) / max(count - 1, 1))
    first = math.ceil(low / step) * step
    strikes = np.arange(first, high + step / 2, step, dtype=np.float64)
    return strikes[strikes > 0]


def stable_instrument_id(name: str) -> int:
    """A stable positive integer id for an instrument name (FNV-1a, 31 bits)."""
    h = 0x811C9DC5
    for ch in name.encode():
        h = ((h ^ ch) * 0x01000193) & 0xFFFFFFFF
    return h & 0x7FFFFFFF

"""The book as numbers: coins held, options, perpetuals, and the market they are valued on."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
import numpy.typing as npt

from trading.domain.black76 import DAYS_PER_YEAR

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Strategy name of the coins held and of perpetual positions in the greeks table.
COINS_STRATEGY = "coins"
PERPETUAL_STRATEGY = "perpetual"


@dataclass(frozen=True, slots=True)
class BookOption:
    """One option position: signed coins (negative when short), its IV and its expiry's forward.

    `iv` is decimal (0.55 is 55%); `forward_usd` is Deribit's `underlying_price` of the expiry
    (the index when unknown); `strike_usd` in USD.
    """

    instrument_name: str
    underlying: str
    expiry: datetime
    strike_usd: float
    is_call: bool
    size: float
    iv: float
    forward_usd: float
    strategy_id: str = "covered_call"


@dataclass(frozen=True, slots=True)
class BookPerpetual:
    """An inverse perpetual position: signed USD size, as Deribit reports it."""

    underlying: str
    size_usd: float
    strategy_id: str = PERPETUAL_STRATEGY


@dataclass(frozen=True, slots=True)
class OptionArrays:
    """The options of a book as aligned numpy arrays (one entry per option), for vectorised use."""

    forward: FloatArray
    strike: FloatArray
    t_years: FloatArray
    iv: FloatArray
    is_call: npt.NDArray[np.bool_]
    size: FloatArray
    underlying_idx: IntArray


@dataclass(frozen=True, slots=True)
class Book:
    """Everything held, valued at `now` on `index_usd` (per underlying).

    `coins` are the coins held per underlying (what covers calls); `equity_usd` is the account's
    equity, the denominator of "loss in % of equity" (None when unknown).
    """

    now: datetime
    index_usd: Mapping[str, float]
    coins: Mapping[str, float] = field(default_factory=dict)
    options: tuple[BookOption, ...] = ()
    perpetuals: tuple[BookPerpetual, ...] = ()
    equity_usd: float | None = None

    @property
    def underlyings(self) -> tuple[str, ...]:
        """Every underlying with a price, sorted (BTC before ETH)."""
        names = set(self.index_usd)
        names |= {o.underlying for o in self.options} | {p.underlying for p in self.perpetuals}
        names |= {c for c, n in self.coins.items() if n}
        return tuple(sorted(n for n in names if self.index_usd.get(n, 0.0) > 0))

    def index_of(self, underlying: str) -> float:
        """Index price of `underlying` in USD (0 when unknown)."""
        return float(self.index_usd.get(underlying, 0.0))

    def option_arrays(self) -> OptionArrays:
        """The options on the book's underlyings as arrays (time to expiry in years from now)."""
        names = self.underlyings
        position = {u: i for i, u in enumerate(names)}
        kept = [o for o in self.options if o.underlying in position and o.size != 0]
        t_days = [max((o.expiry - self.now).total_seconds() / 86_400.0, 0.0) for o in kept]
        return OptionArrays(
            forward=np.array([o.forward_usd for o in kept], dtype=np.float64),
            strike=np.array([o.strike_usd for o in kept], dtype=np.float64),
            t_years=np.array(t_days, dtype=np.float64) / DAYS_PER_YEAR,
            iv=np.array([o.iv for o in kept], dtype=np.float64),
            is_call=np.array([o.is_call for o in kept], dtype=np.bool_),
            size=np.array([o.size for o in kept], dtype=np.float64),
            underlying_idx=np.array([position[o.underlying] for o in kept], dtype=np.int64),
        )

    def with_options(self, added: Iterable[BookOption]) -> Book:
        """The book after trading `added` (signed sizes); same instruments are netted."""
        merged: dict[str, BookOption] = {o.instrument_name: o for o in self.options}
        for trade in added:
            held = merged.get(trade.instrument_name)
            size = trade.size + (held.size if held is not None else 0.0)
            merged[trade.instrument_name] = replace(held or trade, size=size)
        options = tuple(o for o in merged.values() if o.size != 0)
        return replace(self, options=options)


def index_map(book: Book) -> dict[str, float]:
    """{underlying: index} for the book's underlyings."""
    return {u: book.index_of(u) for u in book.underlyings}

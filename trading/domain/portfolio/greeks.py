"""Portfolio greeks: delta, gamma, vega and theta of the whole book, in coin and USD.

Units follow the package convention (`trading.domain.portfolio`): delta in coins, gamma per USD,
vega USD per vol point, theta USD per day, and their USD/coin counterparts at the index.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from trading.domain.black76 import greeks as black76_greeks
from trading.domain.portfolio.book import COINS_STRATEGY, Book


@dataclass(frozen=True, slots=True)
class GreeksRow:
    """The greeks of one slice of the book (an underlying, an expiry, a strategy, or the total).

    Coin fields are None on the `total` row: coins of different underlyings do not add up.
    """

    group: str
    key: str
    underlying: str | None
    delta_usd: float
    gamma_usd: float
    vega_usd: float
    theta_usd: float
    delta_coin: float | None = None
    gamma_coin: float | None = None
    vega_coin: float | None = None
    theta_coin: float | None = None
    positions: int = 0

    def as_record(self) -> dict[str, object]:
        """JSON-ready dict (floats rounded for display)."""
        return {
            "group": self.group,
            "key": self.key,
            "underlying": self.underlying,
            "positions": self.positions,
            "delta_coin": _round(self.delta_coin, 6),
            "delta_usd": _round(self.delta_usd, 2),
            "gamma_coin": _round(self.gamma_coin, 10),
            "gamma_usd": _round(self.gamma_usd, 2),
            "vega_coin": _round(self.vega_coin, 8),
            "vega_usd": _round(self.vega_usd, 2),
            "theta_coin": _round(self.theta_coin, 8),
            "theta_usd": _round(self.theta_usd, 2),
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


@dataclass(frozen=True, slots=True)
class PortfolioGreeks:
    """Rows grouped as `total`, `underlying`, `expiry` and `strategy` (in that order)."""

    rows: tuple[GreeksRow, ...]

    def group(self, name: str) -> tuple[GreeksRow, ...]:
        """Rows of one group."""
        return tuple(r for r in self.rows if r.group == name)

    def row(self, group: str, key: str) -> GreeksRow | None:
        """One row by group and key (None when absent)."""
        return next((r for r in self.rows if r.group == group and r.key == key), None)

    @property
    def total(self) -> GreeksRow:
        """The whole book, USD only."""
        return self.group("total")[0]


# Per-slice accumulator: [delta_coin, gamma_coin, vega_usd, theta_usd, positions]
_Acc = dict[tuple[str, str, str], list[float]]


def portfolio_greeks(book: Book) -> PortfolioGreeks:
    """Greeks of the book by underlying, expiry and strategy, plus the USD total."""
    acc: _Acc = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0, 0.0])
    _add_options(book, acc)
    for underlying in book.underlyings:
        coins = float(book.coins.get(underlying, 0.0))
        if coins:
            for group, key in (("underlying", underlying), ("strategy", COINS_STRATEGY)):
                _bump(acc, (group, key, underlying), (coins, 0.0, 0.0, 0.0))
    for perp in book.perpetuals:
        index = book.index_of(perp.underlying)
        if index <= 0:
            continue
        delta = perp.size_usd / index
        for group, key in (("underlying", perp.underlying), ("strategy", perp.strategy_id)):
            _bump(acc, (group, key, perp.underlying), (delta, 0.0, 0.0, 0.0))
    rows = [_row(book, slice_key, values) for slice_key, values in acc.items()]
    order = {"underlying": 1, "expiry": 2, "strategy": 3}
    rows.sort(key=lambda r: (order[r.group], r.underlying or "", r.key))
    total = GreeksRow(
        group="total",
        key="book",
        underlying=None,
        delta_usd=sum(r.delta_usd for r in rows if r.group == "underlying"),
        gamma_usd=sum(r.gamma_usd for r in rows if r.group == "underlying"),
        vega_usd=sum(r.vega_usd for r in rows if r.group == "underlying"),
        theta_usd=sum(r.theta_usd for r in rows if r.group == "underlying"),
        positions=int(sum(r.positions for r in rows if r.group == "underlying")),
    )
    return PortfolioGreeks(rows=(total, *rows))


def _bump(acc: _Acc, key: tuple[str, str, str], values: tuple[float, float, float, float]) -> None:
    slot = acc[key]
    for i, value in enumerate(values):
        slot[i] += value
    slot[4] += 1


def _add_options(book: Book, acc: _Acc) -> None:
    arrays = book.option_arrays()
    if arrays.size.size == 0:
        return
    g = black76_greeks(arrays.forward, arrays.strike, arrays.t_years, arrays.iv, arrays.is_call)
    size = arrays.size
    per_position = np.stack([g.delta * size, g.gamma * size, g.vega * size, g.theta * size])
    per_position = np.nan_to_num(per_position, nan=0.0, posinf=0.0, neginf=0.0)
    names = book.underlyings
    kept = [o for o in book.options if o.underlying in names and o.size != 0]
    for j, option in enumerate(kept):
        values = (
            float(per_position[0, j]),
            float(per_position[1, j]),
            float(per_position[2, j]),
            float(per_position[3, j]),
        )
        u = option.underlying
        for group, key in (
            ("underlying", u),
            ("expiry", f"{u} {option.expiry:%Y-%m-%d}"),
            ("strategy", option.strategy_id),
        ):
            _bump(acc, (group, key, u), values)


def _row(book: Book, slice_key: tuple[str, str, str], values: list[float]) -> GreeksRow:
    group, key, underlying = slice_key
    index = book.index_of(underlying)
    delta_coin, gamma_coin, vega_usd, theta_usd, count = values
    label = key if group != "strategy" else f"{underlying} {key}"
    return GreeksRow(
        group=group,
        key=label,
        underlying=underlying,
        delta_coin=delta_coin,
        delta_usd=delta_coin * index,
        gamma_coin=gamma_coin,
        gamma_usd=gamma_coin * index * index / 100.0,
        vega_usd=vega_usd,
        vega_coin=vega_usd / index,
        theta_usd=theta_usd,
        theta_coin=theta_usd / index,
        positions=int(count),
    )

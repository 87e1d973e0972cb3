"""One option chain from the exchange's quotes, for the tick and the harvester alike.

`public/get_book_summary_by_currency` returns every instrument of a currency in one request;
the agent's stream holds the same quotes as `ticker` notifications. Either becomes
`ChainQuotes` (the options with an underlying price, as columns, and the newest quote's time),
which `quotes_chain` gives the project's chain shape (`trading.domain.chain.chain_from_quotes`),
stamped with the book's own time (`market_time`). The tick enriches the chain with greeks
(`state.chain_frame`); the calibration harvester stores it as it is (`option_chain`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from trading.deribit.models import BookSummary
from trading.domain.chain import chain_from_quotes

_OPTION_SUFFIXES = ("-C", "-P")


@dataclass(frozen=True)
class ChainQuotes:
    """An underlying's option quotes as columns, before names are parsed and greeks added.

    `columns` holds `underlying_price`, `mark_price`, `best_bid_price`, `best_ask_price`
    (None without a bid or ask), `mark_iv`, `open_interest` and `volume`, one entry per name;
    `newest_ms` is the newest quote's exchange time (0: none has one)."""

    names: list[str]
    columns: dict[str, list[float | None]]
    newest_ms: int = 0


def chain_quotes(rows: Sequence[BookSummary]) -> ChainQuotes:
    """The options among REST book summaries that have an underlying price."""
    kept = [r for r in rows if r.underlying_price and r.instrument_name.endswith(_OPTION_SUFFIXES)]
    return ChainQuotes(
        names=[r.instrument_name for r in kept],
        columns={
            "underlying_price": [r.underlying_price for r in kept],
            "mark_price": [r.mark_price for r in kept],
            "best_bid_price": [r.bid_price for r in kept],
            "best_ask_price": [r.ask_price for r in kept],
            "mark_iv": [r.mark_iv for r in kept],
            "open_interest": [r.open_interest for r in kept],
            "volume": [r.volume for r in kept],
        },
        newest_ms=max((r.creation_timestamp for r in rows), default=0),
    )


def ticker_quotes(tickers: Sequence[dict[str, Any]]) -> ChainQuotes:
    """The options among streamed `ticker` notifications that have an underlying price.

    The same columns as `chain_quotes` of the book summaries of the same market: a side
    without an amount has no price, and the volume is the ticker's `stats.volume`."""
    kept = [
        t
        for t in tickers
        if t.get("underlying_price") and str(t["instrument_name"]).endswith(_OPTION_SUFFIXES)
    ]

    def side(price: str, amount: str) -> list[float | None]:
        return [float(t[price]) if t.get(amount) else None for t in kept]

    return ChainQuotes(
        names=[str(t["instrument_name"]) for t in kept],
        columns={
            "underlying_price": [float(t["underlying_price"]) for t in kept],
            "mark_price": [float(t["mark_price"]) for t in kept],
            "best_bid_price": side("best_bid_price", "best_bid_amount"),
            "best_ask_price": side("best_ask_price", "best_ask_amount"),
            "mark_iv": [t.get("mark_iv") for t in kept],
            "open_interest": [t.get("open_interest") for t in kept],
            "volume": [(t.get("stats") or {}).get("volume") for t in kept],
        },
        newest_ms=max((int(t["timestamp"]) for t in tickers), default=0),
    )


def market_time(newest_ms: int) -> datetime:
    """The market's clock: the newest quote's time; now when no quote has one."""
    if newest_ms <= 0:
        return datetime.now(UTC)
    return datetime.fromtimestamp(newest_ms / 1000, UTC)


def book_market_time(rows: Sequence[BookSummary]) -> datetime:
    """The newest book summary's creation time (the market's clock); now when none has one."""
    return market_time(max((r.creation_timestamp for r in rows), default=0))


def quotes_chain(quotes: ChainQuotes, now: datetime) -> pd.DataFrame:
    """Option quotes as a normalised chain (empty when no option has a price yet); strike,
    expiry and type are parsed from the names."""
    if not quotes.names:
        return pd.DataFrame()
    return chain_from_quotes(now, quotes.names, quotes.columns)


def option_chain(rows: Sequence[BookSummary], now: datetime) -> pd.DataFrame:
    """Book summaries of options as a normalised chain (empty when no option has a price yet).

    Rows that are not options, or have no underlying price yet, are left out."""
    return quotes_chain(chain_quotes(rows), now)

"""One option chain from the exchange's book summaries, for the tick and the harvester alike.

`public/get_book_summary_by_currency` returns every instrument of a currency in one request;
`option_chain` keeps the options with an underlying price and gives them the project's chain
shape (`trading.domain.chain.normalize_chain`), stamped with the book's own time
(`book_market_time`). The tick enriches the chain with greeks (`state.chain_frame`); the
calibration harvester stores it as it is (`calibration.services.chain_fetch`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pandas as pd

from trading.deribit.models import BookSummary
from trading.domain.chain import chain_from_quotes


def book_market_time(rows: Sequence[BookSummary]) -> datetime:
    """The newest book summary's creation time (the market's clock); now when none has one."""
    stamp = max((r.creation_timestamp for r in rows), default=0)
    if stamp <= 0:
        return datetime.now(UTC)
    return datetime.fromtimestamp(stamp / 1000, UTC)


def option_chain(rows: Sequence[BookSummary], now: datetime) -> pd.DataFrame:
    """Book summaries of options as a normalised chain (empty when no option has a price yet).

    Strike, expiry and type are parsed from the names (`chain_from_quotes`, the shape
    `normalize_chain` gives); rows that are not options, or have no underlying price yet, are
    left out.
    """
    kept = [r for r in rows if r.underlying_price and r.instrument_name.endswith(("-C", "-P"))]
    if not kept:
        return pd.DataFrame()
    return chain_from_quotes(
        now,
        [r.instrument_name for r in kept],
        {
            "underlying_price": [r.underlying_price for r in kept],
            "mark_price": [r.mark_price for r in kept],
            "best_bid_price": [r.bid_price for r in kept],
            "best_ask_price": [r.ask_price for r in kept],
            "mark_iv": [r.mark_iv for r in kept],
            "open_interest": [r.open_interest for r in kept],
            "volume": [r.volume for r in kept],
        },
    )

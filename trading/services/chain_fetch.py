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
from trading.domain.chain import normalize_chain


def book_market_time(rows: Sequence[BookSummary]) -> datetime:
    """The newest book summary's creation time (the market's clock); now when none has one."""
    stamp = max((r.creation_timestamp for r in rows), default=0)
    if stamp <= 0:
        return datetime.now(UTC)
    return datetime.fromtimestamp(stamp / 1000, UTC)


def option_chain(rows: Sequence[BookSummary], now: datetime) -> pd.DataFrame:
    """Book summaries of options as a normalised chain (empty when no option has a price yet).

    `normalize_chain` parses strike, expiry and type from the names; rows that are not options,
    or have no underlying price yet, are left out.
    """
    records = [
        {
            "harvest_time": now,
            "instrument_name": r.instrument_name,
            "underlying_price": r.underlying_price,
            "mark_price": r.mark_price,
            "best_bid_price": r.bid_price,
            "best_ask_price": r.ask_price,
            "mark_iv": r.mark_iv,
            "open_interest": r.open_interest,
            "volume": r.volume,
        }
        for r in rows
        if r.underlying_price and r.instrument_name.endswith(("-C", "-P"))
    ]
    if not records:
        return pd.DataFrame()
    return normalize_chain(pd.DataFrame.from_records(records))

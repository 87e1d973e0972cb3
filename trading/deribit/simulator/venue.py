"""The books and the listing as one request sees them: what matching and the portfolio act on."""

from __future__ import annotations

from dataclasses import dataclass

from trading.deribit.simulator.books import SimBooks
from trading.deribit.simulator.instruments import InstrumentSpec
from trading.deribit.simulator.listing import SimListing


@dataclass(frozen=True)
class Venue:
    """The exchange's books and listing at the time of one request (or one market step).

    `now_ms` is the exchange time the request runs at; `in_settlement` is True inside the few
    seconds after 08:00 UTC when the matching engine refuses requests (10041).
    """

    books: SimBooks
    listing: SimListing
    now_ms: int
    in_settlement: bool = False

    def is_live(self, spec: InstrumentSpec) -> bool:
        """True while an instrument trades (options until their expiry)."""
        return spec.expiry_ms > self.now_ms

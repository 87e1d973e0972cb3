"""Small hand-made panels for backtest tests: every number is visible in the test."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from backtests.domain.panel import ChainPanel, build_panel
from backtests.domain.types import DataProvenance

START = datetime(2025, 1, 1, 0, tzinfo=UTC)
HOUR = 3600.0


@dataclass(frozen=True)
class Quote:
    """One option's quote at one hour (prices in coin)."""

    hour: int
    instrument: int
    bid: float
    ask: float
    mark: float
    delta: float = 0.25
    iv: float = 0.5


@dataclass(frozen=True)
class Listing:
    """One listed call."""

    name: str
    strike: float
    expiry: datetime


class HandFees:
    """Deribit's published option fees, written out in the test's own terms.

    Trade: 0.03% of the underlying (0.0003 coin per contract) capped at 12.5% of the price.
    Delivery: 0.015% (0.00015 coin) capped at 12.5% of the option's value.
    """

    def trade_fee_coin(
        self, price_coin: npt.ArrayLike, amount_coin: float
    ) -> npt.NDArray[np.float64]:
        return np.minimum(0.0003, 0.125 * np.asarray(price_coin, dtype=float)) * amount_coin

    def delivery_fee_coin(
        self, value_coin: npt.ArrayLike, amount_coin: float
    ) -> npt.NDArray[np.float64]:
        return np.minimum(0.00015, 0.125 * np.asarray(value_coin, dtype=float)) * amount_coin

    def describe(self) -> str:
        return "hand fees"


def hand_panel(
    *,
    spot: Sequence[float],
    listings: Sequence[Listing],
    quotes: Sequence[Quote],
    rv: float = 0.4,
    forward_premium: float = 0.0,
) -> ChainPanel:
    """A panel with hourly times starting at START and the given quotes."""
    n = len(spot)
    times = START.timestamp() + HOUR * np.arange(n, dtype=np.float64)
    spot_arr = np.asarray(spot, dtype=np.float64)
    row_time = np.array([q.hour for q in quotes], dtype=np.int64)
    return build_panel(
        underlying="BTC",
        times=times,
        spot_usd=spot_arr,
        rv=np.full(n, rv),
        instrument_name=np.array([item.name for item in listings], dtype=object),
        strike=np.array([item.strike for item in listings], dtype=np.float64),
        expiry_ts=np.array([item.expiry.timestamp() for item in listings], dtype=np.float64),
        is_call=np.ones(len(listings), dtype=bool),
        row_time=row_time,
        row_instrument=np.array([q.instrument for q in quotes], dtype=np.int64),
        forward_usd=spot_arr[row_time] * (1 + forward_premium),
        mark_coin=np.array([q.mark for q in quotes]),
        bid_coin=np.array([q.bid for q in quotes]),
        ask_coin=np.array([q.ask for q in quotes]),
        iv=np.array([q.iv for q in quotes]),
        open_interest=None,
        provenance=DataProvenance(source="hand", underlying="BTC", description="test panel"),
        delta=np.array([q.delta for q in quotes]),
    )

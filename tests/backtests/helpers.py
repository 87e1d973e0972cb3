"""Small hand-made panels (and simulators over them) for backtest tests: every number is visible
in the test."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from backtests.domain.panel import ChainPanel, build_panel
from backtests.domain.simulator import CoveredCallSimulator
from backtests.domain.types import (
    BacktestConfig,
    DataProvenance,
    ExitPolicy,
    ExitStyle,
)
from trading.domain.candidates import StrategyParams

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


# --------------------------------------- a covered-call simulator on one or two calls to 2 Jan 2025

EXPIRY = datetime(2025, 1, 2, 8, tzinfo=UTC)  # hour 32 of the panel
CALL = Listing("BTC-2JAN25-100000-C", 100_000.0, EXPIRY)
N_HOURS = 41


# Accept anything: these tests are about exits, fills and accounting, not the filter.
ANY_CALL = StrategyParams(
    delta_min=0.0,
    delta_max=1.0,
    dte_min_days=0.0,
    dte_max_days=100.0,
    ivrv_min=0.0,
    premium_min_usd=0.0,
    explore_prob=0.0,
    explore_top_k=1,
)


def spot_to(final: float) -> list[float]:
    """95,000 at hour 0 moving linearly to `final` at expiry (hour 32), flat afterwards."""
    path = np.interp(np.arange(N_HOURS), [0, 32], [95_000.0, final])
    return path.tolist()


def hand_quotes(
    ask_at: Callable[[int], float], instrument: int = 0, hours: int = 32
) -> list[Quote]:
    """Quotes for hours 0..hours-1: bid 0.0100 / ask 0.0110 at sale, later asks from `ask_at`."""
    quotes = []
    for hour in range(hours):
        ask = 0.0110 if hour == 0 else ask_at(hour)
        bid = 0.0100 if hour == 0 else max(ask - 0.0010, 0.0001)
        quotes.append(Quote(hour, instrument, bid=bid, ask=ask, mark=(bid + ask) / 2))
    return quotes


def one_call_sim(
    final_spot: float, ask_at: Callable[[int], float] = lambda h: 0.0110
) -> CoveredCallSimulator:
    panel = hand_panel(spot=spot_to(final_spot), listings=[CALL], quotes=hand_quotes(ask_at))
    return CoveredCallSimulator(panel, fee_model=HandFees())


def exit_config(
    style: ExitStyle = ExitStyle.HOLD_TO_EXPIRY, **exit_fields: float
) -> BacktestConfig:
    return BacktestConfig(strategy=ANY_CALL, exit=ExitPolicy(style=style, **exit_fields))


def two_call_sim(final_spot: float = 98_000) -> CoveredCallSimulator:
    """Two calls of the same expiry; the 100k call scores better (more premium)."""
    far = Listing("BTC-2JAN25-110000-C", 110_000.0, EXPIRY)
    quotes = hand_quotes(lambda h: 0.0110) + [
        Quote(h, 1, bid=0.0040, ask=0.0050, mark=0.0045) for h in range(32)
    ]
    panel = hand_panel(spot=spot_to(final_spot), listings=[CALL, far], quotes=quotes)
    return CoveredCallSimulator(panel, fee_model=HandFees())

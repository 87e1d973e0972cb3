"""Delivery prices of the simulated exchange: Deribit's 30-minute TWAP of the index before 08:00.

Deribit delivers expiring options at the time-weighted average of the index over the 30 minutes
before 08:00 UTC (reference README §5.2), not at the 08:00 index. The exchange reads the index
every `SETTLEMENT_SAMPLE_S` seconds of market time from 07:30 to 07:59 UTC
(`next_sample_ms`), and `DeliveryLedger.fix` turns the window's samples into the day's delivery
price of each index (`btc_usd`, `eth_usd`) at 08:00.

The clock may jump (a manual clock in tests, `--speed 60`, `clock.set_ms` days ahead), so the
exchange walks the market through every window it crosses one sample time at a time
(`SimulatedExchange._advance_market`). That does not change the random stream: the synthetic
model already advances on its fixed grid (`MarketModel.advance_to`, 60 s by default) whatever
the size of a jump, so stopping at each sample time draws exactly the shocks of one long jump.
The same seed gives the same path, hence the same delivery price, however the clock got there.
A single `MarketModel.step(dt)` over the window would be one draw and a different path; the
exchange never uses it. For the same reason the model's grid must divide the sample step:
`SyntheticMarket` refuses a coarser grid rather than average a window that never moved.

Each sample stands for the minute after it (the exchange shows the market of the last grid
point until the next one), so the plain mean of the samples is the time-weighted mean over
[07:30, 08:00). A window the exchange saw only in part (it started at 07:45) averages what it
saw; with no sample at all (it started after 07:59) the 08:00 index is used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
EXPIRY_HOUR_UTC = 8
SETTLEMENT_WINDOW_S = 30 * 60
SETTLEMENT_SAMPLE_S = 60
KEPT_WINDOWS = 30  # settled windows whose samples stay readable, per index

Sample = tuple[int, float]  # (ms, index price USD)


def index_name(currency: str) -> str:
    """Deribit's USD index of a currency: BTC -> btc_usd."""
    return f"{currency.lower()}_usd"


def next_sample_ms(at_ms: int) -> int:
    """The first index sample time at or after `at_ms`: 07:30, 07:31, ..., 07:59 UTC each day."""
    window_ms = SETTLEMENT_WINDOW_S * 1000
    step_ms = SETTLEMENT_SAMPLE_S * 1000
    settlement_ms = at_ms // DAY_MS * DAY_MS + EXPIRY_HOUR_UTC * HOUR_MS
    opens_ms = settlement_ms - window_ms
    if at_ms <= opens_ms:
        return opens_ms
    steps = -(-(at_ms - opens_ms) // step_ms)  # ceiling: a sample time is never skipped
    candidate = opens_ms + steps * step_ms
    return candidate if candidate < settlement_ms else opens_ms + DAY_MS


def time_weighted_average(prices: Sequence[float]) -> float:
    """Mean of prices sampled at equal steps, each held until the next (so equal weights)."""
    if not prices:
        raise ValueError("no samples to average")
    return math.fsum(prices) / len(prices)


def _day(settlement_ms: int) -> str:
    return datetime.fromtimestamp(settlement_ms / 1000, tz=UTC).strftime("%Y-%m-%d")


@dataclass
class DeliveryLedger:
    """Index samples of the open settlement window, and the delivery prices fixed so far.

    `delivery_prices[index]` lists `(date, price USD)` newest first, as
    `public/get_delivery_prices` returns them; `samples(index, date)` keeps the samples behind
    the last `KEPT_WINDOWS` prices so a test can recompute them.
    """

    open_samples: dict[str, list[Sample]] = field(default_factory=dict)
    delivery_prices: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    settled_samples: dict[str, dict[str, tuple[Sample, ...]]] = field(default_factory=dict)

    def record(self, at_ms: int, index_prices: Mapping[str, float]) -> None:
        """Keep one sample of each index, taken at `at_ms` inside a settlement window."""
        for name, price in index_prices.items():
            self.open_samples.setdefault(name, []).append((at_ms, float(price)))

    def fix(self, settlement_ms: int, index_now: Mapping[str, float]) -> dict[str, float]:
        """Close the window ending at `settlement_ms`: each index's delivery price (USD, 2 dp).

        `index_now` is the index at `settlement_ms`, used only when the window has no sample.
        """
        day = _day(settlement_ms)
        opens_ms = settlement_ms - SETTLEMENT_WINDOW_S * 1000
        fixed: dict[str, float] = {}
        for name, price_now in index_now.items():
            window = tuple(
                s for s in self.open_samples.pop(name, []) if opens_ms <= s[0] < settlement_ms
            )
            prices = [price for _, price in window]
            delivery = round(time_weighted_average(prices) if prices else price_now, 2)
            self.delivery_prices.setdefault(name, []).insert(0, (day, delivery))
            kept = self.settled_samples.setdefault(name, {})
            kept[day] = window
            for old in sorted(kept)[:-KEPT_WINDOWS]:
                del kept[old]
            fixed[name] = delivery
        return fixed

    def samples(self, index: str, day: str) -> tuple[Sample, ...]:
        """The index samples behind a recent delivery price (empty if none were kept)."""
        return self.settled_samples.get(index, {}).get(day, ())

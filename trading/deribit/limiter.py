"""Client-side credit limiter mirroring Deribit's leaky-bucket rate limits.

Deribit answers 10028 and ends the session when a credit pool runs dry, so the client paces
itself below the published limits instead of discovering them: non-matching-engine requests
20/s with a burst of 100, matching-engine requests 5/s with a burst of 20 (tier 4), and
`public/get_instruments` 1 per 10 s with a burst of 5.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class RequestClass(StrEnum):
    """Which Deribit credit pool a request draws from."""

    NON_MATCHING = "non_matching"
    MATCHING = "matching"
    INSTRUMENTS = "instruments"


#: Methods that go through the matching engine (orders, edits, cancels).
MATCHING_ENGINE_METHODS: frozenset[str] = frozenset(
    {
        "private/buy",
        "private/sell",
        "private/edit",
        "private/edit_by_label",
        "private/cancel",
        "private/cancel_all",
        "private/cancel_all_by_currency",
        "private/cancel_all_by_instrument",
        "private/cancel_by_label",
        "private/close_position",
    }
)


def request_class(method: str) -> RequestClass:
    """The credit pool a JSON-RPC method such as `private/buy` draws from."""
    if method in MATCHING_ENGINE_METHODS:
        return RequestClass.MATCHING
    if method == "public/get_instruments":
        return RequestClass.INSTRUMENTS
    return RequestClass.NON_MATCHING


class LimiterConfig(BaseModel):
    """Sustained rates (requests per second) and bursts per credit pool."""

    model_config = ConfigDict(frozen=True)

    non_matching_rate_per_s: float = Field(default=20.0, gt=0)
    non_matching_burst: float = Field(default=100.0, ge=1)
    matching_rate_per_s: float = Field(default=5.0, gt=0)
    matching_burst: float = Field(default=20.0, ge=1)
    instruments_rate_per_s: float = Field(default=0.1, gt=0)
    instruments_burst: float = Field(default=5.0, ge=1)
    headroom: float = Field(
        default=0.9,
        gt=0,
        le=1,
        description="fraction of each limit the client uses: network jitter can make a paced "
        "request arrive before the exchange's bucket has refilled",
    )

    def rate_and_burst(self, pool: RequestClass) -> tuple[float, float]:
        """(rate per second, burst) of one pool."""
        if pool is RequestClass.MATCHING:
            return self.matching_rate_per_s, self.matching_burst
        if pool is RequestClass.INSTRUMENTS:
            return self.instruments_rate_per_s, self.instruments_burst
        return self.non_matching_rate_per_s, self.non_matching_burst

    def paced(self, pool: RequestClass) -> tuple[float, float]:
        """(rate, burst) the client paces itself to: the limits times `headroom`."""
        rate, burst = self.rate_and_burst(pool)
        return rate * self.headroom, max(1.0, burst * self.headroom)


class TokenBucket:
    """A thread-safe token bucket: `rate_per_s` tokens refill continuously up to `burst`."""

    def __init__(
        self,
        rate_per_s: float,
        burst: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._updated_s = clock()
        self._lock = threading.Lock()

    def _refill(self, now_s: float) -> None:
        elapsed_s = max(0.0, now_s - self._updated_s)
        self._tokens = min(self.burst, self._tokens + elapsed_s * self.rate_per_s)
        self._updated_s = now_s

    def reserve(self, cost: float = 1.0) -> float:
        """Take `cost` tokens now (possibly going into debt); return seconds to wait before use."""
        with self._lock:
            self._refill(self._clock())
            self._tokens -= cost
            if self._tokens >= 0:
                return 0.0
            return -self._tokens / self.rate_per_s

    def try_take(self, cost: float = 1.0) -> bool:
        """Take `cost` tokens if available without waiting; False when the pool is dry."""
        with self._lock:
            self._refill(self._clock())
            if self._tokens >= cost:
                self._tokens -= cost
                return True
            return False

    @property
    def tokens(self) -> float:
        """Tokens available right now."""
        with self._lock:
            self._refill(self._clock())
            return self._tokens


class CreditLimiter:
    """Paces requests per Deribit credit pool; `acquire(method)` blocks until it may be sent."""

    def __init__(
        self,
        config: LimiterConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config or LimiterConfig()
        self._sleep = sleep
        self._buckets = {
            pool: TokenBucket(*self.config.paced(pool), clock=clock) for pool in RequestClass
        }
        self.waited_s = 0.0

    def acquire(self, method: str) -> float:
        """Wait until `method` may be sent without exceeding its pool; return the seconds waited."""
        pool = request_class(method)
        wait_s = self._buckets[pool].reserve()
        if pool is RequestClass.INSTRUMENTS:
            # get_instruments also costs ordinary non-matching credits.
            wait_s = max(wait_s, self._buckets[RequestClass.NON_MATCHING].reserve())
        if wait_s > 0:
            self.waited_s += wait_s
            self._sleep(wait_s)
        return wait_s


class NoLimiter(CreditLimiter):
    """A limiter that never waits (tests that want to provoke the exchange's own 10028)."""

    def acquire(self, method: str) -> float:
        """Return immediately."""
        return 0.0

"""The client-side credit limiter paces each Deribit credit pool on its own."""

from __future__ import annotations

import pytest

from trading.deribit.limiter import (
    CreditLimiter,
    LimiterConfig,
    RequestClass,
    TokenBucket,
    request_class,
)


class FakeTime:
    """A clock that only moves when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(fake: FakeTime, **fields: float) -> CreditLimiter:
    config = LimiterConfig(headroom=1.0, **fields)
    return CreditLimiter(config, clock=fake.clock, sleep=fake.sleep)


def test_it_lets_a_full_burst_through_then_paces_at_the_sustained_rate() -> None:
    fake = FakeTime()
    pacer = limiter(fake)
    for _ in range(100):
        assert pacer.acquire("public/ticker") == 0.0
    assert pacer.acquire("public/ticker") == pytest.approx(1 / 20)
    assert pacer.acquire("public/ticker") == pytest.approx(1 / 20)
    assert fake.now == pytest.approx(0.1)


def test_it_paces_matching_engine_calls_separately() -> None:
    fake = FakeTime()
    pacer = limiter(fake)
    for _ in range(100):
        pacer.acquire("public/ticker")
    for _ in range(20):
        assert pacer.acquire("private/sell") == 0.0  # its own pool is still full
    assert pacer.acquire("private/cancel") == pytest.approx(1 / 5)


def test_it_allows_get_instruments_five_times_then_one_per_ten_seconds() -> None:
    fake = FakeTime()
    pacer = limiter(fake)
    for _ in range(5):
        assert pacer.acquire("public/get_instruments") == 0.0
    assert pacer.acquire("public/get_instruments") == pytest.approx(10.0)


def test_it_keeps_headroom_below_the_published_limits() -> None:
    fake = FakeTime()
    pacer = CreditLimiter(LimiterConfig(), clock=fake.clock, sleep=fake.sleep)
    waits = [pacer.acquire("public/ticker") for _ in range(91)]
    assert waits[:90] == [0.0] * 90
    assert waits[90] > 0


def test_it_classifies_methods_by_credit_pool() -> None:
    assert request_class("private/buy") is RequestClass.MATCHING
    assert request_class("private/cancel_by_label") is RequestClass.MATCHING
    assert request_class("private/get_positions") is RequestClass.NON_MATCHING
    assert request_class("public/get_instruments") is RequestClass.INSTRUMENTS


def test_a_bucket_refuses_when_dry_and_refills_over_time() -> None:
    fake = FakeTime()
    bucket = TokenBucket(rate_per_s=2.0, burst=2.0, clock=fake.clock)
    assert bucket.try_take()
    assert bucket.try_take()
    assert not bucket.try_take()
    fake.now += 0.5
    assert bucket.try_take()

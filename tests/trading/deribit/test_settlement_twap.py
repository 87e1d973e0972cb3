"""Options expire at Deribit's delivery price: the index's time-weighted average over the 30
minutes before 08:00 UTC, whatever jumps the simulated clock makes.

The expected numbers come from a fresh `MarketModel` with the exchange's seed and start, walked
minute by minute through each window here in the test (the model's path depends only on the
seed and its 60 s grid), not from the exchange's own sampling code.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.trading.deribit.conftest import SIM_START, make_client, make_exchange
from trading.deribit.client import DeribitClient
from trading.deribit.simulator import SimulatedExchange, SyntheticMarket
from trading.deribit.simulator.dispatch import handle
from trading.deribit.simulator.settlement import next_sample_ms
from trading.domain.instruments import format_expiry_code
from trading.domain.market_model import MarketModel, MarketModelParams, default_currency_params

SEED = 42
MINUTE_MS = 60_000
SATOSHI = Decimal("0.00000001")
# Realized vol six times implied: the index crosses a listed strike within half an hour on
# most days, so a day where the 08:00 index and the window's average straddle one turns up.
WILD = MarketModelParams(currencies=default_currency_params({"BTC": 6.0, "ETH": 6.0}))
DAYS = [datetime(2025, 12, day, 8, tzinfo=UTC) for day in range(11, 20)]


def ms(moment: datetime) -> int:
    """An aware datetime as ms since the epoch."""
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class Window:
    """One currency's index through the 30 minutes before an 08:00 settlement, and at 08:00."""

    currency: str
    settlement: datetime
    sample_ms: tuple[int, ...]
    samples: tuple[float, ...]
    index_at_eight: float

    @property
    def twap(self) -> float:
        """Samples one minute apart, each held for its minute: the plain mean."""
        return math.fsum(self.samples) / len(self.samples)


def model_windows(params: MarketModelParams | None, days: Iterable[datetime]) -> list[Window]:
    """Each settlement window as a fresh model with the exchange's seed walks it (no exchange)."""
    model = MarketModel(params, seed=SEED, start=SIM_START)
    windows: list[Window] = []
    for settlement in days:
        times = [ms(settlement - timedelta(minutes=30 - m)) for m in range(30)]
        samples: dict[str, list[float]] = {c: [] for c in model.currencies}
        for at_ms in times:
            model.advance_to(at_ms)
            for currency in model.currencies:
                samples[currency].append(model.spot(currency))
        model.advance_to(ms(settlement))
        windows.extend(
            Window(c, settlement, tuple(times), tuple(samples[c]), model.spot(c))
            for c in model.currencies
        )
    return windows


def delivery_prices(exchange: SimulatedExchange, index: str) -> list[tuple[str, float]]:
    """`public/get_delivery_prices` of the exchange, newest first."""
    reply = handle(exchange, "public/get_delivery_prices", {"index_name": index, "count": 50})
    return [(row["date"], row["delivery_price"]) for row in reply["data"]]


def run(jumps_s: Sequence[float], *, seed: int = SEED) -> list[tuple[str, float]]:
    """BTC delivery prices after moving a fresh exchange's clock by `jumps_s`, one request each."""
    exchange = make_exchange(seed=seed)
    for jump in jumps_s:
        exchange.clock.advance(jump)
        handle(exchange, "public/get_time", {})
    return delivery_prices(exchange, "btc_usd")


def test_it_delivers_at_the_mean_of_the_index_over_the_half_hour_before_eight() -> None:
    exchange = make_exchange()
    exchange.clock.set_ms(ms(DAYS[1]) + 1000)  # one jump over two settlements
    handle(exchange, "public/get_time", {})

    for window in model_windows(None, DAYS[:2]):
        index, day = f"{window.currency.lower()}_usd", f"{window.settlement:%Y-%m-%d}"
        recorded = exchange.deliveries.samples(index, day)
        assert [t for t, _ in recorded] == list(window.sample_ms)
        assert tuple(p for _, p in recorded) == window.samples
        delivered = dict(delivery_prices(exchange, index))[day]
        assert delivered == round(window.twap, 2)
        assert delivered == round(math.fsum(p for _, p in recorded) / len(recorded), 2)
        assert delivered != round(window.index_at_eight, 2)  # not the 08:00 index


def test_the_same_seed_and_clock_jumps_give_the_same_delivery_prices() -> None:
    # Into the first window at 07:45:30, through it in uneven steps, then days at a time.
    jumps = [81_930.0, 7 * 60 + 13, 7 * 60 + 13, 30.5, 3 * 86_400, 3_600]
    first = run(jumps)
    assert [day for day, _ in first[:4]] == ["2025-12-14", "2025-12-13", "2025-12-12", "2025-12-11"]
    assert run(jumps) == first
    assert run([sum(jumps)]) == first  # how often anyone looked does not move the path
    assert run(jumps, seed=SEED + 1)[:4] != first[:4]


def test_a_window_the_clock_lands_in_is_still_averaged_whole() -> None:
    exchange = make_exchange()
    exchange.clock.set_ms(ms(DAYS[0] - timedelta(minutes=14, seconds=30)))  # 07:45:30
    handle(exchange, "public/get_time", {})
    exchange.clock.set_ms(ms(DAYS[0]) + 1000)
    handle(exchange, "public/get_time", {})
    (btc, _) = model_windows(None, DAYS[:1])
    assert dict(delivery_prices(exchange, "btc_usd"))["2025-12-11"] == round(btc.twap, 2)
    assert len(exchange.deliveries.samples("btc_usd", "2025-12-11")) == 30


def sell_straddled_call(
    exchange: SimulatedExchange, client: DeribitClient, *, in_the_money_at_eight: bool
) -> tuple[Window, Decimal]:
    """Short a call expiring on the first day whose 08:00 index and window average lie either
    side of a listed strike (the 08:00 index above it when `in_the_money_at_eight`).

    Sold at the bid, immediate-or-cancel, at the first of a few times the day before that shows
    one, so nothing but the settlement moves the balance afterwards. Returns the window and the
    strike.
    """
    for window in model_windows(WILD, DAYS):
        if (window.index_at_eight > window.twap) != in_the_money_at_eight:
            continue
        prefix = f"{window.currency}-{format_expiry_code(window.settlement)}-"
        low, high = sorted((window.twap, window.index_at_eight))
        for hours_before in (23, 12, 6, 3, 1):
            at_ms = ms(window.settlement - timedelta(hours=hours_before))
            if at_ms < exchange.clock.now_ms():
                continue  # the other currency of the same day already looked then
            exchange.clock.set_ms(at_ms)
            straddled = [
                row
                for row in client.get_book_summary_by_currency(window.currency)
                if row.instrument_name.startswith(prefix)
                and row.instrument_name.endswith("-C")
                and low < float(row.instrument_name.split("-")[2]) < high
                and row.bid_price
            ]
            if straddled:
                name, bid = straddled[0].instrument_name, Decimal(repr(straddled[0].bid_price))
                sold = client.sell(name, Decimal(1), price=bid, time_in_force="immediate_or_cancel")
                assert sold.order.filled_amount > 0
                return window, Decimal(name.split("-")[2])
    raise AssertionError("no day in DAYS straddles a strike with a bid; widen DAYS or WILD")


def settle(exchange: SimulatedExchange, client: DeribitClient, window: Window) -> float:
    """Move to exactly 08:00 (settling) and return the index the exchange shows then."""
    exchange.clock.set_ms(ms(window.settlement))
    index_at_eight = client.get_index_price(f"{window.currency.lower()}_usd").index_price
    assert index_at_eight == round(window.index_at_eight, 2)  # the exchange walked the same path
    return index_at_eight


def test_a_call_in_the_money_at_eight_but_not_on_average_expires_worthless() -> None:
    exchange = make_exchange(market_params=WILD)
    with make_client(exchange) as client:
        window, strike = sell_straddled_call(exchange, client, in_the_money_at_eight=True)
        (short,) = client.get_positions(window.currency)
        before = client.get_account_summary(window.currency).balance

        index_at_eight = settle(exchange, client, window)

        (day, delivered), *_ = delivery_prices(exchange, f"{window.currency.lower()}_usd")
        assert (day, delivered) == (f"{window.settlement:%Y-%m-%d}", round(window.twap, 2))
        assert Decimal(repr(delivered)) < strike < Decimal(repr(index_at_eight))
        assert short.size < 0
        assert client.get_positions(window.currency) == []
        assert client.get_account_summary(window.currency).balance == before  # no payoff, no fee


def test_a_call_out_of_the_money_at_eight_but_in_on_average_pays_the_average_payoff() -> None:
    exchange = make_exchange(market_params=WILD)
    with make_client(exchange) as client:
        window, strike = sell_straddled_call(exchange, client, in_the_money_at_eight=False)
        (short,) = client.get_positions(window.currency)
        before = client.get_account_summary(window.currency).balance

        index_at_eight = settle(exchange, client, window)

        (_, delivered), *_ = delivery_prices(exchange, f"{window.currency.lower()}_usd")
        assert delivered == round(window.twap, 2)
        s = Decimal(repr(delivered))
        assert Decimal(repr(index_at_eight)) < strike < s
        size = -short.size  # the covered call's contracts, coin
        payoff = max(s - strike, Decimal(0)) / s  # coin per contract, at the TWAP
        value = (size * payoff).quantize(SATOSHI)
        fee = (min(Decimal("0.00015"), Decimal("0.125") * payoff) * size).quantize(SATOSHI)
        after = client.get_account_summary(window.currency).balance
        assert value > 0
        assert after == before - value - fee
        assert client.get_positions(window.currency) == []


def test_positions_and_tickers_carry_the_last_settlement_mark(
    exchange: SimulatedExchange, sim_client: DeribitClient
) -> None:
    name = next(
        r.instrument_name
        for r in sim_client.get_book_summary_by_currency("BTC")
        if r.instrument_name.startswith("BTC-26DEC25-") and r.bid_price
    )
    sim_client.sell(name, Decimal("0.1"), type="market")
    assert sim_client.ticker(name).settlement_price is None  # listed after the last settlement
    assert sim_client.get_positions("BTC")[0].settlement_price == 0

    exchange.clock.set_ms(ms(DAYS[0]))
    at_eight = sim_client.ticker(name)
    perp_at_eight = sim_client.ticker("BTC-PERPETUAL")
    exchange.clock.advance(3600)

    later = sim_client.ticker(name)
    assert at_eight.settlement_price == at_eight.mark_price
    assert later.settlement_price == at_eight.mark_price != later.mark_price
    assert sim_client.ticker("BTC-PERPETUAL").settlement_price == perp_at_eight.mark_price
    (position,) = sim_client.get_positions("BTC")
    assert position.settlement_price == Decimal(repr(at_eight.mark_price))


def test_the_index_is_sampled_each_minute_from_half_past_seven_to_eight() -> None:
    midnight = ms(datetime(2025, 12, 11, tzinfo=UTC))
    times = [next_sample_ms(midnight)]
    while len(times) < 31:
        times.append(next_sample_ms(times[-1] + 1))
    assert times[0] == ms(datetime(2025, 12, 11, 7, 30, tzinfo=UTC))
    assert times[29] == ms(datetime(2025, 12, 11, 7, 59, tzinfo=UTC))
    assert {b - a for a, b in itertools.pairwise(times[:30])} == {MINUTE_MS}
    assert times[30] == ms(datetime(2025, 12, 12, 7, 30, tzinfo=UTC))
    assert next_sample_ms(times[3] - 1) == times[3]


def test_a_model_grid_coarser_than_the_sample_step_is_refused() -> None:
    with pytest.raises(ValueError, match="step_seconds=300"):
        SyntheticMarket.create(
            seed=SEED, start=SIM_START, params=MarketModelParams(step_seconds=300)
        )

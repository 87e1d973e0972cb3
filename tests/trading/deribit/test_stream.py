"""`DeribitStream` against the simulator's WebSocket API over loopback: state kept current,
a lost book notification resynchronised from REST, a dropped socket reconnected and
resubscribed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from optionsdesk.asyncrun import run_sync
from tests.trading.deribit.conftest import CLIENT_ID, CLIENT_SECRET, FAST_RETRY, make_exchange
from trading.deribit.client import DeribitClient
from trading.deribit.client.stream import DeribitStream
from trading.deribit.limiter import NoLimiter
from trading.deribit.simulator import ServerThread, SimulatedExchange, create_app

pytest.importorskip("websockets")

CHANNELS = [
    "deribit_price_index.btc_usd",
    "ticker.BTC-PERPETUAL.100ms",
    "book.BTC-PERPETUAL.raw",
    "user.portfolio.BTC",
    "user.orders.any.BTC.raw",
]


@pytest.fixture
def server() -> Iterator[ServerThread]:
    """A loopback simulator of its own (faults and clock moves stay in this test)."""
    running = ServerThread(create_app(make_exchange()), port=0).start()
    yield running
    running.stop()


def _ws_url(server: ServerThread) -> str:
    return server.base_url.replace("http://", "ws://").rsplit("/api/v2", 1)[0] + "/ws/api/v2"


async def _until(check: Callable[[], bool], timeout_s: float = 20.0) -> None:
    end = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < end, "condition not reached in time"
        await asyncio.sleep(0.05)


def test_stream_keeps_state_resyncs_gaps_and_reconnects(server: ServerThread) -> None:
    exchange: SimulatedExchange = server.app.exchange
    rest = DeribitClient(
        server.base_url,
        CLIENT_ID,
        CLIENT_SECRET,
        timeout_s=30,
        limiter=NoLimiter(),
        retry=FAST_RETRY,
    )

    def read_book(name: str) -> dict[str, list[list[float]]]:
        book = rest.call("public/get_order_book", {"instrument_name": name, "depth": 20})
        return {"bids": book["bids"], "asks": book["asks"]}

    async def scenario() -> None:
        stream = DeribitStream(
            _ws_url(server),
            CLIENT_ID,
            CLIENT_SECRET,
            channels=CHANNELS,
            resync_book=read_book,
            backoff_s=(0.05, 0.2),
        )
        task = asyncio.create_task(stream.run())
        state = stream.state
        await _until(
            lambda: bool(state.index and state.tickers and state.portfolio and state.books)
        )
        assert stream.healthy(max_age_s=5)
        assert state.index["btc_usd"] == pytest.approx(exchange.market.index_price("BTC"), 1e-6)

        bid = state.tickers["BTC-PERPETUAL"]["best_bid_price"]
        price = Decimal(str(round(bid * 0.98 * 2) / 2))
        await asyncio.to_thread(
            rest.buy, "BTC-PERPETUAL", Decimal(10), price=price, label="stream-1"
        )
        await _until(lambda: any(o["label"] == "stream-1" for o in state.orders.values()))

        exchange.faults.inject("ws_drop_notification", methods=["ws/book.*"])
        for _ in range(3):
            exchange.clock.advance(60)
            await asyncio.sleep(0.4)
        await _until(lambda: state.gaps >= 1 and state.resyncs >= 1)
        rest_book = read_book("BTC-PERPETUAL")
        exchange_book = state.books["BTC-PERPETUAL"]
        await _until(lambda: max(exchange_book.bids, default=0) > 0)
        assert max(state.books["BTC-PERPETUAL"].bids) == rest_book["bids"][0][0]

        before = state.index["btc_usd"]
        exchange.faults.inject("ws_disconnect")
        await _until(lambda: state.reconnects >= 1)
        exchange.clock.advance(3600)
        await _until(lambda: state.index["btc_usd"] != before)  # resubscribed
        assert stream.healthy(max_age_s=5)
        await stream.stop()
        await asyncio.wait_for(task, 10)

    try:
        run_sync(scenario())
    finally:
        rest.close()

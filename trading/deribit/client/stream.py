"""An async client of Deribit's WebSocket API that keeps market and account state current.

```python
stream = DeribitStream("ws://127.0.0.1:8082/ws/api/v2", client_id, client_secret,
                       channels=["deribit_price_index.btc_usd", "book.BTC-PERPETUAL.raw",
                                 "user.portfolio.BTC", "user.orders.any.BTC.raw"],
                       resync_book=lambda name: rest_client.get_order_book(name, depth=20))
task = asyncio.create_task(stream.run())
...
stream.state.index["btc_usd"], stream.state.age_s(), stream.healthy(max_age_s=5)
await stream.stop()
```

It authenticates the socket (`public/auth`) when given credentials, subscribes, answers the
server's heartbeat `test_request`s, and on any disconnect reconnects with exponential backoff
(jittered, capped) and subscribes again. Book notifications chain by `change_id`: a `change`
whose `prev_change_id` is not the last id seen is a gap, and the book is resynchronised from
`resync_book` (a REST read, run in a thread) before further changes are applied.

`channels` may be a callable (run in a thread on every connect: the agent lists the options
to follow by REST). After subscribing, `resync_account` (a REST read in a thread) replaces the
positions and open orders, so notifications of `user.changes.*` apply on top of a complete
picture. While connected the client sends `public/test` every `ping_s`: the server's answer is
a frame like any other, so `age_s()` (time since the last frame) stays small in a quiet market
and grows only when the socket is dead or stalled. The agent holds one of these per process
(`trading.services.stream_state`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import websockets
from websockets.exceptions import ConnectionClosed

logger = logging.getLogger("trading.deribit.stream")

BookReader = Callable[[str], Any]
#: REST read of the account after (re)subscribing: `{"positions": [...], "orders": [...]}`.
AccountReader = Callable[[], dict[str, list[dict[str, Any]]]]
ChannelSource = Sequence[str] | Callable[[], Sequence[str]]


@dataclass
class BookState:
    """One instrument's book: levels by price and the last change id applied."""

    bids: dict[float, float] = field(default_factory=dict)
    asks: dict[float, float] = field(default_factory=dict)
    change_id: int | None = None


@dataclass
class StreamState:
    """What the stream keeps current (each map keyed as Deribit names things)."""

    index: dict[str, float] = field(default_factory=dict)
    tickers: dict[str, dict[str, Any]] = field(default_factory=dict)
    marks: dict[str, dict[str, Any]] = field(default_factory=dict)
    portfolio: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    positions: dict[str, dict[str, Any]] = field(default_factory=dict)
    books: dict[str, BookState] = field(default_factory=dict)
    updated_at: float | None = None  # monotonic time of the last notification
    heard_at: float | None = None  # monotonic time of the last frame of any kind
    account_synced: bool = False  # positions and orders read by REST since the last connect
    account_synced_at: float | None = None  # wall time (epoch s) of that read
    last_resync_at: float | None = None  # wall time (epoch s) of the last REST resync
    reconnects: int = 0
    resyncs: int = 0
    gaps: int = 0

    def age_s(self, now: float | None = None) -> float | None:
        """Seconds since the server was last heard (None before the first frame)."""
        last = self.heard_at if self.heard_at is not None else self.updated_at
        if last is None:
            return None
        return (time.monotonic() if now is None else now) - last


def _apply_levels(side: dict[float, float], changes: list[list[Any]]) -> None:
    for action, price, amount in changes:
        if action == "delete":
            side.pop(float(price), None)
        else:
            side[float(price)] = float(amount)


class DeribitStream:
    """Subscriptions over one WebSocket, reconnected and resubscribed until `stop()`."""

    def __init__(
        self,
        ws_url: str,
        client_id: str = "",
        client_secret: str = "",
        *,
        channels: ChannelSource,
        resync_book: BookReader | None = None,
        resync_account: AccountReader | None = None,
        backoff_s: tuple[float, float] = (0.1, 5.0),
        ping_s: float | None = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        self.ws_url = ws_url
        self._credentials = (client_id, client_secret)
        self._channel_source = channels
        self.channels: list[str] = [] if callable(channels) else list(channels)
        self.resync_book = resync_book
        self.resync_account = resync_account
        self.ping_s = ping_s
        self.backoff_s = backoff_s
        self.state = StreamState()
        self.connected = asyncio.Event()
        self._rng = rng or random.Random()
        self._stopping = False
        self._ws: Any = None
        self._ids = iter(range(1, 2**62))

    def healthy(self, max_age_s: float) -> bool:
        """Connected, and a notification arrived within `max_age_s`."""
        age = self.state.age_s()
        return self.connected.is_set() and age is not None and age <= max_age_s

    async def stop(self) -> None:
        """Close the socket and end `run()`."""
        self._stopping = True
        if self._ws is not None:
            await self._ws.close()

    async def reconnect(self) -> None:
        """Close the socket: `run()` connects again and subscribes to the channels anew."""
        if self._ws is not None:
            await self._ws.close()

    async def run(self) -> None:
        """Connect, subscribe and read until `stop()`, reconnecting with backoff."""
        delay = self.backoff_s[0]
        first = True
        while not self._stopping:
            try:
                async with websockets.connect(
                    self.ws_url, open_timeout=30, close_timeout=2, max_size=2**24
                ) as ws:
                    self._ws = ws
                    if not first:
                        self.state.reconnects += 1
                    first = False
                    await self._open(ws)
                    delay = self.backoff_s[0]
                    pinger = asyncio.create_task(self._ping(ws))
                    try:
                        async for raw in ws:
                            await self._on_message(ws, orjson.loads(raw))
                    finally:
                        pinger.cancel()
            except (ConnectionClosed, OSError, TimeoutError):
                pass
            except Exception:  # a REST resync or a refused subscribe: retry like a drop
                logger.warning("stream connection failed; reconnecting", exc_info=True)
            finally:
                self.connected.clear()
                self.state.account_synced = False
                self._ws = None
            if not self._stopping:
                await asyncio.sleep(delay * (0.5 + self._rng.random() / 2))
                delay = min(delay * 2, self.backoff_s[1])

    async def _ping(self, ws: Any) -> None:
        """`public/test` every `ping_s`: its answer proves the socket (and the data) current."""
        if not self.ping_s:
            return
        while True:
            await asyncio.sleep(self.ping_s)
            message = {"jsonrpc": "2.0", "id": next(self._ids), "method": "public/test"}
            await ws.send(json.dumps({**message, "params": {}}))

    async def _request(self, ws: Any, method: str, params: dict[str, Any]) -> Any:
        request_id = next(self._ids)
        await ws.send(
            json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        )
        while True:
            message = orjson.loads(await ws.recv())
            self.state.heard_at = time.monotonic()
            if message.get("id") == request_id:
                if "error" in message:
                    raise ConnectionError(f"{method}: {message['error']}")
                return message.get("result")
            await self._on_message(ws, message)

    async def _open(self, ws: Any) -> None:
        client_id, secret = self._credentials
        if client_id:
            await self._request(
                ws,
                "public/auth",
                {
                    "grant_type": "client_credentials",
                    "client_id": client_id,
                    "client_secret": secret,
                },
            )
        if callable(self._channel_source):
            self.channels = list(await asyncio.to_thread(self._channel_source))
        private = any(c.startswith("user.") for c in self.channels)
        method = "private/subscribe" if private else "public/subscribe"
        self.state.books.clear()  # new socket: new change-id chain, snapshots follow
        await self._request(ws, method, {"channels": self.channels})
        if self.resync_account is not None:
            # After subscribing: changes from here on arrive as notifications, so the REST
            # read and what follows it together miss nothing.
            account = await asyncio.to_thread(self.resync_account)
            self.state.positions = {p["instrument_name"]: p for p in account["positions"]}
            self.state.orders = {o["order_id"]: o for o in account["orders"]}
            self.state.account_synced = True
            self.state.account_synced_at = self.state.last_resync_at = time.time()
        self.connected.set()

    async def _on_message(self, ws: Any, message: dict[str, Any]) -> None:
        self.state.heard_at = time.monotonic()
        method = message.get("method")
        if method == "heartbeat":
            if message.get("params", {}).get("type") == "test_request":
                await ws.send(json.dumps({"jsonrpc": "2.0", "method": "public/test", "params": {}}))
            return
        if method != "subscription":
            return
        params = message["params"]
        await self._apply(str(params["channel"]), params["data"])
        self.state.updated_at = time.monotonic()

    async def _apply(self, channel: str, data: Any) -> None:
        state = self.state
        family = channel.split(".", 1)[0]
        if family == "deribit_price_index":
            state.index[data["index_name"]] = float(data["price"])
        elif family == "ticker":
            state.tickers[data["instrument_name"]] = data
        elif family == "markprice":
            state.marks.update((row["instrument_name"], row) for row in data)
        elif family == "book":
            await self._apply_book(data)
        elif family == "user":
            self._apply_user(channel, data)

    def _apply_user(self, channel: str, data: Any) -> None:
        rows = data if isinstance(data, list) else [data]
        if channel.startswith("user.portfolio."):
            self.state.portfolio.update((row["currency"], row) for row in rows)
        elif channel.startswith("user.orders."):
            self.state.orders.update((order["order_id"], order) for order in rows)
        elif channel.startswith("user.changes."):
            for row in rows:
                self.state.orders.update((o["order_id"], o) for o in row.get("orders", []))
                for position in row.get("positions", []):
                    self.state.positions[position["instrument_name"]] = position

    async def _apply_book(self, data: dict[str, Any]) -> None:
        name = data["instrument_name"]
        book = self.state.books.get(name)
        if data["type"] == "snapshot" or book is None:
            if data["type"] != "snapshot" and book is None:
                book = await self._resync(name)
                book.change_id = int(data["change_id"])
                return
            book = BookState()
            self.state.books[name] = book
            _apply_levels(book.bids, data["bids"])
            _apply_levels(book.asks, data["asks"])
            book.change_id = int(data["change_id"])
            return
        if book.change_id is not None and data.get("prev_change_id") != book.change_id:
            self.state.gaps += 1
            book = await self._resync(name)
            book.change_id = int(data["change_id"])
            return
        _apply_levels(book.bids, data["bids"])
        _apply_levels(book.asks, data["asks"])
        book.change_id = int(data["change_id"])

    async def _resync(self, name: str) -> BookState:
        """The book read again over REST (a gap was seen); levels as `[price, amount]`."""
        book = BookState()
        if self.resync_book is not None:
            snapshot = await asyncio.to_thread(self.resync_book, name)
            levels = snapshot if isinstance(snapshot, dict) else snapshot.model_dump()
            book.bids = {float(p): float(a) for p, a in levels["bids"]}
            book.asks = {float(p): float(a) for p, a in levels["asks"]}
        self.state.resyncs += 1
        self.state.last_resync_at = time.time()
        self.state.books[name] = book
        return book

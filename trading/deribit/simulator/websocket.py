"""Deribit's WebSocket JSON-RPC API on the simulated exchange (`/ws/api/v2`).

One `WsSession` per socket. Requests are the same JSON-RPC methods as over HTTP (answered by
`dispatch.handle`), plus what only a socket has:

* `public/subscribe` / `private/subscribe` (`channels: [...]`), `public|private/unsubscribe`,
  `public|private/unsubscribe_all`: the result is the list of channels now (un)subscribed;
  unknown channels are left out, as on Deribit; `user.*` channels need an authenticated socket;
* `public/auth` authenticates the connection: later private calls need no token;
* `public/set_heartbeat {interval}` (s, at least `SimConfig.ws_min_heartbeat_s`, 10 as on
  Deribit): every interval the server sends `{"method": "heartbeat", "params": {"type":
  "test_request"}}`; a client that has not answered one (any `public/test`) by the next
  interval is disconnected. `public/disable_heartbeat` stops it;
* `private/logout` closes the socket.

Channels (notifications `{"jsonrpc": "2.0", "method": "subscription", "params": {"channel",
"data"}}`, sent when their content changed, checked every `PUBLISH_EVERY_S` of wall time):
`ticker.{instrument}.{interval}`, `book.{instrument}.{interval}` (a `snapshot`, then `change`
messages of `["new"|"change"|"delete", price, amount]` levels with `change_id` and
`prev_change_id`; the ids count per socket from the exchange time in ms),
`deribit_price_index.{index}`, `markprice.options.{index}`, `user.portfolio.{currency}`,
`user.orders.{kind}.{currency}.{interval}` / `user.orders.{instrument}.{interval}`,
`user.trades.…` and `user.changes.…` in the same two forms. `kind` and `currency` may be `any`.
`user.orders.….raw` sends one order object per notification, the other intervals a list;
`user.changes.…` one `{instrument_name, orders, trades, positions}` per instrument.

Faults (`exchange.faults.inject(kind, ...)`): `ws_disconnect` drops the socket and
`heartbeat_miss` silences the server for `hang_s` (pseudo-method `ws/connection`);
`ws_drop_notification` loses the next notification of a channel matching `ws/<channel>`
(e.g. `methods=["ws/book.*"]`; any channel without `methods`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from trading.deribit.errors import AuthError, DeribitError, InvalidParamsError
from trading.deribit.simulator.accounts import Account
from trading.deribit.simulator.dispatch import handle
from trading.deribit.simulator.encoding import dumps, plain
from trading.deribit.simulator.exchange import SimulatedExchange
from trading.deribit.simulator.instruments import InstrumentSpec
from trading.deribit.simulator.params import Params
from trading.deribit.simulator.portfolio import account_summary, positions_json
from trading.deribit.simulator.public_api import get_order_book, ticker_json

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

WS_PATH = "/ws/api/v2"
PUBLISH_EVERY_S = 0.1
INTERVALS = ("raw", "100ms", "agg2")
BOOK_DEPTH = 20
#: Channels computed from the market alone (not from the socket's account).
MARKET_FAMILIES = frozenset({"ticker", "book", "index", "markprice"})
SUBSCRIBE = frozenset({"public/subscribe", "private/subscribe"})
UNSUBSCRIBE = frozenset({"public/unsubscribe", "private/unsubscribe"})
UNSUBSCRIBE_ALL = frozenset({"public/unsubscribe_all", "private/unsubscribe_all"})


def _now_us() -> int:
    return time.time_ns() // 1000


@dataclass
class Channel:
    """A parsed subscription: its family and what it selects."""

    name: str
    family: str  # ticker, book, index, markprice, portfolio, orders, trades, changes
    instrument: str | None = None
    currency: str | None = None
    kind: str | None = None
    index_name: str | None = None
    last: Any = None  # what was last sent (change detection)
    change_id: int = 0

    @property
    def private(self) -> bool:
        """True for `user.*` channels."""
        return self.family in ("portfolio", "orders", "trades", "changes")

    def selects(self, spec: InstrumentSpec) -> bool:
        """True when a user channel covers this instrument."""
        if self.instrument is not None:
            return spec.instrument_name == self.instrument
        return self.currency in ("any", spec.currency) and self.kind in ("any", spec.kind)


def parse_channel(ex: SimulatedExchange, name: str) -> Channel | None:
    """The channel a name denotes, or None when the exchange does not serve it."""
    parts = name.split(".")
    try:
        if parts[0] in ("ticker", "book") and len(parts) == 3 and parts[2] in INTERVALS:
            ex.spec(parts[1])
            return Channel(name, parts[0], instrument=parts[1])
        if parts[0] == "deribit_price_index" and len(parts) == 2:
            return _index_channel(ex, name, "index", parts[1])
        if parts[:2] == ["markprice", "options"] and len(parts) == 3:
            return _index_channel(ex, name, "markprice", parts[2])
        if parts[0] == "user" and len(parts) >= 3:
            return _user_channel(ex, name, parts)
    except DeribitError:
        return None
    return None


def _user_channel(ex: SimulatedExchange, name: str, parts: list[str]) -> Channel | None:
    """`user.portfolio.{currency}` or `user.{orders|trades|changes}.{selector}.{interval}`."""
    family = parts[1]
    if family == "portfolio" and len(parts) == 3:
        currency = parts[2] if parts[2] == "any" else parts[2].upper()
        if currency in (*ex.market.currencies, "any"):
            return Channel(name, "portfolio", currency=currency)
        return None
    if family not in ("orders", "trades", "changes") or parts[-1] not in INTERVALS:
        return None
    if len(parts) == 4:
        ex.spec(parts[2])  # NotFoundError for an unknown instrument
        return Channel(name, family, instrument=parts[2])
    kind, currency = (parts[2], parts[3]) if len(parts) == 5 else ("", "")
    if kind in ("future", "option", "any") and currency in (*ex.market.currencies, "any"):
        return Channel(name, family, kind=kind, currency=currency)
    return None


def _index_channel(ex: SimulatedExchange, name: str, family: str, index: str) -> Channel | None:
    currency = index.split("_", 1)[0].upper()
    if currency in ex.market.currencies and index.endswith("_usd"):
        return Channel(name, family, currency=currency, index_name=index)
    return None


def _book_levels(ex: SimulatedExchange, instrument: str) -> dict[str, dict[float, float]]:
    book = get_order_book(ex, Params({"instrument_name": instrument, "depth": BOOK_DEPTH}), None)
    return {side: {float(p): float(a) for p, a in book[side]} for side in ("bids", "asks")}


def _level_changes(
    before: dict[float, float], after: dict[float, float], *, descending: bool
) -> list[list[Any]]:
    changes: list[list[Any]] = []
    for price in sorted(set(before) | set(after), reverse=descending):
        if price not in after:
            changes.append(["delete", price, 0.0])
        elif price not in before:
            changes.append(["new", price, after[price]])
        elif before[price] != after[price]:
            changes.append(["change", price, after[price]])
    return changes


@dataclass
class _UserDelta:
    """What changed for the account since the last publish: orders, trades, positions."""

    orders: list[dict[str, Any]] = field(default_factory=list)
    trades: list[dict[str, Any]] = field(default_factory=list)
    specs: dict[str, InstrumentSpec] = field(default_factory=dict)


class WsSession:
    """One WebSocket connection: requests, subscriptions, heartbeats and faults."""

    def __init__(self, exchange: SimulatedExchange, send: Send, client_key: str) -> None:
        self.ex = exchange
        self._send_raw = send
        self.client_key = client_key
        self.authorization: str | None = None
        self.account: Account | None = None
        self.channels: dict[str, Channel] = {}
        self.heartbeat_s: float | None = None
        self._next_heartbeat = 0.0
        self._unanswered_since: float | None = None
        self._silent_until = 0.0
        self._send_lock = asyncio.Lock()
        self._closed = False
        self._orders_seen: dict[str, tuple[Any, ...]] = {}
        self._trades_seen: dict[str, int] = {}
        self._last_market: tuple[Any, ...] | None = None

    # ------------------------------------------------------------------ wire

    async def send_json(self, payload: dict[str, Any]) -> None:
        """Send one text frame (nothing while a `heartbeat_miss` fault silences the server)."""
        if self._closed or time.monotonic() < self._silent_until:
            return
        async with self._send_lock:
            await self._send_raw({"type": "websocket.send", "text": dumps(payload).decode()})

    async def close(self, code: int = 1000) -> None:
        """Close the socket once."""
        if not self._closed:
            self._closed = True
            await self._send_raw({"type": "websocket.close", "code": code})

    def _envelope(self, request_id: Any, us_in: int) -> dict[str, Any]:
        us_out = _now_us()
        return {
            "jsonrpc": "2.0",
            "id": request_id,
            "usIn": us_in,
            "usOut": us_out,
            "usDiff": us_out - us_in,
            "testnet": self.ex.config.testnet,
        }

    # ------------------------------------------------------------------ requests

    async def on_text(self, text: str) -> None:
        """Answer one JSON-RPC request frame."""
        us_in = _now_us()
        request_id: Any = None
        try:
            payload = json.loads(text)
            if not isinstance(payload, dict):
                raise InvalidParamsError("Invalid Request", code=-32600)
            request_id = payload.get("id")
            params = payload.get("params") or {}
            if not isinstance(params, dict):
                raise InvalidParamsError(data={"param": "params", "reason": "must be named"})
            result = self._dispatch(str(payload.get("method", "")), params)
        except ValueError:
            error = InvalidParamsError("Parse error", code=-32700)
            await self.send_json({**self._envelope(None, us_in), "error": error.to_error_object()})
            return
        except DeribitError as error:
            reply = self._envelope(request_id, us_in)
            await self.send_json({**reply, "error": error.to_error_object()})
            return
        await self.send_json({**self._envelope(request_id, us_in), "result": result})
        if result == "logout":
            await self.close()

    def _dispatch(self, method: str, params: dict[str, Any]) -> Any:
        handled, result = self._socket_method(method, params)
        if handled:
            return result
        authorization = self.authorization
        if params.get("access_token"):
            authorization = f"Bearer {params['access_token']}"
        result = handle(
            self.ex, method, params, authorization=authorization, client_key=self.client_key
        )
        if method == "public/auth":
            self.authorization = f"Bearer {result['access_token']}"
            self.account = self.ex.account_for_authorization(self.authorization)
        return result

    def _socket_method(self, method: str, params: dict[str, Any]) -> tuple[bool, Any]:
        """(True, result) for the methods only a socket has; (False, None) otherwise."""
        if method in SUBSCRIBE:
            return True, self._subscribe(Params(params).raw.get("channels") or [], method)
        if method in UNSUBSCRIBE:
            wanted = set(params.get("channels") or [])
            gone = [c for c in self.channels if c in wanted]
            for name in gone:
                del self.channels[name]
            return True, gone
        if method in UNSUBSCRIBE_ALL:
            self.channels.clear()
            return True, "ok"
        if method in ("public/set_heartbeat", "public/disable_heartbeat", "public/test"):
            return self._heartbeat_method(method, params)
        if method == "private/logout":
            if self.account is None:
                raise AuthError("authorization_required", code=10000, http_status=400)
            return True, "logout"
        return False, None

    def _heartbeat_method(self, method: str, params: dict[str, Any]) -> tuple[bool, Any]:
        """`set_heartbeat` / `disable_heartbeat` answer here; `public/test` (the answer to a
        test_request) is noted and then answered by the exchange."""
        self._unanswered_since = None
        if method == "public/test":
            return False, None
        if method == "public/disable_heartbeat":
            self.heartbeat_s = None
            return True, "ok"
        interval = float(Params(params).number("interval"))
        if interval < self.ex.config.ws_min_heartbeat_s:
            raise InvalidParamsError(data={"param": "interval", "reason": "too small"})
        self.heartbeat_s = interval
        self._next_heartbeat = time.monotonic() + interval
        return True, "ok"

    def _subscribe(self, names: list[Any], method: str) -> list[str]:
        if not isinstance(names, list):
            raise InvalidParamsError(data={"param": "channels", "reason": "must be a list"})
        added: list[str] = []
        with self.ex.lock:
            for raw_name in names:
                name = str(raw_name)
                channel = parse_channel(self.ex, name)
                if channel is None:
                    continue
                if channel.private and self.account is None:
                    raise AuthError("unauthorized", code=13009, http_status=400)
                if channel.private and not self._primed:
                    self._prime()
                channel.change_id = self.ex.now_ms()
                self.channels.setdefault(name, channel)
                added.append(name)
        return added

    # ------------------------------------------------------------------ publishing

    async def publish_forever(self) -> None:
        """Every `PUBLISH_EVERY_S`: faults, heartbeats, then the changed channels."""
        while not self._closed:
            await asyncio.sleep(PUBLISH_EVERY_S)
            if await self._faults():
                return
            now = time.monotonic()
            if now < self._silent_until:
                continue
            if await self._heartbeat(now):
                return
            if self.channels:
                for payload in self._notifications():
                    await self.send_json(payload)

    async def _faults(self) -> bool:
        if self.ex.faults.take_kind("ws_disconnect", "ws/connection") is not None:
            await self.close(1011)
            return True
        silence = self.ex.faults.take_kind("heartbeat_miss", "ws/connection")
        if silence is not None:
            self._silent_until = time.monotonic() + silence.hang_s
        return False

    _primed = False

    def _prime(self) -> None:
        """Take the account's current orders and trades as seen: only changes are sent."""
        assert self.account is not None
        for order in self.ex.books.account_orders(self.account):
            state = (order.order_state, order.filled_amount, order.price, order.amount)
            self._orders_seen[order.order_id] = state
        self._trades_seen = self.ex.books.trade_counts()
        self._primed = True

    async def _heartbeat(self, now: float) -> bool:
        if self.heartbeat_s is None or now < self._next_heartbeat:
            return False
        if self._unanswered_since is not None:
            await self.close(1000)  # the client missed the last test_request
            return True
        self._unanswered_since = now
        self._next_heartbeat = now + self.heartbeat_s
        await self.send_json(
            {"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}}
        )
        return False

    def _market_key(self) -> tuple[Any, ...]:
        """What the market channels are computed from: the market's step and the trades (which
        take the market maker's depth), and the resting orders should the books ever show
        them. While it is unchanged their data is too (a trade leaving the 24 h window shows at
        the next step), so a still market costs the server nothing."""
        books = self.ex.books
        return (
            self.ex.market.now_ms,
            tuple(sorted(books.trade_counts().items())),
            tuple(
                (o.order_id, o.last_update_ms, o.order_state, o.price, o.amount, o.filled_amount)
                for o in books.resting()
            ),
        )

    def _notifications(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        with self.ex.lock:
            self.ex.sync()
            delta = self._user_delta() if self.account is not None else _UserDelta()
            market = self._market_key()
            still = market == self._last_market
            self._last_market = market
            for channel in list(self.channels.values()):
                if still and channel.family in MARKET_FAMILIES and channel.last is not None:
                    continue  # sent already, and nothing it depends on moved
                data = self._channel_data(channel, delta)
                if data is None:
                    continue
                for item in data if isinstance(data, tuple) else (data,):
                    lost = self.ex.faults.take_kind("ws_drop_notification", f"ws/{channel.name}")
                    if lost is not None:
                        continue
                    out.append(
                        {
                            "jsonrpc": "2.0",
                            "method": "subscription",
                            "params": {"channel": channel.name, "data": plain(item)},
                        }
                    )
        return out

    def _user_delta(self) -> _UserDelta:
        assert self.account is not None
        delta = _UserDelta()
        for order in self.ex.books.account_orders(self.account):
            state = (order.order_state, order.filled_amount, order.price, order.amount)
            if self._orders_seen.get(order.order_id) != state:
                self._orders_seen[order.order_id] = state
                delta.orders.append(order.to_json())
                delta.specs[order.spec.instrument_name] = order.spec
        for currency, trades in self.ex.books.trades.items():
            start = self._trades_seen.get(currency, 0)
            for trade in trades[start:]:
                if trade.order.account_id == self.account.account_id:
                    delta.trades.append(trade.user_json())
                    delta.specs[trade.order.spec.instrument_name] = trade.order.spec
            self._trades_seen[currency] = len(trades)
        return delta

    def _channel_data(self, channel: Channel, delta: _UserDelta) -> Any:
        ex = self.ex
        if channel.family in ("orders", "trades", "changes"):
            return self._user_channel_data(channel, delta)
        if channel.family == "book":
            return self._book_data(channel)
        data: Any
        if channel.family == "ticker":
            assert channel.instrument is not None
            data = ticker_json(ex, ex.valuation(channel.instrument))
            key: Any = {k: v for k, v in data.items() if k != "timestamp"}
        elif channel.family == "index":
            assert channel.currency is not None
            price = round(ex.market.index_price(channel.currency), 2)
            data = {"index_name": channel.index_name, "price": price, "timestamp": ex.now_ms()}
            key = price
        elif channel.family == "markprice":
            assert channel.currency is not None
            quotes = ex.option_quotes(channel.currency)
            now = ex.now_ms()
            data = [
                {"instrument_name": n, "mark_price": m, "iv": iv / 100, "timestamp": now}
                for n, m, iv in zip(
                    quotes.listing.instrument_name,
                    quotes.mark_price.tolist(),
                    quotes.mark_iv.tolist(),
                    strict=True,
                )
            ]
            key = quotes.timestamp_ms
        else:  # portfolio
            assert self.account is not None
            assert channel.currency is not None
            currencies = ex.market.currencies if channel.currency == "any" else [channel.currency]
            venue, limits = ex.venue(), ex.config.rate_limits
            summaries = [account_summary(venue, self.account, c, limits=limits) for c in currencies]
            data = summaries[0] if len(summaries) == 1 else summaries
            key = data
        if key == channel.last:
            return None
        channel.last = key
        return data

    def _book_data(self, channel: Channel) -> Any:
        assert channel.instrument is not None
        levels = _book_levels(self.ex, channel.instrument)
        previous: dict[str, dict[float, float]] | None = channel.last
        if previous == levels:
            return None
        prev_id = channel.change_id
        channel.change_id += 1
        channel.last = levels
        data: dict[str, Any] = {
            "type": "snapshot" if previous is None else "change",
            "timestamp": self.ex.now_ms(),
            "instrument_name": channel.instrument,
            "change_id": channel.change_id,
        }
        if previous is None:
            data["bids"] = [["new", p, a] for p, a in sorted(levels["bids"].items(), reverse=True)]
            data["asks"] = [["new", p, a] for p, a in sorted(levels["asks"].items())]
        else:
            data["prev_change_id"] = prev_id
            data["bids"] = _level_changes(previous["bids"], levels["bids"], descending=True)
            data["asks"] = _level_changes(previous["asks"], levels["asks"], descending=False)
        return data

    def _user_channel_data(self, channel: Channel, delta: _UserDelta) -> Any:
        specs = {n: s for n, s in delta.specs.items() if channel.selects(s)}
        if not specs:
            return None
        orders = [o for o in delta.orders if o["instrument_name"] in specs]
        trades = [t for t in delta.trades if t["instrument_name"] in specs]
        if channel.family == "orders":
            if channel.name.endswith(".raw"):
                return tuple(orders) or None  # raw: one order object per notification
            return orders or None
        if channel.family == "trades":
            return trades or None
        assert self.account is not None
        venue = self.ex.venue()
        positions = [
            p
            for currency in {s.currency for s in specs.values()}
            for p in positions_json(venue, self.account, currency)
            if p["instrument_name"] in specs
        ]
        return tuple(  # one notification per instrument, as Deribit groups them
            {
                "instrument_name": name,
                "orders": [o for o in orders if o["instrument_name"] == name],
                "trades": [t for t in trades if t["instrument_name"] == name],
                "positions": [p for p in positions if p["instrument_name"] == name],
            }
            for name in sorted(specs)
        )


async def serve_websocket(
    exchange: SimulatedExchange, scope: Scope, receive: Receive, send: Send
) -> None:
    """Run one WebSocket connection of the ASGI app until either side closes it."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    if scope.get("path") != WS_PATH:
        await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "websocket.accept"})
    client = scope.get("client") or ("127.0.0.1", 0)
    session = WsSession(exchange, send, client[0])
    publisher = asyncio.create_task(session.publish_forever())
    try:
        while not session._closed:
            receiving = asyncio.ensure_future(receive())
            done, _ = await asyncio.wait(
                {receiving, publisher}, return_when=asyncio.FIRST_COMPLETED
            )
            if receiving not in done:
                receiving.cancel()
                break
            message = receiving.result()
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text")
            if text is None and message.get("bytes") is not None:
                text = message["bytes"].decode()
            if text is not None:
                if time.monotonic() < session._silent_until:
                    continue  # a silenced server answers nothing
                await session.on_text(text)
    finally:
        session._closed = True
        publisher.cancel()

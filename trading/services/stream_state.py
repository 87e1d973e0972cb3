"""The agent's market stream: one `DeribitStream` per process, read by the tick when fresh.

The stream follows, per underlying, the ticker of every listed option (the chain), the price
index and the portfolio, and `user.changes.any.any.raw` for orders and positions (read once by
REST after every subscribe). It runs in a daemon thread with its own event loop; the tick, in
the caller's thread, takes a `StreamSnapshot` only when the stream is connected, heard within
`AGENT_STREAM_MAX_AGE_S` and complete (every followed option quoted, index and portfolio of
every underlying, account read since the last connect); otherwise it reads REST and the
decision says why (`state_source`).

Where it lives (docs/architecture.md "Streamed state"): `manage.py runagent` starts it before
its first tick; a Celery worker process starts it on its first `trading.agent_tick`
(`agent_stream_ensure`), so only the processes that tick hold a socket. Every tick publishes
the stream's status with its summary, which System Health and `/api/agent/status` show.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings

from trading.deribit.client import DeribitClient
from trading.deribit.client.stream import DeribitStream
from trading.deribit.models import AccountSummary
from trading.deribit.models import Position as ExchangePosition
from trading.domain.instruments import parse_instrument
from trading.services.chain_fetch import ChainQuotes, ticker_quotes

logger = logging.getLogger("trading.stream")

#: How often the followed options are listed again (a new expiry reconnects the stream).
RELIST_EVERY_S = 900.0


@dataclass(frozen=True)
class StreamSnapshot:
    """The market and account as the stream holds them, in the REST reads' shapes."""

    chains: dict[str, ChainQuotes]
    accounts: dict[str, AccountSummary]
    positions: tuple[ExchangePosition, ...]  # every kind, as `get_positions("any")`
    open_orders: tuple[dict[str, Any], ...]
    index_usd: dict[str, float]
    age_s: float


@dataclass(frozen=True)
class StreamStatus:
    """What System Health shows of the stream."""

    connected: bool
    age_s: float | None
    reconnects: int
    resyncs: int
    gaps: int
    last_resync_at: datetime | None
    channels: int

    def as_record(self) -> dict[str, Any]:
        """JSON-ready fields (the tick publishes them)."""
        return {
            "connected": self.connected,
            "age_s": None if self.age_s is None else round(self.age_s, 3),
            "reconnects": self.reconnects,
            "resyncs": self.resyncs,
            "gaps": self.gaps,
            "last_resync_at": None
            if self.last_resync_at is None
            else self.last_resync_at.isoformat(),
            "channels": self.channels,
        }


def ws_url_for(base_url: str) -> str:
    """Deribit's WebSocket URL for a REST base URL (`…/api/v2` -> `ws…/ws/api/v2`)."""
    root = base_url.rstrip("/").rsplit("/api/v2", 1)[0]
    return root.replace("https://", "wss://").replace("http://", "ws://") + "/ws/api/v2"


class AgentStream:
    """A `DeribitStream` of the agent's underlyings in a background thread with its own loop."""

    def __init__(
        self,
        *,
        client_factory: Callable[[], DeribitClient],
        underlyings: tuple[str, ...],
        ws_url: str | None = None,
        backoff_s: tuple[float, float] = (0.2, 10.0),
        ping_s: float = 1.0,
    ) -> None:
        self.underlyings = tuple(underlyings)
        self._rest = client_factory()
        self._followed: dict[str, list[str]] = {}  # options per currency, in listing order
        client_id, secret = self._rest.credentials()
        self.stream = DeribitStream(
            ws_url or ws_url_for(self._rest.base_url),
            client_id,
            secret,
            channels=self._channels,
            resync_account=self._read_account,
            backoff_s=backoff_s,
            ping_s=ping_s,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ life cycle

    def start(self) -> AgentStream:
        """Run the stream in a daemon thread (returns at once; the tick reads REST until ready)."""
        ready = threading.Event()

        def target() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            ready.set()
            try:
                loop.run_until_complete(self._run())
            finally:
                loop.close()

        self._thread = threading.Thread(target=target, name="agent-stream", daemon=True)
        self._thread.start()
        ready.wait()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Close the socket and end the thread."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            # `run()` ends once the socket is closed, and the thread with it (the loop may stop
            # before `stop()` itself returns: wait for the thread, not for that coroutine).
            asyncio.run_coroutine_threadsafe(self.stream.stop(), loop)
            thread.join(timeout_s)
            if thread.is_alive():  # a dead peer: the daemon thread ends with the process
                logger.warning("agent stream did not close within %.0f s", timeout_s)
        self._rest.close()

    async def _run(self) -> None:
        relist = asyncio.create_task(self._relist_forever())
        try:
            await self.stream.run()
        finally:
            relist.cancel()

    async def _relist_forever(self) -> None:
        """List the options again now and then: a new listing or an expiry reconnects."""
        while True:
            await asyncio.sleep(RELIST_EVERY_S)
            try:
                listed = await asyncio.to_thread(self._list_options)
            except Exception:  # the next connect lists them anyway
                logger.warning("listing options for the stream failed", exc_info=True)
                continue
            if listed != self._followed:
                await self.stream.reconnect()  # with the new list

    def wait_ready(self, timeout_s: float = 30.0) -> bool:
        """Block until a complete snapshot is available (tests, the benchmark)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.snapshot(max_age_s=timeout_s)[0] is not None:
                return True
            time.sleep(0.05)
        return False

    # ------------------------------------------------------------------ REST reads

    def _list_options(self) -> dict[str, list[str]]:
        return {
            c: [i.instrument_name for i in self._rest.get_instruments(c, "option")]
            for c in self.underlyings
        }

    def _channels(self) -> list[str]:
        """Every connect: list the options, follow their tickers, the index and the account."""
        self._followed = self._list_options()
        channels = ["user.changes.any.any.raw"]
        for currency in self.underlyings:
            channels += [
                f"deribit_price_index.{currency.lower()}_usd",
                f"user.portfolio.{currency}",
            ]
            channels += [f"ticker.{name}.100ms" for name in self._followed[currency]]
        return channels

    def _read_account(self) -> dict[str, list[dict[str, Any]]]:
        positions = self._rest.call("private/get_positions", {"currency": "any"})
        orders: list[dict[str, Any]] = []
        for currency in self.underlyings:
            orders += self._rest.call("private/get_open_orders_by_currency", {"currency": currency})
        return {"positions": list(positions), "orders": orders}

    # ------------------------------------------------------------------ reads for the tick

    def status(self) -> StreamStatus:
        """Connected?, age, reconnects, resyncs, gaps and the last resync (System Health)."""
        state = self.stream.state
        resync = state.last_resync_at
        return StreamStatus(
            connected=self.stream.connected.is_set(),
            age_s=state.age_s(),
            reconnects=state.reconnects,
            resyncs=state.resyncs,
            gaps=state.gaps,
            last_resync_at=None if resync is None else datetime.fromtimestamp(resync, UTC),
            channels=len(self.stream.channels),
        )

    def snapshot(
        self, *, max_age_s: float, wait_s: float = 0.0
    ) -> tuple[StreamSnapshot | None, str]:
        """The state when fresh, complete and caught up with our orders, else (None, why).

        An order we sent since the account was read must be in the stream with its fill
        before the stream is trusted (a notification trails the order's reply by up to a
        publish interval); `wait_s` waits that long for it."""
        end = time.monotonic() + wait_s
        while True:
            snapshot, why = self._snapshot(max_age_s)
            unseen = self._unseen_orders() if snapshot is not None else ""
            if not unseen:
                return snapshot, why
            if time.monotonic() >= end:
                return None, unseen
            time.sleep(0.02)

    def _unseen_orders(self) -> str:
        """Why the stream lags our own orders ("" when it does not)."""
        from trading.models import Order

        synced = self.stream.state.account_synced_at
        if synced is None:
            return "stream account not read"
        streamed = dict(self.stream.state.orders)
        sent = (
            Order.objects.filter(sent_at__gt=datetime.fromtimestamp(synced, UTC), dry_run=False)
            .exclude(exchange_order_id="")
            .exclude(state=Order.State.SIMULATED)
        )
        for order_id, filled in sent.values_list("exchange_order_id", "filled_amount"):
            seen = streamed.get(order_id)
            if seen is None or Decimal(str(seen.get("filled_amount", 0))) != filled:
                return f"stream has not seen order {order_id} yet"
        return ""

    def _snapshot(self, max_age_s: float) -> tuple[StreamSnapshot | None, str]:
        state = self.stream.state
        age = state.age_s()
        if not self.stream.connected.is_set() or not state.account_synced:
            return None, "stream not connected"
        if age is None or age > max_age_s:
            return None, f"stream state {age or 0:.1f}s old (limit {max_age_s:g}s)"
        tickers = dict(state.tickers)  # one C-level copy: the stream thread keeps writing
        index = dict(state.index)
        portfolio = dict(state.portfolio)
        chains: dict[str, ChainQuotes] = {}
        index_usd: dict[str, float] = {}
        for currency in self.underlyings:
            names = self._followed.get(currency, [])
            # Listing order, as the REST chain comes: the candidates' indexes are the same.
            rows = [tickers[n] for n in names if n in tickers]
            price = index.get(f"{currency.lower()}_usd")
            if not names or len(rows) < len(names) or price is None:
                return None, f"stream chain of {currency} incomplete"
            if currency not in portfolio:
                return None, f"stream portfolio of {currency} missing"
            newest = max(int(t["timestamp"]) for t in rows)
            chains[currency] = ticker_quotes(
                [t for t in rows if _expiry_ms(t["instrument_name"]) > newest]
            )
            index_usd[currency] = price
        # Through JSON text, as the REST client reads them: the same Decimals to the digit.
        positions = tuple(
            ExchangePosition.model_validate_json(json.dumps(p))
            for p in dict(state.positions).values()
        )
        if _held_expired(positions, chains):
            return None, "a held option expired: REST settles it"
        snapshot = StreamSnapshot(
            chains=chains,
            accounts={
                c: AccountSummary.model_validate_json(json.dumps(portfolio[c]))
                for c in self.underlyings
            },
            positions=positions,
            open_orders=tuple(
                o
                for o in dict(state.orders).values()
                if o.get("order_state") in ("open", "untriggered")
            ),
            index_usd=index_usd,
            age_s=float(age),
        )
        return snapshot, ""


@functools.lru_cache(maxsize=16_384)
def _expiry_ms(name: str) -> float:
    """An instrument's expiry in ms (inf when it has none); cached: a tick asks for every row."""
    try:
        expiry = parse_instrument(name).expiry
    except ValueError:
        return float("inf")
    return float("inf") if expiry is None else expiry.timestamp() * 1000


def _held_expired(positions: tuple[ExchangePosition, ...], chains: dict[str, ChainQuotes]) -> bool:
    newest = max((quotes.newest_ms for quotes in chains.values()), default=0)
    return any(
        p.kind == "option" and p.size != 0 and _expiry_ms(p.instrument_name) <= newest
        for p in positions
    )


# ------------------------------------------------------------------ the process's stream

_CURRENT: dict[str, AgentStream] = {}
_LOCK = threading.Lock()


def agent_stream_current() -> AgentStream | None:
    """This process's stream, if one was started."""
    return _CURRENT.get("stream")


def agent_stream_start(
    *, client_factory: Callable[[], DeribitClient], underlyings: tuple[str, ...]
) -> AgentStream | None:
    """Start this process's stream once (None when `AGENT_STREAM` is off)."""
    if not settings.AGENT_STREAM:
        return None
    with _LOCK:
        current = _CURRENT.get("stream")
        if current is None:
            current = AgentStream(client_factory=client_factory, underlyings=underlyings).start()
            _CURRENT["stream"] = current
            logger.info("agent stream started for %s", ", ".join(underlyings))
        return current


def agent_stream_ensure() -> AgentStream | None:
    """The Celery path: start the stream in the worker process that runs ticks."""
    from trading.exchange import exchange_client
    from trading.services.controls import effective_params_load

    try:
        underlyings = tuple(effective_params_load().underlyings)
    except Exception:  # bad controls: the tick reports them; no stream yet
        return agent_stream_current()
    return agent_stream_start(client_factory=exchange_client, underlyings=underlyings)


def agent_stream_stop() -> None:
    """Stop this process's stream (runagent's exit, tests)."""
    with _LOCK:
        current = _CURRENT.pop("stream", None)
    if current is not None:
        current.stop()

"""Deribit's WebSocket JSON-RPC API on the simulator (`/ws/api/v2`), over a real socket.

The conformance test checks every notification against `deribit_asyncapi.json`: the message
envelope against `DeribitMessage`, the data against the channel's payload schema, and the data's
fields against the spec's own example of that channel (each example field must be present with
the same JSON type). Known spec defects are tolerated by name only.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.trading.deribit.conftest import CLIENT_ID, CLIENT_SECRET, make_exchange
from trading.deribit.simulator import ServerThread, SimulatedExchange, create_app

ws_sync = pytest.importorskip("websockets.sync.client")
ws_exceptions = pytest.importorskip("websockets.exceptions")

CHANNELS = {
    "ticker.BTC-PERPETUAL.100ms": "ticker.(instrument_name).(interval)",
    "book.BTC-PERPETUAL.100ms": "book.(instrument_name).(interval)",
    "deribit_price_index.btc_usd": "deribit_price_index.(index_name)",
    "markprice.options.btc_usd": "markprice.options.(index_name)",
    "user.portfolio.BTC": "user.portfolio.(currency)",
    "user.orders.future.BTC.raw": "user.orders.(kind).(currency).raw",
    "user.trades.future.BTC.100ms": "user.trades.(kind).(currency).(interval)",
    "user.changes.future.BTC.100ms": "user.changes.(kind).(currency).(interval)",
}
# Example fields the simulator does not model (each named, nothing broader).
NOT_MODELLED = {
    # settlement_price: only from the first 08:00 settlement the simulator lives through
    "ticker.(instrument_name).(interval)": {
        "interest_value",
        "estimated_delivery_price",
        "settlement_price",
    },
    # original_order_type: only on orders Deribit converted (market to limit)
    "user.orders.(kind).(currency).raw": {"original_order_type"},
    "user.portfolio.(currency)": {
        "estimated_liquidation_ratio_map",
        "options_session_rpl",
        "futures_session_rpl",
        "projected_initial_margin",
        "fee_balance",
        "portfolio_margining_enabled",
        "cross_collateral_enabled",
        "margin_model",
        "spot_reserve",
        "additional_reserve",
        "total_initial_margin_usd",
        "total_maintenance_margin_usd",
        "total_margin_balance_usd",
        "total_equity_usd",
        "total_delta_total_usd",
        "locked_balance",
        "balance_in_usd",
    },
}


@pytest.fixture(scope="module")
def asyncapi(shared_dir: Path) -> dict[str, Any]:
    """Deribit's AsyncAPI document."""
    path = shared_dir / "reference" / "deribit" / "deribit_asyncapi.json"
    if not path.exists():
        pytest.skip(f"Deribit AsyncAPI spec not found at {path}")
    return dict(json.loads(path.read_text()))


@pytest.fixture
def server() -> Iterator[ServerThread]:
    """A loopback simulator allowing short heartbeats (Deribit's minimum is 10 s)."""
    running = ServerThread(create_app(make_exchange(ws_min_heartbeat_s=0.2)), port=0).start()
    yield running
    running.stop()


class Socket:
    """A blocking JSON-RPC WebSocket client that keeps notifications aside."""

    def __init__(self, server: ServerThread) -> None:
        url = server.base_url.replace("http://", "ws://").rsplit("/api/v2", 1)[0] + "/ws/api/v2"
        self.ws = ws_sync.connect(url, open_timeout=30)
        self.notes: list[dict[str, Any]] = []
        self.ids = iter(range(1, 10_000))

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        request_id = next(self.ids)
        request = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}}
        self.ws.send(json.dumps(request))
        while True:
            message = json.loads(self.ws.recv(timeout=30))
            if message.get("id") == request_id:
                return dict(message)
            self.notes.append(message)

    def pump(self, seconds: float) -> list[dict[str, Any]]:
        """Collect notifications for `seconds`."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                self.notes.append(json.loads(self.ws.recv(timeout=left)))
            except TimeoutError:
                break
        return self.notes

    def login(self) -> None:
        reply = self.call(
            "public/auth",
            {
                "grant_type": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            },
        )
        assert "result" in reply, reply


def _closed_by_server(socket: Socket, within_s: float = 10.0) -> bool:
    """True when the server closes the socket within `within_s` (messages are drained)."""
    end = time.monotonic() + within_s
    while time.monotonic() < end:
        try:
            socket.ws.recv(timeout=max(0.01, end - time.monotonic()))
        except TimeoutError:
            return False
        except ws_exceptions.ConnectionClosed:
            return True
    return False


def _exchange(server: ServerThread) -> SimulatedExchange:
    exchange: SimulatedExchange = server.app.exchange
    return exchange


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__


def _shape_problems(channel: str, data: Any, example: Any) -> list[str]:
    row = data[0] if isinstance(data, list) and data else data
    ref = example[0] if isinstance(example, list) and example else example
    if not isinstance(ref, dict):
        return []
    if not isinstance(row, dict):
        return [f"{channel}: {type(row).__name__} where the example has an object"]
    skip = NOT_MODELLED.get(channel, set())
    problems = []
    for key, value in ref.items():
        if key in skip or isinstance(value, dict | list):
            continue
        if key not in row:
            problems.append(f"{channel}: missing {key}")
        elif None not in (row[key], value) and _json_type(row[key]) != _json_type(value):
            problems.append(f"{channel}: {key} is {_json_type(row[key])}, example {value!r}")
    return problems


def test_notifications_conform_to_the_asyncapi_schemas_and_examples(
    server: ServerThread, asyncapi: dict[str, Any]
) -> None:
    socket = Socket(server)
    socket.login()
    reply = socket.call("private/subscribe", {"channels": [*CHANNELS, "nonsense.channel"]})
    assert sorted(reply["result"]) == sorted(CHANNELS)
    socket.pump(1.0)
    fill = socket.call(
        "private/buy", {"instrument_name": "BTC-PERPETUAL", "amount": 100, "type": "market"}
    )
    assert fill["result"]["order"]["order_state"] == "filled"
    _exchange(server).clock.advance(120)
    notes = socket.pump(1.5)

    envelope = {
        **asyncapi["components"]["schemas"]["DeribitMessage"],
        "components": asyncapi["components"],
    }
    seen: dict[str, int] = {}
    problems: list[str] = []
    for note in notes:
        assert not list(jsonschema.Draft7Validator(envelope).iter_errors(note))
        assert note["method"] == "subscription"
        channel, data = note["params"]["channel"], note["params"]["data"]
        spec_channel = CHANNELS[channel]
        seen[channel] = seen.get(channel, 0) + 1
        message = asyncapi["channels"][spec_channel]["messages"]["subscription_message"]
        example = message["examples"][0]["payload"]
        for error in jsonschema.Draft7Validator(message["payload"]).iter_errors(data):
            # spec defect: these payloads are declared objects, but the spec's own example
            # (and the real exchange) sends a list of rows
            if not (
                error.validator == "type" and isinstance(data, list) == isinstance(example, list)
            ):
                problems.append(f"{channel}: {error.message}")
        problems.extend(_shape_problems(spec_channel, data, example))
    assert set(seen) == set(CHANNELS), f"no notification on {set(CHANNELS) - set(seen)}"
    assert problems == [], "\n".join(problems)


def test_methods_answer_over_the_socket_and_private_ones_need_auth(server: ServerThread) -> None:
    socket = Socket(server)
    assert socket.call("public/get_time")["result"] == _exchange(server).now_ms()
    refused = socket.call("private/get_positions", {"currency": "BTC"})
    assert refused["error"]["code"] == 10000
    refused_sub = socket.call("private/subscribe", {"channels": ["user.portfolio.BTC"]})
    assert refused_sub["error"]["code"] == 13009
    socket.login()
    positions = socket.call("private/get_positions", {"currency": "BTC"})
    assert positions["result"] == []
    assert socket.call("public/unsubscribe_all")["result"] == "ok"


def test_book_changes_chain_by_change_id_and_a_dropped_one_shows_as_a_gap(
    server: ServerThread,
) -> None:
    exchange = _exchange(server)
    socket = Socket(server)
    socket.call("public/subscribe", {"channels": ["book.BTC-PERPETUAL.raw"]})
    for _ in range(3):
        exchange.clock.advance(60)
        socket.pump(0.4)
    exchange.faults.inject("ws_drop_notification")
    exchange.clock.advance(60)
    socket.pump(0.4)
    exchange.clock.advance(60)
    books = [n["params"]["data"] for n in socket.pump(0.5)]
    assert books[0]["type"] == "snapshot"
    links = [(b["prev_change_id"], a["change_id"]) for a, b in itertools.pairwise(books)]
    gaps = [link for link in links if link[0] != link[1]]
    assert len(gaps) == 1, links


def test_heartbeat_test_requests_and_a_missed_answer_disconnects(server: ServerThread) -> None:
    socket = Socket(server)
    # Seconds of margin around every deadline: a loaded CI machine delays the publish loop.
    assert socket.call("public/set_heartbeat", {"interval": 2.0})["result"] == "ok"
    notes = socket.pump(2.5)  # the first test_request at 2 s
    assert {"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}} in notes
    socket.call("public/test")  # answered (due by 4 s): the connection stays
    socket.pump(0.5)
    socket.call("public/test")
    assert _closed_by_server(socket)  # stop answering: the server closes the socket


def test_injected_disconnect_and_heartbeat_miss(server: ServerThread) -> None:
    exchange = _exchange(server)
    socket = Socket(server)
    socket.call("public/subscribe", {"channels": ["deribit_price_index.btc_usd"]})
    socket.pump(0.3)
    exchange.faults.inject("heartbeat_miss", hang_s=1.0)
    time.sleep(0.3)
    socket.notes.clear()
    exchange.clock.advance(60)
    assert socket.pump(0.5) == []  # silent
    socket.pump(1.0)
    assert socket.notes, "the server speaks again after hang_s"
    exchange.faults.inject("ws_disconnect")
    assert _closed_by_server(socket)
    assert [f for f in exchange.faults.fired if f[0] == "ws_disconnect"]


def test_a_still_market_sends_nothing_new_until_a_trade_prints_or_the_market_steps(
    server: ServerThread,
) -> None:
    """While nothing a market channel depends on moves, the server does not recompute it (a
    still market costs nothing); a trade taking the offer and a market step each still reach
    the ticker at the next publish."""
    socket = Socket(server)
    socket.login()
    rows = socket.call(
        "public/get_book_summary_by_currency", {"currency": "BTC", "kind": "option"}
    )["result"]
    row = next(r for r in rows if r["bid_price"] and r["ask_price"])
    name, channel = row["instrument_name"], f"ticker.{row['instrument_name']}.100ms"
    assert socket.call("public/subscribe", {"channels": [channel]})["result"] == [channel]

    def tickers(seconds: float = 0.5) -> list[dict[str, Any]]:
        start = len(socket.notes)
        socket.pump(seconds)
        return [
            n["params"]["data"]
            for n in socket.notes[start:]
            if n.get("params", {}).get("channel") == channel
        ]

    first = tickers()
    assert len(first) == 1
    assert first[0]["last_price"] is None
    assert tickers() == []  # still: nothing new
    order = {"instrument_name": name, "amount": 0.1, "type": "market"}
    trade = socket.call("private/buy", order)["result"]["trades"][0]
    after_trade = tickers()
    assert [t["last_price"] for t in after_trade] == [trade["price"]]
    assert tickers() == []
    exchange = _exchange(server)
    with exchange.lock:
        exchange.clock.advance(60)  # one step of the market's grid
    stepped = tickers()
    assert len(stepped) == 1
    assert stepped[0]["mark_price"] != first[0]["mark_price"]

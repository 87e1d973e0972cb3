"""ccxt, a real third-party Deribit client, against the simulated exchange over loopback.

Nothing in ccxt is changed but its base URL: it loads every market (`public/get_currencies`,
`public/get_instruments` without a currency), signs private calls with Deribit's HMAC header
(`deri-hmac-sha256`), and parses every reply with its own Deribit parser. The exchange starts at
the wall clock's now, because ccxt computes its candle and funding windows from its own clock.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.trading.deribit.conftest import CLIENT_ID, CLIENT_SECRET
from trading.deribit.simulator import ServerThread, SimConfig, SimulatedExchange, create_app

ccxt = pytest.importorskip("ccxt")

PERP = "BTC/USD:BTC"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    """A loopback simulator whose market starts now (ccxt's windows use the wall clock)."""
    start = datetime.now(tz=UTC).replace(second=0, microsecond=0)
    exchange = SimulatedExchange(
        SimConfig.model_validate({"seed": 11, "start": start, "rate_limits": None})
    )
    running = ServerThread(create_app(exchange), port=0).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def deribit(server: ServerThread) -> Any:
    """ccxt's Deribit exchange object with only its REST base URL pointed at the simulator."""
    client = ccxt.deribit({"apiKey": CLIENT_ID, "secret": CLIENT_SECRET, "timeout": 60_000})
    client.urls["api"] = {"rest": server.base_url.rsplit("/api/v2", 1)[0]}
    client.load_markets()
    return client


def _exchange(server: ServerThread) -> SimulatedExchange:
    exchange: SimulatedExchange = server.app.exchange
    return exchange


def test_ccxt_loads_every_market_with_parsed_options_and_the_perpetual(deribit: Any) -> None:
    markets = deribit.markets
    assert len(markets) > 1000
    assert markets[PERP]["swap"]
    assert markets[PERP]["inverse"]
    options = [m for m in markets.values() if m["option"]]
    assert len(options) > 1000
    assert {m["base"] for m in options} == {"BTC", "ETH"}
    assert all(m["strike"] and m["expiry"] and m["optionType"] in ("call", "put") for m in options)
    assert {"BTC", "ETH"} <= set(deribit.currencies)


def test_ccxt_reads_ticker_book_balance_funding_and_trades(deribit: Any) -> None:
    ticker = deribit.fetch_ticker(PERP)
    assert 0 < ticker["bid"] < ticker["ask"]
    book = deribit.fetch_order_book(PERP)
    assert book["bids"][0][0] == ticker["bid"]
    assert book["asks"][0][0] == ticker["ask"]
    balance = deribit.fetch_balance()
    assert balance["total"]["BTC"] > 0
    assert balance["total"]["ETH"] > 0
    funding = deribit.fetch_funding_rate(PERP)
    assert isinstance(funding["fundingRate"], float)
    assert isinstance(deribit.fetch_trades(PERP), list)


def test_ccxt_places_fetches_and_cancels_a_resting_order(deribit: Any) -> None:
    bid = deribit.fetch_ticker(PERP)["bid"]
    price = deribit.price_to_precision(PERP, bid * 0.98)
    order = deribit.create_order(PERP, "limit", "buy", 10, float(price), {"label": "ccxt-rest"})
    assert order["status"] == "open"
    assert order["id"]
    open_ids = [o["id"] for o in deribit.fetch_open_orders(PERP)]
    assert order["id"] in open_ids
    assert deribit.fetch_order(order["id"], PERP)["status"] == "open"
    deribit.cancel_order(order["id"], PERP)
    assert deribit.fetch_order(order["id"], PERP)["status"] == "canceled"
    assert order["id"] not in [o["id"] for o in deribit.fetch_open_orders(PERP)]
    closed = deribit.fetch_closed_orders(PERP, params={"include_unfilled": True})
    assert order["id"] in [o["id"] for o in closed]


def test_ccxt_fills_then_sees_its_position_trades_and_candle_volume(
    deribit: Any, server: ServerThread
) -> None:
    filled = deribit.create_order(PERP, "market", "buy", 100)
    assert deribit.fetch_order(filled["id"], PERP)["status"] == "closed"
    positions = [p for p in deribit.fetch_positions() if p["symbol"] == PERP]
    assert positions
    assert positions[0]["contracts"] != 0
    assert positions[0]["side"] == "long"
    mine = deribit.fetch_my_trades(PERP)
    assert filled["id"] in {t["order"] for t in mine}
    assert filled["id"] in {o["id"] for o in deribit.fetch_closed_orders(PERP)}
    public = deribit.fetch_trades(PERP)
    assert any(t["id"] in {m["id"] for m in mine} for t in public)

    option = next(
        m["symbol"]
        for m in deribit.markets.values()
        if m["option"] and m["base"] == "BTC" and m["optionType"] == "call"
        if deribit.fetch_ticker(m["symbol"])["bid"]
    )
    sold = deribit.create_order(option, "market", "sell", 0.1)
    assert deribit.fetch_order(sold["id"], option)["filled"] == pytest.approx(0.1)
    assert option in {p["symbol"] for p in deribit.fetch_positions()}

    candles = deribit.fetch_ohlcv(PERP, "1m", limit=5)
    assert candles, "no candle in the last 5 minutes"
    assert sum(c[5] for c in candles) == pytest.approx(100 / filled["average"], abs=1e-8)


def test_ccxt_candles_have_an_intrabar_range(deribit: Any) -> None:
    candles = deribit.fetch_ohlcv(PERP, "1h", limit=48)
    assert len(candles) >= 24
    assert all(c[3] <= min(c[1], c[4]) <= max(c[1], c[4]) <= c[2] for c in candles)
    assert sum(1 for c in candles if c[2] > c[3]) >= len(candles) - 1


def _signed_get(
    server: ServerThread, path: str, ts: int, nonce: str, secret: str
) -> httpx.Response:
    uri = f"/api/v2/{path}"
    message = f"{ts}\n{nonce}\nGET\n{uri}\n\n"
    sig = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    header = f"deri-hmac-sha256 id={CLIENT_ID},ts={ts},sig={sig},nonce={nonce}"
    root = server.base_url.rsplit("/api/v2", 1)[0]
    return httpx.get(root + uri, headers={"Authorization": header}, timeout=30)


def test_hmac_signature_is_checked_and_replays_and_stale_timestamps_are_refused(
    server: ServerThread,
) -> None:
    path = "private/get_positions?currency=BTC"
    now = int(time.time() * 1000)
    first = _signed_get(server, path, now, "n-1", CLIENT_SECRET)
    assert first.status_code == 200, first.text
    replay = _signed_get(server, path, now, "n-1", CLIENT_SECRET)
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == 13009
    assert "nonce" in replay.json()["error"]["data"]["reason"]
    stale = _signed_get(server, path, now - 120_000, "n-2", CLIENT_SECRET)
    assert stale.status_code == 401
    assert "stale" in stale.json()["error"]["data"]["reason"]
    forged = _signed_get(server, path, now, "n-3", "not-the-secret")
    assert forged.status_code == 401
    assert "signature" in forged.json()["error"]["data"]["reason"]


def test_auth_grants_a_token_for_a_client_signature(server: ServerThread) -> None:
    ts, nonce = int(time.time() * 1000), "sig-nonce"
    sig = hmac.new(CLIENT_SECRET.encode(), f"{ts}\n{nonce}\n".encode(), hashlib.sha256).hexdigest()
    params = {
        "grant_type": "client_signature",
        "client_id": CLIENT_ID,
        "timestamp": ts,
        "nonce": nonce,
        "signature": sig,
        "data": "",
    }
    reply = httpx.post(
        f"{server.base_url}/public/auth",
        json={"jsonrpc": "2.0", "id": 1, "method": "public/auth", "params": params},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    assert "trade:read_write" in reply.json()["result"]["scope"]
    again = httpx.post(
        f"{server.base_url}/public/auth",
        json={"jsonrpc": "2.0", "id": 2, "method": "public/auth", "params": params},
        timeout=30,
    )
    assert again.json()["error"]["code"] == 13009

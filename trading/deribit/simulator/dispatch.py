"""Routing of the simulated exchange's JSON-RPC methods to their handlers.

The method tables of `public_api`, `private_api` and `library_api` are assembled here, above
both the exchange (which only admits a request: sync, credits, authentication) and the
handlers (which act on it), so neither imports the other's layer upwards. `handle` is the whole
exchange behind the HTTP layer (`app.py`) and the WebSocket (`websocket.py`, which answers the
socket-only methods, subscriptions and heartbeats, itself and passes the rest here).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from trading.deribit.errors import AuthError, InvalidParamsError
from trading.deribit.limiter import MATCHING_ENGINE_METHODS
from trading.deribit.simulator.accounts import Account
from trading.deribit.simulator.encoding import plain
from trading.deribit.simulator.exchange import SimulatedExchange
from trading.deribit.simulator.library_api import LIBRARY_PRIVATE, LIBRARY_PUBLIC
from trading.deribit.simulator.params import Params
from trading.deribit.simulator.private_api import PRIVATE_METHODS
from trading.deribit.simulator.public_api import PUBLIC_METHODS
from trading.deribit.simulator.signatures import SignedRequest

Handler = Callable[[SimulatedExchange, Params, Account | None], Any]

#: Methods anyone may call: ours first, then what third-party clients need on top.
PUBLIC: Mapping[str, Handler] = {**LIBRARY_PUBLIC, **PUBLIC_METHODS}
#: Methods that need an authenticated account.
PRIVATE: Mapping[str, Handler] = {**LIBRARY_PRIVATE, **PRIVATE_METHODS}


def handle(
    exchange: SimulatedExchange,
    method: str,
    params: dict[str, Any],
    *,
    authorization: str | None = None,
    client_key: str = "127.0.0.1",
    signed: SignedRequest | None = None,
) -> Any:
    """Execute one JSON-RPC method; returns its `result` or raises a `DeribitError`."""
    return plain(
        handle_wire(
            exchange,
            method,
            params,
            authorization=authorization,
            client_key=client_key,
            signed=signed,
        )
    )


def handle_wire(
    exchange: SimulatedExchange,
    method: str,
    params: dict[str, Any],
    *,
    authorization: str | None = None,
    client_key: str = "127.0.0.1",
    signed: SignedRequest | None = None,
) -> Any:
    """Like `handle`, but large cached results may come back pre-encoded (`EncodedResult`).

    `signed` is the HTTP request line and body, which a `deri-hmac-sha256` header signs.
    """
    with exchange.lock:
        account = exchange.admit(
            method, authorization=authorization, client_key=client_key, signed=signed
        )
        public = PUBLIC.get(method)
        if public is not None:
            return public(exchange, Params(params), account)
        private = PRIVATE.get(method)
        if private is None:
            raise InvalidParamsError("Method not found", code=-32601)
        if account is None:
            if authorization:
                raise AuthError(http_status=401)
            raise AuthError("authorization_required", code=10000, http_status=400)
        if method in MATCHING_ENGINE_METHODS and "trade:read_write" not in account.scope:
            raise AuthError("forbidden", code=13021, http_status=400)
        return private(exchange, Params(params), account)

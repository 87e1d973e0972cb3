"""ASGI front of the simulated exchange: Deribit's HTTP API, envelope, status codes and faults.

Routes:
* `GET  /api/v2/{public|private}/{method}?params` (Deribit's documented form; booleans as
  `true`/`false`), `POST /api/v2/{public|private}/{method}` and `POST /api/v2` with a JSON-RPC
  body `{"jsonrpc": "2.0", "id": ..., "method": ..., "params": {...}}`;
* `WS /ws/api/v2`: Deribit's WebSocket JSON-RPC (`websocket.py`);
* `GET /_sim/state`, `POST|DELETE|GET /_sim/faults`, `POST /_sim/clock`,
  `POST /_sim/settlement_window`: the control surface for tests and the demo.

Replies carry `jsonrpc`, `id` (when the request had one), `result` or `error`, `usIn`, `usOut`,
`usDiff` and `testnet`. Errors use Deribit's codes with its HTTP statuses (400 for business
errors, 401 for a bad token, 429 for 10028).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from trading.deribit.errors import (
    DeribitError,
    InvalidParamsError,
    RateLimitError,
    SettlementInProgressError,
    error_from_response,
)
from trading.deribit.simulator.dispatch import handle_wire
from trading.deribit.simulator.encoding import dumps, envelope_bytes
from trading.deribit.simulator.exchange import SimulatedExchange
from trading.deribit.simulator.faults import FaultRule
from trading.deribit.simulator.signatures import SignedRequest
from trading.deribit.simulator.websocket import serve_websocket

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

API_PREFIX = "/api/v2"
CONTROL_PREFIX = "/_sim"


class _Request:
    """A parsed JSON-RPC request."""

    def __init__(self, method: str, params: dict[str, Any], request_id: Any, has_id: bool) -> None:
        self.method = method
        self.params = params
        self.request_id = request_id
        self.has_id = has_id


def _signed_request(scope: Scope, body: bytes) -> SignedRequest:
    """The request line and body as received: what a `deri-hmac-sha256` signature covers."""
    raw_path = scope.get("raw_path") or scope["path"].encode()
    uri = raw_path.decode("latin-1")
    query = scope.get("query_string", b"")
    if query:
        uri = f"{uri}?{query.decode('latin-1')}"
    return SignedRequest(scope["method"], uri, body)


def _now_us() -> int:
    return time.time_ns() // 1000


def _json_bytes(payload: Any) -> bytes:
    return dumps(payload)


class DeribitSimApp:
    """The ASGI application; one instance serves one `SimulatedExchange`."""

    def __init__(self, exchange: SimulatedExchange) -> None:
        self.exchange = exchange

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] == "websocket":
            await serve_websocket(self.exchange, scope, receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        body = await self._read_body(receive)
        if path.startswith(CONTROL_PREFIX):
            await self._control(scope, path, body, send)
            return
        if not path.startswith(API_PREFIX):
            await self._send(send, 404, b'{"error":"not found"}')
            return
        await self._api(scope, path, body, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _send(
        self, send: Send, status: int, body: bytes, content_type: bytes = b"application/json"
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    # ------------------------------------------------------------------ API

    def _parse(self, scope: Scope, path: str, body: bytes) -> _Request:
        path_method = path[len(API_PREFIX) :].strip("/")
        if scope["method"] == "GET":
            query = scope.get("query_string", b"").decode()
            return _Request(path_method, dict(parse_qsl(query)), None, has_id=False)
        if len(body) > self.exchange.config.max_body_bytes:
            raise InvalidParamsError("request entity too large", code=-32600)
        try:
            payload = json.loads(body or b"{}")
        except ValueError as exc:
            raise InvalidParamsError("Parse error", code=-32700) from exc
        if not isinstance(payload, dict):
            raise InvalidParamsError("Invalid Request", code=-32600)
        params = payload.get("params") or {}
        if not isinstance(params, dict):
            raise InvalidParamsError(data={"param": "params", "reason": "must be named"})
        method = str(payload.get("method") or path_method)
        return _Request(method, params, payload.get("id"), has_id="id" in payload)

    def _envelope(self, request: _Request | None, us_in: int) -> dict[str, Any]:
        envelope: dict[str, Any] = {"jsonrpc": "2.0"}
        if request is not None and request.has_id:
            envelope["id"] = request.request_id
        return envelope

    def _finish(self, envelope: dict[str, Any], us_in: int) -> bytes:
        has_result = "result" in envelope
        result = envelope.pop("result", None)
        us_out = _now_us()
        envelope.update(
            {
                "usIn": us_in,
                "usOut": us_out,
                "usDiff": us_out - us_in,
                "testnet": self.exchange.config.testnet,
            }
        )
        if has_result:
            return envelope_bytes(envelope, result)
        return dumps(envelope)

    async def _api(self, scope: Scope, path: str, body: bytes, send: Send) -> None:
        us_in = _now_us()
        request: _Request | None = None
        try:
            request = self._parse(scope, path, body)
        except DeribitError as error:
            await self._send_error(send, None, error, us_in)
            return
        faults = {str(rule.kind): rule for rule in self.exchange.faults.take(request.method)}
        if "latency" in faults:
            await asyncio.sleep(faults["latency"].latency_s)
        if await self._fault_before(send, request, faults, us_in):
            return
        headers = dict(scope.get("headers", []))
        authorization = headers.get(b"authorization", b"").decode() or None
        client = scope.get("client") or ("127.0.0.1", 0)
        try:
            result = handle_wire(
                self.exchange,
                request.method,
                request.params,
                authorization=authorization,
                client_key=client[0],
                signed=_signed_request(scope, body),
            )
        except DeribitError as error:
            await self._send_error(send, request, error, us_in)
            return
        envelope = self._envelope(request, us_in)
        envelope["result"] = result
        await self._reply_after(send, envelope, faults, us_in)

    async def _fault_before(
        self, send: Send, request: _Request, faults: dict[str, FaultRule], us_in: int
    ) -> bool:
        """Faults that stop the request before the exchange sees it; True when one fired."""
        if "timeout" in faults:
            await asyncio.sleep(faults["timeout"].hang_s)
            await self._send(send, 504, b"<html>504 Gateway Time-out</html>", b"text/html")
            return True
        if "http_5xx" in faults:
            status = faults["http_5xx"].status
            page = f"<html>{status} Bad Gateway</html>".encode()
            await self._send(send, status, page, b"text/html")
            return True
        error: DeribitError | None = None
        if "rate_limit" in faults:
            self.exchange.revoke_tokens()
            error = RateLimitError()
        elif "settlement" in faults:
            error = SettlementInProgressError()
        elif "error" in faults:
            rule = faults["error"]
            error = error_from_response({"code": rule.code, "message": rule.message})
        if error is None:
            return False
        await self._send_error(send, request, error, us_in)
        return True

    async def _reply_after(
        self, send: Send, envelope: dict[str, Any], faults: dict[str, FaultRule], us_in: int
    ) -> None:
        """Send the reply, unless a fault loses or corrupts it after the exchange acted."""
        if "drop_reply" in faults:
            await asyncio.sleep(faults["drop_reply"].hang_s)
            return  # no response at all: the connection is closed
        body = self._finish(envelope, us_in)
        if "malformed_json" in faults:
            body = body[: max(1, len(body) // 2)]
        await self._send(send, 200, body)

    async def _send_error(
        self, send: Send, request: _Request | None, error: DeribitError, us_in: int
    ) -> None:
        envelope = self._envelope(request, us_in)
        envelope["error"] = error.to_error_object()
        await self._send(send, error.http_status, self._finish(envelope, us_in))

    # ------------------------------------------------------------------ control

    async def _control(self, scope: Scope, path: str, body: bytes, send: Send) -> None:
        action = path[len(CONTROL_PREFIX) :].strip("/")
        try:
            payload = json.loads(body) if body else {}
            result = self._control_action(action, scope["method"], payload)
        except (ValueError, KeyError, TypeError) as exc:
            await self._send(send, 400, _json_bytes({"error": str(exc)}))
            return
        await self._send(send, 200, _json_bytes(result))

    def _control_action(self, action: str, method: str, payload: Any) -> Any:
        ex = self.exchange
        if action == "state":
            return sim_state(ex)
        if action == "faults":
            if method == "DELETE":
                ex.faults.clear()
            elif method == "POST":
                rules = payload if isinstance(payload, list) else [payload]
                for rule in rules:
                    ex.faults.add(FaultRule.model_validate(rule))
            return [rule.model_dump() for rule in ex.faults.pending()]
        if action == "clock" and method == "POST":
            with ex.lock:
                if "set_ms" in payload:
                    ex.clock.set_ms(int(payload["set_ms"]))
                else:
                    ex.clock.advance(float(payload.get("advance_s", 0)))
                ex.sync()
            return {"now_ms": ex.now_ms()}
        if action == "settlement_window" and method == "POST":
            ex.open_settlement_window(float(payload.get("seconds", 5)))
            return {"settlement_until_ms": ex.settlement_until_ms}
        raise KeyError(f"unknown control action {method} {action}")


def sim_state(ex: SimulatedExchange) -> dict[str, Any]:
    """A JSON summary of the simulated exchange (for `/_sim/state` and the demo)."""
    with ex.lock:
        ex.sync()
        return {
            "now_ms": ex.now_ms(),
            "speed": ex.clock.speed,
            "testnet": ex.config.testnet,
            "market": {
                c: {"index_price": round(ex.market.index_price(c), 2)} for c in ex.market.currencies
            },
            "accounts": [
                {"client_id": a.client_id, "balances": {k: float(v) for k, v in a.balances.items()}}
                for a in ex.accounts.values()
            ],
            "open_orders": len(ex.books.open_orders),
            "faults": [rule.model_dump() for rule in ex.faults.pending()],
            "requests": dict(ex.request_counts),
        }


def create_app(exchange: SimulatedExchange | None = None) -> DeribitSimApp:
    """The ASGI app of a (new, default) simulated exchange."""
    return DeribitSimApp(exchange or SimulatedExchange())

"""The connection under every Deribit call: JSON-RPC transport, retries, send-once and OAuth.

Every request is a JSON-RPC POST to `{base_url}/{method}` so that no credential ever appears in
a URL (httpx logs URLs). Reads are retried with capped exponential back-off and full jitter;
order-changing calls are sent exactly once: when their reply is lost they raise
`UnknownOutcomeError` carrying the order label. A client-side `CreditLimiter` keeps the client
under Deribit's credit limits so it never provokes 10028 on its own.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Self, TypeVar, cast

import httpx
from pydantic import TypeAdapter, ValidationError

from trading.deribit.errors import (
    RETRYABLE_READ_ERRORS,
    AuthError,
    DeribitError,
    ExchangeUnavailableError,
    MainnetRefusedError,
    PublicOnlyError,
    UnknownOutcomeError,
    error_from_response,
)
from trading.deribit.limiter import CreditLimiter
from trading.deribit.models import AuthResult, Instrument
from trading.deribit.rpc import (
    ORDER_CHANGING_METHODS,
    Reply,
    RetryPolicy,
    is_mainnet_url,
    redact_params,
    to_wire,
)

logger = logging.getLogger("trading.deribit")

T = TypeVar("T")


class _Token:
    """Current OAuth tokens and when to refresh them (monotonic seconds)."""

    def __init__(self, auth: AuthResult, obtained_at_s: float) -> None:
        self.access_token = auth.access_token
        self.refresh_token = auth.refresh_token
        self.expires_at_s = obtained_at_s + auth.expires_in
        # Refresh once 80% of the lifetime is used, so short test tokens refresh too.
        self.refresh_at_s = obtained_at_s + 0.8 * auth.expires_in
        self.scope = auth.scope


class RpcSession:
    """One authenticated JSON-RPC connection: the base the client's method families build on."""

    def __init__(
        self,
        base_url: str,
        client_id: str = "",
        client_secret: str = "",
        *,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        limiter: CreditLimiter | None = None,
        allow_mainnet: bool = False,
        public_only: bool = False,
        retry: RetryPolicy | None = None,
        instruments_ttl_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        # A public-only client has no keys and refuses private methods: reading mainnet market
        # data with it needs no real-money confirmation.
        if is_mainnet_url(base_url) and not (allow_mainnet or public_only):
            raise MainnetRefusedError(
                f"refusing mainnet URL {base_url}: construct with allow_mainnet=True"
            )
        self.base_url = base_url.rstrip("/")
        self.public_only = public_only
        if public_only:
            client_id, client_secret = "", ""
        self.client_id = client_id
        self._client_secret = client_secret
        self.timeout_s = timeout_s
        self.limiter = limiter if limiter is not None else CreditLimiter(sleep=sleep)
        self.retry = retry or RetryPolicy()
        self.instruments_ttl_s = instruments_ttl_s
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._http = httpx.Client(timeout=timeout_s, transport=transport)
        self._ids = itertools.count(1)
        self._token: _Token | None = None
        self._auth_lock = threading.RLock()
        self._instruments_cache: dict[tuple[str, str, bool], tuple[float, list[Instrument]]] = {}
        self.request_count = 0
        self._count_lock = threading.Lock()  # reads may be sent from several threads

    def __repr__(self) -> str:
        return f"DeribitClient(base_url={self.base_url!r}, client_id={self.client_id!r})"

    def credentials(self) -> tuple[str, str]:
        """(client id, secret) for a WebSocket of the same account (`DeribitStream`); the
        secret is never part of `repr`, logs or errors."""
        return self.client_id, self._client_secret

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the HTTP connection pool."""
        self._http.close()

    # ------------------------------------------------------------------ transport

    def _post(
        self,
        method: str,
        params: Mapping[str, Any],
        *,
        private: bool,
        reply: TypeAdapter[Any] | None = None,
    ) -> Any:
        """Send one JSON-RPC request and return its `result`; raise the typed error otherwise.

        With `reply` (an adapter of `RpcReply[T]`) the body is validated straight from JSON
        text, which is faster and keeps every number exact; otherwise it is plain JSON.
        """
        if self.public_only and (private or method == "public/auth"):
            raise PublicOnlyError(
                f"{method} refused: this client reads public market data only "
                f"({self.base_url}) and holds no keys",
                method=method,
            )
        self.limiter.acquire(method)
        request_id = next(self._ids)
        body = {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": method,
            "params": {k: to_wire(v) for k, v in params.items() if v is not None},
        }
        headers = {"Content-Type": "application/json"}
        if private:
            try:
                headers["Authorization"] = f"Bearer {self._access_token()}"
            except ExchangeUnavailableError as exc:
                exc.request_sent = False  # failed while authenticating, before this request
                raise
        with self._count_lock:
            self.request_count += 1
        started_s = time.perf_counter()
        try:
            response = self._http.post(
                f"{self.base_url}/{method}", content=json.dumps(body), headers=headers
            )
        except httpx.ConnectError as exc:
            unavailable = ExchangeUnavailableError(f"connect failed: {exc}", method=method)
            unavailable.request_sent = False
            raise unavailable from exc
        except httpx.TimeoutException as exc:
            raise ExchangeUnavailableError(f"timed out: {exc!r}", method=method) from exc
        except httpx.TransportError as exc:
            raise ExchangeUnavailableError(f"transport error: {exc!r}", method=method) from exc
        elapsed_ms = (time.perf_counter() - started_s) * 1000
        logger.debug(
            "deribit %s id=%s status=%s %.1fms params=%s",
            method,
            request_id,
            response.status_code,
            elapsed_ms,
            redact_params(params),
        )
        if reply is None:
            return self._parse(method, response)
        return self._parse_typed(method, response, reply)

    def _parse_typed(self, method: str, response: httpx.Response, reply: TypeAdapter[Any]) -> Any:
        try:
            envelope = reply.validate_json(response.content)
        except ValidationError as exc:
            self._parse(method, response)  # raises the transport or JSON-RPC error, if any
            raise DeribitError(
                f"reply does not match the expected shape: {exc.errors()[:3]}",
                code=-4,
                method=method,
            ) from exc
        if envelope.error is not None:
            raise error_from_response(
                envelope.error.model_dump(), method=method, http_status=response.status_code
            )
        return envelope.result

    def _parse(self, method: str, response: httpx.Response) -> Any:
        try:
            envelope = response.json()
        except ValueError as exc:
            raise ExchangeUnavailableError(
                f"unreadable reply (HTTP {response.status_code})",
                method=method,
                http_status=response.status_code,
            ) from exc
        if not isinstance(envelope, dict) or ("result" not in envelope and "error" not in envelope):
            raise ExchangeUnavailableError(
                f"not a JSON-RPC reply (HTTP {response.status_code})",
                method=method,
                http_status=response.status_code,
            )
        if "error" in envelope and envelope["error"] is not None:
            if not isinstance(envelope["error"], dict):
                raise ExchangeUnavailableError(
                    f"not a JSON-RPC error (HTTP {response.status_code})",
                    method=method,
                    http_status=response.status_code,
                )
            raise error_from_response(
                envelope["error"], method=method, http_status=response.status_code
            )
        return envelope["result"]

    def _send_order_changing(
        self,
        method: str,
        params: Mapping[str, Any],
        *,
        label: str = "",
        order_id: str = "",
        reply: TypeAdapter[Any] | None = None,
    ) -> Any:
        """Send an order-changing call exactly once; a lost reply becomes UnknownOutcomeError."""
        try:
            return self._with_reauth(method, params, reply)
        except ExchangeUnavailableError as exc:
            if not exc.request_sent:
                raise  # never reached the exchange: nothing happened, safe to decide again
            raise UnknownOutcomeError(
                f"no trustworthy reply to {method}: {exc.message}",
                method=method,
                label=label,
                order_id=order_id,
                instrument_name=str(params.get("instrument_name", "")),
            ) from exc

    def _with_reauth(
        self, method: str, params: Mapping[str, Any], reply: TypeAdapter[Any] | None = None
    ) -> Any:
        """Send once; on 13009 (token expired or revoked) authenticate again and resend once."""
        private = method.startswith("private/")
        try:
            return self._post(method, params, private=private, reply=reply)
        except AuthError as exc:
            if not private or exc.code != 13009:
                raise
            logger.info("deribit %s: token rejected (13009), re-authenticating", method)
            self.authenticate()
            # The exchange rejected the first request before acting on it, so resending is safe.
            return self._post(method, params, private=private, reply=reply)

    def call(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        reply: TypeAdapter[Any] | None = None,
    ) -> Any:
        """Call any JSON-RPC method and return its `result` (reads retry, orders never).

        Without `reply` the result is plain JSON; with an adapter of `RpcReply[T]` it is a T.
        """
        params = dict(params or {})
        if method in ORDER_CHANGING_METHODS:
            return self._send_order_changing(
                method,
                params,
                label=str(params.get("label", "")),
                order_id=str(params.get("order_id", "")),
                reply=reply,
            )
        last_error: DeribitError | None = None
        for attempt in range(self.retry.max_attempts):
            try:
                return self._with_reauth(method, params, reply)
            except RETRYABLE_READ_ERRORS as exc:
                last_error = exc
                if attempt + 1 >= self.retry.max_attempts:
                    break
                delay_s = self.retry.delay_s(attempt, self._rng)
                logger.warning("deribit %s failed (%s); retry in %.2fs", method, exc, delay_s)
                self._sleep(delay_s)
        assert last_error is not None
        raise last_error

    def _typed(self, reply: Reply[T], method: str, params: Mapping[str, Any]) -> T:
        result = self.call(method, params, reply=reply.adapter)
        if result is None:
            raise DeribitError("reply without a result", code=-4, method=method)
        return cast(T, result)

    # ------------------------------------------------------------------ auth

    def authenticate(self) -> AuthResult:
        """Obtain a fresh token with client credentials (`public/auth`)."""
        with self._auth_lock:
            raw = self._post(
                "public/auth",
                {
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self._client_secret,
                },
                private=False,
            )
            auth = AuthResult.model_validate(raw)
            self._token = _Token(auth, self._clock())
            logger.info("deribit authenticated as %s (scope %s)", self.client_id, auth.scope)
            return auth

    def _refresh(self, token: _Token) -> None:
        try:
            raw = self._post(
                "public/auth",
                {"grant_type": "refresh_token", "refresh_token": token.refresh_token},
                private=False,
            )
        except AuthError:
            self.authenticate()
            return
        self._token = _Token(AuthResult.model_validate(raw), self._clock())
        logger.info("deribit token refreshed")

    def _access_token(self) -> str:
        with self._auth_lock:
            token = self._token
            if token is None or self._clock() >= token.expires_at_s:
                self.authenticate()
            elif self._clock() >= token.refresh_at_s:
                self._refresh(token)
            assert self._token is not None
            return self._token.access_token

    @property
    def is_authenticated(self) -> bool:
        """True when a token is held that has not expired yet."""
        return self._token is not None and self._clock() < self._token.expires_at_s

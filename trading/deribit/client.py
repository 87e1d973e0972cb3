"""Typed, synchronous JSON-RPC v2 client for Deribit over HTTP (sim, testnet or mainnet).

Every request is a JSON-RPC POST to `{base_url}/{method}` so that no credential ever appears in
a URL (httpx logs URLs). Reads are retried with capped exponential back-off and full jitter;
order-changing calls are sent exactly once: when their reply is lost they raise
`UnknownOutcomeError` carrying the order label, and the caller resolves the order with
`get_order_state_by_label`. A client-side `CreditLimiter` keeps the client under Deribit's
credit limits so it never provokes 10028 on its own.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar, cast

import httpx
from pydantic import TypeAdapter, ValidationError

from trading.deribit.errors import (
    RETRYABLE_READ_ERRORS,
    AuthError,
    DeribitError,
    ExchangeUnavailableError,
    MainnetRefusedError,
    UnknownOutcomeError,
    error_from_response,
)
from trading.deribit.limiter import CreditLimiter
from trading.deribit.models import (
    AccountSummary,
    AuthResult,
    BookSummary,
    DeliveryPrices,
    FundingRate,
    IndexPrice,
    Instrument,
    Margins,
    Order,
    OrderBook,
    OrderResult,
    Position,
    Ticker,
    TradesPage,
    TradingViewChartData,
    UserTradesPage,
    VolatilityIndexData,
    VolatilityPoint,
)
from trading.deribit.rpc import (
    _ACCOUNT,
    _BOOK_SUMMARIES,
    _CHART,
    _DELIVERY,
    _DVOL,
    _FUNDING,
    _INDEX_PRICE,
    _INSTRUMENTS,
    _MARGINS,
    _ORDER,
    _ORDER_BOOK,
    _ORDER_RESULT,
    _ORDERS,
    _POSITIONS,
    _TICKER,
    _TRADES_PAGE,
    _USER_TRADES,
    _VOL_POINTS,
    MAINNET_BASE_URL,
    MAINNET_HOSTS,
    ORDER_CHANGING_METHODS,
    SECRET_PARAM_NAMES,
    TESTNET_BASE_URL,
    Reply,
    RetryPolicy,
    RpcError,
    RpcReply,
    is_mainnet_url,
    redact_params,
    to_wire,
)

logger = logging.getLogger("trading.deribit")

T = TypeVar("T")

__all__ = [
    "MAINNET_BASE_URL",
    "MAINNET_HOSTS",
    "SECRET_PARAM_NAMES",
    "TESTNET_BASE_URL",
    "DeribitClient",
    "RetryPolicy",
    "RpcError",
    "RpcReply",
    "is_mainnet_url",
    "new_order_label",
    "redact_params",
]


class _Token:
    """Current OAuth tokens and when to refresh them (monotonic seconds)."""

    def __init__(self, auth: AuthResult, obtained_at_s: float) -> None:
        self.access_token = auth.access_token
        self.refresh_token = auth.refresh_token
        self.expires_at_s = obtained_at_s + auth.expires_in
        # Refresh once 80% of the lifetime is used, so short test tokens refresh too.
        self.refresh_at_s = obtained_at_s + 0.8 * auth.expires_in
        self.scope = auth.scope


class DeribitClient:
    """Deribit JSON-RPC client: typed public and private methods, auth, retries, pacing."""

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
        retry: RetryPolicy | None = None,
        instruments_ttl_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if is_mainnet_url(base_url) and not allow_mainnet:
            raise MainnetRefusedError(
                f"refusing mainnet URL {base_url}: construct with allow_mainnet=True"
            )
        self.base_url = base_url.rstrip("/")
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

    def __repr__(self) -> str:
        return f"DeribitClient(base_url={self.base_url!r}, client_id={self.client_id!r})"

    def __enter__(self) -> DeribitClient:
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

    # ------------------------------------------------------------------ public

    def get_time(self) -> int:
        """Exchange time in ms since the epoch."""
        return int(self.call("public/get_time"))

    def get_instruments(
        self, currency: str, kind: str | None = "option", *, expired: bool = False
    ) -> list[Instrument]:
        """Instruments of a currency; cached for `instruments_ttl_s` (own limit: 1 per 10 s)."""
        key = (currency, kind or "", expired)
        cached = self._instruments_cache.get(key)
        if cached is not None and self._clock() - cached[0] < self.instruments_ttl_s:
            return cached[1]
        params: dict[str, Any] = {"currency": currency, "kind": kind, "expired": expired}
        instruments = self._typed(_INSTRUMENTS, "public/get_instruments", params)
        self._instruments_cache[key] = (self._clock(), instruments)
        return instruments

    def get_book_summary_by_currency(
        self, currency: str, kind: str | None = "option"
    ) -> list[BookSummary]:
        """Book summary of every instrument of a currency (the whole option chain in one call)."""
        params = {"currency": currency, "kind": kind}
        return self._typed(_BOOK_SUMMARIES, "public/get_book_summary_by_currency", params)

    def get_book_summary_by_instrument(self, instrument_name: str) -> BookSummary:
        """Book summary of one instrument (Deribit returns a one-element list)."""
        rows = self._typed(
            _BOOK_SUMMARIES,
            "public/get_book_summary_by_instrument",
            {"instrument_name": instrument_name},
        )
        return rows[0]

    def ticker(self, instrument_name: str) -> Ticker:
        """Ticker of one instrument: top of book, mark, IVs and greeks."""
        return self._typed(_TICKER, "public/ticker", {"instrument_name": instrument_name})

    def get_order_book(self, instrument_name: str, depth: int = 5) -> OrderBook:
        """Order book levels (bids descending, asks ascending) plus ticker fields."""
        params = {"instrument_name": instrument_name, "depth": depth}
        return self._typed(_ORDER_BOOK, "public/get_order_book", params)

    def get_index_price(self, index_name: str) -> IndexPrice:
        """Index price in USD, e.g. `btc_usd`."""
        return self._typed(_INDEX_PRICE, "public/get_index_price", {"index_name": index_name})

    def get_historical_volatility(self, currency: str) -> list[VolatilityPoint]:
        """Hourly realized volatility (percent) of a currency."""
        params = {"currency": currency}
        return self._typed(_VOL_POINTS, "public/get_historical_volatility", params)

    def get_volatility_index_data(
        self, currency: str, start_timestamp: int, end_timestamp: int, resolution: str = "3600"
    ) -> VolatilityIndexData:
        """DVOL candles between two ms timestamps; page backwards with `continuation`."""
        params = {
            "currency": currency,
            "start_timestamp": start_timestamp,
            "end_timestamp": end_timestamp,
            "resolution": resolution,
        }
        return self._typed(_DVOL, "public/get_volatility_index_data", params)

    def get_tradingview_chart_data(
        self, instrument_name: str, start_timestamp: int, end_timestamp: int, resolution: str = "60"
    ) -> TradingViewChartData:
        """OHLCV candles of an instrument (resolution in minutes or `1D`)."""
        params = {
            "instrument_name": instrument_name,
            "start_timestamp": start_timestamp,
            "end_timestamp": end_timestamp,
            "resolution": resolution,
        }
        return self._typed(_CHART, "public/get_tradingview_chart_data", params)

    def get_last_trades_by_currency_and_time(
        self,
        currency: str,
        start_timestamp: int,
        end_timestamp: int,
        *,
        kind: str | None = "option",
        count: int = 10,
        sorting: str = "default",
    ) -> TradesPage:
        """Public trades of a currency between two ms timestamps."""
        params = {
            "currency": currency,
            "kind": kind,
            "start_timestamp": start_timestamp,
            "end_timestamp": end_timestamp,
            "count": count,
            "sorting": sorting,
        }
        return self._typed(_TRADES_PAGE, "public/get_last_trades_by_currency_and_time", params)

    def get_delivery_prices(
        self, index_name: str, *, offset: int = 0, count: int = 10
    ) -> DeliveryPrices:
        """Daily delivery prices of an index, newest first."""
        params = {"index_name": index_name, "offset": offset, "count": count}
        return self._typed(_DELIVERY, "public/get_delivery_prices", params)

    def get_funding_rate_history(
        self, instrument_name: str, start_timestamp: int, end_timestamp: int
    ) -> list[FundingRate]:
        """Hourly funding of a perpetual between two ms timestamps."""
        params = {
            "instrument_name": instrument_name,
            "start_timestamp": start_timestamp,
            "end_timestamp": end_timestamp,
        }
        return self._typed(_FUNDING, "public/get_funding_rate_history", params)

    # ------------------------------------------------------------------ private reads

    def get_account_summary(self, currency: str, *, extended: bool = False) -> AccountSummary:
        """Balance, equity, margin and portfolio greeks of one currency."""
        params = {"currency": currency, "extended": extended}
        return self._typed(_ACCOUNT, "private/get_account_summary", params)

    def get_positions(self, currency: str, kind: str | None = None) -> list[Position]:
        """Open positions of a currency (optionally one kind)."""
        params = {"currency": currency, "kind": kind}
        return self._typed(_POSITIONS, "private/get_positions", params)

    def get_open_orders_by_currency(
        self, currency: str, kind: str | None = None, type: str = "all"
    ) -> list[Order]:
        """Open orders of a currency."""
        params = {"currency": currency, "kind": kind, "type": type}
        return self._typed(_ORDERS, "private/get_open_orders_by_currency", params)

    def get_order_state(self, order_id: str) -> Order:
        """State of one order, open or closed."""
        return self._typed(_ORDER, "private/get_order_state", {"order_id": order_id})

    def get_order_state_by_label(self, currency: str, label: str) -> list[Order]:
        """Every order carrying `label`: how an unknown outcome is resolved."""
        params = {"currency": currency, "label": label}
        return self._typed(_ORDERS, "private/get_order_state_by_label", params)

    def get_user_trades_by_currency(
        self,
        currency: str,
        kind: str | None = None,
        *,
        count: int = 10,
        sorting: str = "default",
        start_timestamp: int | None = None,
        end_timestamp: int | None = None,
    ) -> UserTradesPage:
        """Your recent fills in a currency."""
        params = {
            "currency": currency,
            "kind": kind,
            "count": count,
            "sorting": sorting,
            "start_timestamp": start_timestamp,
            "end_timestamp": end_timestamp,
        }
        return self._typed(_USER_TRADES, "private/get_user_trades_by_currency", params)

    def get_margins(self, instrument_name: str, amount: Decimal, price: Decimal) -> Margins:
        """Margin needed to buy or sell `amount` at `price`, and the current price band."""
        params = {"instrument_name": instrument_name, "amount": amount, "price": price}
        return self._typed(_MARGINS, "private/get_margins", params)

    # ------------------------------------------------------------------ orders

    def buy(self, instrument_name: str, amount: Decimal, **order: Any) -> OrderResult:
        """Place a buy order; see `place_order` for the options."""
        return self.place_order("buy", instrument_name, amount, **order)

    def sell(self, instrument_name: str, amount: Decimal, **order: Any) -> OrderResult:
        """Place a sell order; see `place_order` for the options."""
        return self.place_order("sell", instrument_name, amount, **order)

    def place_order(
        self,
        direction: str,
        instrument_name: str,
        amount: Decimal,
        *,
        price: Decimal | None = None,
        type: str = "limit",
        label: str | None = None,
        time_in_force: str = "good_til_cancelled",
        post_only: bool = False,
        reject_post_only: bool = False,
        reduce_only: bool = False,
    ) -> OrderResult:
        """Send a buy or sell once. Without a label one is generated, so a lost reply can be
        resolved with `get_order_state_by_label`; the label travels on `UnknownOutcomeError`."""
        if direction not in ("buy", "sell"):
            raise ValueError(f"direction must be buy or sell, not {direction!r}")
        label = label or new_order_label()
        params: dict[str, Any] = {
            "instrument_name": instrument_name,
            "amount": amount,
            "type": type,
            "price": price,
            "label": label,
            "time_in_force": time_in_force,
            "post_only": post_only or None,
            "reject_post_only": reject_post_only or None,
            "reduce_only": reduce_only or None,
        }
        result = self._send_order_changing(
            f"private/{direction}", params, label=label, reply=_ORDER_RESULT.adapter
        )
        return cast(OrderResult, result)

    def edit(
        self,
        order_id: str,
        amount: Decimal,
        price: Decimal,
        *,
        post_only: bool = False,
        reduce_only: bool = False,
    ) -> OrderResult:
        """Change the amount and price of an open order (sent once)."""
        params: dict[str, Any] = {
            "order_id": order_id,
            "amount": amount,
            "price": price,
            "post_only": post_only or None,
            "reduce_only": reduce_only or None,
        }
        result = self._send_order_changing(
            "private/edit", params, order_id=order_id, reply=_ORDER_RESULT.adapter
        )
        return cast(OrderResult, result)

    def cancel(self, order_id: str) -> Order:
        """Cancel one order; 11044 `not_open_order` if it is already closed."""
        result = self._send_order_changing(
            "private/cancel", {"order_id": order_id}, order_id=order_id, reply=_ORDER.adapter
        )
        return cast(Order, result)

    def cancel_all(self) -> int:
        """Cancel every open order of the account; returns how many were cancelled."""
        return int(self._send_order_changing("private/cancel_all", {}))

    def cancel_by_label(self, label: str, currency: str | None = None) -> int:
        """Cancel every open order carrying `label`; returns how many were cancelled."""
        params = {"label": label, "currency": currency}
        return int(self._send_order_changing("private/cancel_by_label", params, label=label))

    def close_position(
        self, instrument_name: str, type: str = "market", price: Decimal | None = None
    ) -> OrderResult:
        """Close a position with a reduce-only market or limit order (sent once)."""
        params = {"instrument_name": instrument_name, "type": type, "price": price}
        result = self._send_order_changing(
            "private/close_position", params, reply=_ORDER_RESULT.adapter
        )
        return cast(OrderResult, result)


def new_order_label(prefix: str = "od") -> str:
    """A unique order label (<= 64 chars) for resolving unknown outcomes."""
    return f"{prefix}-{uuid.uuid4().hex[:20]}"

"""The simulated Deribit exchange: state, clock, accounts, auth, credits, expiry and funding.

`SimulatedExchange.handle(method, params, ...)` is the whole exchange behind the HTTP layer
(`app.py`): it brings the market up to the clock (sampling the index through each 30-minute
settlement window, settling expiries at 08:00 UTC at the window's average (`settlement.py`) and
paying hourly funding on the way), charges request credits, authenticates, and dispatches to the
method handlers in `public_api` / `private_api`. Everything runs under one lock, so the
in-process transport and a uvicorn server thread can share an exchange.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from trading.deribit.errors import (
    AuthError,
    InvalidCredentialsError,
    InvalidParamsError,
    NotFoundError,
    RateLimitError,
)
from trading.deribit.limiter import (
    MATCHING_ENGINE_METHODS,
    LimiterConfig,
    RequestClass,
    TokenBucket,
    request_class,
)
from trading.deribit.simulator.accounts import (
    Account,
    PositionState,
    coin,
    delivery_fee,
    to_decimal,
)
from trading.deribit.simulator.clock import SimClock
from trading.deribit.simulator.encoding import plain
from trading.deribit.simulator.faults import FaultInjector
from trading.deribit.simulator.instruments import InstrumentSpec, option_spec, perpetual_spec
from trading.deribit.simulator.market import MarketView, ReplayMarket, SyntheticMarket
from trading.deribit.simulator.orders import SimOrder, SimTrade
from trading.deribit.simulator.params import Params
from trading.deribit.simulator.settlement import (
    EXPIRY_HOUR_UTC,
    HOUR_MS,
    DeliveryLedger,
    index_name,
    next_sample_ms,
)
from trading.deribit.simulator.signatures import (
    HMAC_SCHEME,
    NonceGuard,
    SignedRequest,
    parse_hmac_header,
    signature_of,
    unauthorized,
)
from trading.domain.fees import option_payoff_coin
from trading.domain.market_model import MarketModelParams, OptionQuotes

Handler = Callable[["SimulatedExchange", Params, Account | None], Any]


#: What a trading key's `public/auth` grants (Deribit adds `connection mainaccount`).
FULL_KEY_SCOPE = "account:read_write trade:read_write wallet:read"
#: A read-only key: what `run_exchange_sim --no-trade-scope` serves.
READ_ONLY_KEY_SCOPE = "account:read trade:read wallet:read"


class AccountConfig(BaseModel):
    """An API key of the simulated exchange and the account's starting balances."""

    model_config = ConfigDict(frozen=True)

    client_id: str = "optionsdesk-sim"
    client_secret: str = Field(default="optionsdesk-sim-secret", repr=False)
    username: str = "optionsdesk"
    scope: str = Field(
        default=FULL_KEY_SCOPE,
        description="the key's max scope, as `public/auth` grants it; without trade:read_write"
        " orders are refused with 13021 forbidden",
    )
    balances: dict[str, Decimal] = Field(
        default_factory=lambda: {
            "BTC": Decimal(10),
            "ETH": Decimal(100),
            "USDC": Decimal(100_000),
        }
    )


class SimConfig(BaseModel):
    """How the simulated exchange runs."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    seed: int = 42
    start: datetime | None = Field(default=None, description="sim start; now (UTC) if None")
    speed: float = Field(default=0.0, ge=0, description="0: manual clock; 60: 1 s is 1 min")
    replay_dir: Path | None = None
    market_params: MarketModelParams | None = None
    accounts: tuple[AccountConfig, ...] = (AccountConfig(),)
    token_lifetime_s: int = Field(default=900, gt=0)
    testnet: bool = True
    rate_limits: LimiterConfig | None = Field(default_factory=LimiterConfig)
    settlement_window_s: float = Field(default=5.0, ge=0)
    max_body_bytes: int = 32_768
    ws_min_heartbeat_s: float = Field(
        default=10.0, gt=0, description="smallest public/set_heartbeat interval (Deribit: 10)"
    )


@dataclass(frozen=True)
class Valuation:
    """An instrument's market now: prices in coin (options) or USD (perpetual)."""

    spec: InstrumentSpec
    mark_price: float
    index_price: float
    underlying_price: float
    mark_iv: float | None
    best_bid_price: float | None
    best_ask_price: float | None
    best_bid_amount: float
    best_ask_amount: float
    bid_iv: float | None
    ask_iv: float | None
    delta: float
    gamma: float
    vega: float
    theta: float
    rho: float
    open_interest: float
    volume: float
    funding_8h: float | None = None
    settlement_price: float | None = None  # mark at the last 08:00 settlement it lived through


def _finite(value: float) -> float | None:
    return None if value != value else float(value)


@dataclass
class _Session:
    account_id: int
    expires_wall_s: float


class SimulatedExchange:
    """An in-memory Deribit: market, accounts, orders, settlement, faults."""

    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        market: MarketView | None = None,
        clock: SimClock | None = None,
        wall_clock: Callable[[], float] = time.monotonic,
        epoch_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or SimConfig()
        self._wall_clock = wall_clock
        self._epoch_clock = epoch_clock
        self.nonces = NonceGuard()
        self.market = market or self._build_market()
        start = datetime.fromtimestamp(self.market.now_ms / 1000, tz=UTC)
        self.clock = clock or SimClock(start, speed=self.config.speed)
        self.faults = FaultInjector()
        self.accounts: dict[int, Account] = {}
        for index, acc in enumerate(self.config.accounts, start=1):
            self.accounts[index] = Account(
                account_id=index,
                username=acc.username,
                client_id=acc.client_id,
                client_secret=acc.client_secret,
                balances={c: coin(Decimal(v)) for c, v in acc.balances.items()},
                scope=acc.scope,
            )
        self._sessions: dict[str, _Session] = {}
        self._refresh_tokens: dict[str, int] = {}
        self.orders: dict[str, SimOrder] = {}
        self.open_orders: dict[str, SimOrder] = {}
        self.trades: dict[str, list[SimTrade]] = {}
        self.trade_seq: dict[str, int] = {}
        self.last_trade_price: dict[str, Decimal] = {}
        self.consumed: dict[tuple[str, bool], dict[Decimal, Decimal]] = {}
        self._consumed_at_ms = -1
        self._specs: dict[str, InstrumentSpec] = {}
        self._specs_listing_id: dict[str, int] = {}
        self.expired_specs: list[InstrumentSpec] = []
        self._last_valuation: dict[str, Valuation] = {}
        self.deliveries = DeliveryLedger()
        self.settlement_marks: dict[str, float] = {}
        #: Per account: delivery events (`private/get_settlement_history_*`), oldest first.
        self.settlement_events: dict[int, list[dict[str, Any]]] = {}
        #: Perpetual marks seen at each market step (intrabar points of the candles).
        self.tape: dict[str, list[tuple[int, float]]] = {}
        self._next_sample_ms = next_sample_ms(self.market.now_ms)
        self.settlement_until_ms = -1
        self._funding_hour_ms = self.market.now_ms // HOUR_MS * HOUR_MS
        self._ids = {"order": 113_510_000_000, "trade": 331_874_000}
        self._buckets: dict[str, dict[RequestClass, TokenBucket]] = {}
        self.request_counts: Counter[str] = Counter()
        self.reply_cache: dict[tuple[Any, ...], Any] = {}
        self.listing_version = 0
        self.auth_grants: Counter[str] = Counter()
        self.lock = threading.RLock()
        self.started_ms = self.market.now_ms
        self._synced_ms = self.clock.now_ms()

    def _build_market(self) -> MarketView:
        if self.config.replay_dir is not None:
            return ReplayMarket(self.config.replay_dir, seed=self.config.seed)
        start = self.config.start or datetime.now(tz=UTC)
        return SyntheticMarket.create(
            seed=self.config.seed, start=start, params=self.config.market_params
        )

    # ------------------------------------------------------------------ dispatch

    def handle(
        self,
        method: str,
        params: dict[str, Any],
        *,
        authorization: str | None = None,
        client_key: str = "127.0.0.1",
        signed: SignedRequest | None = None,
    ) -> Any:
        """Execute one JSON-RPC method; returns its `result` or raises a `DeribitError`."""
        return plain(
            self.handle_wire(
                method, params, authorization=authorization, client_key=client_key, signed=signed
            )
        )

    def handle_wire(
        self,
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
        from trading.deribit.simulator.library_api import LIBRARY_PRIVATE, LIBRARY_PUBLIC
        from trading.deribit.simulator.private_api import PRIVATE_METHODS
        from trading.deribit.simulator.public_api import PUBLIC_METHODS

        with self.lock:
            self.request_counts[method] += 1
            self.sync()
            account = self._account_from_header(authorization, signed)
            self._charge(method, f"account:{account.account_id}" if account else client_key)
            if method in PUBLIC_METHODS or method in LIBRARY_PUBLIC:
                handler = PUBLIC_METHODS.get(method) or LIBRARY_PUBLIC[method]
                return handler(self, Params(params), account)
            if method in PRIVATE_METHODS or method in LIBRARY_PRIVATE:
                if account is None:
                    if authorization:
                        raise AuthError(http_status=401)
                    raise AuthError("authorization_required", code=10000, http_status=400)
                if method in MATCHING_ENGINE_METHODS and "trade:read_write" not in account.scope:
                    raise AuthError("forbidden", code=13021, http_status=400)
                private = PRIVATE_METHODS.get(method) or LIBRARY_PRIVATE[method]
                return private(self, Params(params), account)
            raise InvalidParamsError("Method not found", code=-32601)

    # ------------------------------------------------------------------ credits

    def _charge(self, method: str, key: str) -> None:
        limits = self.config.rate_limits
        if limits is None:
            return
        buckets = self._buckets.get(key)
        if buckets is None:
            buckets = {
                pool: TokenBucket(*limits.rate_and_burst(pool), clock=self._wall_clock)
                for pool in RequestClass
            }
            self._buckets[key] = buckets
        pool = request_class(method)
        if not buckets[pool].try_take():
            self.end_session(key)
            raise RateLimitError()

    def end_session(self, key: str) -> None:
        """Revoke every token of an account key (what 10028 does on Deribit)."""
        if key.startswith("account:"):
            account_id = int(key.split(":", 1)[1])
            self._sessions = {t: s for t, s in self._sessions.items() if s.account_id != account_id}

    # ------------------------------------------------------------------ auth

    def authenticate(self, params: Params) -> dict[str, Any]:
        """`public/auth` with client_credentials, client_signature or refresh_token."""
        grant = params.choice(
            "grant_type", ("client_credentials", "refresh_token", "client_signature")
        )
        self.auth_grants[grant] += 1
        if grant == "client_credentials":
            account = self._account_by_credentials(
                params.text("client_id"), params.text("client_secret")
            )
        elif grant == "refresh_token":
            account_id = self._refresh_tokens.pop(params.text("refresh_token"), None)
            if account_id is None:
                raise AuthError("invalid_token", code=13009, http_status=400)
            account = self.accounts[account_id]
        else:
            account = self._account_by_signature(
                params.text("client_id"),
                params.integer("timestamp"),
                params.text("nonce", ""),
                params.text("signature").lower(),
                params.text("data", ""),
            )
        return self._issue_token(account, state=params.text("state", None))

    def _account_by_credentials(self, client_id: str, client_secret: str) -> Account:
        for account in self.accounts.values():
            if account.client_id == client_id and hmac.compare_digest(
                account.client_secret.encode(), client_secret.encode()
            ):
                return account
        raise InvalidCredentialsError()

    def _issue_token(self, account: Account, *, state: str | None) -> dict[str, Any]:
        now_ms = int(time.time() * 1000)
        access = f"{now_ms}.{secrets.token_urlsafe(6)}.{secrets.token_urlsafe(32)}"
        refresh = f"{now_ms}.{secrets.token_urlsafe(6)}.{secrets.token_urlsafe(32)}"
        lifetime = self.config.token_lifetime_s
        self._sessions[access] = _Session(account.account_id, self._wall_clock() + lifetime)
        self._refresh_tokens[refresh] = account.account_id
        result: dict[str, Any] = {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": lifetime,
            "refresh_token": refresh,
            "scope": f"{account.scope} connection mainaccount",
            "enabled_features": [],
        }
        if state is not None:
            result["state"] = state
        return result

    def epoch_ms(self) -> int:
        """Wall-clock epoch time (ms): what signed timestamps are checked against."""
        return int(self._epoch_clock() * 1000)

    def _account_by_signature(
        self, client_id: str, timestamp_ms: int, nonce: str, signature: str, data: str
    ) -> Account:
        """The key's account when `signature` signs `timestamp\\nnonce\\ndata`; else 13009."""
        account = next((a for a in self.accounts.values() if a.client_id == client_id), None)
        if account is None:
            raise unauthorized("unknown client_id")
        expected = signature_of(account.client_secret, timestamp_ms, nonce, data)
        if not hmac.compare_digest(expected, signature):
            raise unauthorized("invalid signature")
        self.nonces.check(client_id, timestamp_ms, nonce, self.epoch_ms())
        return account

    def _account_from_header(
        self, authorization: str | None, signed: SignedRequest | None = None
    ) -> Account | None:
        if not authorization:
            return None
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() == HMAC_SCHEME:
            fields = parse_hmac_header(credential)
            if signed is None:
                raise unauthorized("deri-hmac-sha256 needs an HTTP request")
            return self._account_by_signature(
                fields.client_id,
                fields.timestamp_ms,
                fields.nonce,
                fields.signature,
                signed.payload(),
            )
        if scheme.lower() == "bearer":
            session = self._sessions.get(credential.strip())
            if session is None or self._wall_clock() >= session.expires_wall_s:
                return None
            return self.accounts[session.account_id]
        if scheme.lower() == "basic":
            import base64

            try:
                decoded = base64.b64decode(credential).decode()
            except ValueError:
                return None
            client_id, _, secret = decoded.partition(":")
            try:
                return self._account_by_credentials(client_id, secret)
            except InvalidCredentialsError:
                return None
        return None

    def account_for_authorization(self, authorization: str | None) -> Account | None:
        """The account a Bearer/Basic Authorization value stands for (None if invalid)."""
        with self.lock:
            return self._account_from_header(authorization)

    def revoke_tokens(self) -> None:
        """Expire every session (tests of re-authentication)."""
        self._sessions.clear()

    # ------------------------------------------------------------------ time

    def now_ms(self) -> int:
        """Exchange time (ms) as of the current request: the clock when `sync` last ran."""
        return self._synced_ms

    def sync(self) -> None:
        """Bring the market to the clock, paying funding each hour and settling at 08:00 UTC."""
        target = self.clock.now_ms()
        self._synced_ms = target
        next_hour = self._funding_hour_ms + HOUR_MS
        while next_hour <= target:
            self._advance_market(next_hour)
            self._on_hour(next_hour)
            self._funding_hour_ms = next_hour
            next_hour += HOUR_MS
        self._advance_market(target)
        if self.market.now_ms != self._consumed_at_ms:
            self._consumed_at_ms = self.market.now_ms
            self._record_tape()
            self.consumed.clear()
            from trading.deribit.simulator.matching import match_resting_orders

            match_resting_orders(self)

    def _advance_market(self, to_ms: int) -> None:
        """Move the market to `to_ms`, stopping at each settlement sample time to read the index.

        However far the clock jumped, every minute of a settlement window is visited, so the
        delivery price is a TWAP; on the model's fixed grid this draws no extra randomness.
        """
        while self._next_sample_ms <= to_ms:
            self.market.advance_to(self._next_sample_ms)
            self.deliveries.record(
                self._next_sample_ms,
                {index_name(c): self.market.index_price(c) for c in self.market.currencies},
            )
            self._next_sample_ms = next_sample_ms(self._next_sample_ms + 1)
        self.market.advance_to(to_ms)

    def _record_tape(self) -> None:
        """Note each perpetual's mark at this market step (bounded; candles read it)."""
        for currency in self.market.currencies:
            tape = self.tape.setdefault(currency, [])
            tape.append((self.market.now_ms, self.market.perpetual(currency).mark_price))
            if len(tape) > 20_000:
                del tape[:10_000]

    def _on_hour(self, hour_ms: int) -> None:
        self._pay_funding()
        if datetime.fromtimestamp(hour_ms / 1000, tz=UTC).hour == EXPIRY_HOUR_UTC:
            self._settle(hour_ms)

    def _held_option_specs(self) -> list[InstrumentSpec]:
        names = {n for a in self.accounts.values() for n in a.positions}
        names |= {o.spec.instrument_name for o in self.open_orders.values()}
        return [self._specs[n] for n in names if n in self._specs and self._specs[n].is_option]

    def in_settlement(self) -> bool:
        """True during the few seconds after 08:00 UTC (or a window set by a test)."""
        return self._synced_ms < self.settlement_until_ms

    def open_settlement_window(self, seconds: float) -> None:
        """Answer 10041 to matching-engine requests for `seconds` of simulated time."""
        self.settlement_until_ms = self.clock.now_ms() + int(seconds * 1000)

    # ------------------------------------------------------------------ settlement

    def _settle(self, event_ms: int) -> None:
        """Deliver expiring options at the day's 30-minute TWAP, then cancel their orders.

        Also fixes the day's delivery prices and the live instruments' settlement marks.
        """
        delivery = self.deliveries.fix(
            event_ms, {index_name(c): self.market.index_price(c) for c in self.market.currencies}
        )
        for spec in self._held_option_specs():
            if spec.expiry_ms <= event_ms:
                self._deliver(spec, to_decimal(delivery[index_name(spec.currency)]))
        self._record_settlement_marks(event_ms)
        expired = [s for s in self._specs.values() if s.is_option and s.expiry_ms <= event_ms]
        for spec in expired:
            del self._specs[spec.instrument_name]
            self._last_valuation.pop(spec.instrument_name, None)
        self.expired_specs = (self.expired_specs + expired)[-2000:]
        self._specs_listing_id.clear()
        for order in list(self.open_orders.values()):
            if order.spec.expiry_ms <= event_ms or order.time_in_force == "good_til_day":
                self.close_order(order, "cancelled", reason="settlement")
        for account in self.accounts.values():
            account.session_rpl.clear()
        if self.config.settlement_window_s:
            self.settlement_until_ms = event_ms + int(self.config.settlement_window_s * 1000)

    def _deliver(self, spec: InstrumentSpec, delivery_price: Decimal) -> None:
        payoff = option_payoff_coin(
            spec.strike or Decimal(0), delivery_price, is_call=bool(spec.is_call)
        )
        for account in self.accounts.values():
            position = account.positions.get(spec.instrument_name)
            if position is None or position.size == 0:
                continue
            value = coin(position.size * payoff)
            fee = delivery_fee(abs(position.size), payoff)
            realized = coin(value - position.size * position.average_price)
            self.settlement_events.setdefault(account.account_id, []).append(
                {
                    "type": "delivery",
                    "timestamp": spec.expiry_ms,
                    "instrument_name": spec.instrument_name,
                    "position": float(position.size),
                    "mark_price": float(payoff),
                    "index_price": float(delivery_price),
                    "profit_loss": float(coin(realized - fee)),
                    "session_profit_loss": float(coin(realized - fee)),
                    "currency": spec.currency,
                }
            )
            account.credit(spec.currency, value - fee)
            position.realized_profit_loss = coin(position.realized_profit_loss + realized)
            position.size = Decimal(0)
            account.drop_flat_positions()

    def _record_settlement_marks(self, event_ms: int) -> None:
        """Each live instrument's mark at this 08:00 (its `settlement_price` until the next)."""
        marks: dict[str, float] = {}
        for currency in self.market.currencies:
            quotes = self.market.quotes(currency)
            listing = quotes.listing
            marks.update(
                (name, mark)
                for name, expiry_ms, mark in zip(
                    listing.instrument_name,
                    listing.expiry_ms.tolist(),
                    quotes.mark_price.tolist(),
                    strict=True,
                )
                if expiry_ms > event_ms
            )
            marks[f"{currency}-PERPETUAL"] = self.market.perpetual(currency).mark_price
        self.settlement_marks = marks

    def _pay_funding(self) -> None:
        for account in self.accounts.values():
            for position in list(account.positions.values()):
                if position.kind != "future" or position.size == 0:
                    continue
                perp = self.market.perpetual(position.currency)
                rate = to_decimal(perp.current_funding)
                payment = coin(position.size / to_decimal(perp.mark_price) * rate)
                position.realized_funding = coin(position.realized_funding - payment)
                account.credit(position.currency, -payment)

    # ------------------------------------------------------------------ instruments

    def currency_of(self, instrument_name: str) -> str:
        """Currency prefix of an instrument name (BTC-...)."""
        return instrument_name.split("-", 1)[0].split("_", 1)[0]

    def option_quotes(self, currency: str) -> OptionQuotes:
        """Quotes of a currency's options, registering their specs."""
        if currency not in self.market.currencies:
            raise InvalidParamsError(data={"param": "currency", "reason": "unsupported"})
        quotes = self.market.quotes(currency)
        if self._specs_listing_id.get(currency) != id(quotes.listing):
            listing = quotes.listing
            for i, name in enumerate(listing.instrument_name):
                if name not in self._specs:
                    self._specs[name] = option_spec(
                        instrument_name=name,
                        currency=currency,
                        instrument_id=int(listing.instrument_id[i]),
                        expiry_ms=int(listing.expiry_ms[i]),
                        creation_ms=int(listing.creation_ms[i]),
                        strike=float(listing.strike[i]),
                        is_call=bool(listing.is_call[i]),
                    )
            self._specs_listing_id[currency] = id(quotes.listing)
            self.listing_version += 1
        return quotes

    def spec(self, instrument_name: str, *, code: int = 13020) -> InstrumentSpec:
        """Specification of a listed (or held) instrument; `code` error when unknown."""
        currency = self.currency_of(instrument_name)
        if currency in self.market.currencies:
            if instrument_name == f"{currency}-PERPETUAL":
                return self._specs.setdefault(
                    instrument_name, perpetual_spec(currency, self.started_ms)
                )
            self.option_quotes(currency)
        found = self._specs.get(instrument_name)
        if found is None:
            message = "not_found" if code == 13020 else "invalid_or_unsupported_instrument"
            raise NotFoundError(message, code=code)
        return found

    def is_live(self, spec: InstrumentSpec) -> bool:
        """True while an instrument trades (options until their expiry)."""
        return spec.expiry_ms > self._synced_ms

    def valuation(self, instrument_name: str) -> Valuation:
        """Market of one instrument now (or its last known market after it stopped quoting)."""
        spec = self.spec(instrument_name)
        if not spec.is_option:
            return self._perp_valuation(spec)
        quotes = self.option_quotes(spec.currency)
        try:
            i = quotes.index_of(instrument_name)
        except KeyError:
            last = self._last_valuation.get(instrument_name)
            if last is None:
                raise NotFoundError() from None
            return last
        value = Valuation(
            spec=spec,
            mark_price=float(quotes.mark_price[i]),
            index_price=float(quotes.index_price),
            underlying_price=float(quotes.underlying_price[i]),
            mark_iv=_finite(float(quotes.mark_iv[i])),
            best_bid_price=_finite(float(quotes.best_bid_price[i])),
            best_ask_price=_finite(float(quotes.best_ask_price[i])),
            best_bid_amount=float(quotes.best_bid_amount[i]),
            best_ask_amount=float(quotes.best_ask_amount[i]),
            bid_iv=_finite(float(quotes.bid_iv[i])),
            ask_iv=_finite(float(quotes.ask_iv[i])),
            delta=float(quotes.delta[i]),
            gamma=float(quotes.gamma[i]),
            vega=float(quotes.vega[i]),
            theta=float(quotes.theta[i]),
            rho=float(quotes.rho[i]),
            open_interest=float(quotes.open_interest[i]),
            volume=float(quotes.volume[i]),
            settlement_price=self.settlement_marks.get(instrument_name),
        )
        self._last_valuation[instrument_name] = value
        return value

    def _perp_valuation(self, spec: InstrumentSpec) -> Valuation:
        perp = self.market.perpetual(spec.currency)
        return Valuation(
            spec=spec,
            mark_price=perp.mark_price,
            index_price=perp.index_price,
            underlying_price=perp.index_price,
            mark_iv=None,
            best_bid_price=perp.best_bid_price,
            best_ask_price=perp.best_ask_price,
            best_bid_amount=perp.best_bid_amount,
            best_ask_amount=perp.best_ask_amount,
            bid_iv=None,
            ask_iv=None,
            delta=1.0,
            gamma=0.0,
            vega=0.0,
            theta=0.0,
            rho=0.0,
            open_interest=5.0e8 if spec.currency == "BTC" else 1.5e8,
            volume=10_000.0,
            funding_8h=perp.funding_8h,
            settlement_price=self.settlement_marks.get(spec.instrument_name),
        )

    # ------------------------------------------------------------------ orders

    def next_id(self, kind: str, currency: str) -> str:
        """A fresh order or trade id: plain digits for BTC, `ETH-<n>` otherwise (as Deribit)."""
        self._ids[kind] += 1
        number = str(self._ids[kind])
        return number if currency == "BTC" else f"{currency}-{number}"

    def close_order(self, order: SimOrder, state: str, *, reason: str | None = None) -> None:
        """Take an order out of the book as cancelled or filled."""
        order.order_state = state
        order.cancel_reason = reason if state == "cancelled" else None
        order.last_update_ms = self._synced_ms
        self.open_orders.pop(order.order_id, None)

    def account_orders(self, account: Account) -> list[SimOrder]:
        """Every order of an account, oldest first."""
        return [o for o in self.orders.values() if o.account_id == account.account_id]

    def position(self, account: Account, spec: InstrumentSpec) -> PositionState:
        """The account's position in an instrument (flat if none)."""
        return account.position(spec.instrument_name, spec.currency, spec.kind)

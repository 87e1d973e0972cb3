"""The simulated Deribit exchange: state, clock, accounts, auth, credits, expiry and funding.

`SimulatedExchange` holds the market, the clock, the listing (`listing.py`) and the books
(`books.py`: orders, trades, accounts), and admits each request (`admit`): it brings the market
up to the clock (sampling the index through each 30-minute settlement window, settling expiries
at 08:00 UTC at the window's average (`settlement.py`) and paying hourly funding on the way,
matching resting orders at each market step), charges request credits and authenticates. The
method handlers (`public_api`, `private_api`, `library_api`) sit above it and are routed by
`dispatch.handle`, which callers (`app.py`, `websocket.py`, tests) use; this module imports none
of them. Everything runs under one lock, so the in-process transport and a uvicorn server thread
can share an exchange.
"""

from __future__ import annotations

import base64
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
    RateLimitError,
)
from trading.deribit.limiter import (
    LimiterConfig,
    RequestClass,
    TokenBucket,
    request_class,
)
from trading.deribit.simulator.accounts import Account, coin, to_decimal
from trading.deribit.simulator.books import SimBooks
from trading.deribit.simulator.clock import SimClock
from trading.deribit.simulator.faults import FaultInjector
from trading.deribit.simulator.instruments import InstrumentSpec
from trading.deribit.simulator.listing import SimListing, Valuation
from trading.deribit.simulator.market import MarketView, ReplayMarket, SyntheticMarket
from trading.deribit.simulator.matching import match_resting_orders
from trading.deribit.simulator.orders import SimOrder
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
from trading.deribit.simulator.venue import Venue
from trading.domain.market_model import MarketModelParams, OptionQuotes

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
        self.books = SimBooks(
            Account(
                account_id=index,
                username=acc.username,
                client_id=acc.client_id,
                client_secret=acc.client_secret,
                balances={c: coin(Decimal(v)) for c, v in acc.balances.items()},
                scope=acc.scope,
            )
            for index, acc in enumerate(self.config.accounts, start=1)
        )
        self.listing = SimListing(self.market, started_ms=self.market.now_ms)
        self._sessions: dict[str, _Session] = {}
        self._refresh_tokens: dict[str, int] = {}
        self._consumed_at_ms = -1
        self.deliveries = DeliveryLedger()
        #: Perpetual marks seen at each market step (intrabar points of the candles).
        self.tape: dict[str, list[tuple[int, float]]] = {}
        self._next_sample_ms = next_sample_ms(self.market.now_ms)
        self.settlement_until_ms = -1
        self._funding_hour_ms = self.market.now_ms // HOUR_MS * HOUR_MS
        self._buckets: dict[str, dict[RequestClass, TokenBucket]] = {}
        self.request_counts: Counter[str] = Counter()
        self.reply_cache: dict[tuple[Any, ...], Any] = {}
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

    @property
    def accounts(self) -> dict[int, Account]:
        """The accounts by id (the books own them)."""
        return self.books.accounts

    @property
    def orders(self) -> dict[str, SimOrder]:
        """Every order ever placed, by id (the books own them; tests count them)."""
        return self.books.orders

    def venue(self) -> Venue:
        """The books and the listing as of the current request, for matching and portfolio."""
        return Venue(self.books, self.listing, self._synced_ms, self.in_settlement())

    # ------------------------------------------------------------------ admission

    def admit(
        self,
        method: str,
        *,
        authorization: str | None,
        client_key: str,
        signed: SignedRequest | None,
    ) -> Account | None:
        """Start a request (caller holds `lock`): count it, sync, authenticate, charge credits.

        Returns the account the Authorization value stands for (None when absent or invalid);
        `signed` is the HTTP request line and body, which a `deri-hmac-sha256` header signs.
        """
        self.request_counts[method] += 1
        self.sync()
        account = self._account_from_header(authorization, signed)
        self._charge(method, f"account:{account.account_id}" if account else client_key)
        return account

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
            self.books.replenish()
            match_resting_orders(self.venue())

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
        self.books.pay_funding(self.market)
        if datetime.fromtimestamp(hour_ms / 1000, tz=UTC).hour == EXPIRY_HOUR_UTC:
            self._settle(hour_ms)

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
        for spec in self.listing.held_options(self.books.held_instruments()):
            if spec.expiry_ms <= event_ms:
                self.books.deliver(spec, to_decimal(delivery[index_name(spec.currency)]))
        self.listing.record_settlement_marks(event_ms)
        self.listing.delist_expired(event_ms)
        for order in self.books.resting():
            if order.spec.expiry_ms <= event_ms or order.time_in_force == "good_til_day":
                self.books.close_order(
                    order, "cancelled", now_ms=self._synced_ms, reason="settlement"
                )
        self.books.reset_session_pnl()
        if self.config.settlement_window_s:
            self.settlement_until_ms = event_ms + int(self.config.settlement_window_s * 1000)

    # ------------------------------------------------------------------ instruments

    def option_quotes(self, currency: str) -> OptionQuotes:
        """Quotes of a currency's options, registering their specs."""
        return self.listing.option_quotes(currency)

    def spec(self, instrument_name: str, *, code: int = 13020) -> InstrumentSpec:
        """Specification of a listed (or held) instrument; `code` error when unknown."""
        return self.listing.spec(instrument_name, code=code)

    def valuation(self, instrument_name: str) -> Valuation:
        """Market of one instrument now (or its last known market after it stopped quoting)."""
        return self.listing.valuation(instrument_name)

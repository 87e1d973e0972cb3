"""What the engine looks at besides the proposal and the limits: quotes, positions, the account."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trading.domain.instruments import ContractSpec, parse_instrument
from trading.domain.params import Environment
from trading.domain.risk.drawdown import DrawdownState, _require_utc


class OptionQuote(BaseModel):
    """The book of one option at this tick, as the state builder saw it.

    Prices in coin per contract, amounts in coins; `delta` is the call's delta (0..1) per coin;
    missing values are `None` (the liquidity guards then say "unknown").
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    instrument_name: str
    spec: ContractSpec
    index_price_usd: float = Field(gt=0)
    forward_usd: float | None = Field(
        default=None, gt=0, description="the expiry's forward (underlying_price); margin's OTM"
    )
    best_bid_coin: Decimal | None = None
    best_ask_coin: Decimal | None = None
    best_bid_amount: Decimal | None = None
    best_ask_amount: Decimal | None = None
    mark_price_coin: Decimal | None = None
    delta: float | None = None
    open_interest: float | None = None
    currency: str = ""
    expiry: datetime | None = None
    strike_usd: Decimal | None = None
    is_call: bool = True
    mark_iv: float | None = Field(default=None, description="decimal (0.55 is 55%)")
    underlying_price_usd: float | None = Field(
        default=None, description="Deribit's forward of the expiry; the index when None"
    )

    @model_validator(mode="before")
    @classmethod
    def _fill_from_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and "instrument_name" in data:
            parsed = parse_instrument(str(data["instrument_name"]))
            if not parsed.is_option:
                raise ValueError(f"{parsed.name} is not an option")
            data = {
                "currency": parsed.currency,
                "expiry": parsed.expiry,
                "strike_usd": parsed.strike,
                "is_call": parsed.is_call,
            } | data
        return data

    @property
    def mid_coin(self) -> Decimal | None:
        """Mid of bid and ask, when both sides are quoted."""
        if self.best_bid_coin and self.best_ask_coin and self.best_bid_coin > 0:
            return (self.best_bid_coin + self.best_ask_coin) / 2
        return None

    @property
    def spread_pct(self) -> float | None:
        """(ask - bid) / mid in percent; None when a side is missing."""
        mid = self.mid_coin
        if mid is None or self.best_ask_coin is None or self.best_bid_coin is None:
            return None
        return float((self.best_ask_coin - self.best_bid_coin) / mid * 100)

    def usd(self, price_coin: Decimal) -> Decimal:
        """A coin price in USD at the index."""
        return price_coin * Decimal(repr(self.index_price_usd))


class OptionPosition(BaseModel):
    """One open option position; `size` is signed coins (negative when short), as Deribit.

    `paper` marks a position only our database holds (a dry-run fill, or Greg's sandbox): no
    exchange account counts it, so its delta is added to the account's net delta
    (`exposure_checks.paper_delta_coin`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    instrument_name: str
    size: Decimal
    average_price_coin: Decimal = Decimal(0)
    strategy_id: str = "covered_call"
    sandbox: bool = False
    paper: bool = False

    @property
    def is_short_call(self) -> bool:
        """True for a short call (what a covered call is)."""
        return self.size < 0 and parse_instrument(self.instrument_name).is_call

    @property
    def currency(self) -> str:
        """Underlying coin, e.g. BTC."""
        return parse_instrument(self.instrument_name).currency

    @property
    def expiry(self) -> datetime | None:
        """Expiry (08:00 UTC)."""
        return parse_instrument(self.instrument_name).expiry


class PortfolioState(BaseModel):
    """The account as the risk engine needs it (money in USD, deltas and holdings in coins).

    `holdings_coin` is what covers calls (the coins held, per currency); `net_delta` is the
    book's USD delta per currency in coins, **coins held included**: d(equity in USD)/d(index),
    which on Deribit's inverse options is `equity + delta_total` (the balance plus each
    position's Black delta; `delta_total` alone leaves the coins out and would show a covered
    book as a naked short). Orders change it by their premium-adjusted delta
    (`exposure_checks.order_delta_coin`). Every short call counts against the holdings,
    including sandbox and other strategies' positions: they are all real exposure.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    equity_usd: Decimal | None
    initial_margin_usd: Decimal = Decimal(0)
    maintenance_margin_usd: Decimal = Decimal(0)
    holdings_coin: dict[str, Decimal] = Field(default_factory=dict)
    net_delta: dict[str, float] = Field(default_factory=dict)
    positions: tuple[OptionPosition, ...] = ()
    perpetuals_usd: dict[str, Decimal] = Field(
        default_factory=dict, description="signed USD size of the perpetual per currency"
    )

    @property
    def margin_used_pct(self) -> float | None:
        """Initial margin over equity, percent; None when equity is unknown or not positive."""
        if self.equity_usd is None or self.equity_usd <= 0:
            return None
        return float(self.initial_margin_usd / self.equity_usd * 100)

    def holdings(self, currency: str) -> Decimal:
        """Coins held in `currency` (zero when unknown)."""
        return self.holdings_coin.get(currency.upper(), Decimal(0))

    def short_calls(self, currency: str | None = None) -> tuple[OptionPosition, ...]:
        """Open short calls, optionally of one currency."""
        return tuple(
            p
            for p in self.positions
            if p.is_short_call and (currency is None or p.currency == currency.upper())
        )

    def short_call_amount(self, currency: str, expiry: datetime | None = None) -> Decimal:
        """Coins of short calls in `currency` (and `expiry` when given)."""
        calls = self.short_calls(currency)
        return sum((-p.size for p in calls if expiry is None or p.expiry == expiry), Decimal(0))

    def short_call_amount_of(self, instrument_name: str) -> Decimal:
        """Coins short in one call (zero when none)."""
        return sum(
            (
                -p.size
                for p in self.positions
                if p.instrument_name == instrument_name and p.size < 0
            ),
            Decimal(0),
        )


class RiskInputs(BaseModel):
    """Everything the engine looks at besides the proposal and the limits, for one tick."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    portfolio: PortfolioState
    quotes: dict[str, OptionQuote] = Field(default_factory=dict)
    now: datetime
    environment: Environment = Environment.SIM
    drawdown: DrawdownState | None = None

    @field_validator("now")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return _require_utc(value)

    @classmethod
    def build(
        cls,
        *,
        portfolio: PortfolioState,
        quotes: Iterable[OptionQuote] | Mapping[str, OptionQuote],
        now: datetime,
        environment: Environment = Environment.SIM,
        drawdown: DrawdownState | None = None,
    ) -> Self:
        """Build from a list of quotes (keyed by instrument name) or a mapping."""
        values = quotes.values() if isinstance(quotes, Mapping) else quotes
        return cls(
            portfolio=portfolio,
            quotes={q.instrument_name: q for q in values},
            now=now,
            environment=environment,
            drawdown=drawdown,
        )

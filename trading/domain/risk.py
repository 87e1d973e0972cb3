"""Risk engine: judges every proposal, whoever made it, and says why with every reason.

Nothing reaches execution without a `RiskVerdict`. The engine never short-circuits: it runs every
check that applies to the proposal's legs and records each one, passed or failed, so the decision
log shows the whole picture, e.g. "kill switch on AND spread too wide AND not covered".

Legs are judged by what they do to risk:

* a **sell** leg (OPEN, or the new call of a ROLL) adds risk. It must pass the kill switch, the
  daily drawdown stop, portfolio availability, margin, net delta, the hard rails (covered by
  holdings, per-expiry exposure, calls per underlying, size cap, mainnet notional caps), the
  premium minimum, the liquidity guards (spread, open interest, book depth), the settlement
  window, and the amount/tick grid.
* a **buy** leg (CLOSE, or the old call of a ROLL) reduces risk. It only has to close a short
  that exists (never buy more than is short) on the exchange's grid. The kill switch and the
  drawdown stop never block it, so an operator can always flatten.

Units: amounts in coins (`Decimal`), option prices in coin per contract (`Decimal`), USD money as
`Decimal`, index prices and greeks as floats, times aware UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trading.domain.instruments import (
    BelowMinimumAmountError,
    ContractSpec,
    is_on_tick,
    parse_instrument,
    quantize_amount,
)
from trading.domain.params import Environment, RiskLimits

if TYPE_CHECKING:
    from trading.domain.proposal import OrderLeg, Proposal

#: Options are settled on an index TWAP over the 30 minutes before expiry (Deribit contract
#: spec); opening new risk in an option that is being settled is refused.
SETTLEMENT_WINDOW = timedelta(minutes=30)

#: Deribit's standard initial margin for a short option, per coin: max(0.15 - OTM%, 0.10) + mark.
STANDARD_MARGIN_BASE = Decimal("0.15")
STANDARD_MARGIN_FLOOR = Decimal("0.10")


def _require_utc(moment: datetime) -> datetime:
    if moment.utcoffset() is None:
        raise ValueError("times must be timezone-aware (UTC)")
    return moment


# ----------------------------------------------------------------------------------- inputs


class OptionQuote(BaseModel):
    """The book of one option at this tick, as the state builder saw it.

    Prices in coin per contract, amounts in coins; `delta` is the call's delta (0..1) per coin;
    missing values are `None` (the liquidity guards then say "unknown").
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    instrument_name: str
    spec: ContractSpec
    index_price_usd: float = Field(gt=0)
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
    """One open option position; `size` is signed coins (negative when short), as Deribit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instrument_name: str
    size: Decimal
    average_price_coin: Decimal = Decimal(0)
    strategy_id: str = "covered_call"
    sandbox: bool = False

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
    account delta per currency, in coins. Every short call counts against the holdings,
    including sandbox and other strategies' positions: they are all real exposure.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    equity_usd: Decimal | None
    initial_margin_usd: Decimal = Decimal(0)
    maintenance_margin_usd: Decimal = Decimal(0)
    holdings_coin: dict[str, Decimal] = Field(default_factory=dict)
    net_delta: dict[str, float] = Field(default_factory=dict)
    positions: tuple[OptionPosition, ...] = ()

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


class DrawdownState(BaseModel):
    """Today's equity peak and whether the daily drawdown stop has tripped.

    The stop latches: once tripped it stays on, across UTC days, until an operator resets it
    (a halted desk should not quietly resume at midnight).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    day: date
    peak_equity_usd: Decimal
    halted: bool = False
    halted_at: datetime | None = None
    reason: str = ""

    @field_validator("halted_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _require_utc(value)

    def drawdown_pct(self, equity_usd: Decimal) -> float:
        """Loss from today's peak, percent (zero at or above the peak)."""
        if self.peak_equity_usd <= 0 or equity_usd >= self.peak_equity_usd:
            return 0.0
        return float((self.peak_equity_usd - equity_usd) / self.peak_equity_usd * 100)


def drawdown_update(
    state: DrawdownState | None, *, equity_usd: Decimal, now: datetime, limit_pct: float
) -> DrawdownState:
    """Track today's peak equity (UTC day) and trip the stop when the loss reaches the limit.

    A limit of 0 disables tripping (the peak is still tracked).
    """
    today = _require_utc(now).date()
    if state is None or state.day != today:
        base = DrawdownState(day=today, peak_equity_usd=equity_usd)
        if state is not None and state.halted:
            base = base.model_copy(
                update={"halted": True, "halted_at": state.halted_at, "reason": state.reason}
            )
        state = base
    peak = max(state.peak_equity_usd, equity_usd)
    state = state.model_copy(update={"peak_equity_usd": peak})
    loss = state.drawdown_pct(equity_usd)
    if not state.halted and limit_pct > 0 and loss >= limit_pct:
        reason = f"daily drawdown {loss:.2f}% >= limit {limit_pct:.2f}% (peak {peak} USD)"
        state = state.model_copy(update={"halted": True, "halted_at": now, "reason": reason})
    return state


def drawdown_reset(*, equity_usd: Decimal, now: datetime) -> DrawdownState:
    """Operator reset: a fresh peak at the current equity, stop released."""
    return DrawdownState(day=_require_utc(now).date(), peak_equity_usd=equity_usd)


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


# ---------------------------------------------------------------------------------- verdict


class RiskCheck(BaseModel):
    """One rule applied to one leg: its name, whether it passed, and the numbers behind it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    passed: bool
    detail: str
    leg: Literal["open", "close", "proposal"] = "proposal"
    value: str | None = None
    limit: str | None = None


class RiskVerdict(BaseModel):
    """The engine's judgement: approved only when every applicable check passed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: str
    approved: bool
    increases_risk: bool
    checks: tuple[RiskCheck, ...] = ()

    @property
    def failed(self) -> tuple[RiskCheck, ...]:
        """The checks that failed."""
        return tuple(c for c in self.checks if not c.passed)

    @property
    def reasons(self) -> tuple[str, ...]:
        """Every failure as "name: detail" (empty when approved)."""
        return tuple(f"{c.name}: {c.detail}" for c in self.failed)

    @property
    def code(self) -> str:
        """Short outcome for a Decision row: no_action, approved or rejected."""
        if self.action == "DO_NOTHING":
            return "no_action"
        return "approved" if self.approved else "rejected"

    def as_record(self) -> dict[str, Any]:
        """JSON-ready dict with stable keys (code and reasons included)."""
        record = self.model_dump(mode="json")
        record["code"] = self.code
        record["reasons"] = list(self.reasons)
        return record


# -------------------------------------------------------------------------- capacity helpers


def _dec(value: float) -> Decimal:
    return Decimal(repr(value))


def quantize_order_amount(amount: Decimal, spec: ContractSpec) -> Decimal | None:
    """`amount` rounded down to the amount step; None when that is below the minimum."""
    if not amount.is_finite() or amount <= 0:
        return None
    try:
        return quantize_amount(amount, spec)
    except BelowMinimumAmountError:
        return None


def open_amount_capacity(
    quote: OptionQuote,
    inputs: RiskInputs,
    limits: RiskLimits,
    *,
    closing_amount: Decimal = Decimal(0),
    closing_same_expiry: Decimal = Decimal(0),
) -> Decimal:
    """The most coins of `quote` that may be sold under the size rails (not yet on the step).

    The minimum of: the per-order cap, the holdings not yet covering a call, the per-expiry
    exposure room, the best-bid depth over its required multiple, and on mainnet the notional
    caps. `closing_amount` (and `closing_same_expiry`) credit a call bought back in the same
    proposal (a roll). Never negative.
    """
    portfolio = inputs.portfolio
    ccy = quote.currency
    holdings = portfolio.holdings(ccy)
    shorts = portfolio.short_call_amount(ccy) - closing_amount
    in_expiry = portfolio.short_call_amount(ccy, quote.expiry) - closing_same_expiry
    caps = [
        limits.max_order_amount_for(ccy),
        holdings - shorts,
        holdings * _dec(limits.max_expiry_exposure_frac) - in_expiry,
    ]
    if limits.liquidity_min_depth_multiple > 0 and quote.best_bid_amount is not None:
        caps.append(quote.best_bid_amount / _dec(limits.liquidity_min_depth_multiple))
    if inputs.environment is Environment.MAINNET:
        index = _dec(quote.index_price_usd)
        caps.append(limits.mainnet_max_order_notional_usd / index)
        caps.append(limits.mainnet_max_underlying_notional_usd / index - shorts)
    return max(min(caps), Decimal(0))


def estimate_short_call_margin_usd(quote: OptionQuote, amount: Decimal) -> Decimal:
    """Initial margin of selling `amount` calls under Deribit's standard formula, USD.

    Per coin: max(0.15 - OTM fraction, 0.10) + mark, times the index. An estimate: the account's
    margin model (portfolio margin, cross collateral) may ask less.
    """
    index = _dec(quote.index_price_usd)
    strike = quote.strike_usd or index
    otm_frac = max(strike - index, Decimal(0)) / index
    mark = quote.mark_price_coin or quote.best_bid_coin or Decimal(0)
    per_coin = max(STANDARD_MARGIN_BASE - otm_frac, STANDARD_MARGIN_FLOOR) + mark
    return per_coin * amount * index


# ---------------------------------------------------------------------------------- checks


@dataclass
class _Checks:
    """Accumulates checks (never stops at the first failure)."""

    items: list[RiskCheck] = field(default_factory=list)

    def add(
        self,
        name: str,
        passed: bool,
        detail: str,
        *,
        leg: Literal["open", "close", "proposal"] = "proposal",
        value: object = None,
        limit: object = None,
    ) -> None:
        self.items.append(
            RiskCheck(
                name=name,
                passed=passed,
                detail=detail,
                leg=leg,
                value=None if value is None else str(value),
                limit=None if limit is None else str(limit),
            )
        )


def _unknown_passes(inputs: RiskInputs) -> bool:
    """Unknown liquidity data passes off mainnet (noted), fails on mainnet."""
    return inputs.environment is not Environment.MAINNET


def _check_guards(c: _Checks, inputs: RiskInputs, limits: RiskLimits) -> None:
    c.add(
        "kill_switch",
        not limits.kill_switch,
        "global kill switch is ON: no new risk" if limits.kill_switch else "off",
        leg="open",
    )
    dd = inputs.drawdown
    equity = inputs.portfolio.equity_usd
    limit = limits.daily_drawdown_limit_pct
    loss = dd.drawdown_pct(equity) if dd is not None and equity is not None else 0.0
    latched = dd is not None and dd.halted
    over = limit > 0 and loss >= limit
    if latched and dd is not None:
        detail = dd.reason or "daily drawdown stop latched: operator reset required"
    elif over:
        detail = f"daily drawdown {loss:.2f}% >= limit {limit:.2f}%"
    elif limit <= 0:
        detail = "disabled (limit 0)"
    else:
        detail = f"drawdown {loss:.2f}% below limit {limit:.2f}%"
    c.add(
        "daily_drawdown",
        not (latched or over),
        detail,
        leg="open",
        value=f"{loss:.4f}",
        limit=limit,
    )


def _check_account(
    c: _Checks, quote: OptionQuote, amount: Decimal, inputs: RiskInputs, limits: RiskLimits
) -> None:
    portfolio = inputs.portfolio
    equity = portfolio.equity_usd
    available = equity is not None and equity > 0
    c.add(
        "portfolio_available",
        available,
        "equity known and positive" if available else "equity unknown or zero: no new risk",
        leg="open",
        value=equity,
    )
    used = portfolio.margin_used_pct
    headroom = limits.max_margin_used_pct * limits.open_margin_headroom_frac
    c.add(
        "margin_headroom",
        used is not None and used < headroom,
        f"margin used {used if used is None else round(used, 2)}% vs {headroom:.2f}% "
        "allowed for new calls",
        leg="open",
        value=None if used is None else f"{used:.4f}",
        limit=f"{headroom:.4f}",
    )
    if available and equity is not None:
        added = estimate_short_call_margin_usd(quote, amount)
        after = float((portfolio.initial_margin_usd + added) / equity * 100)
        c.add(
            "margin_after_order",
            after <= limits.max_margin_used_pct,
            f"margin after order ~{after:.2f}% (adds ~{added:.2f} USD) vs max "
            f"{limits.max_margin_used_pct:.2f}%",
            leg="open",
            value=f"{after:.4f}",
            limit=limits.max_margin_used_pct,
        )


def _check_delta(
    c: _Checks,
    quote: OptionQuote,
    amount: Decimal,
    close: tuple[OptionQuote | None, Decimal],
    inputs: RiskInputs,
    limits: RiskLimits,
) -> None:
    current = inputs.portfolio.net_delta.get(quote.currency, 0.0)
    if quote.delta is None:
        c.add("net_delta", False, f"delta of {quote.instrument_name} unknown", leg="open")
        return
    change = -quote.delta * float(amount)
    close_quote, close_amount = close
    if close_quote is not None and close_quote.delta is not None:
        change += close_quote.delta * float(close_amount)
    after = current + change
    ok = abs(after) <= limits.max_net_delta_abs or abs(after) < abs(current)
    c.add(
        "net_delta",
        ok,
        f"net delta {current:+.4f} -> {after:+.4f} {quote.currency} vs max "
        f"|{limits.max_net_delta_abs}|" + ("" if ok else " and it does not reduce it"),
        leg="open",
        value=f"{after:.6f}",
        limit=limits.max_net_delta_abs,
    )


def _check_rails(
    c: _Checks,
    quote: OptionQuote,
    amount: Decimal,
    closing: tuple[Decimal, Decimal, bool],
    inputs: RiskInputs,
    limits: RiskLimits,
) -> None:
    closing_amount, closing_same_expiry, closes_a_call = closing
    portfolio = inputs.portfolio
    ccy = quote.currency
    holdings = portfolio.holdings(ccy)
    shorts_after = portfolio.short_call_amount(ccy) - closing_amount + amount
    c.add(
        "covered_by_holdings",
        shorts_after <= holdings,
        f"short calls after order {shorts_after} {ccy} vs holdings {holdings} {ccy}",
        leg="open",
        value=shorts_after,
        limit=holdings,
    )
    room = holdings * _dec(limits.max_expiry_exposure_frac)
    in_expiry = portfolio.short_call_amount(ccy, quote.expiry) - closing_same_expiry + amount
    c.add(
        "expiry_exposure",
        in_expiry <= room,
        f"short calls in {quote.expiry:%Y-%m-%d} after order {in_expiry} {ccy} vs "
        f"{limits.max_expiry_exposure_frac:.0%} of holdings = {room} {ccy}",
        leg="open",
        value=in_expiry,
        limit=room,
    )
    names = {p.instrument_name for p in portfolio.short_calls(ccy)}
    count = len(names | {quote.instrument_name}) - (1 if closes_a_call else 0)
    c.add(
        "calls_per_underlying",
        count <= limits.max_calls_per_underlying,
        f"{count} open {ccy} calls after order vs max {limits.max_calls_per_underlying}",
        leg="open",
        value=count,
        limit=limits.max_calls_per_underlying,
    )
    cap = limits.max_order_amount_for(ccy)
    c.add(
        "order_size_cap",
        amount <= cap,
        f"order {amount} {ccy} vs cap {cap} {ccy}",
        leg="open",
        value=amount,
        limit=cap,
    )
    _check_mainnet_caps(c, quote, amount, shorts_after, inputs, limits)


def _check_mainnet_caps(
    c: _Checks,
    quote: OptionQuote,
    amount: Decimal,
    shorts_after: Decimal,
    inputs: RiskInputs,
    limits: RiskLimits,
) -> None:
    if inputs.environment is not Environment.MAINNET:
        return
    index = _dec(quote.index_price_usd)
    order_usd = (amount * index).quantize(Decimal("0.01"))
    total_usd = (shorts_after * index).quantize(Decimal("0.01"))
    c.add(
        "mainnet_order_notional",
        order_usd <= limits.mainnet_max_order_notional_usd,
        f"order notional {order_usd} USD vs mainnet cap {limits.mainnet_max_order_notional_usd}",
        leg="open",
        value=order_usd,
        limit=limits.mainnet_max_order_notional_usd,
    )
    c.add(
        "mainnet_underlying_notional",
        total_usd <= limits.mainnet_max_underlying_notional_usd,
        f"{quote.currency} short-call notional after order {total_usd} USD vs mainnet cap "
        f"{limits.mainnet_max_underlying_notional_usd}",
        leg="open",
        value=total_usd,
        limit=limits.mainnet_max_underlying_notional_usd,
    )


def _check_market(
    c: _Checks, quote: OptionQuote, leg: OrderLeg, inputs: RiskInputs, limits: RiskLimits
) -> None:
    premium = quote.usd(leg.limit_price_coin)
    c.add(
        "premium_min",
        premium >= _dec(limits.premium_min_usd),
        f"premium {premium:.2f} USD per contract vs minimum {limits.premium_min_usd}",
        leg="open",
        value=f"{premium:.2f}",
        limit=limits.premium_min_usd,
    )
    _check_liquidity(c, quote, leg.amount, inputs, limits)


def _check_liquidity(
    c: _Checks, quote: OptionQuote, amount: Decimal, inputs: RiskInputs, limits: RiskLimits
) -> None:
    unknown_ok = _unknown_passes(inputs)
    spread = quote.spread_pct
    c.add(
        "liquidity_spread",
        unknown_ok if spread is None else spread <= limits.liquidity_max_spread_pct,
        "spread unknown (one side of the book empty)"
        if spread is None
        else f"spread {spread:.2f}% vs max {limits.liquidity_max_spread_pct:.2f}%",
        leg="open",
        value=None if spread is None else f"{spread:.4f}",
        limit=limits.liquidity_max_spread_pct,
    )
    oi = quote.open_interest
    c.add(
        "liquidity_open_interest",
        unknown_ok if oi is None else oi >= limits.liquidity_min_open_interest,
        "open interest unknown"
        if oi is None
        else f"open interest {oi:g} vs min {limits.liquidity_min_open_interest:g} contracts",
        leg="open",
        value=oi,
        limit=limits.liquidity_min_open_interest,
    )
    multiple = _dec(limits.liquidity_min_depth_multiple)
    depth = quote.best_bid_amount
    if multiple <= 0:
        c.add("liquidity_book_depth", True, "disabled (multiple 0)", leg="open")
        return
    c.add(
        "liquidity_book_depth",
        unknown_ok if depth is None else depth >= amount * multiple,
        "best-bid depth unknown"
        if depth is None
        else f"best bid {depth} vs {multiple} x order {amount} needed",
        leg="open",
        value=depth,
        limit=amount * multiple,
    )


def _check_instrument(
    c: _Checks,
    leg: OrderLeg,
    quote: OptionQuote | None,
    role: Literal["open", "close"],
    inputs: RiskInputs,
) -> None:
    c.add(
        "instrument_quoted",
        quote is not None and quote.is_call,
        f"{leg.instrument_name} is a call quoted this tick"
        if quote is not None and quote.is_call
        else f"{leg.instrument_name} is not a call quoted this tick",
        leg=role,
    )
    if quote is None:
        return
    spec = quote.spec
    on_step = quantize_order_amount(leg.amount, spec) == leg.amount
    c.add(
        "amount_on_step",
        on_step,
        f"amount {leg.amount} vs minimum/step {spec.min_trade_amount}",
        leg=role,
        value=leg.amount,
        limit=spec.min_trade_amount,
    )
    c.add(
        "price_on_tick",
        is_on_tick(leg.limit_price_coin, spec),
        f"limit price {leg.limit_price_coin} on the tick grid",
        leg=role,
        value=leg.limit_price_coin,
    )
    expiry = quote.expiry
    if expiry is None:
        return
    left = expiry - inputs.now
    alive = left > timedelta(0)
    c.add(
        "not_expired",
        alive,
        f"expires {expiry:%Y-%m-%d %H:%M} UTC, {left.total_seconds() / 3600:.2f} h left",
        leg=role,
    )
    if role == "open":
        c.add(
            "settlement_window",
            left >= SETTLEMENT_WINDOW or not alive,
            "in the 30-minute settlement window before expiry: no new calls"
            if timedelta(0) < left < SETTLEMENT_WINDOW
            else "outside the settlement window",
            leg=role,
        )


def _check_close_leg(c: _Checks, leg: OrderLeg, inputs: RiskInputs) -> None:
    held = inputs.portfolio.short_call_amount_of(leg.instrument_name)
    c.add(
        "close_position_exists",
        held > 0 and leg.amount <= held,
        f"buy {leg.amount} to close vs {held} short"
        + ("" if held > 0 and leg.amount <= held else ": would open a long or close nothing"),
        leg="close",
        value=leg.amount,
        limit=held,
    )


def evaluate_risk(proposal: Proposal, inputs: RiskInputs, limits: RiskLimits) -> RiskVerdict:
    """Judge a proposal: run every check that applies to its legs, approve only if all pass."""
    action = str(proposal.action.value)
    if not proposal.legs:
        return RiskVerdict(action=action, approved=True, increases_risk=False)
    c = _Checks()
    close_leg, open_leg = proposal.close_leg, proposal.open_leg
    close_quote = inputs.quotes.get(close_leg.instrument_name) if close_leg else None
    if close_leg is not None:
        _check_instrument(c, close_leg, close_quote, "close", inputs)
        _check_close_leg(c, close_leg, inputs)
    if open_leg is not None:
        _evaluate_open_leg(c, open_leg, (close_leg, close_quote), inputs, limits)
    return RiskVerdict(
        action=action,
        approved=all(check.passed for check in c.items),
        increases_risk=open_leg is not None,
        checks=tuple(c.items),
    )


def _evaluate_open_leg(
    c: _Checks,
    leg: OrderLeg,
    close: tuple[OrderLeg | None, OptionQuote | None],
    inputs: RiskInputs,
    limits: RiskLimits,
) -> None:
    close_leg, close_quote = close
    quote = inputs.quotes.get(leg.instrument_name)
    _check_guards(c, inputs, limits)
    _check_instrument(c, leg, quote, "open", inputs)
    if quote is None:
        return
    closing = close_leg.amount if close_leg is not None else Decimal(0)
    same_expiry = close_quote is not None and close_quote.expiry == quote.expiry
    closes_a_call = (
        close_leg is not None
        and inputs.portfolio.short_call_amount_of(close_leg.instrument_name) <= closing
    )
    _check_account(c, quote, leg.amount, inputs, limits)
    _check_delta(c, quote, leg.amount, (close_quote, closing), inputs, limits)
    _check_rails(
        c,
        quote,
        leg.amount,
        (closing, closing if same_expiry else Decimal(0), closes_a_call),
        inputs,
        limits,
    )
    _check_market(c, quote, leg, inputs, limits)

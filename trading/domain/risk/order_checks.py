"""Checks on the order itself against the market.

The instrument is a call quoted this tick, on the amount and tick grid, not expired and (for a
sell) outside the settlement window; a sell also meets the premium minimum and the liquidity
guards; a buy closes a short that exists.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from trading.domain.instruments import is_on_tick
from trading.domain.params import Environment, RiskLimits
from trading.domain.risk.capacity import _dec, quantize_order_amount
from trading.domain.risk.inputs import OptionQuote, RiskInputs
from trading.domain.risk.verdict import _Checks

if TYPE_CHECKING:
    from trading.domain.proposal_types import OrderLeg

#: Options are settled on an index TWAP over the 30 minutes before expiry (Deribit contract
#: spec); opening new risk in an option that is being settled is refused.
SETTLEMENT_WINDOW = timedelta(minutes=30)


def _unknown_passes(inputs: RiskInputs) -> bool:
    """Unknown liquidity data passes off mainnet (noted), fails on mainnet."""
    return inputs.environment is not Environment.MAINNET


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

"""Account summary and positions of the simulated exchange (equity, margin, portfolio greeks).

Formulas are those of `accounts.py`; greeks follow Deribit: `options_delta` sums size x
Black-76 delta, `delta_total` uses the options' net-transaction delta (delta - mark price, in
coin) plus the futures' coin delta; vega (USD per vol point) and theta (USD per day) are summed
as the ticker shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from trading.deribit.limiter import LimiterConfig
from trading.deribit.simulator.accounts import (
    PERP_IM,
    PERP_MM,
    Account,
    PositionState,
    coin,
    short_option_initial_margin,
    short_option_maintenance_margin,
    to_decimal,
)
from trading.deribit.simulator.listing import Valuation
from trading.deribit.simulator.venue import Venue

ZERO = Decimal(0)


@dataclass
class PositionFigures:
    """Valuation of one position (coin unless stated)."""

    position: PositionState
    value: Valuation
    upl: Decimal
    option_value: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal
    open_orders_margin: Decimal
    delta: float
    net_delta: float
    gamma: float
    vega: float
    theta: float


@dataclass
class Totals:
    """Sums over an account's positions in one currency."""

    figures: list[PositionFigures] = field(default_factory=list)
    options_value: Decimal = ZERO
    options_upl: Decimal = ZERO
    futures_upl: Decimal = ZERO
    initial_margin: Decimal = ZERO
    maintenance_margin: Decimal = ZERO
    options_delta: float = 0.0
    delta_total: float = 0.0
    gamma: float = 0.0
    vega: float = 0.0
    theta: float = 0.0


def position_figures(venue: Venue, account: Account, position: PositionState) -> PositionFigures:
    """Mark-to-market, margin and greeks of one position."""
    value = venue.listing.valuation(position.instrument_name)
    mark = to_decimal(value.mark_price)
    size = position.size
    orders_margin = open_orders_margin(venue, account, position.instrument_name)
    if position.kind == "option":
        spec = value.spec
        short = max(-size, ZERO)
        im = short_option_initial_margin(
            short,
            mark,
            spec.strike or ZERO,
            to_decimal(value.underlying_price),
            is_call=bool(spec.is_call),
        )
        mm = short_option_maintenance_margin(short, mark)
        sz = float(size)
        return PositionFigures(
            position,
            value,
            position.floating_pnl(mark),
            coin(size * mark),
            im,
            mm,
            orders_margin,
            sz * value.delta,
            sz * (value.delta - value.mark_price),
            sz * value.gamma,
            sz * value.vega,
            sz * value.theta,
        )
    size_coin = size / mark
    delta = float(size_coin)
    return PositionFigures(
        position,
        value,
        position.floating_pnl(mark),
        ZERO,
        coin(abs(size_coin) * PERP_IM),
        coin(abs(size_coin) * PERP_MM),
        orders_margin,
        delta,
        delta,
        0.0,
        0.0,
        0.0,
    )


def open_orders_margin(venue: Venue, account: Account, instrument_name: str) -> Decimal:
    """Initial margin reserved by the account's resting orders in one instrument.

    Resting option sells reserve the short-option margin of the part the long position does
    not cover; resting perpetual orders 2% of their notional; resting option buys reserve
    nothing in this approximation (their premium is checked when they are placed).
    """
    resting = [
        o
        for o in venue.books.account_open_orders(account)
        if o.spec.instrument_name == instrument_name and not o.reduce_only
    ]
    if not resting:
        return ZERO
    value = venue.listing.valuation(instrument_name)
    spec = value.spec
    mark = to_decimal(value.mark_price)
    if not spec.is_option:
        return coin(sum((o.remaining for o in resting), ZERO) / mark * PERP_IM)
    sells = sum((o.remaining for o in resting if o.direction == "sell"), ZERO)
    uncovered = max(sells - max(venue.books.position(account, spec).size, ZERO), ZERO)
    return short_option_initial_margin(
        uncovered,
        mark,
        spec.strike or ZERO,
        to_decimal(value.underlying_price),
        is_call=bool(spec.is_call),
    )


def totals(venue: Venue, account: Account, currency: str) -> Totals:
    """Sum the account's positions (and resting orders' margin) in `currency`."""
    result = Totals()
    names = {p.instrument_name for p in account.positions.values() if p.currency == currency}
    names |= {
        o.spec.instrument_name
        for o in venue.books.account_open_orders(account)
        if o.spec.currency == currency
    }
    for name in sorted(names):
        spec = venue.listing.spec(name)
        position = venue.books.position(account, spec)
        fig = position_figures(venue, account, position)
        if position.size != 0:
            result.figures.append(fig)
        if position.kind == "option":
            result.options_value += fig.option_value
            result.options_upl += fig.upl
        else:
            result.futures_upl += fig.upl
        result.initial_margin += fig.initial_margin + fig.open_orders_margin
        result.maintenance_margin += fig.maintenance_margin
        result.options_delta += fig.delta if position.kind == "option" else 0.0
        result.delta_total += fig.net_delta
        result.gamma += fig.gamma
        result.vega += fig.vega
        result.theta += fig.theta
    account.drop_flat_positions()
    return result


def _equity_and_available(balance: Decimal, t: Totals) -> tuple[Decimal, Decimal]:
    equity = coin(balance + t.options_value + t.futures_upl)
    return equity, coin(equity - t.initial_margin)


def available_funds(venue: Venue, account: Account, currency: str) -> Decimal:
    """Equity less the initial margin of positions and resting orders (coin)."""
    _, available = _equity_and_available(
        account.balance(currency), totals(venue, account, currency)
    )
    return available


def account_summary(
    venue: Venue,
    account: Account,
    currency: str,
    *,
    limits: LimiterConfig | None,
    extended: bool = False,
) -> dict[str, Any]:
    """`private/get_account_summary` for one currency (`limits`: the exchange's credits)."""
    t = totals(venue, account, currency)
    balance = account.balance(currency)
    equity, available = _equity_and_available(balance, t)
    index = f"{currency.lower()}_usd"
    session_rpl = float(account.session_rpl.get(currency, ZERO))
    result: dict[str, Any] = {
        "currency": currency,
        "balance": float(balance),
        "equity": float(equity),
        "margin_balance": float(equity),
        "available_funds": float(available),
        "available_withdrawal_funds": float(max(min(available, balance), ZERO)),
        "initial_margin": float(coin(t.initial_margin)),
        "maintenance_margin": float(coin(t.maintenance_margin)),
        "projected_initial_margin": float(coin(t.initial_margin)),
        "projected_maintenance_margin": float(coin(t.maintenance_margin)),
        "delta_total": round(t.delta_total, 8),
        "delta_total_map": {index: round(t.delta_total, 8)},
        "projected_delta_total": round(t.delta_total, 8),
        "options_delta": round(t.options_delta, 8),
        "options_gamma": round(t.gamma, 10),
        "options_vega": round(t.vega, 5),
        "options_theta": round(t.theta, 5),
        "options_gamma_map": {index: round(t.gamma, 10)},
        "options_vega_map": {index: round(t.vega, 5)},
        "options_theta_map": {index: round(t.theta, 5)},
        "options_value": float(coin(t.options_value)),
        "options_pl": float(coin(t.options_upl)),
        "options_session_rpl": 0.0,
        "options_session_upl": float(coin(t.options_upl)),
        "futures_pl": float(coin(t.futures_upl)),
        "futures_session_rpl": session_rpl,
        "futures_session_upl": float(coin(t.futures_upl)),
        "session_rpl": session_rpl,
        "session_upl": float(coin(t.options_upl + t.futures_upl)),
        "total_pl": float(coin(t.options_upl + t.futures_upl)),
        "fee_balance": 0.0,
        "spot_reserve": 0.0,
        "additional_reserve": 0.0,
        "estimated_liquidation_ratio": float(t.maintenance_margin / equity) if equity > 0 else 0.0,
        "estimated_liquidation_ratio_map": {},
        "margin_model": "segregated_sm",
        "portfolio_margining_enabled": False,
        "cross_collateral_enabled": False,
        "limits": _limits(limits),
        # Identity fields: the spec lists them as always present.
        "id": account.account_id,
        "username": account.username,
        "system_name": account.username,
        "email": f"{account.username}@sim.invalid",
        "type": "main",
        "security_keys_enabled": False,
        "creation_timestamp": venue.listing.started_ms,
    }
    if extended:
        result.update(
            {
                "mmp_enabled": False,
                "login_enabled": False,
                "interuser_transfers_enabled": False,
                "self_trading_reject_mode": "cancel_maker",
                "referrer_id": None,
            }
        )
    return result


def _limits(limits: LimiterConfig | None) -> dict[str, Any]:
    if limits is None:
        return {"limits_per_currency": False}
    return {
        "limits_per_currency": False,
        "non_matching_engine": {
            "rate": limits.non_matching_rate_per_s,
            "burst": limits.non_matching_burst,
        },
        "matching_engine": {
            "trading": {
                "total": {"rate": limits.matching_rate_per_s, "burst": limits.matching_burst}
            }
        },
    }


def positions_json(
    venue: Venue, account: Account, currency: str, kind: str | None = None
) -> list[dict[str, Any]]:
    """`private/get_positions` rows."""
    rows = []
    for fig in totals(venue, account, currency).figures:
        if kind is not None and fig.position.kind != kind:
            continue
        rows.append(position_json(fig))
    return rows


def position_json(fig: PositionFigures) -> dict[str, Any]:
    """One position row in Deribit's field names and units."""
    p, v = fig.position, fig.value
    row: dict[str, Any] = {
        "instrument_name": p.instrument_name,
        "kind": p.kind,
        "direction": p.direction,
        "size": float(p.size),
        "average_price": float(p.average_price),
        "mark_price": v.mark_price,
        "index_price": round(v.index_price, 2),
        "settlement_price": 0.0 if v.settlement_price is None else v.settlement_price,
        "delta": round(fig.delta, 8),
        "floating_profit_loss": float(fig.upl),
        "realized_profit_loss": float(p.realized_profit_loss),
        "total_profit_loss": float(coin(fig.upl + p.realized_profit_loss)),
        "initial_margin": float(fig.initial_margin),
        "maintenance_margin": float(fig.maintenance_margin),
        "open_orders_margin": float(fig.open_orders_margin),
        # Options have no liquidation price of their own; Deribit leaves it empty.
        "estimated_liquidation_price": None,
    }
    if p.kind == "option":
        row.update(
            {
                "gamma": round(fig.gamma, 10),
                "vega": round(fig.vega, 5),
                "theta": round(fig.theta, 5),
                "average_price_usd": float(p.average_price_usd),
                "floating_profit_loss_usd": round(float(fig.upl) * v.index_price, 2),
            }
        )
    else:
        row.update(
            {
                "size_currency": round(fig.delta, 8),
                "leverage": 50,
                "realized_funding": float(p.realized_funding),
                "interest_value": 0.0,
            }
        )
    return row

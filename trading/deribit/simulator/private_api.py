"""Private JSON-RPC methods of the simulated exchange (account, positions, orders)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from trading.deribit.errors import InvalidParamsError
from trading.deribit.simulator.accounts import (
    Account,
    coin,
    option_fee,
    short_option_initial_margin,
    to_decimal,
)
from trading.deribit.simulator.exchange import SimulatedExchange
from trading.deribit.simulator.matching import (
    cancel_many,
    cancel_order,
    edit_order,
    find_order,
    place_order,
    price_band,
)
from trading.deribit.simulator.params import Params
from trading.deribit.simulator.portfolio import account_summary, positions_json

Handler = Callable[[SimulatedExchange, Params, Account | None], Any]
KINDS = ("future", "option", "spot", "future_combo", "option_combo", "any")


def _account(account: Account | None) -> Account:
    assert account is not None, "private handlers run only for authenticated accounts"
    return account


def _currency(ex: SimulatedExchange, params: Params) -> str:
    currency = params.text("currency")
    if currency not in ex.market.currencies and currency not in ("USDC", "USDT", "EURR", "any"):
        raise InvalidParamsError(data={"param": "currency", "reason": "unsupported currency"})
    return str(currency)


def get_account_summary(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> dict[str, Any]:
    """`private/get_account_summary`."""
    currency = _currency(ex, params)
    return account_summary(
        ex.venue(),
        _account(account),
        currency,
        limits=ex.config.rate_limits,
        extended=params.flag("extended", False),
    )


def get_positions(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> list[dict[str, Any]]:
    """`private/get_positions` (every currency without `currency`, as on Deribit)."""
    kind = params.choice("kind", KINDS, None)
    currency = _currency(ex, Params({**params.raw, "currency": params.text("currency", "any")}))
    currencies = ex.market.currencies if currency == "any" else [currency]
    rows: list[dict[str, Any]] = []
    venue = ex.venue()
    for ccy in currencies:
        if ccy in ex.market.currencies:
            rows.extend(
                positions_json(venue, _account(account), ccy, None if kind == "any" else kind)
            )
    return rows


def get_position(ex: SimulatedExchange, params: Params, account: Account | None) -> dict[str, Any]:
    """`private/get_position` (a flat position when none is held)."""
    spec = ex.spec(params.text("instrument_name"))
    for row in positions_json(ex.venue(), _account(account), spec.currency):
        if row["instrument_name"] == spec.instrument_name:
            return row
    raise InvalidParamsError(data={"param": "instrument_name", "reason": "no position"})


def buy(ex: SimulatedExchange, params: Params, account: Account | None) -> dict[str, Any]:
    """`private/buy`."""
    return place_order(ex.venue(), _account(account), "buy", params)


def sell(ex: SimulatedExchange, params: Params, account: Account | None) -> dict[str, Any]:
    """`private/sell`."""
    return place_order(ex.venue(), _account(account), "sell", params)


def edit(ex: SimulatedExchange, params: Params, account: Account | None) -> dict[str, Any]:
    """`private/edit`."""
    return edit_order(ex.venue(), _account(account), params)


def cancel(ex: SimulatedExchange, params: Params, account: Account | None) -> dict[str, Any]:
    """`private/cancel`."""
    return cancel_order(ex.venue(), _account(account), params.text("order_id"))


def cancel_all(ex: SimulatedExchange, params: Params, account: Account | None) -> int:
    """`private/cancel_all`: number of orders cancelled."""
    return cancel_many(ex.venue(), _account(account))


def cancel_all_by_currency(ex: SimulatedExchange, params: Params, account: Account | None) -> int:
    """`private/cancel_all_by_currency`."""
    return cancel_many(ex.venue(), _account(account), currency=_currency(ex, params))


def cancel_by_label(ex: SimulatedExchange, params: Params, account: Account | None) -> int:
    """`private/cancel_by_label`: number of orders cancelled."""
    currency = params.text("currency", None)
    return cancel_many(ex.venue(), _account(account), label=params.text("label"), currency=currency)


def _order_matches(order: Any, kind: str | None, order_type: str) -> bool:
    if kind not in (None, "any") and order.spec.kind != kind:
        return False
    return order_type in ("all", order.order_type)


def get_open_orders_by_currency(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> list[dict[str, Any]]:
    """`private/get_open_orders_by_currency`."""
    currency = _currency(ex, params)
    kind = params.choice("kind", KINDS, None)
    order_type = params.text("type", "all")
    return [
        o.to_json()
        for o in ex.books.account_open_orders(_account(account))
        if o.spec.currency == currency and _order_matches(o, kind, order_type)
    ]


def get_order_state(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> dict[str, Any]:
    """`private/get_order_state` (open or closed orders)."""
    return find_order(ex.venue(), _account(account), params.text("order_id")).to_json()


def get_order_state_by_label(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> list[dict[str, Any]]:
    """`private/get_order_state_by_label`: every order of the currency carrying the label."""
    currency = _currency(ex, params)
    label = params.text("label")
    return [
        o.to_json()
        for o in ex.books.account_orders(_account(account))
        if o.label == label and o.spec.currency == currency
    ]


def get_user_trades_by_currency(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> dict[str, Any]:
    """`private/get_user_trades_by_currency`: your fills, newest first by default."""
    currency = _currency(ex, params)
    kind = params.choice("kind", KINDS, None)
    count = params.integer("count", 10)
    if not 1 <= count <= 1000:
        raise InvalidParamsError(data={"param": "count", "reason": "must be 1..1000"})
    start = params.integer("start_timestamp", 0)
    end = params.integer("end_timestamp", ex.now_ms())
    sorting = params.choice("sorting", ("asc", "desc", "default"), "default")
    acc = _account(account)
    trades = [
        t
        for t in ex.books.trades_of(currency)
        if t.order.account_id == acc.account_id
        and start <= t.timestamp <= end
        and kind in (None, "any", t.order.spec.kind)
    ]
    trades.sort(key=lambda t: (t.timestamp, t.trade_id), reverse=sorting != "asc")
    return {"trades": [t.user_json() for t in trades[:count]], "has_more": len(trades) > count}


def close_position(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> dict[str, Any]:
    """`private/close_position`: a reduce-only order for the whole position."""
    acc = _account(account)
    spec = ex.spec(params.text("instrument_name"))
    order_type = params.choice("type", ("limit", "market"))
    size = ex.books.position(acc, spec).size
    if size == 0:
        raise InvalidParamsError(data={"param": "instrument_name", "reason": "no open position"})
    order_params: dict[str, Any] = {
        "instrument_name": spec.instrument_name,
        "amount": str(abs(size)),
        "type": order_type,
        "reduce_only": True,
        "label": params.text("label", ""),
    }
    if order_type == "limit":
        order_params["price"] = params.text("price")
    return place_order(ex.venue(), acc, "sell" if size > 0 else "buy", Params(order_params))


def get_margins(ex: SimulatedExchange, params: Params, account: Account | None) -> dict[str, Any]:
    """`private/get_margins`: initial margin (coin) to buy or sell `amount` at `price`."""
    spec = ex.spec(params.text("instrument_name"))
    amount: Decimal = params.number("amount")
    price: Decimal = params.number("price")
    spec.check_amount(amount)
    value = ex.valuation(spec.instrument_name)
    low, high = price_band(value)
    if spec.is_option:
        buy_margin = coin(amount * price + option_fee(amount, price))
        sell_margin = short_option_initial_margin(
            amount,
            max(to_decimal(value.mark_price), price),
            spec.strike or Decimal(0),
            to_decimal(value.underlying_price),
            is_call=bool(spec.is_call),
        )
    else:
        buy_margin = sell_margin = coin(amount / price * Decimal("0.02"))
    return {
        "buy": float(buy_margin),
        "sell": float(sell_margin),
        "min_price": float(low),
        "max_price": float(high),
    }


PRIVATE_METHODS: dict[str, Handler] = {
    "private/get_account_summary": get_account_summary,
    "private/get_positions": get_positions,
    "private/get_position": get_position,
    "private/buy": buy,
    "private/sell": sell,
    "private/edit": edit,
    "private/cancel": cancel,
    "private/cancel_all": cancel_all,
    "private/cancel_all_by_currency": cancel_all_by_currency,
    "private/cancel_by_label": cancel_by_label,
    "private/get_open_orders_by_currency": get_open_orders_by_currency,
    "private/get_order_state": get_order_state,
    "private/get_order_state_by_label": get_order_state_by_label,
    "private/get_user_trades_by_currency": get_user_trades_by_currency,
    "private/close_position": close_position,
    "private/get_margins": get_margins,
}

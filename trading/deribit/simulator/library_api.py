"""The rest of Deribit's read and trade surface that client libraries (ccxt & co.) call.

`public_api` / `private_api` hold what the project's own client uses; this module adds what a
third-party client needs on top: currencies, account summaries of every currency, orders and
trades by instrument (and by time, by order), order history, funding rate value, public trades
by instrument, settlement history and cancel by instrument. Shapes follow Deribit's OpenAPI
schemas (`../shared/reference/deribit/deribit_openapi.json`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from trading.deribit.errors import InvalidParamsError
from trading.deribit.simulator.accounts import Account
from trading.deribit.simulator.exchange import SimulatedExchange
from trading.deribit.simulator.matching import cancel_many, find_order
from trading.deribit.simulator.orders import SimOrder, SimTrade
from trading.deribit.simulator.params import Params
from trading.deribit.simulator.portfolio import account_summary

Handler = Callable[[SimulatedExchange, Params, Account | None], Any]

#: `public/get_currencies` rows (withdrawal figures as Deribit lists them).
CURRENCY_ROWS: dict[str, dict[str, Any]] = {
    "BTC": {
        "coin_type": "BITCOIN",
        "currency_long": "Bitcoin",
        "withdrawal_fee": 0.0001,
        "min_withdrawal_fee": 0.0001,
        "fee_precision": 4,
        "decimals": 8,
    },
    "ETH": {
        "coin_type": "ETHER",
        "currency_long": "Ethereum",
        "withdrawal_fee": 0.0006,
        "min_withdrawal_fee": 0.0001,
        "fee_precision": 4,
        "decimals": 6,
    },
}
SORTINGS = ("asc", "desc", "default")


def _account(account: Account | None) -> Account:
    assert account is not None, "private handlers run only for authenticated accounts"
    return account


def _count(params: Params, default: int, maximum: int = 1000) -> int:
    count = int(params.integer("count", default))
    if not 1 <= count <= maximum:
        raise InvalidParamsError(data={"param": "count", "reason": f"must be 1..{maximum}"})
    return count


# ------------------------------------------------------------------ public


def get_currencies(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> list[dict[str, Any]]:
    """`public/get_currencies`: the currencies the exchange lists."""
    return [
        {
            "currency": currency,
            "network_currency": currency,
            "network_fee": CURRENCY_ROWS[currency]["withdrawal_fee"],
            "min_confirmations": 1,
            "withdrawal_priorities": [],
            "in_cross_collateral_pool": False,
            **CURRENCY_ROWS[currency],
        }
        for currency in ex.market.currencies
        if currency in CURRENCY_ROWS
    ]


def _public_trades(ex: SimulatedExchange, params: Params, *, by_time: bool) -> dict[str, Any]:
    spec = ex.spec(params.text("instrument_name"))
    count = _count(params, 10)
    start = params.integer("start_timestamp", 0)
    end = params.integer("end_timestamp", ex.now_ms())
    if by_time and not (params.has("start_timestamp") and params.has("end_timestamp")):
        raise InvalidParamsError(data={"param": "start_timestamp", "reason": "value required"})
    start_seq = params.integer("start_seq", 0)
    end_seq = params.integer("end_seq", 2**62)
    sorting = params.choice("sorting", SORTINGS, "default")
    trades = [
        t
        for t in ex.books.trades_of(spec.currency)
        if t.order.spec.instrument_name == spec.instrument_name
        and start <= t.timestamp <= end
        and start_seq <= t.trade_seq <= end_seq
    ]
    trades.sort(key=lambda t: t.trade_seq, reverse=sorting != "asc")
    return {"trades": [t.public_json() for t in trades[:count]], "has_more": len(trades) > count}


def get_last_trades_by_instrument(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> dict[str, Any]:
    """`public/get_last_trades_by_instrument` (the simulated accounts' fills), newest first."""
    return _public_trades(ex, params, by_time=False)


def get_last_trades_by_instrument_and_time(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> dict[str, Any]:
    """`public/get_last_trades_by_instrument_and_time`."""
    return _public_trades(ex, params, by_time=True)


def get_funding_rate_value(ex: SimulatedExchange, params: Params, account: Account | None) -> float:
    """`public/get_funding_rate_value`: the funding accrued over the period (sum of the
    hourly rates between the timestamps; the current hour's rate when none falls inside)."""
    spec = ex.spec(params.text("instrument_name"))
    if spec.is_option:
        raise InvalidParamsError(data={"param": "instrument_name", "reason": "not a perpetual"})
    start, end = params.integer("start_timestamp"), params.integer("end_timestamp")
    hist = ex.market.history(spec.currency)
    total = 0.0
    seen = False
    for ts, funding in zip(hist["timestamp_ms"], hist["funding_8h"], strict=True):
        if start < ts <= end:
            total += float(funding) / 8
            seen = True
    if not seen:
        total = float(ex.market.perpetual(spec.currency).funding_8h) / 8
    return round(total, 12)


# ------------------------------------------------------------------ private: account


def get_account_summaries(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> dict[str, Any]:
    """`private/get_account_summaries`: the account's identity and one summary per currency."""
    acc = _account(account)
    extended = params.flag("extended", False)
    currencies = [c for c in ex.market.currencies] + [
        c for c in acc.balances if c not in ex.market.currencies
    ]
    venue = ex.venue()
    limits = ex.config.rate_limits
    summaries = [account_summary(venue, acc, c, limits=limits) for c in currencies]
    identity_keys = ("id", "username", "system_name", "email", "type", "creation_timestamp")
    first = summaries[0]
    result: dict[str, Any] = {key: first[key] for key in identity_keys}
    result.update(
        {
            "security_keys_enabled": False,
            "referrer_id": None,
            "login_enabled": False,
            "mmp_enabled": False,
            "interuser_transfers_enabled": False,
            "self_trading_reject_mode": "cancel_maker",
        }
    )
    for row in summaries:
        for key in (*identity_keys, "security_keys_enabled"):
            row.pop(key, None)
        if not extended:
            row.pop("limits", None)
    result["summaries"] = summaries
    return result


def _settlements(rows: list[dict[str, Any]], params: Params) -> dict[str, Any]:
    params.choice("type", ("settlement", "delivery", "bankruptcy"), "delivery")
    kind = params.text("type", None)
    count = _count(params, 20)
    before = params.integer("search_start_timestamp", 2**62)
    offset = int(params.text("continuation", "0") or 0)
    picked = [
        {**r, "funding": 0.0}
        for r in reversed(rows)
        if r["timestamp"] <= before and kind in (None, r["type"])
    ]
    page = picked[offset : offset + count]
    more = offset + count < len(picked)
    return {"settlements": page, "continuation": str(offset + count) if more else None}


def get_settlement_history_by_currency(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> dict[str, Any]:
    """`private/get_settlement_history_by_currency`: your deliveries, newest first."""
    currency = params.text("currency")
    rows = ex.books.settlement_history(_account(account))
    return _settlements([r for r in rows if r["currency"] == currency], params)


def get_settlement_history_by_instrument(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> dict[str, Any]:
    """`private/get_settlement_history_by_instrument`."""
    name = params.text("instrument_name")
    rows = ex.books.settlement_history(_account(account))
    return _settlements([r for r in rows if r["instrument_name"] == name], params)


# ------------------------------------------------------------------ private: orders


def get_open_orders(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> list[dict[str, Any]]:
    """`private/get_open_orders`: every open order of the account."""
    kind = params.text("kind", None)
    orders = ex.books.account_open_orders(_account(account))
    return [o.to_json() for o in orders if kind in (None, "any", o.spec.kind)]


def get_open_orders_by_instrument(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> list[dict[str, Any]]:
    """`private/get_open_orders_by_instrument`."""
    spec = ex.spec(params.text("instrument_name"))
    order_type = params.text("type", "all")
    orders = ex.books.account_open_orders(_account(account))
    return [
        o.to_json()
        for o in orders
        if o.spec.instrument_name == spec.instrument_name and order_type in ("all", o.order_type)
    ]


def _history(orders: list[SimOrder], params: Params) -> list[dict[str, Any]]:
    count = _count(params, 20, maximum=10_000)
    offset = params.integer("offset", 0)
    include_unfilled = params.flag("include_unfilled", False)
    closed = [
        o
        for o in orders
        if not o.is_open and (include_unfilled or o.filled_amount > 0 or o.order_state == "filled")
    ]
    closed.sort(key=lambda o: (o.last_update_ms, o.order_id), reverse=True)
    return [o.to_json() for o in closed[offset : offset + count]]


def get_order_history_by_instrument(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> list[dict[str, Any]]:
    """`private/get_order_history_by_instrument`: closed orders with fills (newest first);
    `include_unfilled=true` adds those cancelled without a fill."""
    name = params.text("instrument_name")
    orders = [
        o for o in ex.books.account_orders(_account(account)) if o.spec.instrument_name == name
    ]
    return _history(orders, params)


def get_order_history_by_currency(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> list[dict[str, Any]]:
    """`private/get_order_history_by_currency`."""
    currency = params.text("currency")
    kind = params.text("kind", None)
    orders = [
        o
        for o in ex.books.account_orders(_account(account))
        if o.spec.currency == currency and kind in (None, "any", o.spec.kind)
    ]
    return _history(orders, params)


def cancel_all_by_instrument(ex: SimulatedExchange, params: Params, account: Account | None) -> int:
    """`private/cancel_all_by_instrument`: number of orders cancelled."""
    spec = ex.spec(params.text("instrument_name"))
    return cancel_many(ex.venue(), _account(account), instrument_name=spec.instrument_name)


# ------------------------------------------------------------------ private: trades


def _user_trades(
    ex: SimulatedExchange,
    acc: Account,
    params: Params,
    trades: Iterable[SimTrade],
    *,
    by_time: bool = False,
) -> dict[str, Any]:
    count = _count(params, 10)
    if by_time and not params.has("start_timestamp"):
        raise InvalidParamsError(data={"param": "start_timestamp", "reason": "value required"})
    start = params.integer("start_timestamp", 0)
    end = params.integer("end_timestamp", ex.now_ms())
    start_seq = params.integer("start_seq", 0)
    end_seq = params.integer("end_seq", 2**62)
    sorting = params.choice("sorting", SORTINGS, "default")
    picked = [
        t
        for t in trades
        if t.order.account_id == acc.account_id
        and start <= t.timestamp <= end
        and start_seq <= t.trade_seq <= end_seq
    ]
    picked.sort(key=lambda t: (t.timestamp, t.trade_seq), reverse=sorting != "asc")
    return {"trades": [t.user_json() for t in picked[:count]], "has_more": len(picked) > count}


def _instrument_trades(ex: SimulatedExchange, params: Params) -> list[SimTrade]:
    spec = ex.spec(params.text("instrument_name"))
    return [
        t
        for t in ex.books.trades_of(spec.currency)
        if t.order.spec.instrument_name == spec.instrument_name
    ]


def get_user_trades_by_instrument(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> dict[str, Any]:
    """`private/get_user_trades_by_instrument`: your fills, newest first by default."""
    return _user_trades(ex, _account(account), params, _instrument_trades(ex, params))


def get_user_trades_by_instrument_and_time(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> dict[str, Any]:
    """`private/get_user_trades_by_instrument_and_time`."""
    trades = _instrument_trades(ex, params)
    return _user_trades(ex, _account(account), params, trades, by_time=True)


def get_user_trades_by_currency_and_time(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> dict[str, Any]:
    """`private/get_user_trades_by_currency_and_time`."""
    currency = params.text("currency")
    kind = params.text("kind", None)
    trades = [t for t in ex.books.trades_of(currency) if kind in (None, "any", t.order.spec.kind)]
    return _user_trades(ex, _account(account), params, trades, by_time=True)


def get_user_trades_by_order(
    ex: SimulatedExchange, params: Params, account: Account | None
) -> list[dict[str, Any]]:
    """`private/get_user_trades_by_order`: the fills of one of your orders (a list)."""
    order = find_order(ex.venue(), _account(account), params.text("order_id"))
    sorting = params.choice("sorting", SORTINGS, "default")
    trades = [t for t in ex.books.trades_of(order.spec.currency) if t.order is order]
    trades.sort(key=lambda t: t.trade_seq, reverse=sorting == "desc")
    return [t.user_json() for t in trades]


LIBRARY_PUBLIC: dict[str, Handler] = {
    "public/get_currencies": get_currencies,
    "public/get_last_trades_by_instrument": get_last_trades_by_instrument,
    "public/get_last_trades_by_instrument_and_time": get_last_trades_by_instrument_and_time,
    "public/get_funding_rate_value": get_funding_rate_value,
}

LIBRARY_PRIVATE: dict[str, Handler] = {
    "private/get_account_summaries": get_account_summaries,
    "private/get_open_orders": get_open_orders,
    "private/get_open_orders_by_instrument": get_open_orders_by_instrument,
    "private/get_order_history_by_instrument": get_order_history_by_instrument,
    "private/get_order_history_by_currency": get_order_history_by_currency,
    "private/cancel_all_by_instrument": cancel_all_by_instrument,
    "private/get_user_trades_by_instrument": get_user_trades_by_instrument,
    "private/get_user_trades_by_instrument_and_time": get_user_trades_by_instrument_and_time,
    "private/get_user_trades_by_currency_and_time": get_user_trades_by_currency_and_time,
    "private/get_user_trades_by_order": get_user_trades_by_order,
    "private/get_settlement_history_by_currency": get_settlement_history_by_currency,
    "private/get_settlement_history_by_instrument": get_settlement_history_by_instrument,
}

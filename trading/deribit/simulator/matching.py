"""The simulated matching engine: place, edit, cancel, fill, and margin checks.

Rules (Deribit's, simplified where noted in docs/deribit.md):
* limit and market orders; `good_til_cancelled`, `good_til_day`, `immediate_or_cancel`,
  `fill_or_kill`; taker fills walk the market maker's levels, the rest rests (GTC/GTD) or is
  cancelled (IOC, market); FOK fills completely or not at all;
* `post_only`: an order that would take liquidity is moved one tick inside the spread, or
  rejected with 11054 when `reject_post_only` is set;
* `reduce_only`: the amount is cut to the open position; an order that could only increase it
  is rejected (11030 other_reject);
* an order that adds risk needs available funds for its initial margin (10009 otherwise);
* resting orders fill as maker at their own price when the quote crosses them after a move.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from trading.deribit.errors import (
    InsufficientFundsError,
    InvalidParamsError,
    NotFoundError,
    OrderNotOpenError,
    OrderRejectedError,
    SettlementInProgressError,
)
from trading.deribit.simulator.accounts import (
    Account,
    coin,
    option_fee,
    perpetual_fee,
    short_option_initial_margin,
    to_decimal,
)
from trading.deribit.simulator.instruments import InstrumentSpec, check_label
from trading.deribit.simulator.listing import Valuation
from trading.deribit.simulator.orders import (
    BookLevel,
    SimOrder,
    SimTrade,
    market_maker_levels,
    round_to_lot,
    take_liquidity,
)
from trading.deribit.simulator.params import Params
from trading.deribit.simulator.portfolio import available_funds
from trading.deribit.simulator.venue import Venue
from trading.domain.instruments import quantize_price

ZERO = Decimal(0)
TIME_IN_FORCE = ("good_til_cancelled", "good_til_day", "fill_or_kill", "immediate_or_cancel")


def price_band(value: Valuation) -> tuple[Decimal, Decimal]:
    """(min_price, max_price) accepted for an instrument now."""
    spec = value.spec
    mark = to_decimal(value.mark_price)
    if spec.is_option:
        width = max(Decimal("0.015"), mark / 2)
        low = max(spec.tick_size, mark - width)
        high = mark + width
    else:
        low, high = mark * Decimal("0.975"), mark * Decimal("1.025")
    return (
        quantize_price(low, spec.contract, "sell"),
        quantize_price(high, spec.contract, "buy"),
    )


def book_side(venue: Venue, value: Valuation, *, bids: bool) -> list[BookLevel]:
    """The market maker's bids (or asks) for an instrument, net of liquidity already taken."""
    consumed = venue.books.taken(value.spec.instrument_name, bids=bids)
    price = value.best_bid_price if bids else value.best_ask_price
    amount = value.best_bid_amount if bids else value.best_ask_amount
    return market_maker_levels(value.spec, price or 0.0, amount, is_bid=bids, consumed=consumed)


# ------------------------------------------------------------------ placing


def place_order(venue: Venue, account: Account, direction: str, params: Params) -> dict[str, Any]:
    """`private/buy` and `private/sell`."""
    if venue.in_settlement:
        raise SettlementInProgressError()
    spec = venue.listing.spec(params.text("instrument_name"), code=10020)
    if not venue.is_live(spec):
        raise NotFoundError("invalid_or_unsupported_instrument", code=10020)
    order_type = params.choice("type", ("limit", "market"), "limit")
    amount = _amount(spec, params)
    value = venue.listing.valuation(spec.instrument_name)
    price = _limit_price(spec, value, direction, order_type, params)
    label = params.text("label", "")
    check_label(label)
    reduce_only = params.flag("reduce_only", False)
    if reduce_only:
        amount = _reduce_only_amount(venue, account, spec, direction, amount)
    order = SimOrder(
        order_id=venue.books.next_id("order", spec.currency),
        account_id=account.account_id,
        spec=spec,
        direction=direction,
        order_type=order_type,
        time_in_force=params.choice("time_in_force", TIME_IN_FORCE, "good_til_cancelled"),
        price=price,
        amount=amount,
        label=label,
        post_only=params.flag("post_only", False),
        reject_post_only=params.flag("reject_post_only", False),
        reduce_only=reduce_only,
        creation_ms=venue.now_ms,
        last_update_ms=venue.now_ms,
    )
    if order.post_only and order_type == "limit":
        _apply_post_only(venue, order, value)
    if not reduce_only:
        _check_funds(venue, account, order, value)
    venue.books.add_order(order)
    trades = _execute(venue, account, order, value)
    return {"order": order.to_json(), "trades": [t.user_json() for t in trades]}


def _amount(spec: InstrumentSpec, params: Params) -> Decimal:
    amount = params.number("amount", None)
    contracts = params.number("contracts", None)
    if amount is None and contracts is None:
        raise InvalidParamsError(data={"param": "amount", "reason": "value required"})
    if contracts is not None:
        from_contracts = contracts * spec.contract_size
        if amount is not None and amount != from_contracts:
            raise InvalidParamsError(data={"param": "contracts", "reason": "must match amount"})
        amount = from_contracts
    assert amount is not None
    spec.check_amount(amount)
    return Decimal(amount)


def _limit_price(
    spec: InstrumentSpec, value: Valuation, direction: str, order_type: str, params: Params
) -> Decimal:
    low, high = price_band(value)
    if order_type == "market":
        return high if direction == "buy" else low
    price = params.number("price")
    spec.check_price(price)
    if price < low:
        raise OrderRejectedError(f"price_too_low {low}", code=10005)
    if price > high:
        raise OrderRejectedError(f"price_too_high {high}", code=10007)
    return Decimal(price)


def _reduce_only_amount(
    venue: Venue, account: Account, spec: InstrumentSpec, direction: str, amount: Decimal
) -> Decimal:
    size = venue.books.position(account, spec).size
    resting = sum(
        (
            o.remaining
            for o in venue.books.account_open_orders(account)
            if o.spec is spec and o.reduce_only and o.direction == direction
        ),
        ZERO,
    )
    reducible = (-size if direction == "buy" else size) - resting
    if reducible <= 0:
        raise OrderRejectedError("other_reject reduce_only", code=11030)
    return min(amount, round_to_lot(reducible, spec.min_trade_amount) or reducible)


def _apply_post_only(venue: Venue, order: SimOrder, value: Valuation) -> None:
    opposite = book_side(venue, value, bids=order.direction == "sell")
    if not opposite:
        return
    best = opposite[0].price
    crossing = order.price >= best if order.direction == "buy" else order.price <= best
    if not crossing:
        return
    if order.reject_post_only:
        raise OrderRejectedError("post_only_reject", code=11054)
    tick = order.spec.tick_for(best)
    order.price = best - tick if order.direction == "buy" else best + tick
    if order.price <= 0:
        raise OrderRejectedError("post_only_reject", code=11054)


def margin_needed(venue: Venue, account: Account, order: SimOrder, value: Valuation) -> Decimal:
    """Initial margin (coin) an order would add if fully filled."""
    spec = order.spec
    if not spec.is_option:
        return coin(order.remaining / to_decimal(value.mark_price) * Decimal("0.02"))
    if order.direction == "buy":
        return coin(order.remaining * order.price + option_fee(order.remaining, order.price))
    size = venue.books.position(account, spec).size
    resting_sells = sum(
        (
            o.remaining
            for o in venue.books.account_open_orders(account)
            if o.spec is spec and o.direction == "sell" and o is not order and not o.reduce_only
        ),
        ZERO,
    )
    new_short = max(order.remaining + resting_sells - max(size, ZERO), ZERO)
    new_short = min(new_short, order.remaining)
    return short_option_initial_margin(
        new_short,
        to_decimal(value.mark_price),
        spec.strike or ZERO,
        to_decimal(value.underlying_price),
        is_call=bool(spec.is_call),
    )


def _check_funds(venue: Venue, account: Account, order: SimOrder, value: Valuation) -> None:
    available = Decimal(repr(float(available_funds(venue, account, order.spec.currency))))
    if margin_needed(venue, account, order, value) > available:
        raise InsufficientFundsError()


# ------------------------------------------------------------------ executing


def _execute(venue: Venue, account: Account, order: SimOrder, value: Valuation) -> list[SimTrade]:
    book = book_side(venue, value, bids=order.direction == "sell")
    limit = None if order.order_type == "market" else order.price
    fills = take_liquidity(order.direction, limit, order.remaining, book)
    if order.time_in_force == "fill_or_kill" and sum((a for _, a in fills), ZERO) < order.remaining:
        venue.books.close_order(order, "cancelled", now_ms=venue.now_ms, reason="user_request")
        return []
    trades = [
        book_fill(venue, account, order, price, amount, "T", value) for price, amount in fills
    ]
    if order.remaining == 0:
        venue.books.close_order(order, "filled", now_ms=venue.now_ms)
    elif order.order_type == "market" or order.time_in_force in (
        "immediate_or_cancel",
        "fill_or_kill",
    ):
        venue.books.close_order(order, "cancelled", now_ms=venue.now_ms, reason="user_request")
    else:
        venue.books.rest(order)
    for trade in trades:
        trade.state_after = order.order_state
    return trades


def book_fill(
    venue: Venue,
    account: Account,
    order: SimOrder,
    price: Decimal,
    amount: Decimal,
    liquidity: str,
    value: Valuation,
) -> SimTrade:
    """Book one fill: position, balance, fee, consumed liquidity and the trade record."""
    spec = order.spec
    signed = amount if order.direction == "buy" else -amount
    index = to_decimal(round(value.index_price, 2))
    position = venue.books.position(account, spec)
    realized = position.apply_fill(signed, price, index)
    if spec.is_option:
        fee = option_fee(amount, price)
        account.credit(spec.currency, -signed * price - fee)
    else:
        fee = perpetual_fee(amount, price, maker=liquidity == "M")
        account.credit(spec.currency, realized - fee)
    account.session_rpl[spec.currency] = account.session_rpl.get(spec.currency, ZERO) + realized
    account.drop_flat_positions()
    order.record_fill(amount, price, venue.now_ms)
    if liquidity == "T":
        venue.books.take(
            spec.instrument_name, bids=order.direction == "sell", price=price, amount=amount
        )
    trade = SimTrade(
        trade_id=venue.books.next_id("trade", spec.currency),
        trade_seq=venue.books.next_trade_seq(spec.instrument_name),
        order=order,
        timestamp=venue.now_ms,
        price=price,
        amount=amount,
        liquidity=liquidity,
        fee=fee,
        profit_loss=coin(realized),
        index_price=round(value.index_price, 2),
        mark_price=value.mark_price,
        underlying_price=value.underlying_price if spec.is_option else None,
        iv=value.mark_iv if spec.is_option else None,
        tick_direction=venue.books.tick_direction(spec.instrument_name, price),
        state_after=order.order_state,
    )
    venue.books.record_trade(trade)
    return trade


def match_resting_orders(venue: Venue) -> None:
    """Fill resting orders the market maker's new quote crosses (maker fills at their price)."""
    for order in venue.books.resting():
        if not venue.is_live(order.spec):
            continue
        try:
            value = venue.listing.valuation(order.spec.instrument_name)
        except NotFoundError:
            continue
        levels = book_side(venue, value, bids=order.direction == "sell")
        available = sum((lv.amount for lv in levels if _crossed(order, lv.price)), ZERO)
        amount = min(order.remaining, available)
        if amount <= 0:
            continue
        account = venue.books.account(order.account_id)
        book_fill(venue, account, order, order.price, amount, "M", value)
        bids = order.direction == "sell"
        venue.books.take(
            order.spec.instrument_name, bids=bids, price=levels[0].price, amount=amount
        )
        if order.remaining == 0:
            venue.books.close_order(order, "filled", now_ms=venue.now_ms)


def _crossed(order: SimOrder, level_price: Decimal) -> bool:
    return level_price <= order.price if order.direction == "buy" else level_price >= order.price


# ------------------------------------------------------------------ edit / cancel


def find_order(venue: Venue, account: Account, order_id: str) -> SimOrder:
    """An order of this account by id (10004 when unknown)."""
    order = venue.books.order_of(account, order_id)
    if order is None:
        raise NotFoundError("order_not_found", code=10004)
    return order


def edit_order(venue: Venue, account: Account, params: Params) -> dict[str, Any]:
    """`private/edit`: new amount and price for an open order, then match again."""
    if venue.in_settlement:
        raise SettlementInProgressError()
    order = find_order(venue, account, params.text("order_id"))
    if not order.is_open:
        raise OrderNotOpenError()
    amount = _amount(order.spec, params)
    if amount < order.filled_amount:
        raise InvalidParamsError(data={"param": "amount", "reason": "below filled amount"})
    price = params.number("price", order.price)
    order.spec.check_price(price)
    value = venue.listing.valuation(order.spec.instrument_name)
    previous = (order.amount, order.price)
    order.amount, order.price = amount, Decimal(price)
    order.post_only = params.flag("post_only", order.post_only)
    if order.post_only:
        _apply_post_only(venue, order, value)
    try:
        if not order.reduce_only:
            _check_funds(venue, account, order, value)
    except InsufficientFundsError:
        order.amount, order.price = previous
        raise
    order.replaced = True
    order.last_update_ms = venue.now_ms
    venue.books.lift(order)
    trades = _execute(venue, account, order, value)
    return {"order": order.to_json(), "trades": [t.user_json() for t in trades]}


def cancel_order(venue: Venue, account: Account, order_id: str) -> dict[str, Any]:
    """`private/cancel`: 11044 when the order is already closed."""
    if venue.in_settlement:
        raise SettlementInProgressError()
    order = find_order(venue, account, order_id)
    if not order.is_open:
        raise OrderNotOpenError()
    venue.books.close_order(order, "cancelled", now_ms=venue.now_ms, reason="user_request")
    return order.to_json()


def cancel_many(
    venue: Venue,
    account: Account,
    *,
    label: str | None = None,
    currency: str | None = None,
    instrument_name: str | None = None,
) -> int:
    """Cancel the account's open orders (optionally by label/currency/instrument); the count."""
    if venue.in_settlement:
        raise SettlementInProgressError()
    count = 0
    for order in venue.books.account_open_orders(account):
        if label is not None and order.label != label:
            continue
        if currency is not None and order.spec.currency != currency:
            continue
        if instrument_name is not None and order.spec.instrument_name != instrument_name:
            continue
        venue.books.close_order(order, "cancelled", now_ms=venue.now_ms, reason="user_request")
        count += 1
    return count

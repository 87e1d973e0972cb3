"""Execution: persist each order with its label, send it at most once, resolve what is unknown.

Order of events for one leg:

1. `orders_create` writes the Order row (state `pending`, unique label) and commits.
2. `order_execute` claims it with one conditional UPDATE (pending -> sending, `sent_at` set);
   only the caller whose UPDATE matched sends. A redelivered task, a second worker or a
   restarted process finds the row already claimed and sends nothing.
3. Dry run: the fill it would have got at the book (the proposal's limit price is the best bid
   or ask) is recorded, state `simulated`, on a paper position. Testnet/sim: one
   `private/buy|sell` with the label, immediate-or-cancel, so a partial fill ends as
   `cancelled_partial` with the filled part booked.
4. A lost reply (`UnknownOutcomeError`) is resolved with `get_order_state_by_label`; after
   `RESOLVE_ATTEMPTS` empty answers the order is `rejected_unknown`. Never a blind resend.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from trading.deribit.client import DeribitClient, new_order_label
from trading.deribit.errors import DeribitError, ExchangeUnavailableError, UnknownOutcomeError
from trading.deribit.models import Order as ExchangeOrder
from trading.deribit.models import UserTrade
from trading.domain.fees import option_fee_coin
from trading.domain.instruments import parse_instrument
from trading.domain.params import EffectiveParams
from trading.domain.policy import COVERED_CALL_STRATEGY
from trading.domain.proposal import Proposal
from trading.models import Decision, Order, Position

logger = logging.getLogger("trading.execution")

RESOLVE_ATTEMPTS = 3
#: Orders of this strategy close exposure we never booked (reconciliation): no position row.
EXTERNAL_STRATEGY = "external"
LABEL_PREFIX = "od"
_STATE_MAP = {
    "open": Order.State.OPEN,
    "untriggered": Order.State.OPEN,
    "filled": Order.State.FILLED,
    "rejected": Order.State.REJECTED,
    "cancelled": Order.State.CANCELLED,
}


def orders_create(
    *, decision: Decision, proposal: Proposal, params: EffectiveParams
) -> list[Order]:
    """Write one pending Order per leg (close leg first), labels unique, before anything is sent."""
    orders = []
    with transaction.atomic():
        for index, leg in enumerate(proposal.legs):
            orders.append(
                Order.objects.create(
                    label=new_order_label(LABEL_PREFIX),
                    decision=decision,
                    leg_index=index,
                    environment=params.environment.value,
                    dry_run=params.dry_run,
                    strategy_id=COVERED_CALL_STRATEGY,
                    instrument_name=leg.instrument_name,
                    currency=parse_instrument(leg.instrument_name).currency,
                    direction=leg.direction,
                    amount=leg.amount,
                    limit_price=leg.limit_price_coin,
                )
            )
    return orders


def order_claim(order: Order) -> bool:
    """Atomically move a pending order to `sending`; False when someone else already did."""
    claimed = Order.objects.filter(pk=order.pk, state=Order.State.PENDING, sent_at=None).update(
        state=Order.State.SENDING, sent_at=timezone.now()
    )
    order.refresh_from_db()
    return claimed == 1


def order_execute(*, order: Order, client: DeribitClient | None) -> Order:
    """Send (or simulate) one pending order at most once and record what happened."""
    if not order_claim(order):
        logger.info("order %s already claimed (%s): not sending again", order.label, order.state)
        return order
    if order.dry_run:
        return _simulate(order)
    if client is None:
        raise ValueError("a live order needs an exchange client")
    try:
        market = order.order_type == "market"
        result = client.place_order(
            order.direction,
            order.instrument_name,
            order.amount,
            price=None if market else order.limit_price,
            type=order.order_type,
            label=order.label,
            time_in_force=order.time_in_force,
            reduce_only=order.reduce_only,
        )
    except UnknownOutcomeError as exc:
        _set(order, state=Order.State.UNKNOWN, error=str(exc)[:2000])
        return order_resolve(order=order, client=client)
    except ExchangeUnavailableError as exc:
        if exc.request_sent:  # pragma: no cover - the client turns these into UnknownOutcome
            _set(order, state=Order.State.UNKNOWN, error=str(exc)[:2000])
            return order_resolve(order=order, client=client)
        _set(order, state=Order.State.REJECTED, error_code=exc.code, error=str(exc)[:2000])
        return order
    except DeribitError as exc:
        _set(order, state=Order.State.REJECTED, error_code=exc.code, error=str(exc)[:2000])
        return order
    return order_apply_exchange_state(
        order=order, exchange_order=result.order, trades=result.trades
    )


def order_resolve(
    *, order: Order, client: DeribitClient, attempts: int = RESOLVE_ATTEMPTS, delay_s: float = 0.0
) -> Order:
    """Find an order whose outcome is unknown by its label; `rejected_unknown` after `attempts`.

    One empty answer is not proof (replica lag), so the label is asked up to `attempts` times
    across calls; an exchange error leaves the order as it was for the next pass.
    """
    for _ in range(max(attempts - order.resolve_attempts, 1)):
        try:
            found = client.get_order_state_by_label(order.currency, order.label)
        except DeribitError as exc:
            logger.warning("resolving %s by label failed: %s", order.label, exc)
            return order
        if found:
            if len(found) > 1:
                logger.error("label %s matches %d orders on the exchange", order.label, len(found))
            return order_apply_exchange_state(order=order, exchange_order=found[0])
        _set(order, resolve_attempts=order.resolve_attempts + 1)
        if order.resolve_attempts >= attempts:
            _set(
                order,
                state=Order.State.REJECTED_UNKNOWN,
                error=f"{order.error}; not found by label after {attempts} checks".strip("; "),
            )
            return order
        if delay_s:
            time.sleep(delay_s)
    return order


def order_fee(
    *, order: Order, filled: Decimal, price: Decimal, trades: Sequence[UserTrade] | None
) -> tuple[Decimal, str]:
    """The fee of an order's filled part and where it comes from.

    The exchange's own trades when it sent them with the reply (`fee` of each fill of this
    order, in `fee_currency` = the coin for inverse options); otherwise Deribit's schedule
    (`trading.domain.fees.option_fee_coin`): dry-run fills and orders found by label.
    """
    mine = [t for t in trades or () if t.order_id == order.exchange_order_id]
    if mine:
        return sum((t.fee for t in mine), Decimal(0)), "exchange"
    if filled <= 0:
        return Decimal(0), ""
    return option_fee_coin(filled, price), "model"


def order_apply_exchange_state(
    *,
    order: Order,
    exchange_order: ExchangeOrder,
    trades: Sequence[UserTrade] | None = None,
) -> Order:
    """Copy the exchange's view of an order, its fee, and book any new fill to the position."""
    state = _STATE_MAP.get(exchange_order.order_state, Order.State.UNKNOWN)
    filled = exchange_order.filled_amount or Decimal(0)
    if state is Order.State.CANCELLED and filled > 0:
        state = Order.State.CANCELLED_PARTIAL
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        locked.exchange_order_id = exchange_order.order_id
        fee, source = order_fee(
            order=locked, filled=filled, price=exchange_order.average_price, trades=trades
        )
        if source == "model" and locked.fee_source == "exchange":
            fee, source = locked.fee_coin, locked.fee_source  # keep the exchange's figure
        new_fill = filled - locked.fills_applied
        if new_fill > 0 and locked.strategy_id != EXTERNAL_STRATEGY:
            position_apply_fill(
                order=locked,
                amount=new_fill,
                price=exchange_order.average_price,
                fee=fee - locked.fee_coin,
            )
        locked.fee_coin = fee
        locked.fee_source = source
        locked.state = state
        locked.filled_amount = filled
        locked.average_price = exchange_order.average_price or Decimal(0)
        locked.fills_applied = max(filled, locked.fills_applied)
        locked.resolved_at = timezone.now()
        raw = exchange_order.model_dump(mode="json")
        fills = [t.model_dump(mode="json") for t in trades or () if t.order_id == raw["order_id"]]
        if fills:
            raw["trades"] = fills
        elif locked.raw and "trades" in locked.raw:
            raw["trades"] = locked.raw["trades"]
        locked.raw = raw
        locked.save()
    order.refresh_from_db()
    return order


def _simulate(order: Order) -> Order:
    fee = option_fee_coin(order.amount, order.limit_price)
    with transaction.atomic():
        position_apply_fill(order=order, amount=order.amount, price=order.limit_price, fee=fee)
        _set(
            order,
            state=Order.State.SIMULATED,
            fee_coin=fee,
            fee_source="model",
            filled_amount=order.amount,
            average_price=order.limit_price,
            fills_applied=order.amount,
            exchange_order_id=f"dry_run_{order.direction}_{order.label}",
            resolved_at=timezone.now(),
        )
    return order


def _set(order: Order, **fields: object) -> None:
    for name, value in fields.items():
        setattr(order, name, value)
    order.save(update_fields=[*fields, "sent_at"] if "sent_at" in fields else list(fields))


def position_apply_fill(
    *, order: Order, amount: Decimal, price: Decimal, fee: Decimal = Decimal(0)
) -> Position:
    """Book `amount` coins of `order` at `price` to its position (paper for dry-run orders).

    A fill against the position realises (price - average) x the part it closes (sign of the
    position: a short bought back realises average - price); `fee` adds to its fees.
    """
    signed = -amount if order.direction == "sell" else amount
    with transaction.atomic():
        position = (
            Position.objects.select_for_update()
            .filter(
                instrument_name=order.instrument_name,
                strategy_id=order.strategy_id,
                sandbox=False,
                paper=order.dry_run,
                status=Position.Status.OPEN,
            )
            .first()
        )
        if position is None:
            position = Position(
                instrument_name=order.instrument_name,
                currency=order.currency,
                strategy_id=order.strategy_id,
                paper=order.dry_run,
                origin="agent",
            )
        old = position.size
        new = old + signed
        if old == 0 or (old < 0) == (signed < 0):
            total = abs(old) + abs(signed)
            position.average_price_coin = (
                abs(old) * position.average_price_coin + abs(signed) * price
            ) / total
        else:
            closed = min(abs(old), abs(signed))
            direction = Decimal(1) if old > 0 else Decimal(-1)
            position.realised_coin += closed * (price - position.average_price_coin) * direction
            if abs(signed) > abs(old):  # flipped through zero: the rest opens at this price
                position.average_price_coin = price
        position.fees_coin += fee
        position.size = new
        if new == 0:
            verb = "bought back" if signed > 0 else "sold"
            position.status = Position.Status.CLOSED
            position.closed_at = timezone.now()
            note = f"closed: {verb} {abs(signed):f} at {price:f} (order {order.label})"
            position.note = note[:300]
        position.save()
    return position

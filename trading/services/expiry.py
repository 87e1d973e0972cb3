"""Expired options leave our books: paper ones settle at the delivery price, real ones close.

Every Deribit option expires at 08:00 UTC and is cash-settled in coin at the delivery price
(the 30-minute average of the index, `public/get_delivery_prices`). The exchange settles real
positions itself; a dry run's paper positions exist only in our database, so nothing settles
them unless we do. Without this step a paper call stays open after its expiry: the policy finds
no ask to buy it back, keeps counting it against `max_calls_per_underlying`, and the agent never
sells another call on that underlying.

`positions_expire` runs in every tick's state build (at exchange time, before the portfolio is
assembled) and in every reconciliation (so an expired real position closes as expired, not as a
discrepancy). For each open position whose option has expired:

* **paper**: closed at the delivery price of its expiry day, with the payoff it would have paid
  or received (`size` x max(S-K,0)/S for a call, less Deribit's delivery fee when in the money)
  in `settled_coin`. If the exchange has not published that day's price yet (the minutes of
  settlement), the position stays open and the next tick tries again.
* **real**: closed once the exchange no longer lists it (it has settled it), with the same
  figures for the record; while the exchange still lists it, it is left alone.

A failed price lookup is logged and retried on the next tick; it never stops the tick.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from trading.deribit.client import DeribitClient
from trading.deribit.errors import DeribitError
from trading.deribit.models import Position as ExchangePosition
from trading.domain.fees import delivery_fee_coin, option_payoff_coin
from trading.domain.instruments import Instrument, parse_instrument
from trading.models import Position

logger = logging.getLogger(__name__)

#: Most delivery prices one lookup asks for (Deribit's `count` allows up to 1000 days).
MAX_DAYS_BACK = 1000


@dataclass(frozen=True, slots=True)
class Expired:
    """One position closed because its option expired."""

    position_id: int
    instrument_name: str
    paper: bool
    delivery_price_usd: Decimal | None
    settled_coin: Decimal | None
    note: str


def positions_expire(
    *,
    client: DeribitClient,
    now: datetime,
    exchange_positions: Iterable[ExchangePosition],
) -> list[Expired]:
    """Close our open positions whose option expired by `now` (exchange time); see above."""
    due = [
        (row, instrument)
        for row in Position.objects.filter(status=Position.Status.OPEN)
        if (instrument := _expired_option(row.instrument_name, now)) is not None
    ]
    if not due:
        return []
    listed = {p.instrument_name for p in exchange_positions if p.size != 0}
    prices: dict[tuple[str, str], Decimal | None] = {}
    closed: list[Expired] = []
    for row, instrument in due:
        if not row.paper and row.instrument_name in listed:
            continue  # the exchange has not settled it yet
        price = _delivery_price(client, instrument, now, prices)
        if price is None and row.paper:
            continue  # no price yet: the next tick settles it
        closed.append(_close(row, instrument, price))
    return closed


def _expired_option(name: str, now: datetime) -> Instrument | None:
    try:
        instrument = parse_instrument(name)
    except ValueError:
        return None
    if not instrument.is_option or instrument.expiry is None or instrument.expiry > now:
        return None
    return instrument


def index_of(instrument: Instrument) -> str:
    """The index an option delivers at: `btc_usd` for inverse BTC, `btc_usdc` for linear."""
    quote = "usd" if instrument.is_inverse else instrument.settlement.lower()
    return f"{instrument.currency.lower()}_{quote}"


def _delivery_price(
    client: DeribitClient,
    instrument: Instrument,
    now: datetime,
    cache: dict[tuple[str, str], Decimal | None],
) -> Decimal | None:
    assert instrument.expiry is not None  # an option
    index = index_of(instrument)
    day = instrument.expiry.strftime("%Y-%m-%d")
    if (index, day) in cache:
        return cache[(index, day)]
    days_back = min((now - instrument.expiry).days + 2, MAX_DAYS_BACK)
    try:
        rows = client.get_delivery_prices(index, count=days_back).data
    except DeribitError as exc:
        logger.warning("delivery price %s %s not read (%s); next tick retries", index, day, exc)
        rows = []
    for row in rows:
        cache.setdefault((index, row.date), Decimal(repr(row.delivery_price)))
    return cache.setdefault((index, day), None)


def settlement_of(row: Position, instrument: Instrument, price: Decimal) -> tuple[Decimal, Decimal]:
    """(payoff per contract, coin received (+) or paid (-) by the position, fee included).

    Inverse options pay in coin, `max(S-K,0)/S` per contract for a call; linear ones pay the
    intrinsic value in their settlement currency. The delivery fee is charged on options
    that expire in the money, long or short.
    """
    assert instrument.strike is not None  # an option
    if instrument.is_inverse:
        payoff = option_payoff_coin(instrument.strike, price, is_call=instrument.is_call)
    else:
        intrinsic = price - instrument.strike if instrument.is_call else instrument.strike - price
        payoff = max(intrinsic, Decimal(0))
    fee = delivery_fee_coin(row.size, payoff) if instrument.is_inverse else Decimal(0)
    return payoff, row.size * payoff - fee


def _close(row: Position, instrument: Instrument, price: Decimal | None) -> Expired:
    assert instrument.expiry is not None  # an option
    when = f"expired {instrument.expiry:%Y-%m-%d} 08:00 UTC"
    settled: Decimal | None = None
    if price is None:
        note = f"{when}; settled by the exchange (delivery price not read)"
    else:
        payoff, settled = settlement_of(row, instrument, price)
        settled = settled.quantize(Decimal("1e-10"))
        unit = instrument.settlement
        outcome = (
            "worthless"
            if payoff == 0
            else f"in the money, {settled:+.8f} {unit} at delivery (fee included)"
        )
        note = f"{when} at delivery price ${price:,.2f}: {outcome}"
        if not row.paper:
            note += "; settled by the exchange"
    row.status = Position.Status.CLOSED
    row.closed_at = timezone.now()
    row.delivery_price_usd = price
    row.settled_coin = settled
    row.note = note[:300]
    row.save(
        update_fields=[
            "status",
            "closed_at",
            "delivery_price_usd",
            "settled_coin",
            "note",
            "updated_at",
        ]
    )
    kind = "paper" if row.paper else "exchange"
    logger.info("%s position %s %s", kind, row.instrument_name, note)
    return Expired(row.pk, row.instrument_name, row.paper, price, settled, note)

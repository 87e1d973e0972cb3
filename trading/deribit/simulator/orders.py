"""Orders, fills and the simulated order book (a market maker's quote plus depth).

The market maker quotes the market model's bid/ask with finite size; depth levels sit two ticks
apart with growing size. Taker orders walk those levels; what they take is consumed until the
market moves (the next model step), which is how partial fills arise. Resting orders fill as
maker when the market maker's quote crosses them after a market move.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from trading.deribit.simulator.instruments import InstrumentSpec

ZERO = Decimal(0)
DEPTH_LEVELS = 5


@dataclass
class BookLevel:
    """A price level: price in coin (options) or USD (perpetual), amount in coin or USD."""

    price: Decimal
    amount: Decimal


@dataclass
class SimOrder:
    """An order on the simulated exchange (Deribit's order object fields)."""

    order_id: str
    account_id: int
    spec: InstrumentSpec
    direction: str
    order_type: str
    time_in_force: str
    price: Decimal
    amount: Decimal
    label: str
    post_only: bool
    reject_post_only: bool
    reduce_only: bool
    creation_ms: int
    last_update_ms: int
    filled_amount: Decimal = ZERO
    filled_value: Decimal = ZERO
    order_state: str = "open"
    cancel_reason: str | None = None
    replaced: bool = False

    @property
    def remaining(self) -> Decimal:
        """Amount still to fill."""
        return self.amount - self.filled_amount

    @property
    def is_open(self) -> bool:
        """True while the order rests in the book."""
        return self.order_state == "open"

    @property
    def average_price(self) -> Decimal:
        """Average fill price (0 before any fill)."""
        if self.filled_amount == 0:
            return ZERO
        if self.spec.is_option:
            return self.filled_value / self.filled_amount
        # Perpetual fills average in 1/price (filled_value holds coin).
        return (self.filled_amount / self.filled_value).quantize(Decimal("0.01"))

    def record_fill(self, amount: Decimal, price: Decimal, now_ms: int) -> None:
        """Add a fill to the order's totals and state."""
        self.filled_amount += amount
        self.filled_value += amount * price if self.spec.is_option else amount / price
        self.last_update_ms = now_ms
        if self.remaining == 0:
            self.order_state = "filled"

    def to_json(self) -> dict[str, Any]:
        """Deribit's order object."""
        contracts = self.amount / self.spec.contract_size
        data: dict[str, Any] = {
            "order_id": self.order_id,
            "order_state": self.order_state,
            "order_type": self.order_type,
            "time_in_force": self.time_in_force,
            "instrument_name": self.spec.instrument_name,
            "direction": self.direction,
            "price": float(self.price),
            "amount": float(self.amount),
            "contracts": float(contracts),
            "filled_amount": float(self.filled_amount),
            "average_price": float(self.average_price),
            "label": self.label,
            "post_only": self.post_only,
            "reject_post_only": self.reject_post_only,
            "reduce_only": self.reduce_only,
            "api": True,
            "web": False,
            "mobile": False,
            "replaced": self.replaced,
            "is_liquidation": False,
            "is_rebalance": False,
            "risk_reducing": False,
            "mmp": False,
            "max_show": float(self.amount),
            "creation_timestamp": self.creation_ms,
            "last_update_timestamp": self.last_update_ms,
        }
        if self.cancel_reason:
            data["cancel_reason"] = self.cancel_reason
        return data


@dataclass
class SimTrade:
    """A fill of one of the simulated accounts (also published as a public trade)."""

    trade_id: str
    trade_seq: int
    order: SimOrder
    timestamp: int
    price: Decimal
    amount: Decimal
    liquidity: str
    fee: Decimal
    profit_loss: Decimal
    index_price: float
    mark_price: float
    underlying_price: float | None
    iv: float | None
    tick_direction: int
    state_after: str = "open"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def taker_direction(self) -> str:
        """Direction of the taker (Deribit's public `direction`)."""
        if self.liquidity == "T":
            return self.order.direction
        return "sell" if self.order.direction == "buy" else "buy"

    def public_json(self) -> dict[str, Any]:
        """Deribit's public trade object."""
        data: dict[str, Any] = {
            "trade_id": self.trade_id,
            "trade_seq": self.trade_seq,
            "instrument_name": self.order.spec.instrument_name,
            "timestamp": self.timestamp,
            "direction": self.taker_direction,
            "price": float(self.price),
            "amount": float(self.amount),
            "contracts": float(self.amount / self.order.spec.contract_size),
            "index_price": self.index_price,
            "mark_price": self.mark_price,
            "tick_direction": self.tick_direction,
        }
        if self.iv is not None:
            data["iv"] = self.iv
        return data

    def user_json(self) -> dict[str, Any]:
        """Deribit's user trade object (your own fill)."""
        order = self.order
        data = self.public_json()
        data.update(
            {
                "direction": order.direction,
                "order_id": order.order_id,
                "order_type": order.order_type,
                "state": self.state_after,
                "label": order.label,
                "liquidity": self.liquidity,
                "fee": float(self.fee),
                "fee_currency": order.spec.currency,
                "profit_loss": float(self.profit_loss),
                "matching_id": None,
                "api": True,
                "post_only": order.post_only,
                "reduce_only": order.reduce_only,
                "mmp": False,
                "risk_reducing": False,
                "self_trade": False,
            }
        )
        if self.underlying_price is not None:
            data["underlying_price"] = self.underlying_price
        return data


def market_maker_levels(
    spec: InstrumentSpec,
    best_price: float,
    best_amount: float,
    *,
    is_bid: bool,
    consumed: dict[Decimal, Decimal],
) -> list[BookLevel]:
    """The market maker's side of the book, best first, net of liquidity already taken."""
    if not best_price or best_price != best_price or best_amount <= 0:  # None, NaN or empty
        return []
    price = Decimal(repr(float(best_price)))
    amount = Decimal(repr(float(best_amount)))
    levels: list[BookLevel] = []
    for depth in range(DEPTH_LEVELS):
        available = amount * (depth + 1) - consumed.get(price, ZERO)
        if available > 0:
            levels.append(BookLevel(price=price, amount=available))
        step = 2 * spec.tick_for(price)
        price = price - step if is_bid else price + step
        if price <= 0:
            break
    return levels


def crosses(direction: str, limit: Decimal | None, level_price: Decimal) -> bool:
    """True when a buy (sell) at `limit` trades with a level at `level_price`."""
    if limit is None:
        return True
    return level_price <= limit if direction == "buy" else level_price >= limit


def take_liquidity(
    direction: str, limit: Decimal | None, amount: Decimal, levels: list[BookLevel]
) -> list[tuple[Decimal, Decimal]]:
    """Fills (price, amount) of a taker walking `levels` up to `limit` for at most `amount`."""
    fills: list[tuple[Decimal, Decimal]] = []
    remaining = amount
    for level in levels:
        if remaining <= 0 or not crosses(direction, limit, level.price):
            break
        size = min(remaining, level.amount)
        fills.append((level.price, size))
        remaining -= size
    return fills


def round_to_lot(amount: Decimal, lot: Decimal) -> Decimal:
    """Largest multiple of `lot` not above `amount`."""
    return (amount // lot) * lot

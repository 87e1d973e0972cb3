"""The simulated exchange's books: every mutable record of who holds and owes what.

`SimBooks` owns the orders (all of them and the open ones), the trades and their per-instrument
sequence and last price, the market maker's depth already taken at this market step, the
accounts (balances and positions) and their delivery history. Matching, the portfolio and
settlement change them only through its named operations; it knows nothing of the market, the
clock or the API, so it takes the time (`now_ms`) and prices it needs as arguments.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from trading.deribit.simulator.accounts import (
    Account,
    PositionState,
    coin,
    delivery_fee,
    to_decimal,
)
from trading.deribit.simulator.instruments import InstrumentSpec
from trading.deribit.simulator.market import MarketView
from trading.deribit.simulator.orders import SimOrder, SimTrade
from trading.domain.fees import option_payoff_coin

ZERO = Decimal(0)
FIRST_IDS = {"order": 113_510_000_000, "trade": 331_874_000}

#: Liquidity taken from one side of an instrument's book at this market step: price -> amount.
Depth = dict[Decimal, Decimal]
TradeStats = tuple[float, float, float]  # last, high, low


class SimBooks:
    """Orders, trades, consumed depth, accounts and deliveries of one simulated exchange."""

    def __init__(self, accounts: Iterable[Account]) -> None:
        self.accounts: dict[int, Account] = {a.account_id: a for a in accounts}
        self.orders: dict[str, SimOrder] = {}
        self.open_orders: dict[str, SimOrder] = {}
        #: Per currency, every fill in the order it printed.
        self.trades: dict[str, list[SimTrade]] = {}
        self._trade_stats: dict[str, tuple[tuple[int, int], dict[str, TradeStats]]] = {}
        self.trade_seq: dict[str, int] = {}
        self.last_trade_price: dict[str, Decimal] = {}
        self.consumed: dict[tuple[str, bool], Depth] = {}
        #: Per account: delivery events (`private/get_settlement_history_*`), oldest first.
        self.settlement_events: dict[int, list[dict[str, Any]]] = {}
        self._ids = dict(FIRST_IDS)

    # ------------------------------------------------------------------ ids

    def next_id(self, kind: str, currency: str) -> str:
        """A fresh order or trade id: plain digits for BTC, `ETH-<n>` otherwise (as Deribit)."""
        self._ids[kind] += 1
        number = str(self._ids[kind])
        return number if currency == "BTC" else f"{currency}-{number}"

    # ------------------------------------------------------------------ orders

    def add_order(self, order: SimOrder) -> None:
        """Record a newly placed order (before it trades)."""
        self.orders[order.order_id] = order

    def rest(self, order: SimOrder) -> None:
        """Put an order in the book, where it waits for the market to cross it."""
        self.open_orders[order.order_id] = order

    def lift(self, order: SimOrder) -> None:
        """Take an order out of the book without closing it (it is being edited)."""
        self.open_orders.pop(order.order_id, None)

    def close_order(
        self, order: SimOrder, state: str, *, now_ms: int, reason: str | None = None
    ) -> None:
        """Take an order out of the book as cancelled or filled."""
        order.order_state = state
        order.cancel_reason = reason if state == "cancelled" else None
        order.last_update_ms = now_ms
        self.open_orders.pop(order.order_id, None)

    def resting(self) -> list[SimOrder]:
        """The open orders of every account, oldest first (a copy: closing is allowed)."""
        return list(self.open_orders.values())

    def account_open_orders(self, account: Account) -> list[SimOrder]:
        """The account's open orders, oldest first."""
        return [o for o in self.open_orders.values() if o.account_id == account.account_id]

    def account_orders(self, account: Account) -> list[SimOrder]:
        """Every order of an account, oldest first."""
        return [o for o in self.orders.values() if o.account_id == account.account_id]

    def order_of(self, account: Account, order_id: str) -> SimOrder | None:
        """An order of this account by id (None when unknown or someone else's)."""
        order = self.orders.get(order_id)
        if order is None or order.account_id != account.account_id:
            return None
        return order

    # ------------------------------------------------------------------ trades

    def trades_of(self, currency: str) -> list[SimTrade]:
        """The fills in a currency's instruments, oldest first (the books' own list)."""
        return self.trades.get(currency, [])

    def trade_counts(self) -> dict[str, int]:
        """How many fills each currency has printed (what a socket has already seen)."""
        return {c: len(t) for c, t in self.trades.items()}

    def trade_stats(self, currency: str, since_ms: int) -> dict[str, TradeStats]:
        """(last, high, low) of each instrument of a currency traded since `since_ms`.

        Kept until a trade prints or the window moves: a publish round asks once per ticker
        (1,232 options), and the tape grows with every market step."""
        trades = self.trades.get(currency, [])
        key = (since_ms, len(trades))
        cached = self._trade_stats.get(currency)
        if cached is not None and cached[0] == key:
            return cached[1]
        stats: dict[str, TradeStats] = {}
        for trade in trades:
            if trade.timestamp < since_ms:
                continue
            name = trade.order.spec.instrument_name
            price = float(trade.price)
            _, high, low = stats.get(name, (price, price, price))
            stats[name] = (price, max(high, price), min(low, price))
        self._trade_stats[currency] = (key, stats)
        return stats

    def next_trade_seq(self, instrument_name: str) -> int:
        """The instrument's next trade sequence number."""
        self.trade_seq[instrument_name] = self.trade_seq.get(instrument_name, 0) + 1
        return self.trade_seq[instrument_name]

    def tick_direction(self, instrument_name: str, price: Decimal) -> int:
        """Deribit's tick direction of a print against the last (0 up, 1 same, 2 down)."""
        last = self.last_trade_price.get(instrument_name)
        self.last_trade_price[instrument_name] = price
        if last is None or price > last:
            return 0
        return 2 if price < last else 1

    def record_trade(self, trade: SimTrade) -> None:
        """Append a fill to its currency's trades."""
        self.trades.setdefault(trade.order.spec.currency, []).append(trade)

    # ------------------------------------------------------------------ depth

    def taken(self, instrument_name: str, *, bids: bool) -> Depth:
        """Liquidity already taken from the bids (or asks) of an instrument at this step."""
        return self.consumed.setdefault((instrument_name, bids), {})

    def take(self, instrument_name: str, *, bids: bool, price: Decimal, amount: Decimal) -> None:
        """Note `amount` taken at `price` from one side of the market maker's book."""
        depth = self.taken(instrument_name, bids=bids)
        depth[price] = depth.get(price, ZERO) + amount

    def replenish(self) -> None:
        """The market stepped: the market maker quotes full depth again."""
        self.consumed.clear()

    # ------------------------------------------------------------------ positions

    def account(self, account_id: int) -> Account:
        """An account by id."""
        return self.accounts[account_id]

    def position(self, account: Account, spec: InstrumentSpec) -> PositionState:
        """The account's position in an instrument (flat if none)."""
        return account.position(spec.instrument_name, spec.currency, spec.kind)

    def held_instruments(self) -> set[str]:
        """Names of the instruments any account holds or has an open order in."""
        names = {n for a in self.accounts.values() for n in a.positions}
        names |= {o.spec.instrument_name for o in self.open_orders.values()}
        return names

    def reset_session_pnl(self) -> None:
        """Start a new session: realised P&L since the last settlement is zero again."""
        for account in self.accounts.values():
            account.session_rpl.clear()

    # ------------------------------------------------------------------ settlement

    def deliver(self, spec: InstrumentSpec, delivery_price: Decimal) -> None:
        """Cash-settle every account's position in an expiring option at the delivery price."""
        payoff = option_payoff_coin(spec.strike or ZERO, delivery_price, is_call=bool(spec.is_call))
        for account in self.accounts.values():
            position = account.positions.get(spec.instrument_name)
            if position is None or position.size == 0:
                continue
            value = coin(position.size * payoff)
            fee = delivery_fee(abs(position.size), payoff)
            realized = coin(value - position.size * position.average_price)
            self.settlement_events.setdefault(account.account_id, []).append(
                {
                    "type": "delivery",
                    "timestamp": spec.expiry_ms,
                    "instrument_name": spec.instrument_name,
                    "position": float(position.size),
                    "mark_price": float(payoff),
                    "index_price": float(delivery_price),
                    "profit_loss": float(coin(realized - fee)),
                    "session_profit_loss": float(coin(realized - fee)),
                    "currency": spec.currency,
                }
            )
            account.credit(spec.currency, value - fee)
            position.realized_profit_loss = coin(position.realized_profit_loss + realized)
            position.size = ZERO
            account.drop_flat_positions()

    def pay_funding(self, market: MarketView) -> None:
        """Settle one hour of perpetual funding on every open perpetual position."""
        for account in self.accounts.values():
            for position in list(account.positions.values()):
                if position.kind != "future" or position.size == 0:
                    continue
                perp = market.perpetual(position.currency)
                rate = to_decimal(perp.current_funding)
                payment = coin(position.size / to_decimal(perp.mark_price) * rate)
                position.realized_funding = coin(position.realized_funding - payment)
                account.credit(position.currency, -payment)

    def settlement_history(self, account: Account) -> list[dict[str, Any]]:
        """The account's delivery events, oldest first."""
        return self.settlement_events.get(account.account_id, [])

"""Accounts of the simulated exchange: balances, positions, fees and a documented margin model.

Money is `Decimal` in the account's coin (BTC/ETH), quantised to 1e-8. The margin model is the
"standard margin" approximation of Deribit's segregated accounts given in the reference notes
(section 8.4), applied per position:

* short option, initial:     |size| * (max(0.15 - OTM, 0.10) + mark)
* short option, maintenance: |size| * (0.075 + mark)
  where OTM = max(K - F, 0) / F for calls and max(F - K, 0) / F for puts, F the forward;
* long options need no margin (the premium is paid up front);
* perpetual: initial 2% and maintenance 1% of |size| in coin (size_usd / mark);
* resting orders that add risk reserve the initial margin they would need if filled.

Fees (`trading.domain.fees`): options 0.03% of the underlying per contract (0.0003 coin) capped
at 12.5% of the premium; delivery 0.015% capped at 12.5% of the option's value; perpetual
0% maker / 0.05% taker of the notional. Option premiums move the balance immediately; futures
P&L is realised into the balance when a position is reduced (Deribit books it at the 08:00
settlement; the difference is only timing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from trading.domain.fees import delivery_fee_coin, option_fee_coin, perpetual_fee_coin

SATOSHI = Decimal("0.00000001")
ZERO = Decimal(0)
SHORT_OPTION_IM_BASE = Decimal("0.15")
SHORT_OPTION_IM_FLOOR = Decimal("0.10")
SHORT_OPTION_MM = Decimal("0.075")
PERP_IM = Decimal("0.02")
PERP_MM = Decimal("0.01")


def coin(value: Decimal) -> Decimal:
    """Quantise to 1e-8 coin."""
    return value.quantize(SATOSHI, rounding=ROUND_HALF_EVEN)


def to_decimal(value: float) -> Decimal:
    """A float from the market model as a Decimal with its shortest repr (exact for quotes)."""
    return Decimal(repr(float(value)))


def option_fee(amount: Decimal, price: Decimal) -> Decimal:
    """Trading fee (coin) of an option fill: 0.0003 per contract, capped at 12.5% of premium."""
    return coin(option_fee_coin(amount, price))


def delivery_fee(amount: Decimal, payoff_per_contract: Decimal) -> Decimal:
    """Fee (coin) on options delivered in the money: 0.015% capped at 12.5% of their value."""
    return coin(delivery_fee_coin(amount, payoff_per_contract))


def perpetual_fee(amount_usd: Decimal, price_usd: Decimal, *, maker: bool) -> Decimal:
    """Fee (coin) of a perpetual fill: maker 0%, taker 0.05% of the notional in coin."""
    return coin(perpetual_fee_coin(amount_usd, price_usd, maker=maker))


def otm_fraction(strike: Decimal, forward: Decimal, *, is_call: bool) -> Decimal:
    """How far out of the money an option is, as a fraction of the forward (0 when ITM)."""
    distance = strike - forward if is_call else forward - strike
    return max(distance, ZERO) / forward


def short_option_initial_margin(
    amount: Decimal, mark: Decimal, strike: Decimal, forward: Decimal, *, is_call: bool
) -> Decimal:
    """Initial margin (coin) of a short option position of `amount` contracts."""
    otm = otm_fraction(strike, forward, is_call=is_call)
    return coin(amount * (max(SHORT_OPTION_IM_BASE - otm, SHORT_OPTION_IM_FLOOR) + mark))


def short_option_maintenance_margin(amount: Decimal, mark: Decimal) -> Decimal:
    """Maintenance margin (coin) of a short option position of `amount` contracts."""
    return coin(amount * (SHORT_OPTION_MM + mark))


@dataclass
class PositionState:
    """An open position: options in coin contracts, perpetuals in USD."""

    instrument_name: str
    currency: str
    kind: str
    size: Decimal = ZERO
    average_price: Decimal = ZERO
    average_price_usd: Decimal = ZERO
    realized_profit_loss: Decimal = ZERO
    realized_funding: Decimal = ZERO

    @property
    def direction(self) -> str:
        """buy (long), sell (short) or zero."""
        if self.size > 0:
            return "buy"
        return "sell" if self.size < 0 else "zero"

    def apply_fill(self, signed_amount: Decimal, price: Decimal, index_price: Decimal) -> Decimal:
        """Book a fill (+buy / -sell); returns the realised P&L in coin."""
        old = self.size
        new = old + signed_amount
        realized = ZERO
        if old == 0 or (old > 0) == (signed_amount > 0):
            self.average_price = self._blend(old, signed_amount, price)
            if self.kind == "option":
                total_usd = (
                    abs(old) * self.average_price_usd + abs(signed_amount) * price * index_price
                )
                self.average_price_usd = (total_usd / abs(new)).quantize(Decimal("0.01"))
        else:
            closed = min(abs(signed_amount), abs(old))
            realized = self._pnl(closed, price, long=old > 0)
            if abs(signed_amount) > abs(old):
                self.average_price = price
                self.average_price_usd = (price * index_price).quantize(Decimal("0.01"))
        if new == 0:
            self.average_price = ZERO
            self.average_price_usd = ZERO
        self.size = new
        self.realized_profit_loss = coin(self.realized_profit_loss + realized)
        return coin(realized)

    def _blend(self, old: Decimal, added: Decimal, price: Decimal) -> Decimal:
        if old == 0:
            return price
        if self.kind == "option":
            return (abs(old) * self.average_price + abs(added) * price) / (abs(old) + abs(added))
        # Inverse futures average in 1/price: total USD over total coin.
        coins = abs(old) / self.average_price + abs(added) / price
        return ((abs(old) + abs(added)) / coins).quantize(Decimal("0.01"))

    def _pnl(self, closed: Decimal, exit_price: Decimal, *, long: bool) -> Decimal:
        sign = 1 if long else -1
        if self.kind == "option":
            return sign * closed * (exit_price - self.average_price)
        return sign * closed * (1 / self.average_price - 1 / exit_price)

    def floating_pnl(self, mark: Decimal) -> Decimal:
        """Unrealised P&L (coin) at `mark`."""
        if self.size == 0:
            return ZERO
        if self.kind == "option":
            return coin(self.size * (mark - self.average_price))
        return coin(self.size * (1 / self.average_price - 1 / mark))


@dataclass
class Account:
    """A simulated Deribit (sub)account with one API key."""

    account_id: int
    username: str
    client_id: str
    client_secret: str = field(repr=False)
    balances: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[str, PositionState] = field(default_factory=dict)
    session_rpl: dict[str, Decimal] = field(default_factory=dict)
    scope: str = "account:read_write trade:read_write wallet:read"

    def balance(self, currency: str) -> Decimal:
        """Cash balance in `currency` (0 if never funded)."""
        return self.balances.get(currency, ZERO)

    def credit(self, currency: str, amount: Decimal) -> None:
        """Add (or with a negative amount, debit) cash."""
        self.balances[currency] = coin(self.balance(currency) + amount)

    def position(self, instrument_name: str, currency: str, kind: str) -> PositionState:
        """The position in an instrument, created flat when absent."""
        found = self.positions.get(instrument_name)
        if found is None:
            found = PositionState(instrument_name=instrument_name, currency=currency, kind=kind)
            self.positions[instrument_name] = found
        return found

    def drop_flat_positions(self) -> None:
        """Forget positions whose size returned to zero."""
        self.positions = {n: p for n, p in self.positions.items() if p.size != 0}

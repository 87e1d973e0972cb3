"""Deribit fees and fill-price helpers, in ``Decimal`` for the order path (numpy twins for scans).

Fee rules (Deribit, see ../shared/reference/deribit/README.md section 5):
- inverse options: 0.03% of the underlying per contract, i.e. 0.0003 coin, capped at 12.5% of
  the option price; maker = taker. Selling 0.3 BTC at 0.0395 costs min(0.3·0.0003,
  0.3·0.0395·0.125) = 0.00009 BTC.
- option delivery at expiry: 0.015% of the underlying, capped at 12.5% of the option's value
  (only in-the-money options are delivered; marked *unverified* in the reference).
- linear USDC options: a fraction of the index (maker/taker differ), same 12.5% cap (unverified).
- perpetuals and futures: maker 0%, taker 0.05% of notional (fee schedules change: override).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import numpy as np
import numpy.typing as npt

from trading.domain.instruments import ContractSpec, DecimalLike, quantize_price, to_decimal

FillStyle = Literal["mid", "cross", "mid_haircut", "cross_haircut"]
TradeSide = Literal["buy", "sell"]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Fee rates as fractions (0.0003 = 0.03%); defaults are Deribit's published schedule."""

    option_rate: Decimal = Decimal("0.0003")
    option_cap_of_price: Decimal = Decimal("0.125")
    delivery_rate: Decimal = Decimal("0.00015")
    delivery_cap_of_value: Decimal = Decimal("0.125")
    linear_option_maker_rate: Decimal = Decimal("0.0001")
    linear_option_taker_rate: Decimal = Decimal("0.0005")
    perpetual_maker_rate: Decimal = Decimal("0")
    perpetual_taker_rate: Decimal = Decimal("0.0005")


DERIBIT_FEES = FeeSchedule()


def option_fee_coin(
    amount: DecimalLike, price_coin: DecimalLike, schedule: FeeSchedule = DERIBIT_FEES
) -> Decimal:
    """Trading fee in coin for an inverse option trade of ``amount`` contracts at ``price_coin``.

    min(rate, cap · price) per contract, times |amount| (buys and sells pay the same).
    """
    size = abs(to_decimal(amount))
    price = to_decimal(price_coin)
    if price < 0:
        raise ValueError(f"option price must be non-negative, got {price_coin}")
    per_contract = min(schedule.option_rate, schedule.option_cap_of_price * price)
    return per_contract * size


def linear_option_fee_usd(
    amount: DecimalLike,
    price_usd: DecimalLike,
    index_usd: DecimalLike,
    *,
    maker: bool,
    schedule: FeeSchedule = DERIBIT_FEES,
) -> Decimal:
    """Fee in USDC for a linear (USDC-settled) option: min(rate·index, cap·price)·|amount|."""
    rate = schedule.linear_option_maker_rate if maker else schedule.linear_option_taker_rate
    per_contract = min(
        rate * to_decimal(index_usd), schedule.option_cap_of_price * to_decimal(price_usd)
    )
    return per_contract * abs(to_decimal(amount))


def delivery_fee_coin(
    amount: DecimalLike, settlement_value_coin: DecimalLike, schedule: FeeSchedule = DERIBIT_FEES
) -> Decimal:
    """Delivery fee in coin for options expiring in the money (zero when they expire worthless)."""
    value = to_decimal(settlement_value_coin)
    if value <= 0:
        return Decimal(0)
    per_contract = min(schedule.delivery_rate, schedule.delivery_cap_of_value * value)
    return per_contract * abs(to_decimal(amount))


def option_payoff_coin(
    strike: DecimalLike, delivery_price: DecimalLike, *, is_call: bool
) -> Decimal:
    """Value at expiry of one inverse option in coin: max(S-K,0)/S or max(K-S,0)/S."""
    k, s = to_decimal(strike), to_decimal(delivery_price)
    intrinsic = s - k if is_call else k - s
    return max(intrinsic, Decimal(0)) / s


def perpetual_fee_usd(
    notional_usd: DecimalLike, *, maker: bool, schedule: FeeSchedule = DERIBIT_FEES
) -> Decimal:
    """Fee in USD terms on a perpetual/future trade of ``notional_usd``."""
    rate = schedule.perpetual_maker_rate if maker else schedule.perpetual_taker_rate
    return rate * abs(to_decimal(notional_usd))


def perpetual_fee_coin(
    notional_usd: DecimalLike,
    price_usd: DecimalLike,
    *,
    maker: bool,
    schedule: FeeSchedule = DERIBIT_FEES,
) -> Decimal:
    """Fee in coin on an inverse perpetual trade (charged in the coin at the trade price)."""
    price = to_decimal(price_usd)
    if price <= 0:
        raise ValueError(f"perpetual price must be positive, got {price_usd}")
    return perpetual_fee_usd(notional_usd, maker=maker, schedule=schedule) / price


# ---------------------------------------------------------------------------------------------
# Fill prices
# ---------------------------------------------------------------------------------------------
def mid_price(bid: DecimalLike | None, ask: DecimalLike | None) -> Decimal | None:
    """Mid of bid and ask, or None when either side of the book is empty."""
    if bid is None or ask is None:
        return None
    bid_d, ask_d = to_decimal(bid), to_decimal(ask)
    if bid_d <= 0 or ask_d <= 0:
        return None
    return (bid_d + ask_d) / 2


def crossing_price(side: TradeSide, bid: DecimalLike | None, ask: DecimalLike | None) -> Decimal:
    """Price paid by an order crossing the spread: buys lift the ask, sells hit the bid."""
    quote = ask if side == "buy" else bid
    if quote is None or to_decimal(quote) <= 0:
        raise ValueError(f"no {'ask' if side == 'buy' else 'bid'} to cross for a {side}")
    return to_decimal(quote)


def with_slippage(price: DecimalLike, side: TradeSide, haircut: DecimalLike) -> Decimal:
    """Worsen a price by a fractional haircut: buys pay (1+h)·price, sells get (1-h)·price."""
    value = to_decimal(price)
    cut = to_decimal(haircut)
    if cut < 0 or cut >= 1:
        raise ValueError(f"haircut must be in [0, 1), got {haircut}")
    return value * (1 + cut) if side == "buy" else value * (1 - cut)


def fill_price(
    side: TradeSide,
    bid: DecimalLike | None,
    ask: DecimalLike | None,
    *,
    style: FillStyle = "cross",
    haircut: DecimalLike = Decimal(0),
    spec: ContractSpec | None = None,
) -> Decimal:
    """Simulated fill price of a ``side`` order against a quote, optionally put on the tick grid.

    Styles: ``mid``; ``cross`` (bid/ask); ``mid_haircut`` / ``cross_haircut`` add ``haircut``
    slippage. With a ``spec`` the price is rounded against the trader (buys up, sells down),
    which is the conservative choice for a simulated fill.
    """
    if side not in ("buy", "sell"):
        raise ValueError(f"side must be buy or sell, got {side!r}")
    if style.startswith("mid"):
        base = mid_price(bid, ask)
        if base is None:
            raise ValueError("mid needs both a bid and an ask")
    else:
        base = crossing_price(side, bid, ask)
    price = with_slippage(base, side, haircut) if style.endswith("haircut") else base
    if spec is None:
        return price
    return quantize_price(price, spec, "sell" if side == "buy" else "buy")


# ---------------------------------------------------------------------------------------------
# Vectorised twins (floats) for backtests and scans
# ---------------------------------------------------------------------------------------------
def option_fee_coin_array(
    amount: npt.ArrayLike, price_coin: npt.ArrayLike, schedule: FeeSchedule = DERIBIT_FEES
) -> FloatArray:
    """``option_fee_coin`` on arrays (floats), for simulations over many trades."""
    rate = float(schedule.option_rate)
    cap = float(schedule.option_cap_of_price)
    price = np.asarray(price_coin, dtype=np.float64)
    size = np.abs(np.asarray(amount, dtype=np.float64))
    return np.asarray(np.minimum(rate, cap * price) * size, dtype=np.float64)


def fill_price_array(
    is_buy: npt.ArrayLike,
    bid: npt.ArrayLike,
    ask: npt.ArrayLike,
    *,
    style: FillStyle = "cross",
    haircut: float = 0.0,
) -> FloatArray:
    """``fill_price`` on arrays (floats, no tick rounding); NaN where the needed quote is absent."""
    buy = np.asarray(is_buy, dtype=bool)
    bid_a = np.asarray(bid, dtype=np.float64)
    ask_a = np.asarray(ask, dtype=np.float64)
    bid_a = np.where(bid_a > 0, bid_a, np.nan)
    ask_a = np.where(ask_a > 0, ask_a, np.nan)
    base = 0.5 * (bid_a + ask_a) if style.startswith("mid") else np.where(buy, ask_a, bid_a)
    if style.endswith("haircut"):
        base = np.where(buy, base * (1.0 + haircut), base * (1.0 - haircut))
    return np.asarray(base, dtype=np.float64)

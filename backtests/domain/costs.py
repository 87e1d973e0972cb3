"""Trading costs of the simulator: a small `FeeModel` seam over `trading.domain.fees`.

Why a seam: the backtester must charge exactly Deribit's fees (the options-math module owns the
schedule), while tests and experiments can swap in zero or stressed fees. Fees are computed for
a whole batch of trades at once (arrays), so a year of trades costs one vectorised call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from trading.domain import fees

FloatArray = npt.NDArray[np.float64]


class FeeModel(Protocol):
    """Fees of option trades and deliveries, in coin, for inverse (coin-settled) options."""

    def trade_fee_coin(self, price_coin: npt.ArrayLike, amount_coin: float) -> FloatArray:
        """Fee of buying or selling `amount_coin` contracts at each of `price_coin`."""
        ...

    def delivery_fee_coin(self, value_coin: npt.ArrayLike, amount_coin: float) -> FloatArray:
        """Fee of options settled in the money at `value_coin` per contract."""
        ...

    def describe(self) -> str:
        """One line for reports."""
        ...


@dataclass(frozen=True, slots=True)
class DeribitFees:
    """Deribit's option fee schedule, computed by `trading.domain.fees`."""

    schedule: fees.FeeSchedule = fees.DERIBIT_FEES

    def trade_fee_coin(self, price_coin: npt.ArrayLike, amount_coin: float) -> FloatArray:
        """min(0.03% of the underlying, 12.5% of the price) per contract, in coin."""
        return fees.option_fee_coin_array(amount_coin, price_coin, self.schedule)

    def delivery_fee_coin(self, value_coin: npt.ArrayLike, amount_coin: float) -> FloatArray:
        """min(0.015%, 12.5% of the settlement value) per contract, in-the-money only, coin."""
        values = np.atleast_1d(np.asarray(value_coin, dtype=np.float64))
        result = [
            float(fees.delivery_fee_coin(amount_coin, float(v), self.schedule)) if v > 0 else 0.0
            for v in values
        ]
        return np.asarray(result, dtype=np.float64).reshape(np.shape(value_coin))

    def describe(self) -> str:
        """The schedule in one line."""
        rate, cap = self.schedule.option_rate, self.schedule.option_cap_of_price
        delivery = self.schedule.delivery_rate
        return (
            f"Deribit options: {float(rate):.2%} of the underlying per contract capped at "
            f"{float(cap):.1%} of the price, each side; delivery {float(delivery):.3%} "
            f"(capped at {float(self.schedule.delivery_cap_of_value):.1%}) when settled ITM"
        )


@dataclass(frozen=True, slots=True)
class ScaledFees:
    """Another fee model scaled by a factor (0 for a frictionless what-if, 2 for a stress)."""

    base: FeeModel
    factor: float

    def trade_fee_coin(self, price_coin: npt.ArrayLike, amount_coin: float) -> FloatArray:
        """Scaled trade fees."""
        return self.factor * self.base.trade_fee_coin(price_coin, amount_coin)

    def delivery_fee_coin(self, value_coin: npt.ArrayLike, amount_coin: float) -> FloatArray:
        """Scaled delivery fees."""
        return self.factor * self.base.delivery_fee_coin(value_coin, amount_coin)

    def describe(self) -> str:
        """The base description with the factor."""
        return f"{self.factor:g} x ({self.base.describe()})"


def deribit_fee_model() -> FeeModel:
    """Deribit's published option fees."""
    return DeribitFees()

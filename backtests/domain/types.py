"""Value objects of the backtester: run configuration, exits, fills, trades and results.

Floats, not Decimal: a backtest is research arithmetic over millions of marks, never the order
path; results are rounded only when stored or shown.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from trading.domain.candidates import StrategyParams

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class ExitStyle(enum.StrEnum):
    """How an open short call is closed, and whether a new one is sold at once."""

    HOLD_TO_EXPIRY = "hold_to_expiry"
    TAKE_PROFIT = "take_profit"
    TAKE_PROFIT_AND_ROLL = "take_profit_and_roll"
    STOP_LOSS = "stop_loss"
    ROLL_AT_DTE = "roll_at_dte"


class ExitReason(enum.StrEnum):
    """Why a simulated trade ended."""

    EXPIRED_OTM = "expired_otm"
    EXPIRED_ITM = "expired_itm"
    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"
    ROLL_AT_DTE = "roll_at_dte"
    END_OF_DATA = "end_of_data"


class ExitPolicy(BaseModel):
    """Exit rules of a short call.

    - hold_to_expiry: settle at the expiry index.
    - take_profit: buy back once `take_profit_pct` of the premium is captured, then stay flat
      until the sold option's expiry (keeps the selling cycle).
    - take_profit_and_roll: same trigger, but sell the next call at once.
    - stop_loss: buy back when the buy-back cost reaches premium x (1 + `stop_loss_pct`).
    - roll_at_dte: buy back when `roll_dte_days` or fewer remain and sell the next call at once.
    `stop_loss_pct` also guards the other styles when set explicitly.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    style: ExitStyle = ExitStyle.HOLD_TO_EXPIRY
    take_profit_pct: float = Field(default=0.5, gt=0.0, le=1.0)
    stop_loss_pct: float | None = Field(default=None, gt=0.0)
    roll_dte_days: float = Field(default=1.0, gt=0.0)

    @property
    def take_profit_active(self) -> bool:
        """Whether the take-profit trigger is armed."""
        return self.style in (ExitStyle.TAKE_PROFIT, ExitStyle.TAKE_PROFIT_AND_ROLL)

    @property
    def effective_stop_loss_pct(self) -> float | None:
        """The armed stop-loss level (the stop_loss style defaults to a 100% loss)."""
        if self.style is ExitStyle.STOP_LOSS:
            return 1.0 if self.stop_loss_pct is None else self.stop_loss_pct
        return self.stop_loss_pct

    @property
    def roll_dte_active(self) -> bool:
        """Whether the roll-at-DTE trigger is armed."""
        return self.style is ExitStyle.ROLL_AT_DTE

    @property
    def reenters_immediately(self) -> bool:
        """Whether a new call is sold at the exit time (a roll) rather than later."""
        return self.style in (ExitStyle.TAKE_PROFIT_AND_ROLL, ExitStyle.ROLL_AT_DTE)

    @property
    def waits_for_expiry(self) -> bool:
        """Whether, after an early exit, the policy stays flat until the sold expiry."""
        return self.style is ExitStyle.TAKE_PROFIT


class FillModel(BaseModel):
    """How simulated orders fill.

    - bid_ask: sell at the best bid, buy back at the best ask (crossing the spread).
    - mid_haircut: sell at mid x (1 - haircut), buy at mid x (1 + haircut).
    When a book side is empty, `fallback` says whether to use the mark with the haircut or to
    treat the order as unfillable (no sale; a buy-back then waits).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    style: Literal["bid_ask", "mid_haircut"] = "bid_ask"
    haircut_pct: float = Field(default=0.05, ge=0.0, lt=1.0)
    fallback: Literal["mark_haircut", "none"] = "mark_haircut"

    def describe(self) -> str:
        """One line for reports: what prices the simulated orders got."""
        if self.style == "bid_ask":
            text = "sell at best bid, buy back at best ask"
        else:
            text = f"mid -/+ {self.haircut_pct:.1%} haircut"
        if self.fallback == "mark_haircut":
            text += f"; empty side: mark -/+ {self.haircut_pct:.1%}"
        else:
            text += "; empty side: no fill"
        return text


class BacktestConfig(BaseModel):
    """Everything a covered-call policy run depends on besides the market data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    underlying: Literal["BTC", "ETH"] = "BTC"
    strategy: StrategyParams = Field(default_factory=StrategyParams.research)
    exit: ExitPolicy = ExitPolicy()
    fill: FillModel = FillModel()
    initial_coin: float = Field(default=1.0, gt=0.0, description="coins held (the cover)")
    quantity_coin: float = Field(default=1.0, gt=0.0, description="calls sold per trade, contracts")
    decision_interval_hours: float = Field(default=1.0, gt=0.0)
    include_fees: bool = True
    seed: int = 0
    start: datetime | None = None
    end: datetime | None = None

    @model_validator(mode="after")
    def _covered(self) -> Self:
        if self.quantity_coin > self.initial_coin + 1e-12:
            raise ValueError("quantity_coin must not exceed initial_coin (calls must be covered)")
        for value in (self.start, self.end):
            if value is not None and value.tzinfo is None:
                raise ValueError("start/end must be timezone-aware UTC datetimes")
        return self


class DataProvenance(BaseModel):
    """Where a run's market data came from, stated in every report."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    underlying: str
    description: str
    start: datetime | None = None
    end: datetime | None = None
    snapshots: int = 0
    rows: int = 0
    details: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TradePath:
    """The full mark-to-market path of one trade (for 'what if' pictures)."""

    times: FloatArray
    underlying_usd: FloatArray
    mark_coin: FloatArray
    buyback_coin: FloatArray
    pnl_coin: FloatArray

    def as_dict(self) -> dict[str, list[float]]:
        """JSON-ready columns."""
        return {
            "times": self.times.tolist(),
            "underlying_usd": self.underlying_usd.tolist(),
            "mark_coin": self.mark_coin.tolist(),
            "buyback_coin": self.buyback_coin.tolist(),
            "pnl_coin": self.pnl_coin.tolist(),
        }


def epoch_to_datetime(seconds: float) -> datetime:
    """UTC datetime from epoch seconds."""
    return datetime.fromtimestamp(float(seconds), tz=UTC)


@dataclass(frozen=True, slots=True)
class SimulatedTrade:
    """One short call from sale to exit, with coin and USD accounting.

    Premium, buy-back and settlement are in coin per the inverse contract; USD figures convert
    each cash flow at the index of its own time. P&L is the option leg only (the cover's
    price move shows up in the equity curve, not here).
    """

    instrument_name: str
    strike: float
    expiry_ts: float
    entry_ts: float
    exit_ts: float
    exit_reason: ExitReason
    quantity_coin: float
    entry_price_coin: float
    exit_price_coin: float
    entry_mark_coin: float
    spot_entry_usd: float
    spot_exit_usd: float
    fees_coin: float
    fees_usd: float
    delta_entry: float
    iv_entry: float
    dte_entry_days: float
    score: float = float("nan")
    rank: int = 0
    explored: bool = False
    fallback_fill: bool = False
    path: TradePath | None = field(default=None, compare=False)

    @property
    def premium_coin(self) -> float:
        """Premium received, coin."""
        return self.entry_price_coin * self.quantity_coin

    @property
    def premium_usd(self) -> float:
        """Premium received, USD at the entry index."""
        return self.premium_coin * self.spot_entry_usd

    @property
    def exit_cost_coin(self) -> float:
        """Buy-back or settlement paid, coin."""
        return self.exit_price_coin * self.quantity_coin

    @property
    def pnl_coin(self) -> float:
        """Option-leg profit after fees, coin."""
        return self.premium_coin - self.exit_cost_coin - self.fees_coin

    @property
    def pnl_usd(self) -> float:
        """Option-leg profit after fees, USD (each flow at its own index)."""
        return self.premium_usd - self.exit_cost_coin * self.spot_exit_usd - self.fees_usd

    @property
    def settled(self) -> bool:
        """Whether the trade ended by expiry settlement."""
        return self.exit_reason in (ExitReason.EXPIRED_OTM, ExitReason.EXPIRED_ITM)

    @property
    def itm_at_expiry(self) -> bool:
        """Whether the call settled in the money (the cover was 'called away')."""
        return self.exit_reason is ExitReason.EXPIRED_ITM

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready record (times as ISO strings)."""
        return {
            "instrument_name": self.instrument_name,
            "strike": self.strike,
            "expiry": epoch_to_datetime(self.expiry_ts).isoformat(),
            "entry_time": epoch_to_datetime(self.entry_ts).isoformat(),
            "exit_time": epoch_to_datetime(self.exit_ts).isoformat(),
            "exit_reason": self.exit_reason.value,
            "quantity_coin": self.quantity_coin,
            "entry_price_coin": self.entry_price_coin,
            "exit_price_coin": self.exit_price_coin,
            "entry_mark_coin": self.entry_mark_coin,
            "spot_entry_usd": self.spot_entry_usd,
            "spot_exit_usd": self.spot_exit_usd,
            "premium_coin": self.premium_coin,
            "premium_usd": self.premium_usd,
            "fees_coin": self.fees_coin,
            "fees_usd": self.fees_usd,
            "pnl_coin": self.pnl_coin,
            "pnl_usd": self.pnl_usd,
            "delta_entry": self.delta_entry,
            "iv_entry": self.iv_entry,
            "dte_entry_days": self.dte_entry_days,
            "score": None if np.isnan(self.score) else self.score,
            "rank": self.rank,
            "explored": self.explored,
            "fallback_fill": self.fallback_fill,
        }


@dataclass(frozen=True, slots=True)
class EquityCurve:
    """Portfolio value over time: the covered-call book and holding the coin alone."""

    times: FloatArray
    spot_usd: FloatArray
    equity_coin: FloatArray
    in_position: BoolArray

    @property
    def equity_usd(self) -> FloatArray:
        """Covered-call book value, USD."""
        result: FloatArray = self.equity_coin * self.spot_usd
        return result

    def buy_and_hold_usd(self, initial_coin: float) -> FloatArray:
        """Value of just holding the coins, USD."""
        result: FloatArray = initial_coin * self.spot_usd
        return result

    def drawdown_pct(self) -> FloatArray:
        """Drawdown of the USD equity from its running peak, as a negative fraction."""
        equity = self.equity_usd
        peak = np.maximum.accumulate(equity)
        result: FloatArray = equity / peak - 1.0
        return result

"""Daily drawdown stop: tracks today's equity peak; once tripped it latches until reset."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, field_validator


def _require_utc(moment: datetime) -> datetime:
    if moment.utcoffset() is None:
        raise ValueError("times must be timezone-aware (UTC)")
    return moment


class DrawdownState(BaseModel):
    """Today's equity peak and whether the daily drawdown stop has tripped.

    The stop latches: once tripped it stays on, across UTC days, until an operator resets it
    (a halted desk should not quietly resume at midnight).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    day: date
    peak_equity_usd: Decimal
    halted: bool = False
    halted_at: datetime | None = None
    reason: str = ""

    @field_validator("halted_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _require_utc(value)

    def drawdown_pct(self, equity_usd: Decimal) -> float:
        """Loss from today's peak, percent (zero at or above the peak)."""
        if self.peak_equity_usd <= 0 or equity_usd >= self.peak_equity_usd:
            return 0.0
        return float((self.peak_equity_usd - equity_usd) / self.peak_equity_usd * 100)


def drawdown_update(
    state: DrawdownState | None, *, equity_usd: Decimal, now: datetime, limit_pct: float
) -> DrawdownState:
    """Track today's peak equity (UTC day) and trip the stop when the loss reaches the limit.

    A limit of 0 disables tripping (the peak is still tracked).
    """
    today = _require_utc(now).date()
    if state is None or state.day != today:
        base = DrawdownState(day=today, peak_equity_usd=equity_usd)
        if state is not None and state.halted:
            base = base.model_copy(
                update={"halted": True, "halted_at": state.halted_at, "reason": state.reason}
            )
        state = base
    peak = max(state.peak_equity_usd, equity_usd)
    state = state.model_copy(update={"peak_equity_usd": peak})
    loss = state.drawdown_pct(equity_usd)
    if not state.halted and limit_pct > 0 and loss >= limit_pct:
        reason = f"daily drawdown {loss:.2f}% >= limit {limit_pct:.2f}% (peak {peak} USD)"
        state = state.model_copy(update={"halted": True, "halted_at": now, "reason": reason})
    return state


def drawdown_reset(*, equity_usd: Decimal, now: datetime) -> DrawdownState:
    """Operator reset: a fresh peak at the current equity, stop released."""
    return DrawdownState(day=_require_utc(now).date(), peak_equity_usd=equity_usd)

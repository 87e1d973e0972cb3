"""What the bot needs from the trading agent, as a protocol: the bot never imports `trading`.

`reviewbot.trading_link.TradingLink` implements it (the one module the import contract lets
reach `trading`); `run_reviewbot` and the alert task hand it to the bot at startup, so the bot
and its commands stay independent (and tests can pass a fake).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class NotAllowed(PermissionError):
    """The Telegram user may not do this (not linked to an operator)."""


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """Something an operator wants on their phone: a stable key (one alert per key) and text."""

    key: str
    text: str


class TradingPort(Protocol):
    """Reads, the kill switch and the drawdown reset, for the trading commands and alerts."""

    def mode(self) -> dict[str, Any]:
        """The EFFECTIVE mode: environment, dry run, kill switch, guard, `headline`."""
        ...

    def positions_text(self) -> str:
        """Open positions as text."""
        ...

    def pnl_text(self) -> str:
        """P&L per book as text."""
        ...

    def decisions_text(self, limit: int) -> str:
        """The newest `limit` decisions as text."""
        ...

    def why_text(self, question: str, telegram_user_id: int) -> str:
        """Why a decision (`#id`, an id or an option) was taken: the agent's chat answers."""
        ...

    def health_text(self) -> str:
        """The health guard, the last checks and the effective mode as text."""
        ...

    def kill_switch_set(self, *, on: bool, telegram_user_id: int) -> str:
        """Turn the kill switch on/off through the audited controls service; `NotAllowed`
        unless the Telegram user is linked to an operator."""
        ...

    def drawdown_text(self) -> str | None:
        """When and why the daily drawdown stop latched; None when it is not latched."""
        ...

    def drawdown_release(self, *, reason: str, telegram_user_id: int) -> str:
        """Release a latched daily drawdown stop through the audited operator reset (who and
        why recorded); `NotAllowed` unless the Telegram user is linked to an operator,
        `ValueError` without a reason or when the stop is not latched."""
        ...

    def may_operate(self, telegram_user_id: int) -> bool:
        """Whether the Telegram user is linked to a dashboard user with the operator role."""
        ...

    def alert_events(self, *, lookback_s: int) -> list[AlertEvent]:
        """Events of the last `lookback_s` seconds worth an alert (fills, expiries, guard
        pauses, reconciliation discrepancies)."""
        ...

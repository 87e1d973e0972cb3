"""The agent's persisted state between ticks: the one owner of `AgentStatus` (row pk=1).

Every read and write of that row goes through a load/save pair here, so the tick, the health
guard, the dashboard and the API agree on its shape:

- tick lock: `tick_lock_acquire` / `tick_lock_release` (shared by every process, expires alone);
- last tick: `last_tick_at_load`, `last_tick_save` (the `LastTick` summary the pages show);
- back-off: `backoff_load`, `backoff_set` (after a transient exchange error), `backoff_clear`;
- daily drawdown stop: `drawdown_load`, `drawdown_save`, `drawdown_operator_reset` (audited);
- health guard: `guard_load`, `guard_save`;
- start-up check: `startup_load`, `startup_save` (the Celery path's start-up guard).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from pydantic import BaseModel, ConfigDict

from optionsdesk.readmemo import memo_active
from trading.deribit.errors import DeribitError
from trading.domain.decision_view import LastTick
from trading.domain.health import GuardState
from trading.domain.risk import DrawdownState, drawdown_reset
from trading.models import AgentStatus, RuntimeControlChange

BACKOFF_BASE_S = 30
BACKOFF_MAX_S = 600


def agent_status_row() -> AgentStatus:
    """The status row, created on first use."""
    return AgentStatus.load()


def _fields(*names: str) -> dict[str, Any]:
    """Some of the row's fields. A tick reads the small ones several times: this leaves the
    published summary and risk report (most of the row's bytes) unread and undecoded. Inside
    a read request (`optionsdesk.readmemo`) the memoized row serves them."""
    if memo_active():
        row = agent_status_row()
        return {name: getattr(row, name) for name in names}
    values = AgentStatus.objects.filter(pk=1).values(*names).first()
    if values is None:
        agent_status_row()  # created with its defaults
        values = AgentStatus.objects.filter(pk=1).values(*names).get()
    return values


def _update(**fields: Any) -> None:
    if not AgentStatus.objects.filter(pk=1).update(**fields):
        agent_status_row()  # created with its defaults, then updated
        AgentStatus.objects.filter(pk=1).update(**fields)


# ------------------------------------------------------------------------------------ lock


def lock_ttl_s() -> int:
    """How long the tick lock lives: longer than the task's hard time limit."""
    return int(getattr(settings, "CELERY_TASK_TIME_LIMIT", 360)) + 30


def tick_lock_acquire(owner: str, *, ttl_s: int | None = None) -> bool:
    """Take the tick lock unless another live holder has it (atomic across processes)."""
    now = timezone.now()
    until = now + timedelta(seconds=ttl_s if ttl_s is not None else lock_ttl_s())
    free = Q(lock_until__isnull=True) | Q(lock_until__lt=now)
    for _ in range(2):
        if AgentStatus.objects.filter(free, pk=1).update(lock_owner=owner, lock_until=until):
            return True
        if AgentStatus.objects.filter(pk=1).exists():
            return False  # held by a live tick
        agent_status_row()  # the first tick ever: create the row, then take the lock
    return False


def tick_lock_release(owner: str) -> None:
    """Release the lock if we still hold it."""
    AgentStatus.objects.filter(pk=1, lock_owner=owner).update(lock_owner="", lock_until=None)


# ------------------------------------------------------------------------------- last tick


def last_tick_at_load() -> datetime | None:
    """When the last tick published its summary (None before the first)."""
    return _fields("last_tick_at")["last_tick_at"]


def last_tick_save(
    summary: LastTick, *, risk_report: dict[str, Any] | None = None, at: datetime | None = None
) -> None:
    """Publish the last tick's summary (the dashboard's and the status API's `last`) and its
    risk report (greeks and scenario grid)."""
    _update(
        last_tick_at=at or timezone.now(), last_summary=summary.stored(), risk_report=risk_report
    )


# -------------------------------------------------------------------------------- back-off


@dataclass(frozen=True, slots=True)
class Backoff:
    """The current back-off: until when, why, and how many errors in a row."""

    until: datetime | None
    reason: str
    consecutive_errors: int

    def active(self, now: datetime | None = None) -> bool:
        """True while the agent should wait."""
        return self.until is not None and (now or timezone.now()) < self.until


def backoff_load() -> Backoff:
    """The persisted back-off."""
    row = _fields("backoff_until", "backoff_reason", "consecutive_errors")
    return Backoff(row["backoff_until"], row["backoff_reason"], row["consecutive_errors"])


def backoff_set(exc: DeribitError, *, now: datetime | None = None) -> str:
    """Record a back-off after `exc` (doubling per error in a row); returns the reason."""
    errors = backoff_load().consecutive_errors + 1
    delay_s = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (errors - 1))
    until = (now or timezone.now()) + timedelta(seconds=delay_s)
    reason = f"{exc.kind} ({exc.code}): backing off {delay_s}s until {until:%H:%M:%S} UTC"
    _update(consecutive_errors=errors, backoff_until=until, backoff_reason=reason[:300])
    return reason


def backoff_clear() -> None:
    """Forget the back-off after a healthy tick (or an operator's request)."""
    _update(consecutive_errors=0, backoff_until=None, backoff_reason="")


# -------------------------------------------------------------------------------- drawdown


def drawdown_load() -> DrawdownState | None:
    """Today's equity peak and whether the daily drawdown stop latched (None: never tracked)."""
    raw = _fields("drawdown_state")["drawdown_state"]
    return DrawdownState.model_validate(raw) if raw else None


def drawdown_save(state: DrawdownState | None) -> None:
    """Persist the drawdown state."""
    _update(drawdown_state=None if state is None else state.model_dump(mode="json"))


class DrawdownNotLatched(ValueError):
    """An operator asked to release a drawdown stop that is not latched."""


def drawdown_operator_reset(
    *, user: str, reason: str, source: str = "service", equity_usd: Decimal | None = None
) -> DrawdownState | None:
    """Release a latched daily drawdown stop: an operator's decision, audited.

    The new peak is `equity_usd`, else the equity of the last tick; without either, the state
    is cleared and the next tick starts a fresh peak at its equity. The audit row
    (`RuntimeControlChange`, field `drawdown_stop`) records when and why it latched, who
    released it and why. Raises `DrawdownNotLatched` when there is nothing to release.
    """
    why = reason.strip()
    if not why:
        raise ValueError("Say why the drawdown stop may be released (the reason is audited).")
    with transaction.atomic():
        agent_status_row()
        row = AgentStatus.objects.select_for_update().get(pk=1)
        current = DrawdownState.model_validate(row.drawdown_state) if row.drawdown_state else None
        if current is None or not current.halted:
            raise DrawdownNotLatched("The daily drawdown stop is not latched: nothing to reset.")
        if equity_usd is None and row.last_summary:
            equity_usd = LastTick.model_validate(row.last_summary).portfolio.equity_usd
        now = timezone.now()
        released = None if equity_usd is None else drawdown_reset(equity_usd=equity_usd, now=now)
        row.drawdown_state = None if released is None else released.model_dump(mode="json")
        row.save(update_fields=["drawdown_state", "updated_at"])
        latched = f"latched {current.halted_at:%Y-%m-%d %H:%M} UTC: {current.reason}"
        RuntimeControlChange.objects.create(
            changed_by=user,
            source=source,
            changes={"drawdown_stop": [latched[:200], "released"]},
            note=why[:300],
        )
    return released


# ----------------------------------------------------------------------------------- guard


def guard_load() -> GuardState:
    """The persisted guard state (RUNNING when nothing is stored yet)."""
    raw = _fields("guard_state")["guard_state"]
    return GuardState.model_validate(raw) if raw else GuardState()


def guard_save(state: GuardState) -> None:
    """Persist the guard state."""
    _update(guard_state=state.model_dump(mode="json"))


# -------------------------------------------------------------------------------- start-up


class StartupState(BaseModel):
    """The last start-up check of a worker (or `runagent`): when, where, and its verdict.

    `blocked` is True when a FATAL check on mainnet aborted the start: beat-driven ticks skip
    until an operator resets the guard or a later start-up check passes.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    checked_at: datetime
    where: str
    action: str
    blocked: bool
    detail: str = ""


def startup_load() -> StartupState | None:
    """The last recorded start-up check (None: none ran since the row was created)."""
    raw = _fields("startup_state")["startup_state"]
    return StartupState.model_validate(raw) if raw else None


def startup_save(state: StartupState | None) -> None:
    """Record (or clear) the last start-up check."""
    _update(startup_state=None if state is None else state.model_dump(mode="json"))

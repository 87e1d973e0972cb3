"""Celery tasks of the live agent: explicit names, ids as arguments, one service each."""

from __future__ import annotations

from typing import Any

from celery import shared_task

#: Beat sends `trading.agent_tick` every 30 s; the tick itself runs only once the operator's
#: loop interval has passed, so the interval is a live control, not a schedule edit.
AGENT_TICK_EVERY_S = 30


@shared_task(name="trading.agent_tick", acks_late=True, expires=AGENT_TICK_EVERY_S - 5)
def agent_tick(trigger: str = "beat") -> str:
    """Run one agent tick (skips when not due, locked or backing off).

    The worker process that runs ticks holds the market stream: started on its first tick."""
    from trading.services import tick_run
    from trading.services.stream_state import agent_stream_ensure

    agent_stream_ensure()
    return tick_run(trigger=trigger).summary


@shared_task(name="trading.reconcile_positions", acks_late=True)
def reconcile_positions(action: str | None = None, trigger: str = "beat") -> str:
    """Compare our positions with the exchange's and apply the configured action."""
    from trading.services import reconcile_run

    return reconcile_run(action=action, trigger=trigger).summary


@shared_task(name="trading.health_recheck", acks_late=True)
def health_recheck() -> str:
    """Periodic agent healthcheck: steps the health guard (pause/resume). Skipped while the
    re-check interval control is 0 (its beat row is disabled then; a late message does nothing)."""
    from trading.exchange import exchange_client
    from trading.services.health import agent_healthcheck, guard_config

    if guard_config().health_recheck_interval_s == 0:
        return "skipped: re-checks are off (health_recheck_interval_s = 0)"
    with exchange_client() as client:
        _, guard = agent_healthcheck(client=client, kind="recheck")
    return f"{guard.status.value}: {guard.reason}"


@shared_task(name="trading.export_decisions", acks_late=True)
def export_decisions(**_: Any) -> int:
    """Append committed decisions to the daily JSONL files (one writer at a time)."""
    from trading.services import decisions_export

    return decisions_export().lines

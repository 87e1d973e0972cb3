"""Celery tasks of the greg app: thin, explicitly named, ids as arguments."""

from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(name="greg.evaluate", queue="research", acks_late=True, expires=240)
def greg_evaluate_task() -> dict[str, Any]:
    """Evaluate every underlying and review open Greg positions (research queue; advisory:
    it never sends an order, executions go through the order gate from the Greg Lab)."""
    from greg.services.tick import greg_tick

    return greg_tick()


@shared_task(name="greg.whatif_report", queue="research", acks_late=True)
def greg_whatif_task(days: int = 30) -> dict[str, Any]:
    """The what-if report of the last `days` (research queue)."""
    from datetime import timedelta

    from django.utils import timezone

    from greg.services import exchange
    from greg.services.reports import whatif_report

    with exchange.greg_client() as client:
        report = whatif_report(client=client, since=timezone.now() - timedelta(days=days))
    return {"items": len(report["items"]), "totals": report["totals"]}

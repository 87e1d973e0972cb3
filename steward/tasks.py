"""Celery tasks of the steward app: thin, explicitly named, ids as arguments."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="steward.report", acks_late=True, ignore_result=False)
def steward_report(report_id: int | None = None, trigger: str = "beat") -> str:
    """Build a steward report (the queued one `report_id`, or a new one for the beat)."""
    from steward.services import report_run

    report = report_run(report_id=report_id, trigger=trigger)
    return "deleted" if report is None else f"#{report.pk} {report.status}"

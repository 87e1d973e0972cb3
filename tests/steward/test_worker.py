"""A refresh is built by a real Celery worker process: the queued report moves to done."""

from __future__ import annotations

import time

import pytest

from steward.models import StewardReport
from steward.services import report_refresh_request

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_builds_the_queued_report(worker_queue: str):
    report = report_refresh_request(trigger="manual", requested_by="op", queue=worker_queue)
    assert report.status == "queued"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        report.refresh_from_db()
        if report.is_done:
            break
        time.sleep(0.5)
    assert report.status == StewardReport.Status.DONE
    assert report.progress == 1.0
    assert report.facts["decisions"]["count"] == 0
    assert report.next_tasks
    assert report.source == "template"

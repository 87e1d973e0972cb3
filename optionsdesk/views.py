"""The System Health tab: one view renders the page or, for htmx polls, only its live fragment.

App sections (the live agent's controls) are fragments of their own apps, loaded by URL.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from optionsdesk import health, selectors
from optionsdesk.htmx import htmx_partial


@login_required
def system_health(request: HttpRequest) -> HttpResponse:
    """Checks, worker heartbeats, periodic tasks and recent task results."""
    checks = health.health_checks()
    context = {
        "checks": checks,
        "overall": health.overall_status(checks),
        "heartbeats": selectors.worker_heartbeat_list(),
        "periodic_tasks": selectors.periodic_task_list(),
        "task_results": selectors.task_result_recent(limit=10),
    }
    template = "optionsdesk/system_health.html"
    if htmx_partial(request):
        template += "#live"
    return render(request, template, context)

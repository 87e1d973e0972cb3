"""The System Health tab: one view renders the page or, for htmx polls, only its live fragment."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from optionsdesk import health, selectors


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
    if not getattr(request, "htmx", False):
        from trading.views import controls_context

        context |= controls_context()
    template = "optionsdesk/system_health.html"
    if getattr(request, "htmx", False):
        template += "#live"
    return render(request, template, context)

"""Dashboard pages of the steward app: the AI Steward tab, refresh with progress, the assistant."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from optionsdesk.htmx import htmx_partial
from steward.assistant import AssistantInputError, assistant_ask
from steward.models import StewardConversation, StewardReport
from steward.permissions import operator_required, user_is_operator
from steward.selectors import report_latest, report_list, steward_conversation_list
from steward.services import report_refresh_request

HTMX_STOP_POLLING = 286
HISTORY_SHOWN = 15


def _conversation(request: HttpRequest, raw: str | None) -> StewardConversation | None:
    if not raw or not str(raw).isdigit():
        return None
    return steward_conversation_list(user=request.user).filter(pk=int(raw)).first()


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The tab: a report (the latest, or `?r=<id>`), the history, the refresh button and the
    assistant (`?c=<id>` continues a conversation)."""
    history = list(report_list()[:HISTORY_SHOWN])
    shown = None
    if (raw := request.GET.get("r")) and raw.isdigit():
        shown = StewardReport.objects.filter(pk=int(raw)).first()
    shown = shown or report_latest()
    pending = report_list().exclude(status__in=["done", "failed"]).first()
    current = _conversation(request, request.GET.get("c"))
    if current is None and not request.GET.get("new"):
        current = steward_conversation_list(user=request.user).first()
    context = {
        "report": shown,
        "history": history,
        "pending": pending,
        "can_refresh": user_is_operator(request.user),
        "current": current,
        "chat_messages": list(current.messages.all()) if current else [],
    }
    return render(request, "steward/index.html", context)


@operator_required
@require_POST
def refresh(request: HttpRequest) -> HttpResponse:
    """Queue a report on a research worker (operators); htmx gets the progress fragment."""
    report = report_refresh_request(trigger="manual", requested_by=request.user.get_username())
    if htmx_partial(request):
        return render(request, "steward/index.html#progress", {"pending": report})
    messages.info(request, f"Report #{report.pk} queued.")
    return redirect("steward:index")


@login_required
def progress(request: HttpRequest, report_id: int) -> HttpResponse:
    """The progress fragment; once the report is done, stop polling and reload the page."""
    report = get_object_or_404(StewardReport, pk=report_id)
    response = render(request, "steward/index.html#progress", {"pending": report})
    if report.is_done:
        response.status_code = HTMX_STOP_POLLING
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_POST
def ask(request: HttpRequest) -> HttpResponse:
    """Ask the assistant; htmx gets the question and its answer appended to the log."""
    conversation = _conversation(request, request.POST.get("conversation"))
    try:
        question, answer = assistant_ask(
            text=request.POST.get("message", ""), user=request.user, conversation=conversation
        )
    except AssistantInputError as exc:
        if htmx_partial(request):
            return HttpResponse(f'<p class="status-down">{exc}</p>', status=400)
        messages.error(request, str(exc))
        return redirect("steward:index")
    if htmx_partial(request):
        context = {"pair": (question, answer), "current": question.conversation}
        return render(request, "steward/index.html#turn", context)
    return redirect(f"{reverse('steward:index')}?c={question.conversation_id}")

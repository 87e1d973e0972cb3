"""Dashboard pages of the greg app: the Bots tab and the Greg Lab tab.

Reads are for any logged-in user; "evaluate now" and "execute" are operator actions
(`optionsdesk.roles`), the latter behind every gate and a confirmation.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from greg import selectors
from greg.models import GregDecision
from optionsdesk.roles import Role, role_required


@login_required
def bots(request: HttpRequest) -> HttpResponse:
    """Per underlying: the sensors, all eight outcomes with each condition, the chosen one."""
    return render(request, "greg/bots.html", selectors.bots_context())


@role_required(Role.OPERATOR)
@require_POST
def evaluate_now(request: HttpRequest) -> HttpResponse:
    """Evaluate every underlying now (operator)."""
    from greg.services.tick import greg_tick

    summary = greg_tick()
    messages.info(request, f"Evaluated: {summary.get('evaluations', summary)}")
    return redirect("greg:bots")


@login_required
def lab(request: HttpRequest) -> HttpResponse:
    """Greg Lab: mode banner, sandbox summary, filtered positions, suggestions, timelines."""
    context = selectors.lab_context(
        underlying=request.GET.get("underlying", ""),
        sandbox=request.GET.get("sandbox", ""),
        status=request.GET.get("status", "open"),
    )
    return render(request, "greg/lab.html", context)


@login_required
def notes(request: HttpRequest) -> HttpResponse:
    """Observer Notes fragment (loaded after the page: the LLM may take seconds)."""
    from greg.services.notes import observer_notes

    return render(request, "greg/lab.html#notes", {"notes": observer_notes()})


@role_required(Role.OPERATOR)
@require_POST
def execute(request: HttpRequest, pk: int) -> HttpResponse:
    """Execute an OPEN suggestion behind Greg's gates and the order gate (operator)."""
    from greg.services import exchange
    from greg.services.execution import suggestion_execute

    suggestion = get_object_or_404(GregDecision, pk=pk, kind="suggestion")
    expect = request.POST.get("expect_dry_run")
    with exchange.greg_client() as client:
        result = suggestion_execute(
            suggestion=suggestion,
            client=client,
            user=str(request.user),
            confirmed=request.POST.get("confirm") == "yes",
            expect_dry_run=None if expect is None else expect == "true",
        )
    if result.refused:
        messages.error(request, f"Not executed: {result.refused}")
    else:
        labels = ", ".join(o.label for o in result.orders)
        messages.success(request, f"Executed through the order gate: {labels}")
    return redirect("greg:lab")


@role_required(Role.OPERATOR)
@require_POST
def position_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Carry out a position's suggested CLOSE or HEDGE (operator; gates and confirmation)."""
    from greg.models import GregPosition
    from greg.services import exchange
    from greg.services.execution import position_action_execute

    position = get_object_or_404(GregPosition, pk=pk)
    expect = request.POST.get("expect_dry_run")
    with exchange.greg_client() as client:
        result = position_action_execute(
            position=position,
            action=action.upper(),
            client=client,
            user=str(request.user),
            confirmed=request.POST.get("confirm") == "yes",
            expect_dry_run=None if expect is None else expect == "true",
        )
    if result.refused:
        messages.error(request, f"Not done: {result.refused}")
    else:
        messages.success(request, f"{action.upper()} #{pk}: {result.record.reasoning}")
    return redirect("greg:lab")

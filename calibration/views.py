"""Dashboard pages of the calibration app: the Calibration tab and its operator actions."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from calibration import charts, selectors, services
from calibration.models import CalibrationRun
from optionsdesk.roles import Role, role_required, user_has_role


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The calibration tab: latest fits, term structure, coverage, quality, history, decisions."""
    latest = selectors.latest_runs()
    history = list(selectors.calibration_runs()[:200])
    regimes = selectors.latest_regime_fits()
    context = {
        "latest": [
            {"run": run, "smiles_svg": charts.smiles_svg(run.fit), "fit": run.fit} for run in latest
        ],
        "term_svg": charts.term_structure_svg({run.underlying: run.fit for run in latest}),
        "history_svg": charts.history_svg(history),
        "history": history[:20],
        "quality": list(selectors.quality_reports()[:10]),
        "decisions": list(selectors.policy_decisions()[:20]),
        "applied": selectors.applied_multipliers(),
        "harvests": list(selectors.harvest_runs()[:5]),
        "regimes": [
            {"fit": fit, "svg": charts.regime_timeline_svg(fit.timeline, fit.n_regimes)}
            for fit in regimes
        ],
        "can_operate": user_has_role(request.user, Role.OPERATOR),
    }
    return render(request, "calibration/index.html", context)


@require_POST
@role_required(Role.OPERATOR)
def run_apply(request: HttpRequest, pk: int) -> HttpResponse:
    """Operator: run the update policy on a calibration."""
    decision = services.policy_apply(
        run=get_object_or_404(CalibrationRun, pk=pk), actor=request.user
    )
    messages.info(
        request, f"{decision.underlying}: {decision.outcome} — {'; '.join(decision.reasons)}"
    )
    return redirect("calibration:index")


@require_POST
@role_required(Role.OPERATOR)
def run_hold(request: HttpRequest, pk: int) -> HttpResponse:
    """Operator: hold a calibration's recommendation."""
    run = get_object_or_404(CalibrationRun, pk=pk)
    services.policy_hold(run=run, actor=request.user, note=request.POST.get("note", ""))
    messages.info(request, f"{run.underlying}: held")
    return redirect("calibration:index")

"""The Backtesting tab: lab form and runs table, run pages with pictures, compare and diff."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from backtests import charts, selectors, services
from backtests.forms import LabForm, StudyForm
from backtests.models import BacktestRun, SelectorStudy
from optionsdesk.htmx import htmx_partial
from optionsdesk.roles import Role, user_has_role

#: htmx stops polling when a response has this status (https://htmx.org/docs/#polling).
HTMX_STOP_POLLING = 286
RUNS_SHOWN = 50
#: The largest id a row can have (64-bit keys in every database).
MAX_ID = 2**63 - 1


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The lab form and the runs table (the table alone for htmx refreshes)."""
    if request.method == "POST" and not user_has_role(request.user, Role.RESEARCHER):
        raise PermissionDenied("Launching runs needs the researcher role.")
    form = LabForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        limit = settings.RESEARCH_QUEUED_RUNS_PER_USER
        if selectors.backtest_run_active_count(user=request.user) >= limit:
            form.add_error(
                None, f"At most {limit} queued or running runs per user; wait or stop some."
            )
        else:
            run = form.launch(user=request.user)
            return redirect("backtests:run", run_id=run.pk)
    runs = list(selectors.backtest_run_list()[:RUNS_SHOWN])
    context = {
        "form": form,
        "runs": runs,
        "any_active": any(not run.is_done for run in runs),
    }
    template = "backtests/index.html"
    if htmx_partial(request) and request.method == "GET":
        template += "#runs"
    return render(request, template, context)


def _run_pictures(run: BacktestRun) -> dict[str, str]:
    if run.kind == BacktestRun.Kind.GRID or not run.equity_curve:
        return {}
    trades = list(selectors.run_trade_list(run=run).values_list("exit_time", "pnl_usd"))
    return {
        "equity_svg": charts.equity_svg({run.name or f"run {run.pk}": run.equity_curve}),
        "drawdown_svg": charts.drawdown_svg(run.equity_curve),
        "trades_svg": charts.trades_svg([t for t, _ in trades], [p for _, p in trades]),
    }


@login_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    """A run's page: status, report, pictures, trades (or a grid's ranked cells)."""
    run = get_object_or_404(BacktestRun, pk=run_id)
    context = {
        "run": run,
        "trades": selectors.run_trade_list(run=run)[:500] if run.is_done else [],
        "cells": run.results[:100] if run.kind == BacktestRun.Kind.GRID else [],
        "metric_rows": selectors.backtest_run_compare(runs=[run]),
        **(_run_pictures(run) if run.is_done else {}),
    }
    return render(request, "backtests/run.html", context)


@login_required
def run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The live progress fragment; once the run is done, stop polling and reload the page.

    Polled every second, so it only reads (`selectors.grid_progress_read`)."""
    run = selectors.grid_progress_read(get_object_or_404(BacktestRun, pk=run_id))
    response = render(request, "backtests/run.html#progress", {"run": run})
    if run.is_done:
        response.status_code = HTMX_STOP_POLLING
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_POST
def run_stop(request: HttpRequest, run_id: int) -> HttpResponse:
    """Stop button: ask the run to stop and show its progress."""
    run = services.backtest_run_stop(run=_owned_run(request, run_id))
    if htmx_partial(request):
        return render(request, "backtests/run.html#progress", {"run": run})
    return redirect("backtests:run", run_id=run.pk)


@login_required
@require_POST
def run_delete(request: HttpRequest, run_id: int) -> HttpResponse:
    """Delete a run and go back to the tab."""
    services.backtest_run_delete(run=_owned_run(request, run_id))
    return redirect("backtests:index")


def _owned_run(request: HttpRequest, run_id: int) -> BacktestRun:
    """The run, when the user may change it: a researcher's own run, or any run for an admin."""
    run = get_object_or_404(BacktestRun, pk=run_id)
    if user_has_role(request.user, Role.ADMIN):
        return run
    if not user_has_role(request.user, Role.RESEARCHER) or run.created_by_id != request.user.pk:
        raise PermissionDenied("Only the run's owner (a researcher) or an admin may change it.")
    return run


def _run_ids(request: HttpRequest) -> list[int]:
    raw = request.GET.getlist("ids") or request.GET.get("ids", "").split(",")
    try:
        ids = [int(v) for v in raw if str(v).strip()]
    except ValueError:
        raise Http404("run ids must be numbers") from None
    return [i for i in ids if 1 <= i <= MAX_ID]  # larger ids cannot exist (64-bit keys)


@login_required
def compare(request: HttpRequest) -> HttpResponse:
    """Several runs side by side: metrics table and overlaid equity curves."""
    ids = _run_ids(request)
    by_id = BacktestRun.objects.in_bulk(ids)
    runs = [by_id[i] for i in ids if i in by_id]
    context = {
        "runs": runs,
        "rows": selectors.backtest_run_compare(runs=runs),
        "equity_svg": charts.equity_svg({f"#{r.pk} {r.name}": r.equity_curve for r in runs}),
    }
    if len(runs) == 2:
        context["diff"] = selectors.backtest_run_diff(a=runs[0], b=runs[1])
    return render(request, "backtests/compare.html", context)


@login_required
def studies(request: HttpRequest) -> HttpResponse:
    """Selector research: the study form (funnel or heatmap) and the studies table."""
    if request.method == "POST" and not user_has_role(request.user, Role.RESEARCHER):
        raise PermissionDenied("Launching studies needs the researcher role.")
    form = StudyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            study = form.launch(user=request.user)
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("backtests:study", study_id=study.pk)
    context = {"form": form, "studies": SelectorStudy.objects.all()[:RUNS_SHOWN]}
    return render(request, "backtests/studies.html", context)


@login_required
def study_detail(request: HttpRequest, study_id: int) -> HttpResponse:
    """A study's page: progress, then the funnel or the heatmap as a picture and a table."""
    study = get_object_or_404(SelectorStudy, pk=study_id)
    picture = ""
    if study.is_done and study.result:
        if study.kind == SelectorStudy.Kind.FUNNEL:
            picture = charts.funnel_svg(study.result.get("steps", []))
        elif study.kind == SelectorStudy.Kind.ARENA:
            picture = charts.forest_svg(study.result.get("rows", []))
        else:
            picture = charts.heatmap_svg(study.result)
    rows = []
    if study.kind == SelectorStudy.Kind.HEATMAP and study.result.get("values"):
        rows = list(zip(study.result["y_values"], study.result["values"], strict=True))
    context = {"study": study, "picture": picture, "heatmap_rows": rows}
    response = render(request, "backtests/study.html", context)
    return response

"""The Backtesting tab: lab form and runs table, run pages with pictures, compare and diff."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from backtests import charts, lab_views, selectors, services
from backtests.forms import LabForm, StudyForm
from backtests.models import BacktestRun, SelectorStudy
from backtests.page_launch import page_launch
from backtests.quota import ResearchQuotaExceededError, research_quota_check
from optionsdesk.htmx import htmx_partial
from optionsdesk.roles import Role, role_required, user_has_role

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
        try:
            research_quota_check(user=request.user)
        except ResearchQuotaExceededError as exc:
            form.add_error(None, str(exc))
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


#: Grid axes that map onto a live control, and how (`_live_changes`).
LIVE_AXES = {
    "delta_range": ("delta_min", "delta_max"),
    "dte_range": ("dte_min_days", "dte_max_days"),
    "ivrv_min": ("ivrv_min",),
    "premium_min_usd": ("premium_min_usd",),
    "explore_prob": ("explore_prob",),
    "take_profit_pct": ("take_profit_frac",),
}
#: Metrics where lower is better (the heatmap still shows the value as it is).
LOWER_IS_BETTER = ("max_drawdown_pct",)


def _live_changes(params: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A grid cell's parameters as runtime-control changes, and the axes with no live control.

    The backtest's `take_profit_pct` is the fraction of premium captured (0.5 = 50%), the same
    measure as the live `take_profit_frac`.
    """
    changes: dict[str, Any] = {}
    skipped = []
    for name, value in params.items():
        targets = LIVE_AXES.get(name)
        if targets is None:
            skipped.append(name)
        elif len(targets) == 2:
            changes[targets[0]], changes[targets[1]] = float(value[0]), float(value[1])
        else:
            changes[targets[0]] = float(value)
    return changes, skipped


def _label(value: Any) -> str:
    if isinstance(value, list | tuple):
        return " to ".join(f"{v:g}" if isinstance(v, float | int) else str(v) for v in value)
    return f"{value:g}" if isinstance(value, float | int) else str(value)


def _grid_cells(run: BacktestRun) -> list[dict[str, Any]]:
    """Every cell of a grid that finished (also when the grid was stopped), with its run id,
    parameters, metrics and what "use these parameters live" would change."""
    cells = []
    for cell in run.children.filter(status=BacktestRun.Status.SUCCEEDED).order_by("combo_index"):
        params = dict((cell.grid or {}).get("params", {}))
        changes, skipped = _live_changes(params)
        cells.append(
            {
                "run_id": cell.pk,
                "index": cell.combo_index,
                "params": params,
                "labels": {k: _label(v) for k, v in params.items()},
                "metrics": cell.metrics or {},
                "live_changes": changes,
                "live_skipped": skipped,
            }
        )
    return cells


def _heatmap(run: BacktestRun, cells: list[dict[str, Any]], request: HttpRequest) -> dict[str, Any]:
    """The ranked metric over two chosen axes (best cell across the other axes)."""
    from backtests.domain.metrics import format_metric
    from optionsdesk.charts import heatmap_svg
    from trading.domain.wording import code_words, metric_label

    axes = list((run.grid or {}).get("axes", {}))
    metrics = sorted(
        {k for c in cells for k, v in c["metrics"].items() if isinstance(v, int | float)}
    )
    metric = request.GET.get("metric") or (run.grid or {}).get("rank_by", "sharpe")
    if metric not in metrics and metrics:
        metric = "sharpe" if "sharpe" in metrics else metrics[0]
    if len(axes) < 1 or not cells:
        return {}
    wanted_x, wanted_y = request.GET.get("x", ""), request.GET.get("y", "")
    x = wanted_x if wanted_x in axes else axes[0]
    others = [a for a in axes if a != x]
    y = wanted_y if wanted_y in others else (others[0] if others else "")
    x_values = [_label(v) for v in run.grid["axes"][x]]
    y_values = [_label(v) for v in run.grid["axes"][y]] if y else ["all"]
    lower = metric in LOWER_IS_BETTER
    best: dict[tuple[str, str], float] = {}
    for cell in cells:
        value = cell["metrics"].get(metric)
        if not isinstance(value, int | float):
            continue
        key = (cell["labels"].get(x, ""), cell["labels"].get(y, "all") if y else "all")
        if key not in best or (value < best[key] if lower else value > best[key]):
            best[key] = float(value)
    values = [[best.get((xv, yv)) for xv in x_values] for yv in y_values]
    return {
        "heatmap_svg": heatmap_svg(
            x_values,
            y_values,
            values,
            x_title=code_words(x),
            y_title=code_words(y) if y else "(one axis)",
            value_title=metric_label(metric),
            value_format=lambda v: format_metric(metric, v),
        ),
        "heatmap_axes": axes,
        "heatmap_metrics": metrics,
        "heatmap_x": x,
        "heatmap_y": y,
        "heatmap_metric": metric,
        "heatmap_metric_label": metric_label(metric),
    }


@login_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    """A run's page: status, report, pictures, trades; a grid's cells (finished ones, also when
    stopped) link to their run pages, with a heatmap of a metric over two chosen axes."""
    from trading.domain.wording import metric_label

    run = get_object_or_404(BacktestRun, pk=run_id)
    is_grid = run.kind == BacktestRun.Kind.GRID
    grid_cells = _grid_cells(run) if is_grid else []
    links = {c["index"]: c["run_id"] for c in grid_cells}
    cells = (
        [
            dict(
                c,
                run_id=links.get(c.get("index")),
                labels={k: _label(v) for k, v in (c.get("params") or {}).items()},
            )
            for c in run.results[:100]
        ]
        if is_grid
        else []
    )
    metric_rows = [
        dict(row, label=metric_label(str(row.get("metric", ""))))
        for row in selectors.backtest_run_compare(runs=[run])
    ]
    context = {
        "run": run,
        "trades": selectors.run_trade_list(run=run)[:500] if run.is_done else [],
        "cells": cells,
        "grid_cells": grid_cells,
        "can_use_live": user_has_role(request.user, Role.OPERATOR),
        "metric_rows": metric_rows,
        **(_heatmap(run, grid_cells, request) if is_grid else {}),
        **(_run_pictures(run) if run.is_done else {}),
    }
    return render(request, "backtests/run.html", context)


@role_required(Role.RESEARCHER)
@require_POST
def cell_rerun(request: HttpRequest, run_id: int) -> HttpResponse:
    """Researcher: run a grid cell again as a single run that keeps its equity curve and trades,
    on the research queue; opens the new run. For cells stored before grids kept each cell's
    curve and trades (cells now keep them: their pages need no re-run)."""
    from backtests.domain.sources.spec import SourceSpec

    cell = get_object_or_404(BacktestRun, pk=run_id, kind=BacktestRun.Kind.GRID_CELL)
    source = cell.source or (cell.parent.source if cell.parent else {})
    run = services.backtest_run_create(
        config=services.grid_cell_as_config(cell),
        source=SourceSpec.model_validate(source),
        name=f"cell #{cell.pk} of grid #{cell.parent_id}",
        user=request.user,
    )
    return redirect("backtests:run", run_id=run.pk)


@role_required(Role.OPERATOR)
@require_POST
def cell_use_live(request: HttpRequest, run_id: int) -> HttpResponse:
    """Operator: copy a finished grid cell's parameters into the live controls (audited through
    `trading.services.controls.controls_update`; the page asked to confirm)."""
    from django.contrib import messages
    from pydantic import ValidationError

    from trading.services.controls import controls_update

    cell = get_object_or_404(
        BacktestRun, pk=run_id, kind=BacktestRun.Kind.GRID_CELL, status=BacktestRun.Status.SUCCEEDED
    )
    changes, skipped = _live_changes(dict((cell.grid or {}).get("params", {})))
    if not changes:
        messages.error(request, "None of this cell's parameters has a live control.")
        return redirect("backtests:run", run_id=cell.parent_id or cell.pk)
    try:
        controls_update(
            changes=changes,
            user=str(request.user),
            source="backtest",
            note=f"parameters of grid cell #{cell.pk}",
        )
    except (ValidationError, ValueError) as exc:
        messages.error(request, f"The controls refused these parameters: {exc}"[:400])
        return redirect("backtests:run", run_id=cell.parent_id or cell.pk)
    from trading.domain.wording import code_words

    applied = ", ".join(f"{code_words(k)} = {v:g}" for k, v in changes.items())
    note = f" Not applicable live: {', '.join(map(code_words, skipped))}." if skipped else ""
    messages.success(request, f"Live controls set from cell #{cell.pk}: {applied}.{note}")
    return redirect("backtests:run", run_id=cell.parent_id or cell.pk)


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
    form = StudyForm(request.POST or None)
    study = page_launch(request, form, denied="Launching studies needs the researcher role.")
    if study is not None:
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
        elif study.kind == SelectorStudy.Kind.HEATMAP:
            picture = charts.heatmap_svg(study.result)
    rows = []
    if study.kind == SelectorStudy.Kind.HEATMAP and study.result.get("values"):
        rows = list(zip(study.result["y_values"], study.result["values"], strict=True))
    context = {"study": study, "picture": picture, "heatmap_rows": rows}
    context |= lab_views.study_context(request, study)  # environment and synthetic vs live
    response = render(request, "backtests/study.html", context)
    return response

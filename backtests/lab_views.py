"""The lab's market-environment pages: launch an environment heatmap or a synthetic-vs-live
comparison, read a cell's dates ("find me this regime"), and what a study page shows."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from backtests import lab_charts
from backtests.domain.environment import ENV_MEASURES, ENV_METRICS, regime_dates
from backtests.lab_forms import EnvironmentForm, SourceCompareForm
from backtests.lab_services import LAB_KINDS
from backtests.models import SelectorStudy
from backtests.page_launch import page_launch

STUDIES_SHOWN = 30


@login_required
def environment(request: HttpRequest) -> HttpResponse:
    """Market environment: the two launch forms and the environment studies so far."""
    posted = request.POST if request.method == "POST" else None
    which = request.POST.get("form", "environment")
    env_form = EnvironmentForm(posted if which == "environment" else None)
    compare_form = SourceCompareForm(posted if which == "source_compare" else None)
    form = env_form if which == "environment" else compare_form
    study = page_launch(request, form, denied="Launching studies needs the researcher role.")
    if study is not None:
        return redirect("backtests:study", study_id=study.pk)
    context = {
        "env_form": env_form,
        "compare_form": compare_form,
        "studies": SelectorStudy.objects.filter(kind__in=LAB_KINDS)[:STUDIES_SHOWN],
    }
    return render(request, "backtests/environment.html", context)


def _cells(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Table rows, highest y bin first, each cell with its indexes for the regime link."""
    x_labels = lab_charts.bin_labels(result["x_edges"])
    y_labels = lab_charts.bin_labels(result["y_edges"])
    rows = []
    for yi in reversed(range(len(y_labels))):
        cells = [
            {
                "xi": xi,
                "yi": yi,
                "count": result["counts"][yi][xi],
                "share": result["share"][yi][xi],
                "outcomes": result["outcomes"][yi][xi],
                "mean_pnl_usd": result["mean_pnl_usd"][yi][xi],
                "win_rate": result["win_rate"][yi][xi],
            }
            for xi in range(len(x_labels))
        ]
        rows.append({"label": y_labels[yi], "cells": cells})
    return rows


def study_context(request: HttpRequest, study: SelectorStudy) -> dict[str, Any]:
    """What a study page adds for the lab kinds: the picture and the tables."""
    if study.kind not in LAB_KINDS or not study.is_done or not study.result:
        return {}
    result = study.result
    if study.kind == SelectorStudy.Kind.SOURCE_COMPARE:
        return {"picture": lab_charts.compare_svg(result)}
    measure = request.GET.get("measure", "share")
    measure = measure if measure in ENV_MEASURES else "share"
    return {
        "picture": lab_charts.environment_svg(result, measure),
        "env_measure": measure,
        "env_measures": ENV_MEASURES,
        "env_x_labels": lab_charts.bin_labels(result["x_edges"]),
        "env_rows": _cells(result),
        "env_x_title": ENV_METRICS[result["x_metric"]],
        "env_y_title": ENV_METRICS[result["y_metric"]],
    }


def _index(request: HttpRequest, name: str, size: int) -> int:
    raw = request.GET.get(name, "")
    if not raw.isdigit() or not 0 <= int(raw) < size:
        raise Http404(f"{name} must be a cell index from 0 to {size - 1}")
    return int(raw)


@login_required
def regime(request: HttpRequest, study_id: int) -> HttpResponse:
    """Find me this regime: the dates whose sampled times fall in one environment cell."""
    study = get_object_or_404(SelectorStudy, pk=study_id, kind=SelectorStudy.Kind.ENVIRONMENT)
    result = study.result
    if not result.get("counts"):
        raise Http404("the study has no result yet")
    xi = _index(request, "x", len(result["x_edges"]) - 1)
    yi = _index(request, "y", len(result["y_edges"]) - 1)
    context = {
        "study": study,
        "dates": regime_dates(result, xi=xi, yi=yi),
        "x_title": ENV_METRICS[result["x_metric"]],
        "y_title": ENV_METRICS[result["y_metric"]],
        "x_bin": lab_charts.bin_labels(result["x_edges"])[xi],
        "y_bin": lab_charts.bin_labels(result["y_edges"])[yi],
        "count": result["counts"][yi][xi],
    }
    return render(request, "backtests/regime.html", context)

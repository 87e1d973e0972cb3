"""The Backtesting tab's training mode: launch a multi-profile run, follow it, download files."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from backtests import training_services
from backtests.domain.profiles import PROFILES
from backtests.domain.sources.spec import SourceSpec
from backtests.domain.types import BacktestConfig
from backtests.page_launch import page_launch
from backtests.training_models import TrainingRun
from optionsdesk.roles import Role, user_has_role

RUNS_SHOWN = 50
#: htmx stops polling when a response has this status (https://htmx.org/docs/#polling).
HTMX_STOP_POLLING = 286


class TrainingForm(forms.Form):
    """Launch training mode from the tab: profiles, data, decision interval, file format."""

    profiles = forms.MultipleChoiceField(
        choices=[(p.name, f"{p.name}: {p.description}") for p in PROFILES.values()],
        initial=list(PROFILES),
        widget=forms.CheckboxSelectMultiple,
    )
    source = forms.ChoiceField(
        choices=[("synthetic", "synthetic"), ("snapshots", "real snapshots")], initial="synthetic"
    )
    underlying = forms.ChoiceField(choices=[("BTC", "BTC"), ("ETH", "ETH")], initial="BTC")
    days = forms.FloatField(initial=60, min_value=1, max_value=3 * 365)
    seed = forms.IntegerField(initial=42, min_value=0)
    decision_interval_hours = forms.FloatField(initial=1.0, min_value=0.25, max_value=24 * 7)
    fmt = forms.ChoiceField(
        label="Format", choices=[(f, f) for f in training_services.FORMATS], initial="csv"
    )
    validation_frac = forms.FloatField(initial=0.1, min_value=0.0, max_value=0.5)

    def launch(self, *, user: Any) -> TrainingRun:
        """Create and queue the run."""
        data = self.cleaned_data
        source = SourceSpec(
            kind=data["source"], underlying=data["underlying"], days=data["days"], seed=data["seed"]
        )
        config = BacktestConfig(
            underlying=data["underlying"],
            decision_interval_hours=data["decision_interval_hours"],
            seed=data["seed"],
        )
        return training_services.training_run_create(
            source=source,
            config=config,
            profiles=list(data["profiles"]),
            fmt=data["fmt"],
            validation_frac=data["validation_frac"],
            user=user,
        )


@login_required
def training(request: HttpRequest) -> HttpResponse:
    """Training mode: the launch form (researchers) and the runs table."""
    form = TrainingForm(request.POST or None)
    run = page_launch(request, form, denied="Launching training runs needs the researcher role.")
    if run is not None:
        return redirect("backtests:training-run", run_id=run.pk)
    context = {"form": form, "runs": TrainingRun.objects.all()[:RUNS_SHOWN]}
    return render(request, "backtests/training.html", context)


@login_required
def training_run(request: HttpRequest, run_id: int) -> HttpResponse:
    """A training run: progress (polled), per-profile summary, corpus check, downloads."""
    run = get_object_or_404(TrainingRun, pk=run_id)
    context = {
        "run": run,
        "file_kinds": [k for k in training_services.FILE_KINDS if k in (run.files or {})],
        "can_download": user_has_role(request.user, Role.RESEARCHER),
    }
    return render(request, "backtests/training_run.html", context)


@login_required
def training_download(request: HttpRequest, run_id: int, kind: str) -> FileResponse:
    """Researcher: download one of the run's files."""
    if not user_has_role(request.user, Role.RESEARCHER):
        raise PermissionDenied("Downloading training files needs the researcher role.")
    run = get_object_or_404(TrainingRun, pk=run_id)
    try:
        path = training_services.training_file(run, kind)
    except LookupError as exc:
        raise Http404(str(exc)) from None
    return FileResponse(
        path.open("rb"), as_attachment=True, filename=f"training_{run.pk}_{path.name}"
    )

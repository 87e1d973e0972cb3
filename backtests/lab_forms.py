"""Forms of the lab's environment studies: the environment heatmap and synthetic vs live."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from django import forms

from backtests.domain.environment import ENV_METRICS
from backtests.domain.sources.spec import SourceSpec
from backtests.domain.types import BacktestConfig
from backtests.models import SelectorStudy

METRIC_CHOICES = [(name, f"{name}: {label}") for name, label in ENV_METRICS.items()]


def _numbers(text: str) -> list[float]:
    try:
        return [float(part) for part in text.replace(";", ",").split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"not a list of numbers: {text!r}") from None


class EnvironmentForm(forms.Form):
    """Launch an environment heatmap: source, period, two metrics with bin edges, the
    reference call."""

    source = forms.ChoiceField(
        choices=[
            ("synthetic", "synthetic"),
            ("snapshots", "real snapshots"),
            ("volatility_history", "real IV/RV history (occupancy only)"),
        ],
        initial="synthetic",
    )
    underlying = forms.ChoiceField(choices=[("BTC", "BTC"), ("ETH", "ETH")], initial="BTC")
    start = forms.DateField(required=False, help_text="UTC; empty: the source's default")
    days = forms.FloatField(initial=90, min_value=1, max_value=3 * 365)
    seed = forms.IntegerField(initial=42, min_value=0)
    x_metric = forms.ChoiceField(choices=METRIC_CHOICES, initial="ivrv")
    x_edges = forms.CharField(initial="0.6, 0.8, 0.9, 1.0, 1.1, 1.2, 1.4, 1.8")
    y_metric = forms.ChoiceField(choices=METRIC_CHOICES, initial="return_7d")
    y_edges = forms.CharField(initial="-0.3, -0.1, -0.05, -0.02, 0, 0.02, 0.05, 0.1, 0.3")
    target_delta = forms.FloatField(initial=0.25, min_value=0.01, max_value=0.99)
    target_dte_days = forms.FloatField(initial=7, min_value=0.05, max_value=90)
    interval_hours = forms.FloatField(initial=4, min_value=0.05, max_value=168)

    def launch(self, *, user: Any) -> SelectorStudy:
        """Create and queue the study (ValueError on a bad request)."""
        from backtests.lab_services import lab_study_create

        data = self.cleaned_data
        start = data["start"]
        history = data["source"] == "volatility_history"
        source = SourceSpec(
            kind="snapshots" if history else data["source"],
            underlying=data["underlying"],
            start=None if start is None else datetime.combine(start, time(), tzinfo=UTC),
            days=data["days"],
            seed=data["seed"],
        )
        params = {
            "data": "volatility_history" if history else "chains",
            "x_metric": data["x_metric"],
            "x_edges": _numbers(data["x_edges"]),
            "y_metric": data["y_metric"],
            "y_edges": _numbers(data["y_edges"]),
            "target_delta": data["target_delta"],
            "target_dte_days": data["target_dte_days"],
            "interval_hours": data["interval_hours"],
        }
        return lab_study_create(
            kind=SelectorStudy.Kind.ENVIRONMENT,
            source=source,
            config=BacktestConfig(underlying=data["underlying"]),
            params=params,
            user=user,
        )


class SourceCompareForm(forms.Form):
    """Launch a synthetic-vs-live comparison of the research policy over the snapshots' window."""

    underlying = forms.ChoiceField(choices=[("BTC", "BTC"), ("ETH", "ETH")], initial="BTC")
    seed = forms.IntegerField(initial=42, min_value=0, help_text="of the synthetic source")
    ks_max = forms.FloatField(initial=0.25, min_value=0.01, max_value=1)
    alpha = forms.FloatField(initial=0.01, min_value=1e-6, max_value=0.5)

    def launch(self, *, user: Any) -> SelectorStudy:
        """Create and queue the comparison."""
        from backtests.lab_services import lab_study_create

        data = self.cleaned_data
        return lab_study_create(
            kind=SelectorStudy.Kind.SOURCE_COMPARE,
            source=SourceSpec(kind="snapshots", underlying=data["underlying"], seed=data["seed"]),
            config=BacktestConfig(underlying=data["underlying"]),
            params={"ks_max": data["ks_max"], "alpha": data["alpha"]},
            user=user,
        )

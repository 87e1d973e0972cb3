"""The Backtesting lab form: a run's data source, strategy, exits, fills and an optional grid."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from typing import Any

from django import forms
from django.conf import settings
from pydantic import ValidationError as PydanticValidationError

from backtests.domain.grid import GridSpec, grid_cell_count
from backtests.domain.research import HEATMAP_MEASURES, HEATMAP_PARAMS
from backtests.domain.sources.spec import SourceSpec
from backtests.domain.types import BacktestConfig, ExitStyle
from backtests.models import BacktestRun, SelectorStudy
from trading.domain.candidates import StrategyParams

GRID_EXAMPLE = (
    '{"delta_range": [[0.1, 0.2], [0.2, 0.3]], "dte_range": [[1, 7], [7, 21]], '
    '"exit_style": ["hold_to_expiry", "take_profit_and_roll"]}'
)


class LabForm(forms.Form):
    """Everything needed to launch a backtest from the dashboard."""

    name = forms.CharField(required=False, max_length=200)
    source = forms.ChoiceField(
        choices=[
            ("synthetic", "synthetic market (seeded)"),
            ("snapshots", "harvested Deribit snapshots"),
            ("deribit_history", "Deribit public history"),
            ("synthetic_v2", "synthetic universe v2 (regimes, fitted smile)"),
        ],
        initial="synthetic",
    )
    underlying = forms.ChoiceField(choices=[("BTC", "BTC"), ("ETH", "ETH")], initial="BTC")
    start = forms.DateField(required=False, help_text="UTC; empty: the source's default")
    days = forms.FloatField(initial=365, min_value=1, max_value=3 * 365)
    seed = forms.IntegerField(initial=42, min_value=0)
    delta_min = forms.FloatField(initial=0.10, min_value=0, max_value=1)
    delta_max = forms.FloatField(initial=0.40, min_value=0, max_value=1)
    dte_min_days = forms.FloatField(initial=1, min_value=0)
    dte_max_days = forms.FloatField(initial=21, min_value=0.1)
    ivrv_min = forms.FloatField(initial=1.0, min_value=0)
    premium_min_usd = forms.FloatField(initial=50, min_value=0)
    explore_prob = forms.FloatField(initial=0.25, min_value=0, max_value=1)
    explore_top_k = forms.IntegerField(initial=3, min_value=1)
    max_spread_pct = forms.FloatField(
        required=False,
        initial=0.15,
        min_value=0,
        help_text="max (ask-bid)/mid, fraction; empty or 0: no limit (live: 0.15)",
    )
    min_open_interest = forms.FloatField(
        required=False, initial=50, min_value=0, help_text="contracts (live: 50)"
    )
    exit_style = forms.ChoiceField(
        choices=[(s.value, s.value.replace("_", " ")) for s in ExitStyle],
        initial=ExitStyle.HOLD_TO_EXPIRY.value,
    )
    take_profit_pct = forms.FloatField(initial=0.5, min_value=0.01, max_value=1)
    stop_loss_pct = forms.FloatField(required=False, min_value=0.01)
    roll_dte_days = forms.FloatField(initial=1, min_value=0.01)
    fill_style = forms.ChoiceField(
        choices=[("bid_ask", "bid/ask"), ("mid_haircut", "mid with haircut")], initial="bid_ask"
    )
    haircut_pct = forms.FloatField(initial=0.05, min_value=0, max_value=0.99)
    decision_interval_hours = forms.FloatField(initial=1, min_value=0.1)
    quantity_coin = forms.FloatField(
        required=False,
        initial=1.0,
        min_value=0.01,
        label="Size sold (contracts per call)",
        help_text="calls sold per trade, one contract = one coin; at most the coins held",
    )
    initial_coin = forms.FloatField(
        required=False,
        initial=1.0,
        min_value=0.01,
        label="Coins held (the cover)",
        help_text="coins at the start",
    )
    grid_axes = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": GRID_EXAMPLE}),
        help_text="optional JSON axes: runs a grid search instead of one run",
    )
    rank_by = forms.CharField(required=False, initial="sharpe")
    holdout_frac = forms.FloatField(
        required=False,
        min_value=0.0,
        max_value=0.5,
        initial=0.0,
        help_text="grid: last fraction of the period held out of sample (0 = none)",
    )

    def clean(self) -> dict[str, Any]:
        """Build and validate the domain objects (errors shown on the form)."""
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            data["source_spec"] = self._source(data)
            data["config_obj"] = self._config(data)
            data["grid_spec"] = self._grid(data, data["config_obj"])
        except (PydanticValidationError, ValueError) as exc:
            raise forms.ValidationError(_messages(exc)) from None
        return data

    def _source(self, data: dict[str, Any]) -> SourceSpec:
        start = data.get("start")
        return SourceSpec(
            kind=data["source"],
            underlying=data["underlying"],
            start=datetime.combine(start, time(0), tzinfo=UTC) if start else None,
            days=data["days"],
            seed=data["seed"],
        )

    def _config(self, data: dict[str, Any]) -> BacktestConfig:
        strategy = StrategyParams.research(
            delta_min=data["delta_min"],
            delta_max=data["delta_max"],
            dte_min_days=data["dte_min_days"],
            dte_max_days=data["dte_max_days"],
            ivrv_min=data["ivrv_min"],
            premium_min_usd=data["premium_min_usd"],
            explore_prob=data["explore_prob"],
            explore_top_k=data["explore_top_k"],
            max_spread_pct=data.get("max_spread_pct") or None,
            min_open_interest=data.get("min_open_interest") or 0.0,
        )
        return BacktestConfig.model_validate(
            {
                "underlying": data["underlying"],
                "strategy": strategy.model_dump(),
                "exit": {
                    "style": data["exit_style"],
                    "take_profit_pct": data["take_profit_pct"],
                    "stop_loss_pct": data.get("stop_loss_pct"),
                    "roll_dte_days": data["roll_dte_days"],
                },
                "fill": {"style": data["fill_style"], "haircut_pct": data["haircut_pct"]},
                "decision_interval_hours": data["decision_interval_hours"],
                "quantity_coin": data.get("quantity_coin") or 1.0,
                "initial_coin": data.get("initial_coin") or 1.0,
                "seed": data["seed"],
            }
        )

    def _grid(self, data: dict[str, Any], config: BacktestConfig) -> GridSpec | None:
        text = (data.get("grid_axes") or "").strip()
        if not text:
            return None
        try:
            axes = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"grid axes are not JSON: {exc}") from None
        cells, limit = grid_cell_count(axes), settings.GRID_MAX_CELLS
        if cells > limit:  # counted from the axes' lengths, before anything is expanded
            raise ValueError(f"{cells} combinations: at most {limit} per grid (GRID_MAX_CELLS)")
        spec = GridSpec(
            base=config,
            axes=axes,
            rank_by=data.get("rank_by") or "sharpe",
            holdout_frac=data.get("holdout_frac") or 0.0,
        )
        try:
            spec.combinations()
        except TypeError as exc:
            raise ValueError(f"bad axis value: {exc}") from None
        return spec

    def launch(self, *, user: Any) -> BacktestRun:
        """Queue the run (or grid) described by the valid form."""
        from backtests import services

        data = self.cleaned_data
        if data["grid_spec"] is not None:
            return services.grid_run_create(
                spec=data["grid_spec"], source=data["source_spec"], name=data["name"], user=user
            )
        return services.backtest_run_create(
            config=data["config_obj"], source=data["source_spec"], name=data["name"], user=user
        )


def _messages(exc: Exception) -> list[str]:
    if isinstance(exc, PydanticValidationError):
        return [
            f"{'.'.join(str(part) for part in error['loc']) or 'value'}: {error['msg']}"
            for error in exc.errors()
        ]
    return [str(exc)]


class StudyForm(forms.Form):
    """Launch a selector study from the tab: a funnel, or a heatmap of two parameters."""

    kind = forms.ChoiceField(
        choices=[("funnel", "Funnel"), ("heatmap", "Heatmap"), ("arena", "Policy arena")]
    )
    source = forms.ChoiceField(
        choices=[("synthetic", "synthetic"), ("snapshots", "real snapshots")], initial="synthetic"
    )
    underlying = forms.ChoiceField(choices=[("BTC", "BTC"), ("ETH", "ETH")], initial="BTC")
    days = forms.FloatField(initial=90, min_value=1, max_value=3 * 365)
    seed = forms.IntegerField(initial=42, min_value=0)
    x_param = forms.ChoiceField(choices=[(p, p) for p in HEATMAP_PARAMS], initial="delta_max")
    x_values = forms.CharField(initial="0.2, 0.3, 0.4, 0.5")
    y_param = forms.ChoiceField(choices=[(p, p) for p in HEATMAP_PARAMS], initial="ivrv_min")
    y_values = forms.CharField(initial="0.8, 1.0, 1.2")
    measure = forms.ChoiceField(choices=[(m, m) for m in HEATMAP_MEASURES], initial="pass_rate")

    def launch(self, *, user: Any) -> SelectorStudy:
        """Create and queue the study (raises ValueError on a bad heatmap request)."""
        from backtests.research_services import selector_study_create

        data = self.cleaned_data
        source = SourceSpec(
            kind=data["source"], underlying=data["underlying"], days=data["days"], seed=data["seed"]
        )
        params: dict[str, Any] = {}
        if data["kind"] == "heatmap":
            params = {
                "x_param": data["x_param"],
                "y_param": data["y_param"],
                "x_values": _numbers(data["x_values"]),
                "y_values": _numbers(data["y_values"]),
                "measure": data["measure"],
            }
        return selector_study_create(
            kind=data["kind"],
            source=source,
            config=BacktestConfig(underlying=data["underlying"]),
            params=params,
            user=user,
        )


def _numbers(text: str) -> list[float]:
    try:
        return [float(part) for part in text.replace(";", ",").split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"not a list of numbers: {text!r}") from None

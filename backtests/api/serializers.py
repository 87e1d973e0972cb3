"""Serializers of the backtests API; configurations are validated by the domain models."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from pydantic import ValidationError as PydanticValidationError
from rest_framework import serializers

from backtests.domain.grid import AXES, GridSpec, grid_cell_count
from backtests.domain.sources.spec import SourceSpec
from backtests.domain.types import BacktestConfig
from backtests.models import BacktestRun, SelectorStudy, SimulatedTrade, TrainingExport
from optionsdesk.api.fields import ClosedBodyMixin, ObjectField, StrictBooleanField, StrictCharField

STATUS_TEXT = "run status: " + ", ".join(BacktestRun.Status.values)


@extend_schema_field({"type": "string", "description": STATUS_TEXT})
class RunStatusField(serializers.CharField):
    """A run's status, documented inline (another app's `status` enum would share its name)."""


HEADLINE = ("num_trades", "net_profit_usd", "total_return_pct", "sharpe", "max_drawdown_pct")


class BacktestRunListSerializer(serializers.ModelSerializer[BacktestRun]):
    """A run in a list: identity, status and headline metrics."""

    status = RunStatusField(read_only=True)
    headline = serializers.SerializerMethodField()
    flag_codes = serializers.SerializerMethodField()

    class Meta:
        model = BacktestRun
        fields = (
            "id",
            "name",
            "kind",
            "status",
            "progress",
            "parent",
            "combo_index",
            "created_at",
            "finished_at",
            "headline",
            "flag_codes",
        )

    def get_headline(self, run: BacktestRun) -> dict[str, Any]:
        """The few metrics a runs table shows."""
        return {name: run.metrics.get(name) for name in HEADLINE}

    def get_flag_codes(self, run: BacktestRun) -> list[str]:
        """Codes of the report's warnings."""
        return [flag.get("code", "") for flag in run.flags]


class BacktestRunDetailSerializer(serializers.ModelSerializer[BacktestRun]):
    """Everything about a run: configuration, data provenance, results and assumptions."""

    status = RunStatusField(read_only=True)

    class Meta:
        model = BacktestRun
        fields = (
            "id",
            "name",
            "kind",
            "status",
            "progress",
            "parent",
            "combo_index",
            "config",
            "source",
            "grid",
            "provenance",
            "metrics",
            "flags",
            "assumptions",
            "equity_curve",
            "results",
            "stop_requested",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        )
        read_only_fields = fields


def _pydantic(model: Any, data: Any, field: str) -> Any:
    try:
        return model.model_validate(data or {})
    except PydanticValidationError as exc:
        raise serializers.ValidationError(
            {field: [f"{'.'.join(map(str, e['loc'])) or field}: {e['msg']}" for e in exc.errors()]}
        ) from None


def _inline_schema(model: Any) -> dict[str, Any]:
    """The pydantic model's JSON schema (validation mode) with its `$defs` inlined."""
    schema = model.model_json_schema(mode="validation")
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return resolve(defs[ref.rsplit("/", 1)[1]])
        out = {key: resolve(value) for key, value in node.items() if key != "title"}
        # JSON Schema 2020 (pydantic) to OpenAPI 3.0: exclusive bounds, null, const
        for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if isinstance(out.get(bound), int | float) and not isinstance(out[bound], bool):
                out[plain], out[bound] = out[bound], True
        options = out.get("anyOf")
        if isinstance(options, list) and {"type": "null"} in options:
            rest = [option for option in options if option != {"type": "null"}]
            out.pop("anyOf")
            out.update(rest[0] if len(rest) == 1 else {"anyOf": rest})
            out["nullable"] = True
        if "const" in out:
            out["enum"] = [out.pop("const")]
        return out

    return resolve(schema)


@extend_schema_field(_inline_schema(SourceSpec))
class SourceField(ObjectField):
    """The data source (`SourceSpec`), documented with its own schema."""


@extend_schema_field(_inline_schema(BacktestConfig))
class ConfigField(ObjectField):
    """The backtest configuration (`BacktestConfig`), documented with its own schema."""


@extend_schema_field(
    {
        "type": "object",
        "description": "a grid search over `config`: axes (name to the values it takes) and "
        "the metric to rank by; at most GRID_MAX_CELLS combinations",
        "properties": {
            "axes": {
                "type": "object",
                "properties": {name: {"type": "array", "minItems": 1} for name in AXES},
                "additionalProperties": False,
            },
            "rank_by": {"type": "string"},
            "holdout_frac": {"type": "number", "minimum": 0.0, "maximum": 0.5},
        },
        "additionalProperties": False,
    }
)
class GridField(ObjectField):
    """A grid search (`GridSpec` without its base, which is `config`)."""


class BacktestRunCreateSerializer(ClosedBodyMixin, serializers.Serializer[dict[str, Any]]):
    """Launch a run: `source` (SourceSpec), `config` (BacktestConfig), optional `grid`.

    With `grid` ({"axes": {...}, "rank_by": "sharpe", "holdout_frac": 0.3}) a grid search over
    `config` starts; a holdout ranks in-sample and shows each cell's out-of-sample figures.
    """

    name = StrictCharField(required=False, allow_blank=True, max_length=200)
    source = SourceField(required=False, default=dict)  # type: ignore[assignment]
    config = ConfigField(required=False, default=dict)
    grid = GridField(required=False, allow_null=True, default=None)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Validate with the domain models; keep the parsed objects.

        `source`, `config` and `grid` must be JSON objects; a grid's size is checked against
        `GRID_MAX_CELLS` from its axes' lengths alone, before anything is expanded.
        """
        for field in ("source", "config", "grid"):
            value = attrs.get(field)
            if value is not None and not isinstance(value, dict):
                raise serializers.ValidationError({field: ["must be a JSON object"]})
        source = _pydantic(SourceSpec, attrs.get("source"), "source")
        config_data = dict(attrs.get("config") or {})
        config_data.setdefault("underlying", source.underlying)
        config = _pydantic(BacktestConfig, config_data, "config")
        if config.underlying != source.underlying:
            raise serializers.ValidationError({"config": ["underlying differs from the source"]})
        grid = None
        if attrs.get("grid"):
            cells = grid_cell_count(attrs["grid"].get("axes"))
            if cells > settings.GRID_MAX_CELLS:
                raise serializers.ValidationError(
                    {"grid": [f"{cells} cells; at most {settings.GRID_MAX_CELLS} (GRID_MAX_CELLS)"]}
                )
            grid_data = dict(attrs["grid"]) | {"base": config.model_dump(mode="json")}
            grid = _pydantic(GridSpec, grid_data, "grid")
            try:
                grid.combinations()  # every combination must be a valid configuration
            except PydanticValidationError as exc:
                raise serializers.ValidationError(
                    {"grid": [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]}
                ) from None
            except (TypeError, ValueError) as exc:
                raise serializers.ValidationError({"grid": [f"bad axis value: {exc}"]}) from None
        return {"name": attrs.get("name", ""), "source": source, "config": config, "grid": grid}


class ResumeSerializer(serializers.Serializer[dict[str, Any]]):
    """Options of resuming a grid."""

    include_queued = StrictBooleanField(
        required=False,
        default=False,
        help_text="also re-send queued cells (only when the broker itself lost messages)",
    )


class SimulatedTradeSerializer(serializers.ModelSerializer[SimulatedTrade]):
    """One simulated short call."""

    class Meta:
        model = SimulatedTrade
        exclude = ("run",)


class TrainingExportSerializer(serializers.ModelSerializer[TrainingExport]):
    """A training-data file written from a run."""

    class Meta:
        model = TrainingExport
        fields = ("id", "run", "kind", "fmt", "path", "rows", "created_at")


class CompareRowSerializer(serializers.Serializer[dict[str, Any]]):
    """One metric across the compared runs."""

    metric = serializers.CharField()
    values = serializers.ListField(child=serializers.FloatField(allow_null=True))


class CompareSerializer(serializers.Serializer[dict[str, Any]]):
    """Runs compared side by side."""

    runs = BacktestRunListSerializer(many=True)
    rows = CompareRowSerializer(many=True)


class DiffSerializer(serializers.Serializer[dict[str, Any]]):
    """Configuration changes and metric deltas between two runs."""

    a = serializers.IntegerField()
    b = serializers.IntegerField()
    config_changes = serializers.ListField(child=serializers.DictField())
    metrics = serializers.ListField(child=serializers.DictField())


class SelectorStudySerializer(serializers.ModelSerializer[SelectorStudy]):
    """A stored study with its result (an environment heatmap's per-sample cells stay out:
    `regime` serves them by cell)."""

    status = RunStatusField(read_only=True)
    kind = serializers.CharField(read_only=True, help_text="funnel or heatmap")

    class Meta:
        model = SelectorStudy
        fields = (
            "id",
            "name",
            "kind",
            "status",
            "progress",
            "source",
            "config",
            "params",
            "result",
            "error",
            "created_at",
            "finished_at",
        )
        read_only_fields = fields

    def to_representation(self, instance: SelectorStudy) -> dict[str, Any]:
        """The study, less the per-sample cells of an environment heatmap (large)."""
        body = dict(super().to_representation(instance))
        if isinstance(body.get("result"), dict) and "cell_of_sample" in body["result"]:
            body["result"] = {k: v for k, v in body["result"].items() if k != "cell_of_sample"}
        return body


@extend_schema_field(
    {"type": "string", "enum": SelectorStudy.Kind.values, "description": "the study's kind"}
)
class StudyKindField(serializers.ChoiceField):
    """A study's kind, documented inline (other `kind` enums would share its name)."""


class SelectorStudyCreateSerializer(ClosedBodyMixin, serializers.Serializer[dict[str, Any]]):
    """Launch a study: `kind` (funnel or heatmap), `source`, `config` (the base selector) and,
    for a heatmap, `params` ({"x_param", "x_values", "y_param", "y_values", "measure"})."""

    name = StrictCharField(required=False, allow_blank=True, max_length=200)
    kind = StudyKindField(choices=SelectorStudy.Kind.values)
    source = ObjectField(required=False, default=dict)  # type: ignore[assignment]
    config = ObjectField(required=False, default=dict)
    params = ObjectField(required=False, default=dict)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Validate source and config with the domain models, heatmap params by the service."""
        from backtests.research_services import heatmap_params_validate

        source = _pydantic(SourceSpec, attrs.get("source"), "source")
        config = _pydantic(BacktestConfig, attrs.get("config"), "config")
        params = dict(attrs.get("params") or {})
        if attrs["kind"] == SelectorStudy.Kind.HEATMAP:
            try:
                params = heatmap_params_validate(params)
            except ValueError as exc:
                raise serializers.ValidationError({"params": [str(exc)]}) from None
        params = _lab_params(attrs["kind"], params)
        return {
            "name": attrs.get("name", ""),
            "kind": attrs["kind"],
            "source": source,
            "config": config,
            "params": params,
        }


def _lab_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """Params of an environment heatmap or a synthetic-vs-live comparison, checked by the
    service (a 400 on a bad request); other kinds' params pass through."""
    from backtests.lab_services import LAB_KINDS, lab_params_validate

    if kind not in LAB_KINDS:
        return params
    try:
        return lab_params_validate(kind, params)
    except ValueError as exc:
        raise serializers.ValidationError({"params": [str(exc)]}) from None


class RegimeDateSerializer(serializers.Serializer[dict[str, Any]]):
    """One UTC date in an environment cell: sampled times there and their mean outcome."""

    date = serializers.CharField()
    times = serializers.IntegerField()
    outcomes = serializers.IntegerField()
    mean_pnl_usd = serializers.FloatField(allow_null=True)

"""Serializers of the greg API (shapes for the schema and the responses)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from greg.domain.spec import SENSOR_NAMES
from greg.models import GregCalibration, GregDecision, GregPosition, GregPositionLog
from optionsdesk.api.fields import StrictCharField


class SensorVectorSerializer(serializers.Serializer[Any]):
    """The eleven sensors of one underlying (vol points, fractions, USD as the rules say)."""

    vrp_30d = serializers.FloatField()
    vrp_7d = serializers.FloatField()
    front_rv_iv_ratio = serializers.FloatField()
    chop_factor_7d = serializers.FloatField()
    iv_rank_6m = serializers.FloatField()
    term_structure_spread = serializers.FloatField()
    skew_25d = serializers.FloatField(help_text="25-delta put IV minus 25-delta call IV")
    adx_14d = serializers.FloatField()
    rsi_14d = serializers.FloatField()
    price_vs_ma200 = serializers.FloatField()
    predicted_funding_rate = serializers.FloatField()


assert tuple(SensorVectorSerializer().fields) == SENSOR_NAMES


class SelectorResultSerializer(serializers.Serializer[Any]):
    """What the waterfall chose for one vector."""

    strategy = serializers.CharField()
    step = serializers.IntegerField()
    reasoning = serializers.CharField()


class GregPositionSerializer(serializers.ModelSerializer[Any]):
    """A Greg position with its badge (SANDBOX, DEMO, LIVE) and the engine's latest review."""

    badge = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True, help_text="open or closed")

    class Meta:
        model = GregPosition
        fields = (
            "id", "underlying", "strategy", "strategy_id", "run_id", "sandbox", "origin",
            "environment", "badge", "status", "opened_at", "closed_at", "close_reason",
            "entry_index_price", "size_coin", "credit_usd", "max_loss_usd", "margin_usd", "legs",
            "hedge_usd", "pnl_usd", "review", "reviewed_at",
        )  # fmt: skip


class GregPositionLogSerializer(serializers.ModelSerializer[Any]):
    """One event of a position's timeline."""

    class Meta:
        model = GregPositionLog
        fields = ("id", "at", "kind", "message", "data")


class GregDecisionSerializer(serializers.ModelSerializer[Any]):
    """A greg_decision_log row (evaluation, suggestion or execution)."""

    kind = serializers.CharField(read_only=True, help_text="evaluation, suggestion or execution")

    class Meta:
        model = GregDecision
        fields = (
            "id", "kind", "created_at", "underlying", "strategy", "step", "rule_key", "reasoning",
            "engine_version", "calibration_version", "environment", "index_price", "sensors",
            "rules", "structures", "position", "action", "outcome", "details", "requests_count",
            "duration_ms",
        )  # fmt: skip


class GregCalibrationSerializer(serializers.ModelSerializer[Any]):
    """One calibration version."""

    class Meta:
        model = GregCalibration
        fields = ("version", "thresholds", "changes", "created_at", "created_by", "source", "note")


class CalibrationStateSerializer(serializers.Serializer[Any]):
    """The thresholds in force and the version history."""

    version = serializers.IntegerField()
    engine_version = serializers.CharField()
    thresholds = serializers.DictField(child=serializers.FloatField())
    history = GregCalibrationSerializer(many=True)


class CalibrationUpdateSerializer(serializers.Serializer[Any]):
    """Thresholds to change (name -> number) and an optional note."""

    thresholds = serializers.DictField(child=serializers.FloatField())
    note = StrictCharField(required=False, allow_blank=True, max_length=300)


class GregSettingsSerializer(serializers.Serializer[Any]):
    """Greg's mode, master switch, per-strategy flags and guardrails."""

    mode = serializers.ChoiceField(choices=("advice", "live"), required=False)
    master_switch = serializers.BooleanField(required=False)
    enabled_strategies = serializers.ListField(child=StrictCharField(), required=False)
    max_notional_usd_per_position = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False
    )
    max_notional_usd_per_underlying = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False
    )
    sandbox_size_coin = serializers.DictField(child=serializers.FloatField(), required=False)
    evaluation_enabled = serializers.BooleanField(required=False)


class ExecuteSerializer(serializers.Serializer[Any]):
    """The operator's confirmation and the dry-run state they saw."""

    confirm = serializers.BooleanField()
    expect_dry_run = serializers.BooleanField(required=False, allow_null=True, default=None)


class PositionActSerializer(serializers.Serializer[Any]):
    """Which suggested action to carry out, the confirmation and the dry-run state seen."""

    action = serializers.ChoiceField(choices=("CLOSE", "HEDGE"))
    confirm = serializers.BooleanField()
    expect_dry_run = serializers.BooleanField(required=False, allow_null=True, default=None)


class ExecuteResultSerializer(serializers.Serializer[Any]):
    """What an execute request did."""

    executed = serializers.BooleanField()
    refused = serializers.CharField()
    execution = GregDecisionSerializer()
    orders = serializers.ListField(child=serializers.DictField())
    position = serializers.IntegerField(allow_null=True)


class DecisionStatsSerializer(serializers.Serializer[Any]):
    """Counts per outcome and underlying, overall and per time bucket."""

    since = serializers.DateTimeField()
    bucket = serializers.CharField()
    outcomes = serializers.ListField(child=serializers.CharField())
    kinds = serializers.DictField(child=serializers.IntegerField())
    totals = serializers.ListField(child=serializers.DictField())
    series = serializers.ListField(child=serializers.DictField())

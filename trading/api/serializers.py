"""Serializers of the live agent's API (component names prefixed `Agent` to stay unique)."""

from __future__ import annotations

from typing import Any

from django.core.validators import BaseValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from optionsdesk.api.fields import OpenLowFloatField, StrictBooleanField, StrictCharField
from trading import models


class AgentOrderSerializer(serializers.ModelSerializer):
    """One order leg; Decimals as strings; `fills` are the exchange's trades (live orders)."""

    fills = serializers.SerializerMethodField(help_text="the exchange's trades of this order")

    def get_fills(self, order: models.Order) -> list[dict[str, Any]]:
        """Trade id, time (ms), price, amount, fee and liquidity of each fill."""
        keys = ("trade_id", "timestamp", "price", "amount", "fee", "fee_currency", "liquidity")
        return [{k: t.get(k) for k in keys} for t in (order.raw or {}).get("trades") or []]

    class Meta:
        model = models.Order
        fields = (
            "id",
            "label",
            "decision",
            "leg_index",
            "environment",
            "dry_run",
            "strategy_id",
            "instrument_name",
            "direction",
            "amount",
            "limit_price",
            "state",
            "exchange_order_id",
            "filled_amount",
            "average_price",
            "fee_coin",
            "fee_source",
            "fills",
            "created_at",
            "sent_at",
            "resolved_at",
            "error_code",
            "error",
        )


class AgentDecisionSerializer(serializers.ModelSerializer):
    """A decision with its orders (the state snapshot only on the detail view)."""

    orders = AgentOrderSerializer(many=True, read_only=True)

    class Meta:
        model = models.Decision
        fields: tuple[str, ...] = (
            "id",
            "decided_at",
            "market_time",
            "environment",
            "mode",
            "policy_version",
            "params_hash",
            "decision_mode",
            "decision_source",
            "dry_run",
            "action",
            "underlying",
            "explored",
            "explore_rank",
            "reason",
            "verdict_code",
            "risk_verdict",
            "proposal",
            "shadow_proposal",
            "chosen_candidate",
            "executed",
            "orders",
        )


class AgentDecisionDetailSerializer(AgentDecisionSerializer):
    """A decision with everything it saw (state snapshot, candidates)."""

    class Meta(AgentDecisionSerializer.Meta):
        fields = (*AgentDecisionSerializer.Meta.fields, "state_snapshot", "candidates")


class AgentPositionSerializer(serializers.ModelSerializer):
    """A tracked position."""

    status = serializers.CharField(read_only=True, help_text="open or closed")

    class Meta:
        model = models.Position
        fields = (
            "id",
            "instrument_name",
            "currency",
            "strategy_id",
            "sandbox",
            "paper",
            "origin",
            "size",
            "average_price_coin",
            "status",
            "flagged",
            "note",
            "opened_at",
            "closed_at",
            "delivery_price_usd",
            "settled_coin",
            "realised_coin",
            "fees_coin",
        )


class AgentPaperBookSerializer(serializers.Serializer):
    """The paper book's fate when going live: keep it apart or archive it at its marks."""

    choice = serializers.ChoiceField(choices=["keep", "archive"])
    archived = serializers.IntegerField(read_only=True, help_text="positions archived now")
    open = serializers.IntegerField(read_only=True, help_text="paper positions still open")


class AgentPositionActionSerializer(serializers.Serializer):
    """What a close-now or roll-now did: a sentence and the orders the gate persisted."""

    message = serializers.CharField()
    orders = AgentOrderSerializer(many=True)


class AgentControlValueSerializer(serializers.Serializer):
    """A control's effective value (what the next tick uses) and where it comes from."""

    value = serializers.JSONField(allow_null=True)
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=["default", "setting", "override"],
        help_text="the mode's default, the deployment's setting, or the operator's override",
    )


class AgentControlsSerializer(serializers.ModelSerializer):
    """The runtime controls; PATCH any subset but the kill switch (validated, audited).

    `version` is bumped by every change (also sent as the ETag); `effective` holds each
    control's effective value and its source.
    """

    effective = serializers.SerializerMethodField()

    class Meta:
        model = models.RuntimeControl
        fields = (
            *models.RuntimeControl.EDITABLE_FIELDS,
            "updated_at",
            "updated_by",
            "version",
            "effective",
        )
        read_only_fields = ("updated_at", "updated_by", "version", "kill_switch")

    def build_standard_field(self, field_name: str, model_field: Any) -> tuple[Any, Any]:
        """A control whose range is open at its low end (e.g. a spread above 0) gets a field
        that refuses the bound and declares it (`exclusiveMinimum`)."""
        from trading.domain.controls import SPECS_BY_NAME

        field_class, kwargs = super().build_standard_field(field_name, model_field)
        spec = SPECS_BY_NAME.get(field_name)
        if spec is not None and spec.low_open and field_class is serializers.FloatField:
            field_class = OpenLowFloatField
        return field_class, kwargs

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from trading.domain.controls import SPECS_BY_NAME

        for name, spec in SPECS_BY_NAME.items():
            field = self.fields.get(name)
            if field is not None:
                sentence = spec.range_sentence() + "."
                for key in ("invalid", "min_value", "max_value", "max_string_length"):
                    field.error_messages[key] = sentence
                for validator in field.validators:
                    if isinstance(validator, BaseValidator):  # DRF built them with its text
                        validator.message = sentence

    @extend_schema_field(
        serializers.DictField(child=AgentControlValueSerializer(), help_text="per control")
    )
    def get_effective(self, control: models.RuntimeControl) -> dict[str, Any]:
        """Each control's effective value and source (empty when the controls are invalid)."""
        from pydantic import ValidationError

        from trading.services.controls import controls_effective

        try:
            rows = controls_effective(control)
        except ValidationError:
            return {}
        return {r.spec.name: {"value": r.value, "source": r.source.value} for r in rows}


class AgentKillSwitchSerializer(serializers.Serializer):
    """POST body of the kill switch: on or off, and why (audited)."""

    on = StrictBooleanField(help_text="true stops every order; false releases it")
    reason = StrictCharField(required=False, allow_blank=True, max_length=300)


class AgentDrawdownResetSerializer(serializers.Serializer):
    """POST body of a drawdown-stop release: why it may be released (audited)."""

    reason = StrictCharField(max_length=300, help_text="why the stop may be released")


class AgentHealthCheckSerializer(serializers.ModelSerializer):
    """One stored health-check result."""

    class Meta:
        model = models.HealthCheck
        fields = ("name", "severity", "detail", "checked_at", "kind")


class AgentHealthSerializer(serializers.Serializer):
    """The guard's state and the latest checks."""

    guard = serializers.DictField()
    trading_allowed = serializers.BooleanField()
    checks = AgentHealthCheckSerializer(many=True)


class AgentDiscrepancySerializer(serializers.ModelSerializer):
    """A difference found by reconciliation."""

    kind = serializers.CharField(
        read_only=True, help_text="missing_on_exchange, unknown_on_exchange or size_mismatch"
    )

    class Meta:
        model = models.ReconciliationDiscrepancy
        fields = ("instrument_name", "kind", "local_size", "exchange_size", "action_taken")


class AgentReconciliationSerializer(serializers.ModelSerializer):
    """A reconciliation run with its discrepancies."""

    items = AgentDiscrepancySerializer(many=True, read_only=True)
    action = serializers.CharField(read_only=True, help_text="report, adopt, flag or close")

    class Meta:
        model = models.ReconciliationRun
        fields = (
            "id",
            "started_at",
            "finished_at",
            "trigger",
            "action",
            "status",
            "summary",
            "items",
        )


class AgentReconcileRequestSerializer(serializers.Serializer):
    """POST body of a reconciliation: the action (default: the runtime control)."""

    action = serializers.ChoiceField(
        choices=models.ReconcileAction.choices,
        required=False,
        help_text="report, adopt, flag or close; close sends orders through the order gate",
    )


def _coin(help_text: str, **kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=30, decimal_places=10, help_text=help_text, **kwargs)


def _usd(help_text: str) -> serializers.FloatField:
    return serializers.FloatField(allow_null=True, help_text=f"{help_text}, USD at the index")


class PnlBookSerializer(serializers.Serializer):
    """One underlying's book (paper: dry-run fills; real: sent to the exchange)."""

    currency = serializers.CharField()
    book = serializers.ChoiceField(choices=["paper", "real"])
    sold_coin = _coin("premium received for calls sold")
    sells = serializers.IntegerField(help_text="sell legs filled")
    bought_coin = _coin("paid to buy calls back")
    buys = serializers.IntegerField(help_text="buy-back legs filled")
    settled_coin = _coin("received (+) or paid (-) at expiries (and archived paper calls)")
    expired = serializers.IntegerField(help_text="positions closed by expiry or archived")
    fees_coin = _coin("trading fees paid on fills")
    open_positions = serializers.IntegerField()
    open_premium_coin = _coin("premium held for open calls (size x average price)")
    net_coin = _coin("sold - bought + settled, before fees")
    cash_coin = _coin("net - fees")
    realised_coin = _coin("closed calls, every fee paid")
    unrealised_mark_coin = _coin("open calls at the last mark", allow_null=True)
    unrealised_buyback_coin = _coin("open calls at the best ask (buy back now)", allow_null=True)
    total_mark_coin = _coin("realised + unrealised at mark", allow_null=True)
    total_buyback_coin = _coin("realised + unrealised at the buy-back price", allow_null=True)
    marked = serializers.BooleanField(help_text="every open call had a mark (else null figures)")
    net_usd = _usd("net")
    realised_usd = _usd("realised")
    unrealised_mark_usd = _usd("unrealised at mark")
    unrealised_buyback_usd = _usd("unrealised at the buy-back price")
    total_mark_usd = _usd("total at mark")
    total_buyback_usd = _usd("total at the buy-back price")
    fees_usd = _usd("fees")


class PnlSubtotalSerializer(serializers.Serializer):
    """One book (real or paper) across underlyings, in USD."""

    book = serializers.ChoiceField(choices=["paper", "real"])
    underlyings = serializers.IntegerField()
    realised_usd = serializers.FloatField(allow_null=True)
    unrealised_mark_usd = serializers.FloatField(allow_null=True)
    unrealised_buyback_usd = serializers.FloatField(allow_null=True)
    total_mark_usd = serializers.FloatField(allow_null=True)
    total_buyback_usd = serializers.FloatField(allow_null=True)
    fees_usd = serializers.FloatField(allow_null=True)


class AgentPnlSerializer(serializers.Serializer):
    """P&L per underlying and book, fees included, open calls marked to market."""

    index_price_usd = serializers.DictField(child=serializers.FloatField())
    books = PnlBookSerializer(many=True)
    subtotals = PnlSubtotalSerializer(many=True)
    basis = serializers.CharField()


class AgentComparisonRowSerializer(serializers.Serializer):
    """One tick that consulted the LLM: each source's action and instruments, and the outcome."""

    decision_id = serializers.IntegerField()
    decided_at = serializers.DateTimeField()
    decision_mode = serializers.CharField()
    acted = serializers.ChoiceField(choices=["rules", "llm"], help_text="whose proposal acted")
    rule_action = serializers.CharField(allow_null=True)
    rule_instruments = serializers.ListField(child=serializers.CharField())
    llm_action = serializers.CharField(allow_null=True, help_text="null: the LLM gave none")
    llm_instruments = serializers.ListField(child=serializers.CharField())
    agree = serializers.BooleanField(
        allow_null=True, help_text="same action on the same instrument(s); null: nothing to compare"
    )
    llm_status = serializers.CharField(
        help_text="ok, invalid, refused, truncated, timeout, unavailable or error"
    )
    llm_failed = serializers.BooleanField()
    total_tokens = serializers.IntegerField(allow_null=True)
    latency_ms = serializers.FloatField(allow_null=True)
    verdict_code = serializers.CharField()
    executed = serializers.BooleanField()


class AgentComparisonSummarySerializer(serializers.Serializer):
    """Totals over the compared ticks; rates and means are null when nothing was measured."""

    ticks = serializers.IntegerField(help_text="decisions that consulted the LLM")
    compared = serializers.IntegerField(help_text="ticks the LLM answered (status ok)")
    agreements = serializers.IntegerField()
    agreement_rate = serializers.FloatField(allow_null=True, help_text="agreements / compared")
    acted = serializers.DictField(child=serializers.IntegerField())
    llm_statuses = serializers.DictField(child=serializers.IntegerField())
    actions = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField()),
        help_text='{"rules": {action: count}, "llm": {action: count}}',
    )
    llm_do_nothing_by_choice = serializers.IntegerField()
    llm_do_nothing_by_failure = serializers.IntegerField()
    llm_without_proposal = serializers.IntegerField()
    mean_tokens = serializers.FloatField(allow_null=True)
    median_latency_ms = serializers.FloatField(allow_null=True)
    since = serializers.DateTimeField(allow_null=True)
    until = serializers.DateTimeField(allow_null=True)


class AgentComparisonSerializer(serializers.Serializer):
    """Rules vs LLM over the newest `limit` decisions that consulted the LLM (newest first)."""

    limit = serializers.IntegerField()
    summary = AgentComparisonSummarySerializer()
    rows = AgentComparisonRowSerializer(many=True)

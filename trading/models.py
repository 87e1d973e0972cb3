"""The live agent's system of record: controls, runs, decisions, orders, positions, health,
and the conversations held with it.

The database is the source of truth across crashes and restarts: an order row (with its unique
label) is written before the request leaves, positions are restored from here, and every tick
leaves a Decision row whose canonical JSONL line is exported after commit.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.deconstruct import deconstructible

from optionsdesk.models import AuditedChange, SingletonRow
from trading.domain.controls import SPECS_BY_NAME
from trading.domain.params import AgentMode, DecisionMode, RuntimeOverrides
from trading.domain.proposal import ActionType, DecisionSource
from trading.domain.risk.verdict import VerdictCode


@deconstructible
class ControlRangeValidator:
    """A control's range with its "off" value (`ControlSpec.off_value`), as one validator."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, value: Any) -> None:
        sentence = SPECS_BY_NAME[self.name].check(value)
        if sentence:
            raise ValidationError(sentence, code="range")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ControlRangeValidator) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)


def _bounds(name: str) -> list[Any]:
    """The model validators of a control's range (`trading.domain.controls.CONTROL_SPECS`)."""
    spec = SPECS_BY_NAME[name]
    if spec.off_value is not None:
        return [ControlRangeValidator(name)]
    validators: list[Any] = []
    if spec.low is not None:
        validators.append(MinValueValidator(spec.low, message=spec.range_sentence()))
    if spec.high is not None:
        validators.append(MaxValueValidator(spec.high, message=spec.range_sentence()))
    return validators


def enum_choices(enum: type[StrEnum]) -> list[tuple[str, str]]:
    """A field's choices from a domain enum (one list of values, NetBox's ChoiceSet idea)."""
    return [(member.value, member.value) for member in enum]


class ReconcileAction(models.TextChoices):
    """What reconciliation does with a discrepancy between our books and the exchange."""

    REPORT = "report", "report only"
    ADOPT = "adopt", "adopt the exchange's view"
    FLAG = "flag", "flag for a human"
    CLOSE = "close", "close the unknown exposure"


class RuntimeControl(SingletonRow):
    """The operator's live controls (one row, pk=1); a tick reads them fresh.

    Empty fields mean "use the configured default" (`trading.domain.params.RuntimeOverrides`).
    Every change is audited in `RuntimeControlChange`.
    """

    OVERRIDE_FIELDS = (
        "mode",
        "decision_mode",
        "dry_run",
        "kill_switch",
        "daily_drawdown_limit_pct",
        "liquidity_max_spread_pct",
        "liquidity_min_open_interest",
        "liquidity_min_depth_multiple",
        "delta_min",
        "delta_max",
        "dte_min_days",
        "dte_max_days",
        "ivrv_min",
        "explore_prob",
        "explore_top_k",
        "premium_min_usd",
        "take_profit_frac",
        "loop_interval_s",
        "max_scenario_loss_pct",
        "max_vega_usd",
    )
    #: The health guard's controls: empty means the deployment's setting (HEALTH_CHECK_ON_STARTUP,
    #: AUTO_KILL_ON_HEALTH_FAIL, HEALTH_RECHECK_INTERVAL_S); `trading.services.controls`.
    GUARD_FIELDS = (
        "health_check_on_startup",
        "auto_kill_on_health_fail",
        "health_recheck_interval_s",
    )
    EDITABLE_FIELDS = (*OVERRIDE_FIELDS, "reconcile_enabled", "reconcile_action", *GUARD_FIELDS)

    kill_switch = models.BooleanField(default=False, help_text="refuse every new call")
    daily_drawdown_limit_pct = models.FloatField(
        null=True, blank=True, validators=_bounds("daily_drawdown_limit_pct")
    )
    mode = models.CharField(max_length=16, blank=True, default="", choices=enum_choices(AgentMode))
    decision_mode = models.CharField(
        max_length=16, blank=True, default="", choices=enum_choices(DecisionMode)
    )
    dry_run = models.BooleanField(null=True, blank=True, help_text="empty: settings DRY_RUN")
    liquidity_max_spread_pct = models.FloatField(
        null=True, blank=True, validators=_bounds("liquidity_max_spread_pct")
    )
    liquidity_min_open_interest = models.FloatField(
        null=True, blank=True, validators=_bounds("liquidity_min_open_interest")
    )
    liquidity_min_depth_multiple = models.FloatField(
        null=True, blank=True, validators=_bounds("liquidity_min_depth_multiple")
    )
    delta_min = models.FloatField(null=True, blank=True, validators=_bounds("delta_min"))
    delta_max = models.FloatField(null=True, blank=True, validators=_bounds("delta_max"))
    dte_min_days = models.FloatField(null=True, blank=True, validators=_bounds("dte_min_days"))
    dte_max_days = models.FloatField(null=True, blank=True, validators=_bounds("dte_max_days"))
    ivrv_min = models.FloatField(null=True, blank=True, validators=_bounds("ivrv_min"))
    explore_prob = models.FloatField(null=True, blank=True, validators=_bounds("explore_prob"))
    explore_top_k = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=_bounds("explore_top_k")
    )
    premium_min_usd = models.FloatField(
        null=True, blank=True, validators=_bounds("premium_min_usd")
    )
    take_profit_frac = models.FloatField(
        null=True, blank=True, validators=_bounds("take_profit_frac")
    )
    loop_interval_s = models.PositiveIntegerField(
        null=True, blank=True, validators=_bounds("loop_interval_s")
    )
    max_scenario_loss_pct = models.FloatField(
        null=True,
        blank=True,
        help_text="worst scenario loss after an order, % of equity; 0 off",
        validators=_bounds("max_scenario_loss_pct"),
    )
    max_vega_usd = models.FloatField(
        null=True,
        blank=True,
        help_text="|book vega| after an order, USD per vol point; 0 off",
        validators=_bounds("max_vega_usd"),
    )
    reconcile_enabled = models.BooleanField(default=True)
    health_check_on_startup = models.BooleanField(
        null=True, blank=True, help_text="empty: settings HEALTH_CHECK_ON_STARTUP"
    )
    auto_kill_on_health_fail = models.BooleanField(
        null=True,
        blank=True,
        help_text="pause on a failed healthcheck; empty: settings AUTO_KILL_ON_HEALTH_FAIL",
    )
    health_recheck_interval_s = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="0 stops re-checks; empty: settings HEALTH_RECHECK_INTERVAL_S",
        validators=_bounds("health_recheck_interval_s"),
    )
    reconcile_action = models.CharField(
        max_length=8, choices=ReconcileAction.choices, default=ReconcileAction.REPORT
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150, blank=True, default="")
    version = models.PositiveIntegerField(
        default=0, help_text="bumped by every change: a save based on an older version is refused"
    )

    class Meta:
        verbose_name = "runtime controls"
        verbose_name_plural = "runtime controls"

    def __str__(self) -> str:
        return f"Runtime controls (kill switch {'ON' if self.kill_switch else 'off'})"

    def to_overrides(self) -> RuntimeOverrides:
        """The domain's view of these controls (blank fields are "not overridden")."""
        values: dict[str, Any] = {}
        for name in self.OVERRIDE_FIELDS:
            value = getattr(self, name)
            if value is None or value == "":
                continue
            values[name] = value
        if not self.kill_switch:
            values.pop("kill_switch", None)
        return RuntimeOverrides(**values)

    def snapshot(self) -> dict[str, Any]:
        """Editable fields as a plain dict (audit trail, API)."""
        return {name: getattr(self, name) for name in self.EDITABLE_FIELDS}


class RuntimeControlChange(AuditedChange):
    """One audited edit of the runtime controls (or a drawdown stop's release), with a note."""

    note = models.CharField(max_length=300, blank=True, default="")


class AgentStatus(SingletonRow):
    """The agent's persisted state between ticks (one row, pk=1): guard, drawdown, lock, back-off.

    Read and written only through `trading.services.agent_status` (load/save pairs).

    The tick lock lives here (not in a per-process cache) so a worker, beat and `runagent`
    on other processes exclude each other; it expires on its own so a killed worker never
    blocks the agent for longer than `lock_until`.
    """

    guard_state = models.JSONField(null=True, blank=True)
    drawdown_state = models.JSONField(null=True, blank=True)
    lock_owner = models.CharField(max_length=64, blank=True, default="")
    lock_until = models.DateTimeField(null=True, blank=True)
    backoff_until = models.DateTimeField(null=True, blank=True)
    backoff_reason = models.CharField(max_length=300, blank=True, default="")
    consecutive_errors = models.PositiveIntegerField(default=0)
    last_tick_at = models.DateTimeField(null=True, blank=True)
    last_summary = models.JSONField(default=dict, blank=True)
    startup_state = models.JSONField(
        null=True, blank=True, help_text="the last start-up check (trading.services.agent_status)"
    )
    risk_report = models.JSONField(
        null=True, blank=True, help_text="the last tick's portfolio greeks and scenario grid"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "agent status"
        verbose_name_plural = "agent status"

    def __str__(self) -> str:
        guard = (self.guard_state or {}).get("status", "running")
        return f"Agent status: {guard}"


class AgentRun(models.Model):
    """One tick (or attempted tick): when, why it ran, how it ended, how many requests it took."""

    class Status(models.TextChoices):
        RUNNING = "running"
        OK = "ok"
        SKIPPED = "skipped"
        BACKOFF = "backoff"
        PAUSED = "paused"
        FAILED = "failed"

    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=16, default="beat")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    summary = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    requests_count = models.PositiveIntegerField(default=0)
    duration_ms = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ("-started_at", "-id")

    def __str__(self) -> str:
        return f"run {self.pk} {self.status} at {self.started_at:%Y-%m-%d %H:%M:%S}"


class Decision(models.Model):
    """What the agent saw, chose and was allowed to do at one tick (one row per tick).

    `log_line` is the canonical JSONL record (`trading.domain.decision_log`); it is exported to
    the daily file after commit and `exported_at` says when.
    """

    run = models.ForeignKey(AgentRun, on_delete=models.SET_NULL, null=True, related_name="+")
    decided_at = models.DateTimeField(default=timezone.now, db_index=True)
    market_time = models.DateTimeField(help_text="exchange time of the snapshot (UTC)")
    environment = models.CharField(max_length=8)
    mode = models.CharField(max_length=16)
    policy_version = models.CharField(max_length=64)
    params_hash = models.CharField(max_length=12)
    decision_mode = models.CharField(max_length=16, choices=enum_choices(DecisionMode))
    decision_source = models.CharField(max_length=16, choices=enum_choices(DecisionSource))
    dry_run = models.BooleanField()
    action = models.CharField(max_length=24, db_index=True, choices=enum_choices(ActionType))
    underlying = models.CharField(max_length=8, blank=True, default="")
    explored = models.BooleanField(default=False)
    explore_rank = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True, default="")
    verdict_code = models.CharField(max_length=16, db_index=True, choices=enum_choices(VerdictCode))
    risk_verdict = models.JSONField(null=True, blank=True)
    proposal = models.JSONField(default=dict)
    shadow_proposal = models.JSONField(null=True, blank=True)
    llm_record = models.JSONField(
        null=True,
        blank=True,
        help_text="the LLM policy's outcome this tick (status, issues, redacted calls); "
        "null when the decision mode did not ask the LLM",
    )
    state_snapshot = models.JSONField(default=dict)
    candidates = models.JSONField(default=dict)
    chosen_candidate = models.JSONField(null=True, blank=True)
    executed = models.BooleanField(default=False)
    log_line = models.TextField(blank=True, default="")
    exported_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ("-decided_at", "-id")
        # The list's order (newest first, ties by id) read straight from an index.
        indexes = [models.Index(fields=["-decided_at", "-id"], name="decision_newest")]

    def __str__(self) -> str:
        return f"{self.decided_at:%Y-%m-%d %H:%M:%S} {self.action} ({self.verdict_code})"


class Order(models.Model):
    """One order leg. The row and its unique `label` exist before the request is sent.

    `sent_at` is set by an atomic claim (pending -> sending) so an order is sent at most once,
    whatever retries, redeliveries or racing workers do; an unknown outcome is resolved by label.
    """

    class State(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        UNKNOWN = "unknown"
        OPEN = "open"
        FILLED = "filled"
        CANCELLED = "cancelled"
        CANCELLED_PARTIAL = "cancelled_partial"
        REJECTED = "rejected"
        REJECTED_UNKNOWN = "rejected_unknown"
        SIMULATED = "simulated"
        SKIPPED = "skipped"

    FINAL_STATES = (
        State.FILLED,
        State.CANCELLED,
        State.CANCELLED_PARTIAL,
        State.REJECTED,
        State.REJECTED_UNKNOWN,
        State.SIMULATED,
        State.SKIPPED,
    )

    label = models.CharField(max_length=64, unique=True)
    decision = models.ForeignKey(
        Decision, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    leg_index = models.PositiveSmallIntegerField(default=0)
    environment = models.CharField(max_length=8)
    dry_run = models.BooleanField()
    strategy_id = models.CharField(max_length=32, default="covered_call")
    origin = models.CharField(
        max_length=20, default="tick", help_text="the path that asked (trading.services.order_gate)"
    )
    requested_by = models.CharField(max_length=150, blank=True, default="")
    instrument_name = models.CharField(max_length=64, db_index=True)
    currency = models.CharField(max_length=8)
    direction = models.CharField(max_length=4, choices=[("buy", "buy"), ("sell", "sell")])
    amount = models.DecimalField(max_digits=24, decimal_places=8)
    limit_price = models.DecimalField(
        max_digits=24, decimal_places=10, help_text="coin per contract (0 for a market order)"
    )
    order_type = models.CharField(
        max_length=8, default="limit", choices=[("limit", "limit"), ("market", "market")]
    )
    reduce_only = models.BooleanField(default=False)
    time_in_force = models.CharField(max_length=24, default="immediate_or_cancel")
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    exchange_order_id = models.CharField(max_length=64, blank=True, default="")
    filled_amount = models.DecimalField(max_digits=24, decimal_places=8, default=Decimal(0))
    average_price = models.DecimalField(max_digits=24, decimal_places=10, default=Decimal(0))
    fills_applied = models.DecimalField(
        max_digits=24,
        decimal_places=8,
        default=Decimal(0),
        help_text="part of the fill already booked to positions",
    )
    fee_coin = models.DecimalField(
        max_digits=24,
        decimal_places=10,
        default=Decimal(0),
        help_text="trading fee paid on the filled part, in the coin (negative: a rebate)",
    )
    fee_source = models.CharField(
        max_length=8,
        blank=True,
        default="",
        choices=[("exchange", "the exchange's trades"), ("model", "Deribit's fee schedule")],
        help_text="where fee_coin comes from (empty: nothing filled)",
    )
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolve_attempts = models.PositiveSmallIntegerField(default=0)
    error_code = models.IntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    raw = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["-created_at", "-id"], name="order_newest")]

    def __str__(self) -> str:
        return f"{self.label} {self.direction} {self.amount} {self.instrument_name} [{self.state}]"

    @property
    def is_final(self) -> bool:
        """True once nothing more can happen to this order."""
        return self.state in self.FINAL_STATES


class Position(models.Model):
    """A position we track (our strategies' calls, adopted or sandbox ones); restored on restart.

    `size` is signed coins as Deribit reports it (negative = short). `paper` positions come
    from dry-run fills and never exist on the exchange. An `archived` paper position was set
    aside by the operator when going live: no longer marked, managed or counted in the books.
    """

    class Status(models.TextChoices):
        OPEN = "open"
        CLOSED = "closed"
        ARCHIVED = "archived"

    instrument_name = models.CharField(max_length=64, db_index=True)
    currency = models.CharField(max_length=8)
    strategy_id = models.CharField(max_length=32, default="covered_call")
    sandbox = models.BooleanField(default=False)
    paper = models.BooleanField(default=False, help_text="dry-run position (not on the exchange)")
    origin = models.CharField(max_length=16, default="agent")
    size = models.DecimalField(max_digits=24, decimal_places=8, default=Decimal(0))
    average_price_coin = models.DecimalField(max_digits=24, decimal_places=10, default=Decimal(0))
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    flagged = models.BooleanField(default=False)
    note = models.CharField(max_length=300, blank=True, default="")
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    delivery_price_usd = models.DecimalField(
        max_digits=24,
        decimal_places=8,
        null=True,
        blank=True,
        help_text="the index delivery price it expired at (set when it expired)",
    )
    settled_coin = models.DecimalField(
        max_digits=24,
        decimal_places=10,
        null=True,
        blank=True,
        help_text="coin received (+) or paid (-) at delivery, delivery fee included",
    )
    realised_coin = models.DecimalField(
        max_digits=24,
        decimal_places=10,
        default=Decimal(0),
        help_text="P&L of the part closed by fills (coin, before fees; expiry is settled_coin)",
    )
    fees_coin = models.DecimalField(
        max_digits=24,
        decimal_places=10,
        default=Decimal(0),
        help_text="trading fees paid on this position's fills (coin)",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-opened_at", "-id")
        indexes = [
            models.Index(fields=["status", "-opened_at", "-id"], name="position_status_newest")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=("instrument_name", "strategy_id", "sandbox", "paper"),
                condition=models.Q(status="open"),
                name="one_open_position_per_book",
            )
        ]

    def __str__(self) -> str:
        tags = "".join(t for t, on in ((" paper", self.paper), (" sandbox", self.sandbox)) if on)
        return f"{self.size} {self.instrument_name} [{self.strategy_id}{tags}] {self.status}"


class ReconciliationRun(models.Model):
    """One comparison of our positions with the exchange's, and what was done about it."""

    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=16, default="beat")
    action = models.CharField(max_length=8, choices=ReconcileAction.choices)
    status = models.CharField(max_length=8, default="running")
    summary = models.TextField(blank=True, default="")

    class Meta:
        ordering = ("-started_at", "-id")

    def __str__(self) -> str:
        return f"reconciliation {self.pk} ({self.action}) {self.status}"


class ReconciliationDiscrepancy(models.Model):
    """A difference found by reconciliation: local size vs exchange size for one instrument."""

    class Kind(models.TextChoices):
        MISSING_ON_EXCHANGE = "missing_on_exchange"
        UNKNOWN_ON_EXCHANGE = "unknown_on_exchange"
        SIZE_MISMATCH = "size_mismatch"

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="items")
    instrument_name = models.CharField(max_length=64)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    local_size = models.DecimalField(max_digits=24, decimal_places=8)
    exchange_size = models.DecimalField(max_digits=24, decimal_places=8)
    action_taken = models.CharField(max_length=300, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.instrument_name}: {self.kind} ({self.local_size} vs {self.exchange_size})"


class HealthCheck(models.Model):
    """One agent health-check result (config, exchange, auth, data, LLM, risk settings)."""

    batch = models.CharField(max_length=32, db_index=True)
    checked_at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=16, default="recheck", help_text="startup/recheck/manual")
    name = models.CharField(max_length=64)
    severity = models.CharField(max_length=10)
    detail = models.TextField(blank=True, default="")

    class Meta:
        ordering = ("-checked_at", "name")

    def __str__(self) -> str:
        return f"{self.checked_at:%Y-%m-%d %H:%M} {self.name}: {self.severity}"


class Conversation(models.Model):
    """A chat with the agent: one thread of questions and answers, from one channel."""

    class Channel(models.TextChoices):
        WEB = "web"
        API = "api"
        CLI = "cli"
        TELEGRAM = "telegram"

    title = models.CharField(max_length=120, blank=True, default="")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="agent_conversations",
    )
    channel = models.CharField(max_length=12, choices=Channel.choices, default=Channel.WEB)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-updated_at", "-id")

    def __str__(self) -> str:
        return f"#{self.pk} {self.title or '(untitled)'} [{self.channel}]"


class ChatMessage(models.Model):
    """One message of a conversation: the user's question or the agent's answer.

    An answer records how it was made (`answer_kind`: the LLM, or a labelled template when no
    LLM answered), the read-only tool calls behind it with their (redacted) results, the
    decisions it drew on (`sources`), and the LLM's usage. `reply_to` makes answering
    idempotent: a question gets at most one answer.
    """

    class Role(models.TextChoices):
        USER = "user"
        ASSISTANT = "assistant"

    class AnswerKind(models.TextChoices):
        LLM = "llm"
        TEMPLATE = "template"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField()
    reply_to = models.OneToOneField(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="answer"
    )
    answer_kind = models.CharField(
        max_length=10, choices=AnswerKind.choices, blank=True, default=""
    )
    tool_calls = models.JSONField(
        default=list, blank=True, help_text="[{name, arguments, ok, result}] (redacted)"
    )
    sources = models.JSONField(
        default=list, blank=True, help_text="ids of the decisions the answer drew on"
    )
    model = models.CharField(max_length=100, blank=True, default="")
    total_tokens = models.PositiveIntegerField(default=0)
    latency_ms = models.FloatField(default=0.0)
    llm_error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ("created_at", "id")

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:60]}"

"""Agent modes, their parameters, and the effective parameters one tick runs with.

Why one resolver: every decision must record exactly which numbers produced it (`mode`,
`policy_version`, the effective ranges and limits) so that a decision log line can be replayed
and compared. Parameters come from three layers, later layers winning:

1. the seed defaults of the mode (`research`: wide ranges, exploration on; `production`: strict,
   no exploration),
2. the deployment's configured base (`AgentDefaults`, e.g. from environment settings),
3. the operator's runtime overrides (`RuntimeOverrides`, the one audited controls row).

`resolve_effective_params` is called once per tick; the result is frozen and carries a short
hash of itself so two decisions made with identical parameters can be grouped exactly.

Two safety rules hold whatever the overrides say: mainnet always runs in `production` mode, and
`production` never explores. Each time a rule overrides a request, the result says so in
`adjustments`.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from trading.domain.candidates import StrategyParams


class AgentMode(StrEnum):
    """How the agent selects calls: `research` explores wide ranges, `production` is strict."""

    RESEARCH = "research"
    PRODUCTION = "production"


class DecisionMode(StrEnum):
    """Which policy decides: rules only, the LLM only, or rules with the LLM logged beside them."""

    RULE_ONLY = "rule_only"
    LLM_ONLY = "llm_only"
    HYBRID_SHADOW = "hybrid_shadow"


class Environment(StrEnum):
    """Where orders would go: the built-in simulator, Deribit testnet, or mainnet (real money)."""

    SIM = "sim"
    TESTNET = "testnet"
    MAINNET = "mainnet"


class ModeParams(BaseModel):
    """Candidate-selection parameters that differ between research and production (the seeds')."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delta_min: float = Field(ge=0.0, le=1.0)
    delta_max: float = Field(ge=0.0, le=1.0)
    dte_min_days: float = Field(ge=0.0)
    dte_max_days: float = Field(gt=0.0)
    ivrv_min: float = Field(ge=0.0)
    max_expiry_exposure_frac: float = Field(
        gt=0.0,
        le=1.0,
        description="max short calls in one expiry, as a fraction of the underlying holdings",
    )
    explore_prob: float = Field(ge=0.0, le=1.0)
    explore_top_k: int = Field(ge=1)
    policy_version: str = Field(min_length=1, max_length=64)


#: The seeds' numbers: README "Research Mode Parameters" / "Production Mode Parameters".
MODE_DEFAULTS: dict[AgentMode, ModeParams] = {
    AgentMode.RESEARCH: ModeParams(
        delta_min=0.10,
        delta_max=0.40,
        dte_min_days=1,
        dte_max_days=21,
        ivrv_min=1.0,
        max_expiry_exposure_frac=1.0,
        explore_prob=0.25,
        explore_top_k=3,
        policy_version="rb_v1_explore",
    ),
    AgentMode.PRODUCTION: ModeParams(
        delta_min=0.20,
        delta_max=0.30,
        dte_min_days=5,
        dte_max_days=10,
        ivrv_min=1.2,
        max_expiry_exposure_frac=0.3,
        explore_prob=0.0,
        explore_top_k=1,
        policy_version="rb_v1",
    ),
}


def _default_order_amount() -> dict[str, Decimal]:
    # Seed: DEFAULT_ORDER_SIZE 0.1 coin; ETH options trade in whole coins on Deribit.
    return {"BTC": Decimal("0.1"), "ETH": Decimal("1")}


def _default_max_order_amount() -> dict[str, Decimal]:
    return {"BTC": Decimal("1"), "ETH": Decimal("10")}


class RiskLimits(BaseModel):
    """The risk engine's limits (seed defaults where the seeds give one; see docs/agent.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_margin_used_pct: float = Field(default=80.0, gt=0.0, le=100.0)
    open_margin_headroom_frac: float = Field(
        default=0.9,
        gt=0.0,
        le=1.0,
        description="new short calls need margin used below this fraction of the maximum",
    )
    max_net_delta_abs: float = Field(default=5.0, ge=0.0, description="coins of delta")
    max_expiry_exposure_frac: float = Field(default=0.3, gt=0.0, le=1.0)
    premium_min_usd: float = Field(default=50.0, ge=0.0, description="per contract (one coin)")
    liquidity_max_spread_pct: float = Field(
        default=15.0,
        gt=0.0,
        description=(
            "(ask - bid) / mid, percent; 15.0 means 15%. Real Deribit 0.1-0.4-delta 1-21-DTE BTC"
            " calls quote 5.5-10% of mid (median ~9%, Dec 2025), so 5% would block nearly all"
        ),
    )
    liquidity_min_open_interest: float = Field(default=50.0, ge=0.0, description="contracts")
    liquidity_min_depth_multiple: float = Field(
        default=1.0,
        ge=0.0,
        description="best-bid amount must cover this multiple of the order amount; 0 disables",
    )
    max_order_amount: dict[str, Decimal] = Field(
        default_factory=_default_max_order_amount, description="coins per order, per currency"
    )
    max_calls_per_underlying: int = Field(default=1, ge=1)
    mainnet_max_order_notional_usd: Decimal = Field(default=Decimal("15000"), gt=0)
    mainnet_max_underlying_notional_usd: Decimal = Field(default=Decimal("30000"), gt=0)
    daily_drawdown_limit_pct: float = Field(
        default=10.0, ge=0.0, lt=100.0, description="peak-to-trough equity loss today; 0 = off"
    )
    max_scenario_loss_pct: float = Field(
        default=50.0,
        ge=0.0,
        le=100.0,
        description=(
            "loss of the book after an order at the worst cell of the scenario grid (spot"
            " -40%..+40% x vol -50%..+100% x now/+1 d/+7 d), percent of equity; coins held count,"
            " so -40% spot alone costs their share; 0 disables"
        ),
    )
    max_vega_usd: float = Field(
        default=10_000.0, ge=0.0, description="|book vega|, USD per vol point; 0 disables"
    )
    kill_switch: bool = False

    def max_order_amount_for(self, currency: str) -> Decimal:
        """Per-order size cap for `currency`; zero (nothing allowed) when none is configured."""
        return self.max_order_amount.get(currency.upper(), Decimal(0))


class RollRules(BaseModel):
    """When an open covered call is rolled or closed (see `trading.domain.policy`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    roll_dte_min_days: float = Field(
        default=1.0, ge=0.0, description="roll (or close) a call with fewer days left than this"
    )
    roll_itm_delta: float = Field(
        default=0.50, gt=0.0, le=1.0, description="delta at which a call counts as in the money"
    )
    roll_itm_dte_days: float = Field(
        default=2.0, ge=0.0, description="roll an in-the-money call with this many days or fewer"
    )
    take_profit_frac: float = Field(
        default=0.80, gt=0.0, le=1.0, description="premium captured that triggers a profit roll"
    )
    let_expire_delta_max: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="near expiry, a call at or below this delta is left to expire, not closed",
    )


class AgentDefaults(BaseModel):
    """The deployment's base configuration, before runtime overrides (e.g. from settings)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: AgentMode = AgentMode.RESEARCH
    decision_mode: DecisionMode = DecisionMode.RULE_ONLY
    dry_run: bool = True
    loop_interval_s: int = Field(default=300, ge=10)
    mode_params: dict[AgentMode, ModeParams] = Field(default_factory=lambda: dict(MODE_DEFAULTS))
    risk: RiskLimits = Field(default_factory=RiskLimits)
    roll: RollRules = Field(default_factory=RollRules)
    default_order_amount: dict[str, Decimal] = Field(default_factory=_default_order_amount)
    underlyings: tuple[str, ...] = ("BTC", "ETH")


class RuntimeOverrides(BaseModel):
    """Operator controls edited live (one audited row); `None` means "use the configured value"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: AgentMode | None = None
    decision_mode: DecisionMode | None = None
    dry_run: bool | None = None
    kill_switch: bool | None = None
    daily_drawdown_limit_pct: float | None = Field(default=None, ge=0.0, lt=100.0)
    liquidity_max_spread_pct: float | None = Field(default=None, gt=0.0)
    liquidity_min_open_interest: float | None = Field(default=None, ge=0.0)
    liquidity_min_depth_multiple: float | None = Field(default=None, ge=0.0)
    delta_min: float | None = Field(default=None, ge=0.0, le=1.0)
    delta_max: float | None = Field(default=None, ge=0.0, le=1.0)
    dte_min_days: float | None = Field(default=None, ge=0.0)
    dte_max_days: float | None = Field(default=None, gt=0.0)
    ivrv_min: float | None = Field(default=None, ge=0.0)
    explore_prob: float | None = Field(default=None, ge=0.0, le=1.0)
    explore_top_k: int | None = Field(default=None, ge=1)
    premium_min_usd: float | None = Field(default=None, ge=0.0)
    take_profit_frac: float | None = Field(default=None, gt=0.0, le=1.0)
    loop_interval_s: int | None = Field(default=None, ge=10)
    max_scenario_loss_pct: float | None = Field(default=None, ge=0.0, le=100.0)
    max_vega_usd: float | None = Field(default=None, ge=0.0)

    def set_fields(self) -> dict[str, Any]:
        """Only the overrides actually set (for audit logs and the effective-params record)."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


_MODE_FIELDS = ("delta_min", "delta_max", "dte_min_days", "dte_max_days", "ivrv_min")
_LIQUIDITY_FIELDS = (
    "liquidity_max_spread_pct",
    "liquidity_min_open_interest",
    "liquidity_min_depth_multiple",
    "daily_drawdown_limit_pct",
    "kill_switch",
    "premium_min_usd",
    "max_scenario_loss_pct",
    "max_vega_usd",
)


class EffectiveParams(BaseModel):
    """Everything one tick decides with; recorded with every decision.

    `strategy` feeds `trading.domain.candidates` (its spread guard and premium minimum are the
    risk limits', so the filter and the risk engine never disagree); `risk` feeds the risk
    engine; `roll` the rule policy's roll/close rules.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: AgentMode
    policy_version: str
    decision_mode: DecisionMode
    environment: Environment
    dry_run: bool
    loop_interval_s: int
    strategy: StrategyParams
    risk: RiskLimits
    roll: RollRules
    default_order_amount: dict[str, Decimal]
    underlyings: tuple[str, ...]
    overrides_applied: dict[str, Any] = Field(default_factory=dict)
    adjustments: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _safety_rules_hold(self) -> Self:
        if self.environment is Environment.MAINNET and self.mode is not AgentMode.PRODUCTION:
            raise ValueError("mainnet runs in production mode only")
        if self.mode is AgentMode.PRODUCTION and self.strategy.explore_prob > 0:
            raise ValueError("production mode never explores")
        return self

    @property
    def exploration_pct(self) -> float:
        """Exploration probability in percent (the dashboard's mode badge)."""
        return 100.0 * self.strategy.explore_prob

    def as_record(self) -> dict[str, Any]:
        """JSON-ready dict with stable keys (Decimals as strings) for decision logs."""
        return self.model_dump(mode="json")

    @property
    def params_hash(self) -> str:
        """First 12 hex digits of the SHA-256 of the record, to group identical configurations."""
        text = json.dumps(self.as_record(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def order_amount_for(self, currency: str) -> Decimal:
        """Default size of a new covered call in `currency`, coins (zero when not traded)."""
        return self.default_order_amount.get(currency.upper(), Decimal(0))


def _pick(override: Any, base: Any) -> Any:
    return base if override is None else override


def _mode_and_adjustments(
    requested: AgentMode, environment: Environment
) -> tuple[AgentMode, list[str]]:
    if environment is Environment.MAINNET and requested is not AgentMode.PRODUCTION:
        return AgentMode.PRODUCTION, [f"mode {requested.value} refused on mainnet: production"]
    return requested, []


def _strategy_params(
    mode: AgentMode, mode_params: ModeParams, risk: RiskLimits, ov: RuntimeOverrides
) -> tuple[StrategyParams, list[str]]:
    adjustments: list[str] = []
    explore_prob = _pick(ov.explore_prob, mode_params.explore_prob)
    explore_top_k = _pick(ov.explore_top_k, mode_params.explore_top_k)
    if mode is AgentMode.PRODUCTION and explore_prob > 0:
        adjustments.append(f"explore_prob {explore_prob} ignored: production never explores")
        explore_prob = 0.0
    values = {name: _pick(getattr(ov, name), getattr(mode_params, name)) for name in _MODE_FIELDS}
    strategy = StrategyParams(
        **values,
        premium_min_usd=risk.premium_min_usd,
        explore_prob=explore_prob,
        explore_top_k=explore_top_k,
        max_spread_pct=risk.liquidity_max_spread_pct / 100.0,
        min_open_interest=risk.liquidity_min_open_interest,
        policy_version=mode_params.policy_version,
    )
    return strategy, adjustments


def _risk_limits(base: RiskLimits, mode_params: ModeParams, ov: RuntimeOverrides) -> RiskLimits:
    updates: dict[str, Any] = {"max_expiry_exposure_frac": mode_params.max_expiry_exposure_frac}
    for name in _LIQUIDITY_FIELDS:
        value = getattr(ov, name)
        if value is not None:
            updates[name] = value
    return RiskLimits.model_validate(base.model_dump() | updates)


def resolve_effective_params(
    *,
    environment: Environment | str = Environment.SIM,
    defaults: AgentDefaults | None = None,
    overrides: RuntimeOverrides | None = None,
) -> EffectiveParams:
    """Resolve the parameters of one tick: mode defaults < configured base < runtime overrides.

    Raises `pydantic.ValidationError` when the result is inconsistent (e.g. an override puts
    `delta_min` above `delta_max`): a tick must not run on parameters nobody meant.
    """
    base = defaults or AgentDefaults()
    ov = overrides or RuntimeOverrides()
    env = Environment(environment)
    mode, adjustments = _mode_and_adjustments(_pick(ov.mode, base.mode), env)
    mode_params = base.mode_params.get(mode, MODE_DEFAULTS[mode])
    risk = _risk_limits(base.risk, mode_params, ov)
    strategy, strategy_adjustments = _strategy_params(mode, mode_params, risk, ov)
    roll = base.roll
    if ov.take_profit_frac is not None:
        roll = roll.model_copy(update={"take_profit_frac": ov.take_profit_frac})
    return EffectiveParams(
        mode=mode,
        policy_version=strategy.policy_version,
        decision_mode=_pick(ov.decision_mode, base.decision_mode),
        environment=env,
        dry_run=_pick(ov.dry_run, base.dry_run),
        loop_interval_s=_pick(ov.loop_interval_s, base.loop_interval_s),
        strategy=strategy,
        risk=risk,
        roll=roll,
        default_order_amount=dict(base.default_order_amount),
        underlyings=tuple(u.upper() for u in base.underlyings),
        overrides_applied=ov.set_fields(),
        adjustments=tuple(adjustments + strategy_adjustments),
    )

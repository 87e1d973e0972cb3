"""Modes, runtime overrides and the effective parameters of one tick."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from trading.domain.params import (
    MODE_DEFAULTS,
    AgentDefaults,
    AgentMode,
    DecisionMode,
    EffectiveParams,
    Environment,
    RiskLimits,
    RuntimeOverrides,
    resolve_effective_params,
)


def test_it_defaults_to_research_mode_with_the_seed_ranges_and_exploration() -> None:
    params = resolve_effective_params()
    assert params.mode is AgentMode.RESEARCH
    assert params.policy_version == "rb_v1_explore"
    s = params.strategy
    assert (s.delta_min, s.delta_max) == (0.10, 0.40)
    assert (s.dte_min_days, s.dte_max_days) == (1, 21)
    assert s.ivrv_min == 1.0
    assert (s.explore_prob, s.explore_top_k) == (0.25, 3)
    assert params.risk.max_expiry_exposure_frac == 1.0
    assert params.exploration_pct == pytest.approx(25.0)
    assert params.dry_run is True
    assert params.decision_mode is DecisionMode.RULE_ONLY


def test_it_uses_the_strict_seed_ranges_and_no_exploration_in_production() -> None:
    params = resolve_effective_params(defaults=AgentDefaults(mode=AgentMode.PRODUCTION))
    s = params.strategy
    assert params.policy_version == "rb_v1"
    assert (s.delta_min, s.delta_max) == (0.20, 0.30)
    assert (s.dte_min_days, s.dte_max_days) == (5, 10)
    assert s.ivrv_min == 1.2
    assert s.explore_prob == 0.0
    assert params.risk.max_expiry_exposure_frac == 0.3


def test_it_carries_the_seed_risk_defaults() -> None:
    risk = resolve_effective_params().risk
    assert risk.max_margin_used_pct == 80.0
    assert risk.max_net_delta_abs == 5.0
    assert risk.premium_min_usd == 50.0
    assert risk.liquidity_max_spread_pct == 15.0
    assert risk.liquidity_min_open_interest == 50.0
    assert risk.kill_switch is False


def test_the_candidate_filter_shares_the_risk_engine_liquidity_limits() -> None:
    params = resolve_effective_params(
        overrides=RuntimeOverrides(liquidity_max_spread_pct=12.5, liquidity_min_open_interest=7)
    )
    assert params.strategy.max_spread_pct == pytest.approx(0.125)
    assert params.strategy.min_open_interest == 7
    assert params.strategy.premium_min_usd == params.risk.premium_min_usd


def test_runtime_overrides_win_over_mode_defaults_and_are_recorded() -> None:
    overrides = RuntimeOverrides(
        delta_max=0.35, kill_switch=True, daily_drawdown_limit_pct=3.0, dry_run=False
    )
    params = resolve_effective_params(environment="testnet", overrides=overrides)
    assert params.strategy.delta_max == 0.35
    assert params.strategy.delta_min == MODE_DEFAULTS[AgentMode.RESEARCH].delta_min
    assert params.risk.kill_switch is True
    assert params.risk.daily_drawdown_limit_pct == 3.0
    assert params.dry_run is False
    assert params.overrides_applied == {
        "delta_max": 0.35,
        "kill_switch": True,
        "daily_drawdown_limit_pct": 3.0,
        "dry_run": False,
    }


def test_it_refuses_overrides_that_make_the_ranges_inconsistent() -> None:
    with pytest.raises(ValidationError, match="delta_min"):
        resolve_effective_params(overrides=RuntimeOverrides(delta_min=0.5))


def test_production_never_explores_even_when_an_override_asks() -> None:
    params = resolve_effective_params(
        overrides=RuntimeOverrides(mode=AgentMode.PRODUCTION, explore_prob=0.5)
    )
    assert params.strategy.explore_prob == 0.0
    assert any("never explores" in note for note in params.adjustments)


def test_mainnet_always_runs_in_production_mode() -> None:
    params = resolve_effective_params(environment=Environment.MAINNET)
    assert params.mode is AgentMode.PRODUCTION
    assert params.policy_version == "rb_v1"
    assert params.strategy.explore_prob == 0.0
    assert any("mainnet" in note for note in params.adjustments)


def test_effective_params_cannot_be_built_to_explore_in_production() -> None:
    params = resolve_effective_params(defaults=AgentDefaults(mode=AgentMode.PRODUCTION))
    data = params.model_dump()
    data["strategy"] = params.strategy.model_copy(update={"explore_prob": 0.3})
    with pytest.raises(ValidationError, match="never explores"):
        EffectiveParams(**data)


def test_the_params_hash_changes_with_any_parameter_and_only_then() -> None:
    a = resolve_effective_params()
    b = resolve_effective_params()
    c = resolve_effective_params(overrides=RuntimeOverrides(explore_prob=0.1))
    assert a.params_hash == b.params_hash
    assert a.params_hash != c.params_hash
    assert len(a.params_hash) == 12


def test_the_record_is_json_ready_with_decimals_as_strings() -> None:
    record = resolve_effective_params().as_record()
    assert record["mode"] == "research"
    assert record["default_order_amount"] == {"BTC": "0.1", "ETH": "1"}
    assert record["risk"]["mainnet_max_order_notional_usd"] == "15000"


def test_default_order_amounts_are_decimals_per_currency() -> None:
    params = resolve_effective_params()
    assert params.order_amount_for("btc") == Decimal("0.1")
    assert params.order_amount_for("SOL") == Decimal(0)
    assert RiskLimits().max_order_amount_for("ETH") == Decimal(10)
    assert RiskLimits().max_order_amount_for("XRP") == Decimal(0)


def test_params_are_frozen() -> None:
    params = resolve_effective_params()
    with pytest.raises(ValidationError):
        params.dry_run = False


def test_take_profit_override_reaches_the_roll_rules() -> None:
    params = resolve_effective_params(overrides=RuntimeOverrides(take_profit_frac=0.5))
    assert params.roll.take_profit_frac == 0.5

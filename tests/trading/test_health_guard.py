"""Health guard: severities and the pure pause / halt / resume decisions per environment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from trading.domain.health import (
    GuardState,
    GuardStatus,
    HealthCheckResult,
    HealthGuardConfig,
    HealthSeverity,
    StartupAction,
    guard_reset,
    guard_step,
    recheck_due,
    risk_settings_check,
    severity_for_data_age,
    severity_for_deribit_code,
    startup_action,
    summarize,
    worst_severity,
)
from trading.domain.params import Environment, RuntimeOverrides, resolve_effective_params

NOW = datetime(2025, 12, 10, 12, 0, tzinfo=UTC)
SIM, TESTNET, MAINNET = Environment.SIM, Environment.TESTNET, Environment.MAINNET


def result(
    severity: HealthSeverity, name: str = "exchange", detail: str = "x"
) -> HealthCheckResult:
    return HealthCheckResult(name=name, severity=severity, detail=detail)


OK = [result(HealthSeverity.OK, "config", "")]
TRANSIENT = [result(HealthSeverity.TRANSIENT, detail="10028 too_many_requests")]
DEGRADED = [result(HealthSeverity.DEGRADED, detail="11051 system_maintenance")]
FATAL = [result(HealthSeverity.FATAL, "auth", "13004 invalid_credentials")]


def step(state: GuardState, results: list[HealthCheckResult], env: Environment) -> GuardState:
    return guard_step(state, results, environment=env, now=NOW)


def test_severities_are_ordered_and_the_worst_wins() -> None:
    assert HealthSeverity.OK < HealthSeverity.TRANSIENT < HealthSeverity.DEGRADED
    assert HealthSeverity.DEGRADED < HealthSeverity.FATAL
    assert worst_severity(OK + TRANSIENT + FATAL + DEGRADED) is HealthSeverity.FATAL
    assert worst_severity([]) is HealthSeverity.OK


@pytest.mark.parametrize("env", [SIM, TESTNET, MAINNET])
def test_it_keeps_running_on_a_transient_failure(env: Environment) -> None:
    state = step(GuardState(), TRANSIENT, env)
    assert state.status is GuardStatus.RUNNING
    assert state.trading_allowed
    assert state.consecutive_transient == 1


@pytest.mark.parametrize("env", [SIM, TESTNET, MAINNET])
def test_it_pauses_on_degraded(env: Environment) -> None:
    state = step(GuardState(), DEGRADED, env)
    assert state.status is GuardStatus.PAUSED
    assert not state.trading_allowed
    assert "system_maintenance" in state.reason
    assert state.changed_at == NOW


@pytest.mark.parametrize("env", [SIM, TESTNET])
def test_it_pauses_on_fatal_off_mainnet_and_resumes_when_healthy(env: Environment) -> None:
    paused = step(GuardState(), FATAL, env)
    assert paused.status is GuardStatus.PAUSED
    resumed = guard_step(paused, OK, environment=env, now=NOW + timedelta(minutes=10))
    assert resumed.status is GuardStatus.RUNNING
    assert resumed.changed_at == NOW + timedelta(minutes=10)
    assert resumed.reason == "healthy"


def test_it_halts_on_fatal_in_mainnet_and_stays_halted_until_reset() -> None:
    halted = step(GuardState(), FATAL, MAINNET)
    assert halted.status is GuardStatus.HALTED
    still = step(halted, OK, MAINNET)
    assert still.status is GuardStatus.HALTED
    assert not still.trading_allowed
    reset = guard_reset(still, now=NOW)
    assert reset.status is GuardStatus.RUNNING
    assert reset.reason == "reset by operator"


def test_a_paused_agent_resumes_when_degraded_turns_transient() -> None:
    paused = step(GuardState(), DEGRADED, TESTNET)
    assert step(paused, TRANSIENT, TESTNET).status is GuardStatus.RUNNING


def test_repeated_transient_failures_escalate_to_degraded() -> None:
    config = HealthGuardConfig(transient_escalate_after=3)
    state = GuardState()
    statuses = []
    for _ in range(4):
        state = guard_step(state, TRANSIENT, environment=TESTNET, now=NOW, config=config)
        statuses.append(state.status)
    assert statuses == [
        GuardStatus.RUNNING,
        GuardStatus.RUNNING,
        GuardStatus.PAUSED,
        GuardStatus.PAUSED,
    ]
    assert state.worst_severity is HealthSeverity.DEGRADED
    recovered = guard_step(state, OK, environment=TESTNET, now=NOW, config=config)
    assert recovered.status is GuardStatus.RUNNING
    assert recovered.consecutive_transient == 0


def test_with_auto_pause_off_it_records_but_never_pauses() -> None:
    config = HealthGuardConfig(auto_pause_on_health_fail=False)
    state = guard_step(GuardState(), FATAL, environment=MAINNET, now=NOW, config=config)
    assert state.status is GuardStatus.RUNNING
    assert state.worst_severity is HealthSeverity.FATAL


@pytest.mark.parametrize(
    ("results", "env", "expected"),
    [
        (OK, MAINNET, StartupAction.START),
        (TRANSIENT, MAINNET, StartupAction.START_WITH_WARNING),
        (DEGRADED, TESTNET, StartupAction.START_PAUSED),
        (DEGRADED, MAINNET, StartupAction.START_PAUSED),
        (FATAL, TESTNET, StartupAction.START_PAUSED),
        (FATAL, SIM, StartupAction.START_PAUSED),
        (FATAL, MAINNET, StartupAction.ABORT),
    ],
)
def test_the_startup_guard_by_severity_and_environment(
    results: list[HealthCheckResult], env: Environment, expected: StartupAction
) -> None:
    assert startup_action(results, env) is expected


def test_the_startup_guard_can_be_switched_off() -> None:
    config = HealthGuardConfig(health_check_on_startup=False)
    assert startup_action(FATAL, MAINNET, config) is StartupAction.START


def test_the_startup_guard_only_warns_when_auto_pause_is_off() -> None:
    config = HealthGuardConfig(auto_pause_on_health_fail=False)
    assert startup_action(DEGRADED, TESTNET, config) is StartupAction.START_WITH_WARNING
    assert startup_action(FATAL, MAINNET, config) is StartupAction.ABORT


@pytest.mark.parametrize(
    ("code", "severity"),
    [
        (10028, HealthSeverity.TRANSIENT),
        (10041, HealthSeverity.TRANSIENT),
        (10047, HealthSeverity.TRANSIENT),
        (13009, HealthSeverity.TRANSIENT),
        (11051, HealthSeverity.DEGRADED),
        (10001, HealthSeverity.DEGRADED),
        (13004, HealthSeverity.FATAL),
        (13021, HealthSeverity.FATAL),
        (10019, HealthSeverity.FATAL),
    ],
)
def test_deribit_error_codes_map_to_severities(code: int, severity: HealthSeverity) -> None:
    assert severity_for_deribit_code(code) is severity


def test_data_freshness_severity() -> None:
    assert severity_for_data_age(30) is HealthSeverity.OK
    assert severity_for_data_age(300) is HealthSeverity.TRANSIENT
    assert severity_for_data_age(3600) is HealthSeverity.DEGRADED


def test_recheck_is_due_after_the_interval_and_never_when_disabled() -> None:
    config = HealthGuardConfig(health_recheck_interval_s=600)
    assert recheck_due(GuardState(), now=NOW, config=config)
    checked = step(GuardState(), OK, TESTNET)
    assert not recheck_due(checked, now=NOW + timedelta(seconds=599), config=config)
    assert recheck_due(checked, now=NOW + timedelta(seconds=600), config=config)
    off = HealthGuardConfig(health_recheck_interval_s=0)
    assert not recheck_due(GuardState(), now=NOW, config=off)


def test_the_summary_names_every_failing_check_worst_first() -> None:
    text = summarize(OK + TRANSIENT + FATAL)
    assert text.startswith("FATAL auth: 13004")
    assert "TRANSIENT exchange" in text
    assert "config" not in text


def test_guard_times_must_be_utc_aware() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        GuardState(checked_at=datetime(2025, 1, 1))


severities = st.sampled_from(list(HealthSeverity))


@settings(max_examples=60, deadline=None)
@given(
    history=st.lists(severities, min_size=1, max_size=12),
    env=st.sampled_from([SIM, TESTNET, MAINNET]),
)
def test_a_halt_only_ever_happens_on_mainnet_and_is_never_left_without_reset(
    history: list[HealthSeverity], env: Environment
) -> None:
    state = GuardState()
    was_halted = False
    for severity in history:
        state = step(state, [result(severity)], env)
        if was_halted:
            assert state.status is GuardStatus.HALTED
        was_halted = state.status is GuardStatus.HALTED
        if env is not MAINNET:
            assert state.status is not GuardStatus.HALTED
        if severity is HealthSeverity.FATAL:
            assert not state.trading_allowed


def test_a_halt_keeps_the_reason_it_was_halted_for() -> None:
    halted = step(GuardState(), FATAL, MAINNET)
    later = step(halted, OK, MAINNET)
    assert "invalid_credentials" in later.reason


def test_a_running_agent_still_reports_transient_problems() -> None:
    state = step(GuardState(), TRANSIENT, TESTNET)
    assert "too_many_requests" in state.reason
    assert step(state, OK, TESTNET).reason == "healthy"


def test_risk_settings_are_healthy_by_default() -> None:
    check = risk_settings_check(resolve_effective_params(environment="testnet"))
    assert check.severity is HealthSeverity.OK
    assert "mode=research" in check.detail


def test_mainnet_without_a_drawdown_stop_or_depth_guard_is_degraded() -> None:
    overrides = RuntimeOverrides(daily_drawdown_limit_pct=0.0, liquidity_min_depth_multiple=0.0)
    check = risk_settings_check(
        resolve_effective_params(environment="mainnet", overrides=overrides)
    )
    assert check.severity is HealthSeverity.DEGRADED
    assert "no daily drawdown stop disabled" not in check.detail
    assert "daily drawdown stop disabled" in check.detail
    on_testnet = risk_settings_check(
        resolve_effective_params(environment="testnet", overrides=overrides)
    )
    assert on_testnet.severity is HealthSeverity.OK
    assert "book-depth guard disabled" in on_testnet.detail


def test_the_kill_switch_is_reported_not_failed() -> None:
    params = resolve_effective_params(overrides=RuntimeOverrides(kill_switch=True))
    check = risk_settings_check(params)
    assert check.severity is HealthSeverity.OK
    assert "kill switch ON" in check.detail

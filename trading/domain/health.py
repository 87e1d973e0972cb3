"""Health guard: severities, and the pure decision to run, pause, halt or resume the agent.

Why pure: the same rules drive the start-up guard, the periodic re-check and the dashboard's
pause indicator, and they decide whether real orders may go out, so they are tested without a
database or a network. The Django side runs the checks, stores the guard state, and calls
`guard_step` with each new set of results.

Severities (seeds): TRANSIENT (retry next tick), DEGRADED (pause on testnet/sim, resume when
healthy), FATAL (halt on mainnet until an operator resets; pause elsewhere). Repeated transient
failures escalate: `transient_escalate_after` in a row count as DEGRADED.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trading.domain.params import EffectiveParams, Environment


class HealthSeverity(IntEnum):
    """How bad a health problem is; ordered, so `max` gives the worst."""

    OK = 0
    TRANSIENT = 1
    DEGRADED = 2
    FATAL = 3

    @property
    def label(self) -> str:
        """Upper-case name for badges and logs."""
        return self.name


class GuardStatus(StrEnum):
    """The agent's state as far as the health guard is concerned."""

    RUNNING = "running"
    PAUSED = "paused"
    HALTED = "halted"


class StartupAction(StrEnum):
    """What the start-up guard does before the first tick."""

    START = "start"
    START_WITH_WARNING = "start_with_warning"
    START_PAUSED = "start_paused"
    ABORT = "abort"


class HealthCheckResult(BaseModel):
    """Outcome of one named check (config, exchange, auth, data freshness, LLM, risk settings)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    severity: HealthSeverity
    detail: str = ""


class HealthGuardConfig(BaseModel):
    """Seed settings: `auto_kill_on_health_fail`, `health_check_on_startup`, re-check interval."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    auto_pause_on_health_fail: bool = True
    health_check_on_startup: bool = True
    health_recheck_interval_s: int = Field(default=600, ge=0, description="0 disables re-checks")
    transient_escalate_after: int = Field(
        default=3, ge=1, description="consecutive transient results that count as DEGRADED"
    )


#: The guard's runtime controls (`RuntimeControl` fields, seed names) and the config field each
#: sets; an empty control keeps the deployment's setting.
GUARD_CONTROL_FIELDS: dict[str, str] = {
    "health_check_on_startup": "health_check_on_startup",
    "auto_kill_on_health_fail": "auto_pause_on_health_fail",
    "health_recheck_interval_s": "health_recheck_interval_s",
}


def guard_config_with_controls(
    configured: HealthGuardConfig, controls: Mapping[str, Any]
) -> HealthGuardConfig:
    """The guard's effective settings: each runtime control that is set, over the setting."""
    updates = {
        field: controls[name]
        for name, field in GUARD_CONTROL_FIELDS.items()
        if controls.get(name) is not None and controls.get(name) != ""
    }
    return HealthGuardConfig.model_validate(configured.model_dump() | updates)


class GuardState(BaseModel):
    """What the guard remembers between checks (persisted by the service)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: GuardStatus = GuardStatus.RUNNING
    worst_severity: HealthSeverity = HealthSeverity.OK
    consecutive_transient: int = Field(default=0, ge=0)
    reason: str = ""
    changed_at: datetime | None = None
    checked_at: datetime | None = None

    @field_validator("changed_at", "checked_at")
    @classmethod
    def _utc_only(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("guard times must be timezone-aware (UTC)")
        return value

    @property
    def trading_allowed(self) -> bool:
        """True when the agent may open risk; paused or halted agents may only reduce it."""
        return self.status is GuardStatus.RUNNING


def worst_severity(results: Iterable[HealthCheckResult]) -> HealthSeverity:
    """The most severe result, OK when there are none."""
    return max((r.severity for r in results), default=HealthSeverity.OK)


def summarize(results: Iterable[HealthCheckResult]) -> str:
    """One line naming every non-OK check, worst first, e.g. "FATAL auth: invalid key"."""
    bad = sorted((r for r in results if r.severity > 0), key=lambda r: -r.severity)
    return "; ".join(f"{r.severity.label} {r.name}: {r.detail}".rstrip(": ") for r in bad)


def effective_severity(
    severity: HealthSeverity, consecutive_transient: int, config: HealthGuardConfig
) -> HealthSeverity:
    """Escalate a run of transient failures to DEGRADED once it reaches the configured count."""
    if severity is HealthSeverity.TRANSIENT and (
        consecutive_transient >= config.transient_escalate_after
    ):
        return HealthSeverity.DEGRADED
    return severity


def status_for(severity: HealthSeverity, environment: Environment) -> GuardStatus:
    """The guard status a severity calls for: FATAL halts on mainnet; DEGRADED/FATAL pause."""
    if severity is HealthSeverity.FATAL and environment is Environment.MAINNET:
        return GuardStatus.HALTED
    if severity >= HealthSeverity.DEGRADED:
        return GuardStatus.PAUSED
    return GuardStatus.RUNNING


def startup_action(
    results: Iterable[HealthCheckResult],
    environment: Environment,
    config: HealthGuardConfig | None = None,
) -> StartupAction:
    """Start-up guard: FATAL aborts on mainnet, DEGRADED or FATAL elsewhere start paused,
    TRANSIENT starts with a warning."""
    cfg = config or HealthGuardConfig()
    if not cfg.health_check_on_startup:
        return StartupAction.START
    severity = worst_severity(results)
    if severity is HealthSeverity.FATAL and environment is Environment.MAINNET:
        return StartupAction.ABORT
    if severity >= HealthSeverity.DEGRADED:
        return (
            StartupAction.START_PAUSED
            if cfg.auto_pause_on_health_fail
            else (StartupAction.START_WITH_WARNING)
        )
    if severity is HealthSeverity.TRANSIENT:
        return StartupAction.START_WITH_WARNING
    return StartupAction.START


def guard_step(
    state: GuardState,
    results: Iterable[HealthCheckResult],
    *,
    environment: Environment,
    now: datetime,
    config: HealthGuardConfig | None = None,
) -> GuardState:
    """Next guard state after a round of checks.

    Pause on DEGRADED (or FATAL off mainnet) and resume by itself once the checks are back to
    OK or TRANSIENT; HALTED never resumes here, only through `guard_reset`. With
    `auto_pause_on_health_fail` off the guard records severities but never pauses.
    """
    cfg = config or HealthGuardConfig()
    checked = list(results)
    raw = worst_severity(checked)
    streak = state.consecutive_transient + 1 if raw is HealthSeverity.TRANSIENT else 0
    severity = effective_severity(raw, streak, cfg)
    if state.status is GuardStatus.HALTED:
        target = GuardStatus.HALTED
    elif cfg.auto_pause_on_health_fail:
        target = status_for(severity, environment)
    else:
        target = GuardStatus.RUNNING
    changed = target is not state.status
    # A halt keeps the reason it was halted for; otherwise the reason is what the checks say now.
    keep_halt_reason = target is GuardStatus.HALTED and not changed
    reason = state.reason if keep_halt_reason else (summarize(checked) or "healthy")
    return GuardState(
        status=target,
        worst_severity=severity,
        consecutive_transient=streak,
        reason=reason,
        changed_at=now if changed else state.changed_at,
        checked_at=now,
    )


def guard_reset(state: GuardState, *, now: datetime) -> GuardState:
    """Operator reset after a halt: back to RUNNING; the next check pauses again if still bad."""
    return GuardState(
        status=GuardStatus.RUNNING,
        worst_severity=HealthSeverity.OK,
        consecutive_transient=0,
        reason="reset by operator",
        changed_at=now,
        checked_at=state.checked_at,
    )


def recheck_due(state: GuardState, *, now: datetime, config: HealthGuardConfig) -> bool:
    """True when the periodic re-check should run (never checked, or the interval has passed)."""
    if config.health_recheck_interval_s == 0:
        return False
    if state.checked_at is None:
        return True
    return (now - state.checked_at).total_seconds() >= config.health_recheck_interval_s


#: Deribit error codes by severity (docs.deribit.com/articles/errors; ccxt's error map).
#: 13009 (expired token) is transient: the client re-authenticates; a run of them escalates.
_TRANSIENT_CODES = frozenset({10028, 10040, 10041, 10047, 10066, 13009, 13028})
#: Bad credentials, missing auth, a scope too small or an account locked by the exchange.
_FATAL_CODES = frozenset({10000, 10019, 13004, 13021, 13403})


def severity_for_deribit_code(code: int) -> HealthSeverity:
    """Severity of a Deribit error code: rate limits, settlement, retry and an expired token are
    TRANSIENT; invalid credentials, missing scope or an admin lock FATAL; the rest (maintenance
    11051 included) DEGRADED."""
    if code in _TRANSIENT_CODES:
        return HealthSeverity.TRANSIENT
    if code in _FATAL_CODES:
        return HealthSeverity.FATAL
    return HealthSeverity.DEGRADED


def severity_for_data_age(
    age_s: float, *, stale_after_s: float = 120.0, dead_after_s: float = 900.0
) -> HealthSeverity:
    """Market-data freshness: fresh is OK, stale is TRANSIENT, long dead DEGRADED."""
    if age_s < 0 or age_s <= stale_after_s:
        return HealthSeverity.OK
    if age_s <= dead_after_s:
        return HealthSeverity.TRANSIENT
    return HealthSeverity.DEGRADED


def risk_settings_check(params: EffectiveParams) -> HealthCheckResult:
    """The healthcheck's "risk settings" line: are this tick's limits safe to trade with?

    On mainnet the agent must not run without a daily drawdown stop or with the book-depth
    guard off (DEGRADED, so the guard pauses it); elsewhere those are notes. The kill switch
    being on is reported, not a failure: it is the operator's choice.
    """
    risk = params.risk
    problems: list[str] = []
    if risk.daily_drawdown_limit_pct <= 0:
        problems.append("daily drawdown stop disabled")
    if risk.liquidity_min_depth_multiple <= 0:
        problems.append("book-depth guard disabled")
    notes = [f"mode={params.mode.value}", f"env={params.environment.value}"]
    if risk.kill_switch:
        notes.append("kill switch ON")
    if params.environment is Environment.MAINNET and problems:
        return HealthCheckResult(
            name="risk_settings",
            severity=HealthSeverity.DEGRADED,
            detail="refused on mainnet: " + "; ".join(problems),
        )
    return HealthCheckResult(
        name="risk_settings", severity=HealthSeverity.OK, detail=", ".join(notes + problems)
    )

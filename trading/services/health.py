"""Health guard integration: the agent healthcheck, the persisted guard state, start-up guard."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction
from pydantic import ValidationError

from trading.deribit.client import DeribitClient
from trading.deribit.errors import DeribitError
from trading.domain.health import (
    GuardState,
    HealthCheckResult,
    HealthSeverity,
    StartupAction,
    guard_reset,
    guard_step,
    risk_settings_check,
    severity_for_data_age,
    severity_for_deribit_code,
    startup_action,
)
from trading.domain.params import DecisionMode, EffectiveParams
from trading.models import HealthCheck
from trading.services.agent_status import guard_load, guard_save
from trading.services.controls import agent_environment, effective_params_load

OK = HealthSeverity.OK


def guard_observe(results: list[HealthCheckResult], *, now: datetime) -> GuardState:
    """Feed a round of results to the guard, persist and return its new state."""
    with transaction.atomic():
        state = guard_step(guard_load(), results, environment=agent_environment(), now=now)
        guard_save(state)
    return state


def guard_operator_reset() -> GuardState:
    """Operator reset after a halt (System Health button, API)."""
    state = guard_reset(guard_load(), now=datetime.now(UTC))
    guard_save(state)
    return state


def error_result(name: str, exc: DeribitError) -> HealthCheckResult:
    """A health result for an exchange error, with the severity of its Deribit code."""
    return HealthCheckResult(
        name=name, severity=severity_for_deribit_code(exc.code), detail=str(exc)[:300]
    )


def _probe(name: str, probe: Callable[[], str]) -> HealthCheckResult:
    try:
        return HealthCheckResult(name=name, severity=OK, detail=probe())
    except DeribitError as exc:
        return error_result(name, exc)
    except _Stale as stale:
        return HealthCheckResult(name=name, severity=stale.severity, detail=str(stale))
    except Exception as exc:  # a healthcheck reports, it never raises
        return HealthCheckResult(
            name=name, severity=HealthSeverity.DEGRADED, detail=f"{type(exc).__name__}: {exc}"
        )


def _llm_check(params: EffectiveParams) -> HealthCheckResult:
    if params.decision_mode is DecisionMode.RULE_ONLY:
        return HealthCheckResult(name="llm", severity=OK, detail="not needed (rule_only)")
    if not settings.LLM_ENABLED:
        return HealthCheckResult(
            name="llm",
            severity=HealthSeverity.TRANSIENT,
            detail=f"{params.decision_mode.value} without an LLM: the rules decide",
        )
    return HealthCheckResult(name="llm", severity=OK, detail="configured")


def _data_freshness(client: DeribitClient, currency: str) -> str:
    rows = client.get_book_summary_by_currency(currency, "option")
    exchange_ms = client.get_time()
    newest = max((r.creation_timestamp for r in rows), default=0)
    age_s = (exchange_ms - newest) / 1000
    severity = severity_for_data_age(age_s)
    if severity is not OK:
        raise _Stale(severity, f"{currency} book {age_s:.0f}s old")
    return f"{len(rows)} {currency} options, {age_s:.0f}s old"


class _Stale(Exception):
    def __init__(self, severity: HealthSeverity, detail: str) -> None:
        super().__init__(detail)
        self.severity = severity


def health_checks_run(*, client: DeribitClient) -> list[HealthCheckResult]:
    """Validate config, exchange reachability and auth, data freshness, LLM, risk settings."""
    try:
        params = effective_params_load()
    except ValidationError as exc:
        return [HealthCheckResult(name="config", severity=HealthSeverity.FATAL, detail=str(exc))]
    results = [
        HealthCheckResult(
            name="config",
            severity=OK,
            detail=f"{params.environment.value}, {params.mode.value}, dry_run={params.dry_run}",
        ),
        _probe("exchange", lambda: f"exchange time {client.get_time()}"),
        _probe("auth", lambda: f"equity {client.get_account_summary('BTC').equity} BTC"),
    ]
    results.append(_probe("data", lambda: _data_freshness(client, params.underlyings[0])))
    results += [_llm_check(params), risk_settings_check(params)]
    return results


def agent_healthcheck(
    *, client: DeribitClient, kind: str = "manual"
) -> tuple[list[HealthCheckResult], GuardState]:
    """Run every check, store them as HealthCheck rows and step the guard with them."""
    now = datetime.now(UTC)
    results = health_checks_run(client=client)
    batch = uuid.uuid4().hex
    HealthCheck.objects.bulk_create(
        HealthCheck(
            batch=batch,
            checked_at=now,
            kind=kind,
            name=r.name,
            severity=r.severity.label,
            detail=r.detail[:2000],
        )
        for r in results
    )
    return results, guard_observe(results, now=now)


def agent_startup(*, client: DeribitClient) -> StartupAction:
    """Start-up guard: run the checks; FATAL on mainnet aborts, DEGRADED starts paused."""
    results, _ = agent_healthcheck(client=client, kind="startup")
    return startup_action(results, agent_environment())

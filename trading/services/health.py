"""Health guard integration: the agent healthcheck, the tick's health round, the start-up guard.

- `agent_healthcheck` (System Health, `POST /api/agent/health`, `trading.health_recheck`,
  the start-up guard): configuration, exchange, auth, data freshness, a dry run of the decision
  pipeline on the current market (state build -> candidates -> policy -> risk), the LLM (asked
  a small structured question, with its latency, when the decision mode uses it) and the risk
  settings; stored as one `HealthCheck` batch and fed to the guard.
- `tick_health_round`: what each tick feeds the guard, measured like the re-check (config,
  exchange and auth from the tick's own requests, data age against the exchange clock, LLM
  availability when it decides, risk settings), so a pause lasts until its cause is gone
  instead of being undone by the next tick.
- `startup_guard_once`: the start-up check for the Celery path (the first beat tick of each
  worker process; `runagent` calls `agent_startup` itself). A FATAL result on mainnet stops
  the beat-driven ticks until an operator resets the guard (`startup_blocked`).

The guard's settings are runtime controls (`health_check_on_startup`,
`auto_kill_on_health_fail`, `health_recheck_interval_s`; operator, audited) whose defaults are
the environment's `HEALTH_CHECK_ON_STARTUP`, `AUTO_KILL_ON_HEALTH_FAIL` and
`HEALTH_RECHECK_INTERVAL_S` (`guard_config`).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from pydantic import ValidationError

from trading.deribit.client import DeribitClient
from trading.deribit.errors import DeribitError
from trading.domain.health import (
    GuardState,
    HealthCheckResult,
    HealthGuardConfig,
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
from trading.services.agent_status import (
    StartupState,
    guard_load,
    guard_save,
    startup_load,
    startup_save,
)
from trading.services.controls import agent_environment, effective_params_load, guard_config_load

OK = HealthSeverity.OK
#: The System Health page runs the healthcheck when the newest batch is older than this.
PAGE_CHECK_MIN_AGE_S = 60


def guard_config() -> HealthGuardConfig:
    """The guard's effective settings: runtime controls over the environment's settings (seed
    names in docs/operations.md), read fresh each time."""
    return guard_config_load()


def guard_observe(results: list[HealthCheckResult], *, now: datetime) -> GuardState:
    """Feed a round of results to the guard, persist and return its new state."""
    with transaction.atomic():
        state = guard_step(
            guard_load(),
            results,
            environment=agent_environment(),
            now=now,
            config=guard_config(),
        )
        guard_save(state)
    return state


def guard_operator_reset() -> GuardState:
    """Operator reset after a halt (System Health button, API); also lifts a start-up stop."""
    state = guard_reset(guard_load(), now=datetime.now(UTC))
    guard_save(state)
    startup = startup_load()
    if startup is not None and startup.blocked:
        startup_save(startup.model_copy(update={"blocked": False, "detail": "reset by operator"}))
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


def _llm_configured_check(params: EffectiveParams) -> HealthCheckResult | None:
    """The LLM line when no call is needed or possible (None: ask it)."""
    if params.decision_mode is DecisionMode.RULE_ONLY:
        return HealthCheckResult(name="llm", severity=OK, detail="not needed (rule_only)")
    if not settings.LLM_ENABLED:
        shadow = params.decision_mode is DecisionMode.HYBRID_SHADOW
        return HealthCheckResult(
            name="llm",
            severity=OK if shadow else HealthSeverity.TRANSIENT,
            detail=f"{params.decision_mode.value} without an LLM: the rules decide",
        )
    return None


_LLM_PING_SCHEMA = {
    "name": "health_ping",
    "schema": {
        "type": "object",
        "properties": {"ok": {"type": "boolean"}},
        "required": ["ok"],
        "additionalProperties": False,
    },
}


def _llm_check(params: EffectiveParams) -> HealthCheckResult:
    """Ask the LLM a small structured question (when the decision mode uses it), timed.

    Only `llm_only` puts the LLM in the decision path: in `hybrid_shadow` the rules decide and
    the LLM is logged beside them, so its failure is reported but never pauses trading.
    """
    result = _llm_ask(params)
    if params.decision_mode is DecisionMode.HYBRID_SHADOW and result.severity is not OK:
        return HealthCheckResult(
            name="llm",
            severity=OK,
            detail=f"shadow only, not in the decision path: {result.detail}",
        )
    return result


def _llm_ask(params: EffectiveParams) -> HealthCheckResult:
    quiet = _llm_configured_check(params)
    if quiet is not None:
        return quiet
    import json

    from optionsdesk.llm import ChatMessage, LLMError, build_llm_client

    started = time.monotonic()
    try:
        result = build_llm_client().complete(
            [
                ChatMessage(role="system", content="Answer with JSON only."),
                ChatMessage(role="user", content='Health check: reply {"ok": true}.'),
            ],
            json_schema=_LLM_PING_SCHEMA,
            max_tokens=20,
            deadline_s=15,
        )
        answer = json.loads(result.text or "{}")
    except (LLMError, ValueError) as exc:
        ms = (time.monotonic() - started) * 1000
        return HealthCheckResult(
            name="llm",
            severity=HealthSeverity.TRANSIENT,
            detail=f"asked, no valid answer after {ms:.0f} ms: {str(exc)[:200]}",
        )
    severity = OK if answer.get("ok") is True else HealthSeverity.TRANSIENT
    return HealthCheckResult(
        name="llm",
        severity=severity,
        detail=f"{result.model} answered {answer} in {result.latency_ms:.0f} ms",
    )


def _data_age_result(age_s: float, what: str) -> HealthCheckResult:
    severity = severity_for_data_age(age_s)
    detail = f"{what} {age_s:.0f}s old"
    return HealthCheckResult(name="data", severity=severity, detail=detail)


def _data_freshness(client: DeribitClient, currency: str) -> str:
    rows = client.get_book_summary_by_currency(currency, "option")
    exchange_ms = client.get_time()
    newest = max((r.creation_timestamp for r in rows), default=0)
    result = _data_age_result((exchange_ms - newest) / 1000, f"{currency} book")
    if result.severity is not OK:
        raise _Stale(result.severity, result.detail)
    return f"{len(rows)} {currency} options, {result.detail}"


class _Stale(Exception):
    def __init__(self, severity: HealthSeverity, detail: str) -> None:
        super().__init__(detail)
        self.severity = severity


def _pipeline_check(client: DeribitClient, params: EffectiveParams) -> str:
    """A dry run of one tick's decision on the current market: nothing is stored or sent."""
    from trading.domain.policy import PolicyInput, decide_rule_based
    from trading.domain.risk import evaluate_risk
    from trading.services.state import state_build

    state = state_build(client=client, params=params, expire=False)
    ranked = {c: len(e.ranked) for c, e in state.evaluations.items()}
    policy_input = PolicyInput(
        risk=state.inputs, evaluations=state.evaluations, contexts=state.contexts
    )
    proposal = decide_rule_based(policy_input, params, np.random.default_rng(0))
    verdict = evaluate_risk(proposal, state.inputs, params.risk)
    legs = ", ".join(f"{leg.direction} {leg.instrument_name}" for leg in proposal.legs)
    ranked_text = ", ".join(f"{c} {n}" for c, n in ranked.items())
    return (
        f"state built; candidates ranked: {ranked_text}; rules: {proposal.action.value}"
        f"{' ' + legs if legs else ''}; risk: {verdict.code.value}"
    )


def health_checks_run(*, client: DeribitClient) -> list[HealthCheckResult]:
    """Config, exchange, auth, data freshness, the decision pipeline, LLM, risk settings."""
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
    results.append(_probe("pipeline", lambda: _pipeline_check(client, params)))
    results += [_llm_check(params), risk_settings_check(params)]
    return results


def tick_health_round(
    *,
    client: DeribitClient,
    params: EffectiveParams,
    market_time: datetime,
    stream_age_s: float | None = None,
) -> list[HealthCheckResult]:
    """The tick's health round: what the re-check measures, from this tick's own requests.

    The state was built (public book summaries, private account and positions), so the
    exchange and auth answered; the data age is the exchange clock minus the newest book
    (one `public/get_time`), or, when the state was streamed, the stream's own age
    (`stream_age_s`: no request); the LLM line is its availability when it decides (the tick's
    own LLM call is the real test); the risk settings are checked as the re-check does.
    """
    streamed = stream_age_s is not None
    results = [
        HealthCheckResult(name="config", severity=OK, detail="controls resolved"),
        HealthCheckResult(
            name="exchange",
            severity=OK,
            detail="stream state taken" if streamed else "tick state built",
        ),
        HealthCheckResult(
            name="auth",
            severity=OK,
            detail="account streamed" if streamed else "account and positions read",
        ),
    ]
    if stream_age_s is not None:
        results.append(_data_age_result(stream_age_s, "stream state"))
    else:
        try:
            exchange_ms = client.get_time()
        except DeribitError as exc:
            results.append(error_result("data", exc))
        else:
            age_s = exchange_ms / 1000 - market_time.timestamp()
            results.append(_data_age_result(age_s, "newest book"))
    results.append(
        _llm_configured_check(params)
        or HealthCheckResult(name="llm", severity=OK, detail="configured (asked by the tick)")
    )
    results.append(risk_settings_check(params))
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


def agent_healthcheck_if_stale(*, max_age_s: int = PAGE_CHECK_MIN_AGE_S) -> bool:
    """Run the healthcheck (kind "page") unless one ran in the last `max_age_s`; True if it ran.

    System Health calls this when it opens: at most one check a minute, whoever looks.
    """
    newest = HealthCheck.objects.order_by("-checked_at").values_list("checked_at", flat=True)
    last = newest.first()
    if last is not None and timezone.now() - last < timedelta(seconds=max_age_s):
        return False
    from trading.exchange import exchange_client

    with exchange_client() as client:
        agent_healthcheck(client=client, kind="page")
    return True


def agent_startup(*, client: DeribitClient, where: str = "runagent") -> StartupAction:
    """Start-up guard: run the checks; FATAL on mainnet aborts, DEGRADED starts paused.

    The outcome is recorded (`startup_load`); an abort blocks beat-driven ticks until an
    operator resets the guard.
    """
    config = guard_config()
    _STARTED.add(os.getpid())
    if not config.health_check_on_startup:
        startup_save(
            StartupState(
                checked_at=timezone.now(),
                where=where,
                action=StartupAction.START.value,
                blocked=False,
                detail="start-up check disabled (control health_check_on_startup off)",
            )
        )
        return StartupAction.START
    results, guard = agent_healthcheck(client=client, kind="startup")
    action = startup_action(results, agent_environment(), config)
    startup_save(
        StartupState(
            checked_at=timezone.now(),
            where=where,
            action=action.value,
            blocked=action is StartupAction.ABORT,
            detail=guard.reason,
        )
    )
    return action


#: Processes (pids) that ran their start-up check: a Celery worker's first beat tick runs it.
_STARTED: set[int] = set()


def startup_guard_once(*, client: DeribitClient) -> StartupState | None:
    """The Celery path's start-up guard: once per worker process, before its first beat tick."""
    if os.getpid() in _STARTED:
        return startup_load()
    agent_startup(client=client, where=f"worker pid {os.getpid()}")
    return startup_load()


def startup_blocked() -> str:
    """Why ticks must not run (a start-up abort on mainnet), or "" when they may."""
    state = startup_load()
    if state is None or not state.blocked:
        return ""
    return (
        f"stopped by the start-up guard at {state.checked_at:%Y-%m-%d %H:%M:%S} UTC "
        f"({state.where}): {state.detail}; reset the health guard once fixed"
    )

"""One agent tick: controls -> health -> state -> policy -> risk -> execution -> decision log.

`tick_run` is the only entry point (Celery beat's `trading.agent_tick`, `manage.py runagent`,
the benchmark). One tick runs at a time: a lock row with an expiry (`AgentStatus.lock_until`)
shared by every process, longer than a tick may last, so overlapping ticks skip and a killed
worker never blocks the agent for good. Exchange errors that call for patience (the error says
so: `DeribitError.transient`, e.g. 10028 rate limit, 10041 settlement, maintenance) set a
back-off that later ticks respect and explain. The agent's persisted state (lock, back-off,
drawdown, guard, last summary) is read and written through `trading.services.agent_status`;
once the state is built, the tick passes one frozen `TickContext` down.

Decision modes: `rule_only` never calls the LLM. `llm_only` and `hybrid_shadow` ask
`trading.services.llm_policy.LLMPolicy`; `route_decision` picks what acts and what is logged as the
shadow, and the risk engine judges whatever acts. An LLM that answered badly (invalid,
hallucinated, refused, timed out) yields its DO_NOTHING; an LLM that is not configured (or
broke unexpectedly) means the rules decide, and the decision says why.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from pydantic import ValidationError

from optionsdesk.llm import LLMClient, build_llm_client
from trading.deribit.client import DeribitClient
from trading.deribit.errors import DeribitError, error_from_response
from trading.domain.decision_log import build_decision_record, to_json_value
from trading.domain.decision_view import (
    CandidateRow,
    LastTick,
    LoggedGuard,
    PortfolioSummary,
    PositionMark,
    TickStateSource,
    decision_parts,
)
from trading.domain.health import GuardState
from trading.domain.params import DecisionMode, EffectiveParams
from trading.domain.policy import (
    COVERED_CALL_STRATEGY,
    PolicyInput,
    decide_rule_based,
    route_decision,
)
from trading.domain.proposal import ActionType, ExternalProposalOutcome, Proposal
from trading.domain.risk import (
    DrawdownState,
    RiskInputs,
    RiskVerdict,
    VerdictCode,
    drawdown_update,
)
from trading.exchange import exchange_client
from trading.models import AgentRun, Decision, Order, Position
from trading.services.agent_status import (
    backoff_clear,
    backoff_load,
    backoff_set,
    drawdown_load,
    drawdown_save,
    last_tick_at_load,
    last_tick_save,
    tick_lock_acquire,
    tick_lock_release,
)
from trading.services.controls import effective_params_load
from trading.services.export import decisions_export
from trading.services.health import (
    error_result,
    guard_observe,
    startup_blocked,
    startup_guard_once,
    tick_health_round,
)
from trading.services.llm_policy import LLMPolicy
from trading.services.order_gate import (
    GateCheck,
    OrderOrigin,
    order_gate_check,
    order_gate_persist,
    order_gate_send,
    order_request_from_proposal,
)
from trading.services.risk import risk_report_build
from trading.services.state import (
    TickState,
    inputs_after_orders,
    position_marks,
    state_build,
)
from trading.services.stream_state import AgentStream, StreamSnapshot, agent_stream_current

logger = logging.getLogger("trading.tick")

_FILLED = (Order.State.FILLED, Order.State.SIMULATED)
#: How long a tick waits for the stream to show an order we just sent before reading REST.
STREAM_CATCH_UP_S = 1.0


@dataclass
class TickOutcome:
    """What one call of `tick_run` did (for commands, tests and the benchmark)."""

    run: AgentRun
    decision: Decision | None = None
    orders: list[Order] = field(default_factory=list)
    requests: int = 0

    @property
    def summary(self) -> str:
        """The run's one-line summary."""
        return self.run.summary


def tick_due(*, now: datetime | None = None) -> bool:
    """Whether the loop interval (a runtime control) has passed since the last tick."""
    last = last_tick_at_load()
    if last is None:
        return True
    try:
        interval_s = effective_params_load().loop_interval_s
    except ValidationError:
        return True  # let the tick run and report the bad controls
    return ((now or timezone.now()) - last).total_seconds() >= interval_s - 5


@dataclass(frozen=True, slots=True)
class TickContext:
    """What one tick knows once its state is built: passed whole instead of nine arguments."""

    run: AgentRun
    client: DeribitClient
    params: EffectiveParams
    state: TickState
    inputs: RiskInputs
    guard: GuardState
    seed: int | None
    started: float
    llm: LLMClient | None = None
    stream: AgentStream | None = None


# ------------------------------------------------------------------------------------ tick


def tick_run(
    *,
    trigger: str = "beat",
    client: DeribitClient | None = None,
    seed: int | None = None,
    llm: LLMClient | None = None,
    stream: AgentStream | None = None,
) -> TickOutcome:
    """Run one tick of the agent (or skip it, saying why); see the module docstring.

    `llm` replaces the configured LLM client (`build_llm_client()`, built only when the decision
    mode needs it). `stream` replaces this process's stream (`agent_stream_current()`, None
    when none was started): its state is used when fresh and complete, else REST.
    """
    started = time.perf_counter()
    if trigger == "beat" and not tick_due():
        run = AgentRun(trigger=trigger, status=AgentRun.Status.SKIPPED, summary="not due yet")
        return TickOutcome(run=run)
    run = AgentRun.objects.create(trigger=trigger)
    owner = uuid.uuid4().hex
    if not tick_lock_acquire(owner):
        return _finish(run, AgentRun.Status.SKIPPED, "skipped: another tick is running", started)
    own_client = client is None
    exchange = client if client is not None else exchange_client()
    before = exchange.request_count
    try:
        if trigger == "beat":
            startup_guard_once(client=exchange)
        blocked = startup_blocked()
        if blocked:
            outcome = _finish(run, AgentRun.Status.PAUSED, f"skipped: {blocked}", started)
        else:
            held = stream if stream is not None else agent_stream_current()
            outcome = _tick(run, exchange, seed=seed, started=started, llm=llm, stream=held)
    except Exception as exc:
        logger.exception("tick %s failed", run.pk)
        outcome = _finish(run, AgentRun.Status.FAILED, f"failed: {exc}"[:500], started)
        run.error = f"{type(exc).__name__}: {exc}"[:4000]
        run.save(update_fields=["error"])
    finally:
        tick_lock_release(owner)
        if own_client:
            exchange.close()
    outcome.requests = exchange.request_count - before
    AgentRun.objects.filter(pk=run.pk).update(requests_count=outcome.requests)
    run.requests_count = outcome.requests
    return outcome


def _finish(run: AgentRun, status: str, summary: str, started: float) -> TickOutcome:
    run.status = status
    run.summary = summary[:2000]
    run.finished_at = timezone.now()
    run.duration_ms = round((time.perf_counter() - started) * 1000, 1)
    run.save(update_fields=["status", "summary", "finished_at", "duration_ms"])
    logger.info("tick %s %s: %s", run.pk, status, summary)
    return TickOutcome(run=run)


def _tick(
    run: AgentRun,
    client: DeribitClient,
    *,
    seed: int | None,
    started: float,
    llm: LLMClient | None = None,
    stream: AgentStream | None = None,
) -> TickOutcome:
    backoff = backoff_load()
    if backoff.active():
        return _finish(run, AgentRun.Status.SKIPPED, f"skipped: {backoff.reason}", started)
    try:
        params = effective_params_load()
    except ValidationError as exc:
        summary = f"failed: runtime controls are inconsistent: {exc.errors()[0]['msg']}"
        return _finish(run, AgentRun.Status.FAILED, summary, started)
    snapshot, why = _stream_snapshot(stream, params)
    try:
        state = state_build(client=client, params=params, stream=snapshot, stream_why=why)
    except DeribitError as exc:
        guard_observe([error_result("exchange", exc)], now=timezone.now())
        if exc.transient:
            return _finish(run, AgentRun.Status.BACKOFF, backoff_set(exc), started)
        return _finish(run, AgentRun.Status.FAILED, f"failed: exchange error {exc}", started)
    health = tick_health_round(
        client=client,
        params=params,
        market_time=state.now,
        stream_age_s=None if snapshot is None else snapshot.age_s,
    )
    guard = guard_observe(health, now=timezone.now())
    drawdown = _drawdown(state, params)
    inputs = state.inputs.model_copy(update={"drawdown": drawdown})
    context = TickContext(
        run=run,
        client=client,
        params=params,
        state=state,
        inputs=inputs,
        guard=guard,
        seed=seed,
        started=started,
        llm=llm,
        stream=stream,
    )
    return _decide_and_execute(context)


def _stream_snapshot(
    stream: AgentStream | None, params: EffectiveParams
) -> tuple[StreamSnapshot | None, str]:
    """The stream's state when fresh and complete, else None and why the tick reads REST."""
    if stream is None:
        return None, "no stream in this process"
    missing = sorted(set(params.underlyings) - set(stream.underlyings))
    if missing:  # the controls changed since the stream started
        return None, f"stream does not follow {', '.join(missing)}"
    return stream.snapshot(
        max_age_s=float(settings.AGENT_STREAM_MAX_AGE_S), wait_s=STREAM_CATCH_UP_S
    )


def state_source_view(state: TickState, stream: AgentStream | None) -> TickStateSource:
    """The last tick's state source with the stream's health (System Health shows it)."""
    view = TickStateSource.model_validate(state.source.as_record())
    if stream is None:
        return view
    status = stream.status().as_record()
    return view.model_copy(
        update={
            "stream_connected": status["connected"],
            "stream_age_s": status["age_s"],
            "reconnects": status["reconnects"],
            "resyncs": status["resyncs"],
            "gaps": status["gaps"],
            "last_resync_at": stream.status().last_resync_at,
        }
    )


def _drawdown(state: TickState, params: EffectiveParams) -> DrawdownState | None:
    equity = state.inputs.portfolio.equity_usd
    previous = drawdown_load()
    if equity is None:
        return previous
    current = drawdown_update(
        previous, equity_usd=equity, now=state.now, limit_pct=params.risk.daily_drawdown_limit_pct
    )
    drawdown_save(current)
    return current


def guard_filter(proposal: Proposal, guard: GuardState, params: EffectiveParams) -> Proposal:
    """A paused or halted guard opens no new risk: rolls become closes, opens do nothing."""
    if guard.trading_allowed or not proposal.increases_risk:
        return proposal
    why = f"health guard {guard.status.value}: {guard.reason}"
    close = proposal.close_leg
    if proposal.action is ActionType.ROLL_COVERED_CALL and close is not None:
        return proposal.model_copy(
            update={
                "action": ActionType.CLOSE_COVERED_CALL,
                "legs": (close,),
                "reason": f"{proposal.reason} Roll reduced to a close: {why}.",
            }
        )
    return Proposal.do_nothing(
        f"No new calls: {why}. Wanted: {proposal.reason}",
        params=params,
        source=proposal.source,
        underlying=proposal.underlying,
    )


def _decide_and_execute(ctx: TickContext) -> TickOutcome:
    params, state, inputs = ctx.params, ctx.state, ctx.inputs
    rng = np.random.default_rng(ctx.seed if ctx.seed is not None else ctx.run.pk)
    policy_input = PolicyInput(risk=inputs, evaluations=state.evaluations, contexts=state.contexts)
    rule = decide_rule_based(policy_input, params, rng)
    llm_outcome, llm_record = llm_consult(params, state, inputs, ctx.llm)
    routed = route_decision(params.decision_mode, rule, llm_outcome)
    executed = routed.executed
    if llm_record is not None:
        llm_record["route"] = routed.note
        if llm_outcome is None:
            why = f"LLM {llm_record['status']}: {llm_record['error']}; rules decided"
            executed = executed.model_copy(
                update={"reason": f"{executed.reason} [{params.decision_mode.value}: {why}]"}
            )
    proposal = guard_filter(executed, ctx.guard, params)
    check = order_gate_check(
        order_request_from_proposal(
            proposal, inputs, origin=OrderOrigin.TICK, strategy_id=COVERED_CALL_STRATEGY
        ),
        client=ctx.client,
    )
    decision, orders = _decision_create(ctx, proposal, routed.shadow, check, llm_record)
    backoff = _execute(orders, ctx.client)
    _decision_finish(ctx, decision, proposal, routed.shadow, check.verdict, orders)
    _status_publish(ctx, decision, orders)
    try:
        decisions_export()
    except OSError:
        logger.exception("decision export failed; the next export picks it up")
    if backoff:
        return _outcome(ctx, AgentRun.Status.BACKOFF, backoff, decision, orders)
    backoff_clear()
    return _outcome(ctx, AgentRun.Status.OK, _summary(decision, orders), decision, orders)


def llm_consult(
    params: EffectiveParams,
    state: TickState,
    inputs: RiskInputs,
    llm: LLMClient | None = None,
) -> tuple[ExternalProposalOutcome | None, dict[str, Any] | None]:
    """Ask the LLM policy when the decision mode wants it: (outcome for routing, record).

    `rule_only` makes no call: (None, None). An unavailable LLM, or one that broke unexpectedly,
    gives (None, record with the reason), so `route_decision` falls back to the rules. Otherwise
    the LLM policy's final proposal (its DO_NOTHING when the reply was refused, invalid or late)
    is what the LLM proposes, and the record holds its status, issues and redacted calls.
    """
    if params.decision_mode is DecisionMode.RULE_ONLY:
        return None, None
    client = llm if llm is not None else build_llm_client()
    if not client.available:
        why = str(getattr(client, "reason", "") or "no LLM configured")
        return None, {"status": "unavailable", "error": why, "fallback": "rule_only"}
    try:
        decision = LLMPolicy(client).propose(
            candidates=state.evaluations, inputs=inputs, params=params
        )
    except Exception as exc:  # the LLM must never break a tick
        logger.exception("LLM policy failed; the rules decide this tick")
        why = f"{type(exc).__name__}: {exc}"[:500]
        return None, {"status": "error", "error": why, "fallback": "rule_only"}
    outcome = ExternalProposalOutcome(
        proposal=decision.proposal,
        valid=True,  # the policy's own answer; a bad reply already became its DO_NOTHING
        issues=decision.issues if decision.status != "ok" else (),
        clamped=bool(decision.outcome and decision.outcome.clamped),
    )
    return outcome, decision.as_record()


def _outcome(
    ctx: TickContext, status: str, summary: str, decision: Decision, orders: list[Order]
) -> TickOutcome:
    outcome = _finish(ctx.run, status, summary, ctx.started)
    outcome.decision = decision
    outcome.orders = orders
    return outcome


def _summary(decision: Decision, orders: list[Order]) -> str:
    legs = ", ".join(
        f"{o.direction} {o.amount} {o.instrument_name} @ {o.limit_price} [{o.state}]"
        for o in orders
    )
    head = f"{decision.action}{' ' + decision.underlying if decision.underlying else ''}"
    return f"{head} ({decision.verdict_code}){': ' + legs if legs else ''}. {decision.reason}"


def _decision_create(
    ctx: TickContext,
    proposal: Proposal,
    shadow: Proposal | None,
    check: GateCheck,
    llm_record: dict[str, Any] | None = None,
) -> tuple[Decision, list[Order]]:
    run, params, state = ctx.run, ctx.params, ctx.state
    verdict = check.verdict
    with transaction.atomic():
        decision = Decision.objects.create(
            run=run,
            market_time=state.now,
            environment=params.environment.value,
            mode=params.mode.value,
            policy_version=params.policy_version,
            params_hash=params.params_hash,
            decision_mode=params.decision_mode.value,
            decision_source=proposal.source.value,
            dry_run=params.dry_run,
            action=proposal.action.value,
            underlying=proposal.underlying or "",
            explored=proposal.explored,
            explore_rank=proposal.explore_rank,
            reason=proposal.reason,
            verdict_code=verdict.code.value,
            risk_verdict=verdict.as_record(),
            proposal=proposal.as_record(),
            shadow_proposal=None if shadow is None else shadow.as_record(),
            llm_record=None if llm_record is None else to_json_value(llm_record),
        )
        orders: list[Order] = []
        if check.approved and proposal.legs:
            orders = order_gate_persist(check, decision=decision)
    return decision, orders


def _execute(orders: list[Order], client: DeribitClient) -> str:
    """Send legs through the order gate (a roll buys back first); note a back-off error."""
    order_gate_send(orders, client=client)
    backoff = ""
    for order in orders:
        if order.error_code is None:
            continue
        error = error_from_response({"code": order.error_code, "message": order.error[:200]})
        if error.transient:
            backoff = backoff_set(error)
    return backoff


def order_record(orders: list[Order]) -> dict[str, Any] | None:
    """The decision log's `order` member: every leg with label, state and fill."""
    if not orders:
        return None
    return {
        "legs": [
            {
                "label": o.label,
                "instrument_name": o.instrument_name,
                "direction": o.direction,
                "amount": o.amount,
                "limit_price": o.limit_price,
                "state": o.state,
                "exchange_order_id": o.exchange_order_id,
                "filled_amount": o.filled_amount,
                "average_price": o.average_price,
                "error_code": o.error_code,
            }
            for o in orders
        ]
    }


def _decision_finish(
    ctx: TickContext,
    decision: Decision,
    proposal: Proposal,
    shadow: Proposal | None,
    verdict: RiskVerdict,
    orders: list[Order],
) -> None:
    params, state, inputs, guard = ctx.params, ctx.state, ctx.inputs, ctx.guard
    record = build_decision_record(
        decision_id=str(decision.pk),
        tick_at=state.now,
        recorded_at=decision.decided_at,
        params=params,
        proposal=proposal,
        verdict=verdict,
        inputs=inputs,
        evaluations=state.evaluations,
        contexts=state.contexts,
        shadow=shadow,
        order=order_record(orders),
        health=guard,
        index_price_usd=state.index_usd,
        state_source=state.source.as_record(),
    )
    parts = decision_parts(record)
    decision.log_line = record.to_line()
    decision.state_snapshot = parts.stored_state()
    decision.candidates = parts.stored_candidates()
    decision.chosen_candidate = (
        None if parts.chosen_candidate is None else parts.chosen_candidate.model_dump(mode="json")
    )
    decision.executed = any(o.state in _FILLED or o.filled_amount > 0 for o in orders)
    decision.save(
        update_fields=[
            "log_line",
            "state_snapshot",
            "candidates",
            "chosen_candidate",
            "executed",
        ]
    )


def _held_names(state: TickState) -> set[str]:
    """Instruments we hold or track (exchange positions and every open row, paper included)."""
    held = {p.instrument_name for p in state.exchange_positions if p.size != 0}
    held |= set(
        Position.objects.filter(status=Position.Status.OPEN).values_list(
            "instrument_name", flat=True
        )
    )
    return held


def _status_publish(ctx: TickContext, decision: Decision, orders: list[Order]) -> None:
    """Publish the tick's status and risk report, with the book after its own orders."""
    params, state, guard = ctx.params, ctx.state, ctx.guard
    inputs = inputs_after_orders(state, ctx.inputs, orders, dry_run=params.dry_run)
    portfolio = inputs.portfolio
    summary = LastTick(
        tick_at=state.now,
        decision_id=decision.pk,
        environment=params.environment,
        mode=params.mode,
        policy_version=params.policy_version,
        decision_mode=params.decision_mode,
        dry_run=params.dry_run,
        explore_pct=params.exploration_pct,
        spot=state.spot_summary(),
        portfolio=PortfolioSummary(
            equity_usd=portfolio.equity_usd,
            margin_used_pct=portfolio.margin_used_pct,
            holdings_coin=portfolio.holdings_coin,
            net_delta=portfolio.net_delta,
        ),
        top_candidates={
            c: [CandidateRow.model_validate(to_json_value(x.as_dict())) for x in ev.ranked[:5]]
            for c, ev in state.evaluations.items()
        },
        context={c: ctx.summary() for c, ctx in state.contexts.items()},
        action=ActionType(decision.action),
        underlying=decision.underlying,
        reason=decision.reason,
        verdict=VerdictCode(decision.verdict_code),
        verdict_reasons=(decision.risk_verdict or {}).get("reasons", []),
        explored=decision.explored,
        guard=LoggedGuard.model_validate(guard.model_dump()),
        drawdown=inputs.drawdown,
        marks={
            name: PositionMark.model_validate(mark)
            for name, mark in position_marks(state.chains, _held_names(state), state.now).items()
        },
        state_source=state_source_view(state, ctx.stream),
    )
    last_tick_save(summary, risk_report=risk_report_build(inputs, params.risk))

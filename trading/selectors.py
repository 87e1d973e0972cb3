"""Reads of the live agent for views, the API, tasks and commands.

Decisions and the agent's status are read through typed views (`DecisionView`,
`AgentStatusView`, `trading.domain.decision_view`): a renamed or missing stored field fails
here, loudly, instead of showing blank cells on the dashboard or in the chat.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from django.db.models import Count, DecimalField, F, QuerySet, Sum
from django.db.models.fields.json import KeyTransform
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from optionsdesk.readmemo import memoized
from trading.domain.decision_view import (
    CandidateRow,
    DecisionView,
    LastTick,
    OrderLegView,
    TickStateSource,
    candidates_split,
    decision_state,
)
from trading.domain.health import GuardState
from trading.domain.pnl import pnl_books, pnl_subtotals, position_figures
from trading.domain.proposal import Proposal
from trading.domain.risk import DrawdownState
from trading.domain.source_compare import LIMIT_DEFAULT, compare_sources
from trading.models import (
    AgentRun,
    AgentStatus,
    Decision,
    HealthCheck,
    Order,
    Position,
    ReconciliationRun,
    RuntimeControl,
    RuntimeControlChange,
)
from trading.services.controls import agent_environment, effective_params_load, guard_config_load


def decision_list(*, limit: int | None = None) -> QuerySet[Decision]:
    """Newest decisions first."""
    qs = Decision.objects.select_related("run").prefetch_related("orders")
    return qs[:limit] if limit else qs


class _LLMOutcome(BaseModel):
    """The two members of `Decision.llm_record` readers use (the rest: redacted calls)."""

    model_config = ConfigDict(extra="allow")

    status: str
    issues: tuple[str, ...] = ()


def _orders_loaded(decision: Decision, *, detail: bool) -> tuple[OrderLegView, ...]:
    prefetched = getattr(decision, "_prefetched_objects_cache", {})
    if "orders" not in prefetched and not detail:
        return ()
    return tuple(
        OrderLegView(
            label=o.label,
            instrument_name=o.instrument_name,
            direction=o.direction,
            amount=str(o.amount),
            state=o.state,
            filled_amount=str(o.filled_amount),
        )
        for o in decision.orders.all()
    )


def decision_view(decision: Decision, *, detail: bool = False) -> DecisionView:
    """One decision, typed (`DecisionView`); raises `pydantic.ValidationError` when a stored
    part does not have the shape the tick writes.

    `detail` also reads what the tick saw (`state`, `candidates`, `rejection_counts`) and the
    orders. Without it, deferred heavy fields are not touched: the LLM status then comes from
    an `llm_status` annotation when there is one (`decision_list_light`).
    """
    deferred = decision.get_deferred_fields()
    llm_status: str | None = getattr(decision, "llm_status", None)
    llm_issues: tuple[str, ...] = ()
    if "llm_record" not in deferred and decision.llm_record is not None:
        outcome = _LLMOutcome.model_validate(decision.llm_record)
        llm_status, llm_issues = outcome.status, outcome.issues
    view: dict[str, Any] = {
        "id": decision.pk,
        "decided_at": decision.decided_at,
        "market_time": decision.market_time,
        "environment": decision.environment,
        "mode": decision.mode,
        "policy_version": decision.policy_version,
        "params_hash": decision.params_hash,
        "decision_mode": decision.decision_mode,
        "decision_source": decision.decision_source,
        "dry_run": decision.dry_run,
        "action": decision.action,
        "underlying": decision.underlying,
        "explored": decision.explored,
        "explore_rank": decision.explore_rank,
        "reason": decision.reason,
        "verdict_code": decision.verdict_code,
        "verdict": decision.risk_verdict,
        "proposal": decision.proposal,
        "shadow": decision.shadow_proposal,
        "chosen_candidate": decision.chosen_candidate,
        "executed": decision.executed,
        "llm_status": llm_status,
        "llm_issues": llm_issues,
        "orders": _orders_loaded(decision, detail=detail),
    }
    if detail:
        view["state"] = decision_state(decision.state_snapshot)
        view["candidates"], view["rejection_counts"] = candidates_split(decision.candidates)
    return DecisionView.model_validate(view)


def decision_views(decisions: Iterable[Decision], *, detail: bool = False) -> list[DecisionView]:
    """`decision_view` of each decision, in order."""
    return [decision_view(d, detail=detail) for d in decisions]


def decision_list_light(qs: QuerySet[Decision] | None = None) -> QuerySet[Decision]:
    """Decisions without their heavy JSON (state, candidates, log line, LLM prompts), with
    the LLM status read out of the record by the database (`decision_view` uses it)."""
    from django.db.models.fields.json import KeyTextTransform

    base = qs if qs is not None else Decision.objects.order_by("-decided_at", "-id")
    return base.defer("state_snapshot", "candidates", "log_line", "llm_record").annotate(
        llm_status=KeyTextTransform("status", "llm_record")
    )


def decision_candidates(
    decision: Decision,
) -> tuple[dict[str, list[CandidateRow]], dict[str, dict[str, int]] | None]:
    """A decision's ranked candidates per underlying and its rejection counts (typed)."""
    return candidates_split(decision.candidates)


def decision_instruments(decision: Decision) -> list[str]:
    """Every option a decision names: its legs, its shadow's legs and its chosen candidate."""
    names = [leg.instrument_name for leg in Proposal.model_validate(decision.proposal).legs]
    if decision.shadow_proposal:
        shadow = Proposal.model_validate(decision.shadow_proposal)
        names += [leg.instrument_name for leg in shadow.legs]
    if decision.chosen_candidate:
        names.append(CandidateRow.model_validate(decision.chosen_candidate).instrument_name)
    return names


def position_list(*, status: str | None = None, include_paper: bool = True) -> QuerySet[Position]:
    """Positions, optionally only open or closed ones."""
    qs = Position.objects.all()
    if status:
        qs = qs.filter(status=status)
    if not include_paper:
        qs = qs.filter(paper=False)
    return qs


def last_marks() -> dict[str, Any]:
    """The last tick's quotes of the instruments we hold (`marks` of the published status)."""
    return dict((AgentStatus.load().last_summary or {}).get("marks") or {})


def market_now() -> datetime:
    """The market clock as of the last tick (the simulator's clock may run ahead of the wall's);
    wall time before any tick. DTE and "how long ago" of market events are on this clock."""
    from django.utils import timezone
    from django.utils.dateparse import parse_datetime

    raw = (AgentStatus.load().last_summary or {}).get("tick_at")
    parsed = parse_datetime(raw) if isinstance(raw, str) else None
    return parsed or timezone.now()


def position_subtotals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Open positions' USD subtotals per book (real first): count, unrealised, realised."""
    result = []
    for book in ("real", "paper"):
        mine = [r for r in rows if ("paper" if r["position"].paper else "real") == book]
        if not mine:
            continue
        subtotal: dict[str, Any] = {"book": book, "positions": len(mine)}
        for field in ("unrealised_mark_usd", "unrealised_buyback_usd", "realised_usd"):
            values = [r.get(field) for r in mine]
            known = [float(v) for v in values if v is not None]
            subtotal[field] = round(sum(known), 2) if len(known) == len(values) else None
        result.append(subtotal)
    return result


def last_rejection_counts() -> dict[str, dict[str, int]]:
    """How many calls each candidate filter rejected at the last decision, per underlying."""
    latest = Decision.objects.order_by("-decided_at", "-id").only("id", "candidates").first()
    if latest is None:
        return {}
    _, counts = candidates_split(latest.candidates)
    return counts or {}


def _last_index_usd() -> dict[str, Any]:
    latest = Decision.objects.order_by("-decided_at", "-id").only("id", "state_snapshot").first()
    state = decision_state(latest.state_snapshot) if latest else None
    return dict(state.index_price_usd) if state else {}


def last_index_usd() -> dict[str, Any]:
    """The index per underlying at the last decision (USD conversions of the P&L); read once
    per read request (the Live Agent tab asks three times)."""
    return dict(memoized("trading.last_index_usd", _last_index_usd))


def pnl_summary() -> dict[str, Any]:
    """P&L per underlying and book (`trading.domain.pnl`): realised, unrealised at the mark
    and at the buy-back price, total, fees; coin and USD at the last tick's index."""
    fills = (
        Order.objects.filter(filled_amount__gt=0)
        .values("currency", "dry_run", "direction")
        .annotate(
            coin=Sum(
                F("filled_amount") * F("average_price"),
                output_field=DecimalField(max_digits=30, decimal_places=18),
            ),
            legs=Count("id"),
            fees=Sum("fee_coin"),
        )
        .order_by()
    )
    settled = (
        Position.objects.filter(
            status__in=(Position.Status.CLOSED, Position.Status.ARCHIVED),
            settled_coin__isnull=False,
        )
        .values("currency", "paper")
        .annotate(coin=Sum("settled_coin"), expired=Count("id"))
        .order_by()
    )
    still_open = Position.objects.filter(status=Position.Status.OPEN).values(
        "currency", "paper", "instrument_name", "size", "average_price_coin"
    )
    index = last_index_usd()
    books = pnl_books(list(fills), list(settled), list(still_open), index, last_marks())
    return {
        "index_price_usd": index,
        "books": books,
        "subtotals": pnl_subtotals(books),
        "basis": (
            "coin, trading fees included (per fill); realised = closed calls and every fee "
            "paid; unrealised = open calls at the last tick's mark and at the best ask "
            "(what buying back now would cost); USD at the last tick's index"
        ),
    }


def position_rows(
    *, status: str = Position.Status.OPEN, limit: int | None = None
) -> list[dict[str, Any]]:
    """Positions with their cockpit figures (`trading.domain.pnl.position_figures`).

    Open ones with mark, buy-back price, unrealised and realised P&L, premium captured, DTE,
    distance to strike, breakeven and greeks from the last tick; closed ones with realised P&L.
    """
    from trading.domain.instruments import parse_instrument

    marks = last_marks() if status == Position.Status.OPEN else {}
    index = last_index_usd()
    now = market_now()
    rows = []
    if status == Position.Status.OPEN:
        qs = position_list(status=status).order_by("paper", "-opened_at", "-id")
    else:  # closed and archived: newest first
        qs = Position.objects.exclude(status=Position.Status.OPEN).order_by("-closed_at", "-id")
    for position in qs[:limit] if limit else qs:
        try:
            spec = parse_instrument(position.instrument_name)
            strike, expiry = spec.strike, spec.expiry
        except ValueError:
            strike, expiry = None, None
        values = {
            "size": position.size,
            "average_price_coin": position.average_price_coin,
            "realised_coin": position.realised_coin,
            "fees_coin": position.fees_coin,
            "settled_coin": position.settled_coin,
        }
        price = index.get(position.currency)
        figures = position_figures(
            values,
            marks.get(position.instrument_name),
            index_usd=None if price is None else float(price),
            now=now,
            strike=None if strike is None else float(strike),
            expiry=expiry,
        )
        rows.append({"position": position, **figures})
    return rows


def order_list() -> QuerySet[Order]:
    """Orders, newest first."""
    return Order.objects.select_related("decision")


def reconciliation_list() -> QuerySet[ReconciliationRun]:
    """Reconciliation runs with their discrepancies."""
    return ReconciliationRun.objects.prefetch_related("items")


def health_latest() -> list[HealthCheck]:
    """The most recent batch of agent health checks."""
    latest = HealthCheck.objects.order_by("-checked_at").first()
    if latest is None:
        return []
    return list(HealthCheck.objects.filter(batch=latest.batch).order_by("name"))


class HealthOverview(BaseModel):
    """The newest agent healthcheck in one badge: OK, WARN (transient) or FAIL, and when."""

    model_config = ConfigDict(frozen=True)

    badge: Literal["OK", "WARN", "FAIL", "NONE"]
    checked_at: datetime | None
    kind: str
    checks: list[Any]


_BADGES: dict[str, Literal["OK", "WARN", "FAIL"]] = {
    "OK": "OK",
    "TRANSIENT": "WARN",
    "DEGRADED": "FAIL",
    "FATAL": "FAIL",
}


def health_overview() -> HealthOverview:
    """The newest healthcheck batch with its overall badge (NONE before the first check)."""
    checks = health_latest()
    if not checks:
        return HealthOverview(badge="NONE", checked_at=None, kind="", checks=[])
    order = ("OK", "WARN", "FAIL")
    badge = max((_BADGES.get(c.severity, "FAIL") for c in checks), key=order.index)
    return HealthOverview(
        badge=badge, checked_at=checks[0].checked_at, kind=checks[0].kind, checks=checks
    )


def tick_state_source() -> tuple[TickStateSource | None, datetime | None]:
    """Where the last tick's state came from (stream or REST, its age, the stream's health),
    with the tick's time; (None, None) before the first tick or from a tick before the stream."""
    status = AgentStatus.load()
    stored = (status.last_summary or {}).get("state_source")
    if not stored:
        return None, status.last_tick_at
    return TickStateSource.model_validate(stored), status.last_tick_at


def control_changes(*, limit: int = 20) -> QuerySet[RuntimeControlChange]:
    """The audit trail of the runtime controls, newest first."""
    return RuntimeControlChange.objects.all()[:limit]


class RunSummary(BaseModel):
    """The newest tick run: how it ended and what it took."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int
    status: str
    trigger: str
    started_at: datetime
    summary: str
    duration_ms: float | None
    requests: int


class EffectiveMode(BaseModel):
    """What the next tick does with orders (`agent_mode_effective`), typed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    environment: str
    valid: bool
    problem: str
    dry_run: bool | None
    kill_switch: bool
    mode: str | None
    decision_mode: str | None
    trading_allowed: bool
    orders: Literal["live", "dry_run", "kill_switch", "paused", "invalid"] = Field(
        description="the headline: what happens to the next tick's orders"
    )
    headline: str


class ConfigSnapshot(BaseModel):
    """The seed's `config_snapshot`: the effective configuration the next tick runs with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: str
    decision_mode: str
    environment: str
    dry_run: bool
    explore_prob: float
    explore_top_k: int
    delta_range: tuple[float, float]
    dte_range: tuple[float, float]
    ivrv_min: float
    premium_min_usd: float
    loop_interval_s: int
    policy_version: str
    params_hash: str


def config_snapshot() -> ConfigSnapshot | None:
    """The effective configuration (mode defaults < settings < runtime controls); None while
    the controls are inconsistent (the status says why in `effective.problem`)."""
    try:
        params = effective_params_load()
    except ValidationError:
        return None
    strategy = params.strategy
    return ConfigSnapshot(
        mode=params.mode.value,
        decision_mode=params.decision_mode.value,
        environment=params.environment.value,
        dry_run=params.dry_run,
        explore_prob=strategy.explore_prob,
        explore_top_k=strategy.explore_top_k,
        delta_range=(strategy.delta_min, strategy.delta_max),
        dte_range=(strategy.dte_min_days, strategy.dte_max_days),
        ivrv_min=strategy.ivrv_min,
        premium_min_usd=params.risk.premium_min_usd,
        loop_interval_s=params.loop_interval_s,
        policy_version=params.policy_version,
        params_hash=params.params_hash,
    )


class AgentStatusView(BaseModel):
    """The live agent's status (dashboard and `GET /api/agent/status`), typed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    last_tick_at: datetime | None
    last: LastTick | None = Field(description="the last tick; null before the first")
    guard: GuardState
    trading_allowed: bool
    backoff_until: datetime | None
    backoff_reason: str
    drawdown: DrawdownState | None
    kill_switch: bool = Field(description="the stored control row's kill switch")
    effective: EffectiveMode = Field(description="what the next tick will do with orders")
    config_snapshot: ConfigSnapshot | None = Field(
        description="the effective configuration (the seed's config_snapshot)"
    )
    controls: dict[str, bool | int | float | str | None] = Field(
        description='the stored control row (`dry_run` null: "the setting\'s default")'
    )
    last_run: RunSummary | None
    open_positions: int


def agent_status_snapshot() -> AgentStatusView:
    """The dashboard's and the status API's view: last tick, guard, back-off, controls."""
    status = AgentStatus.load()
    control = RuntimeControl.load()
    guard = GuardState.model_validate(status.guard_state) if status.guard_state else GuardState()
    last_run = AgentRun.objects.order_by("-started_at", "-id").first()
    return AgentStatusView(
        last_tick_at=status.last_tick_at,
        last=LastTick.model_validate(status.last_summary) if status.last_summary else None,
        guard=guard,
        trading_allowed=guard.trading_allowed,
        backoff_until=status.backoff_until,
        backoff_reason=status.backoff_reason,
        drawdown=DrawdownState.model_validate(status.drawdown_state)
        if status.drawdown_state
        else None,
        kill_switch=control.kill_switch,
        effective=EffectiveMode.model_validate(agent_mode_effective()),
        config_snapshot=config_snapshot(),
        controls=control.snapshot(),
        last_run=None
        if last_run is None
        else RunSummary(
            id=last_run.pk,
            status=last_run.status,
            trigger=last_run.trigger,
            started_at=last_run.started_at,
            summary=last_run.summary,
            duration_ms=last_run.duration_ms,
            requests=last_run.requests_count,
        ),
        open_positions=Position.objects.filter(status=Position.Status.OPEN).count(),
    )


def _consulted_decisions(*, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` decisions that asked the LLM, as plain dicts for the domain.

    Only three members of `llm_record` are read: the rest (redacted prompts and replies) can be
    kilobytes per tick.
    """
    rows = (
        Decision.objects.filter(llm_record__isnull=False)
        .order_by("-decided_at", "-id")
        .values(
            "id",
            "decided_at",
            "decision_mode",
            "decision_source",
            "proposal",
            "shadow_proposal",
            "verdict_code",
            "executed",
            llm_status=KeyTransform("status", "llm_record"),
            llm_total_tokens=KeyTransform("total_tokens", "llm_record"),
            llm_latency_ms=KeyTransform("latency_ms", "llm_record"),
        )[:limit]
    )
    decisions: list[dict[str, Any]] = []
    for row in rows:
        decision: dict[str, Any] = dict(row)
        decision["llm_record"] = {
            "status": decision.pop("llm_status"),
            "total_tokens": decision.pop("llm_total_tokens"),
            "latency_ms": decision.pop("llm_latency_ms"),
        }
        decisions.append(decision)
    return decisions


def decision_source_comparison(*, limit: int = LIMIT_DEFAULT) -> dict[str, Any]:
    """Rules vs LLM over the newest `limit` decisions that consulted the LLM (newest first).

    `{"rows": [...], "summary": {...}}` as `trading.domain.source_compare` computes them.
    """
    return compare_sources(_consulted_decisions(limit=limit)).model_dump()


def health_recheck_interval_effective() -> int:
    """The health re-check interval in effect, s (the runtime control over the setting; 0 off)."""
    return guard_config_load().health_recheck_interval_s


def agent_mode_effective() -> dict[str, Any]:
    """What the NEXT tick will do with orders: the one source for every mode indicator.

    The header badges, the Live Agent card, `/api/agent/status`, `/api/status` and the Telegram
    bot all show these values, never the deployment's defaults: the controls (dry run, kill
    switch, mode) are resolved exactly as the tick resolves them (`effective_params_load`), and
    the health guard's pause is included. `orders` is one of `live`, `dry_run`, `kill_switch`,
    `paused`, `invalid`, the headline a page shows.
    """
    status = AgentStatus.load()
    guard = GuardState.model_validate(status.guard_state) if status.guard_state else GuardState()
    environment = agent_environment().value
    try:
        params = effective_params_load()
    except ValidationError as exc:
        problem = "; ".join(str(e.get("msg", "")) for e in exc.errors())[:300]
        return {
            "environment": environment,
            "valid": False,
            "problem": problem,
            "dry_run": None,
            "kill_switch": RuntimeControl.load().kill_switch,
            "mode": None,
            "decision_mode": None,
            "trading_allowed": guard.trading_allowed,
            "orders": "invalid",
            "headline": f"no orders: the controls are invalid ({problem})",
        }
    kill = params.risk.kill_switch
    if kill:
        orders, headline = "kill_switch", "kill switch on: no order is sent"
    elif params.dry_run:
        orders, headline = "dry_run", "dry run: orders are simulated, nothing is sent"
    elif not guard.trading_allowed:
        orders, headline = "paused", f"live on {environment}, paused by the health guard"
    else:
        orders, headline = "live", f"LIVE on {environment}: real orders are sent"
    return {
        "environment": environment,
        "valid": True,
        "problem": "",
        "dry_run": params.dry_run,
        "kill_switch": kill,
        "mode": params.mode.value,
        "decision_mode": params.decision_mode.value,
        "trading_allowed": guard.trading_allowed,
        "orders": orders,
        "headline": headline,
    }


#: Columns of the orders CSV export (and the orders page), in order.
ORDER_COLUMNS = (
    "id",
    "label",
    "book",
    "environment",
    "origin",
    "requested_by",
    "decision_id",
    "decision_action",
    "instrument_name",
    "currency",
    "direction",
    "amount",
    "limit_price",
    "state",
    "filled_amount",
    "average_price",
    "premium_coin",
    "fee_coin",
    "fee_source",
    "exchange_order_id",
    "trade_ids",
    "created_at",
    "sent_at",
    "resolved_at",
    "error",
)


def order_row(order: Order) -> dict[str, Any]:
    """One order as the history shows it: fills, average price per coin, premium of the whole
    filled part (amount x average, coin), fee, exchange ids (order and trades), timestamps."""
    trades = (order.raw or {}).get("trades") or []
    decision = order.decision
    return {
        "id": order.pk,
        "label": order.label,
        "book": "paper" if order.dry_run else "real",
        "environment": order.environment,
        "origin": order.origin,
        "requested_by": order.requested_by,
        "decision_id": order.decision_id,
        "decision_action": decision.action if decision else "",
        "instrument_name": order.instrument_name,
        "currency": order.currency,
        "direction": order.direction,
        "amount": order.amount,
        "limit_price": order.limit_price,
        "state": order.state,
        "filled_amount": order.filled_amount,
        "average_price": order.average_price,
        "premium_coin": order.filled_amount * order.average_price,
        "fee_coin": order.fee_coin,
        "fee_source": order.fee_source,
        "exchange_order_id": order.exchange_order_id,
        "trade_ids": " ".join(str(t.get("trade_id", "")) for t in trades),
        "created_at": order.created_at,
        "sent_at": order.sent_at,
        "resolved_at": order.resolved_at,
        "error": order.error,
    }


def orders_csv(orders: QuerySet[Order]) -> str:
    """The orders as CSV (header row first; times ISO 8601 UTC, wall clock; coin amounts)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=ORDER_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for order in orders.select_related("decision"):
        row = order_row(order)
        writer.writerow(
            {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
        )
    return buffer.getvalue()


def decision_outcome(decision: Decision) -> dict[str, Any] | None:
    """What became of the call a decision sold, once known: the position its sell leg opened
    (same instrument and book, opened by that fill), its realised P&L when it closed.

    None when the decision sold nothing. `status` is `open` (not known yet) or `closed`.
    """
    from datetime import timedelta

    sell = next(
        (o for o in decision.orders.all() if o.direction == "sell" and o.filled_amount > 0), None
    )
    if sell is None:
        return None
    position = (
        Position.objects.filter(
            instrument_name=sell.instrument_name,
            paper=sell.dry_run,
            opened_at__gte=sell.created_at - timedelta(seconds=5),
        )
        .order_by("opened_at", "id")
        .first()
    )
    if position is None:
        return None
    values = {
        "size": position.size,
        "average_price_coin": position.average_price_coin,
        "realised_coin": position.realised_coin,
        "fees_coin": position.fees_coin,
        "settled_coin": position.settled_coin,
    }
    from trading.domain.pnl import position_realised_coin

    if position.status == Position.Status.OPEN:
        return {
            "status": "open",
            "position_id": position.pk,
            "realised_coin": None,
            "text": f"{position.instrument_name} is still open: the outcome is not known yet.",
        }
    realised = position_realised_coin(values)
    index = (decision.state_snapshot or {}).get("index_price_usd", {}).get(position.currency)
    usd = None if index is None else round(float(realised) * float(index), 2)
    money = f"{realised:+.6f} {position.currency}" + (
        "" if usd is None else f" (about ${usd:,.2f} at the decision's index)"
    )
    return {
        "status": "closed",
        "position_id": position.pk,
        "realised_coin": realised,
        "realised_usd": usd,
        "closed_at": position.closed_at,
        "text": f"{position.instrument_name} closed, realised {money}, fees included. "
        f"{position.note}",
    }


def risk_report_latest() -> dict[str, Any] | None:
    """The last tick's risk report (greeks and scenario grid of the book); None before a tick."""
    status = AgentStatus.objects.filter(pk=1).only("risk_report").first()
    report = status.risk_report if status is not None else None
    return report if isinstance(report, dict) else None


def pnl_history() -> dict[str, Any]:
    """Daily cash P&L per book and the account's daily equity and drawdown
    (`trading.domain.pnl.pnl_daily`), USD at each day's last index.

    Fills count on the day they were created (premium +, buy-backs -, fees -), expiry and
    archive settlements on the day the position closed; equity is the last tick's of each day.
    """
    from django.db.models.functions import TruncDate

    from trading.domain.pnl import pnl_daily

    index_by_day: dict[Any, dict[str, float]] = {}
    equity_by_day: dict[Any, Any] = {}
    for row in (
        Decision.objects.annotate(day=TruncDate("decided_at"))
        .order_by("decided_at", "id")
        .values("day", "state_snapshot")
    ):
        snapshot = row["state_snapshot"] or {}
        if snapshot.get("index_price_usd"):
            index_by_day[row["day"]] = snapshot["index_price_usd"]
        equity = (snapshot.get("portfolio") or {}).get("equity_usd")
        if equity is not None:
            equity_by_day[row["day"]] = equity
    days_known = sorted(index_by_day)

    def index_on(day: Any, currency: str) -> float | None:
        earlier = [d for d in days_known if d <= day] or days_known[:1]
        return (index_by_day.get(earlier[-1]) or {}).get(currency) if earlier else None

    cash = []
    for order in (
        Order.objects.filter(filled_amount__gt=0)
        .annotate(day=TruncDate("created_at"))
        .values("day", "dry_run", "currency", "direction", "filled_amount", "average_price")
        .annotate(fees=Sum("fee_coin"))
    ):
        index = index_on(order["day"], order["currency"])
        if index is None:
            continue
        premium = order["filled_amount"] * order["average_price"]
        coin = (premium if order["direction"] == "sell" else -premium) - (order["fees"] or 0)
        cash.append(
            {"day": order["day"], "book": "paper" if order["dry_run"] else "real",
             "usd": float(coin) * float(index)}
        )  # fmt: skip
    for position in (
        Position.objects.exclude(status=Position.Status.OPEN)
        .filter(settled_coin__isnull=False, closed_at__isnull=False)
        .annotate(day=TruncDate("closed_at"))
        .values("day", "paper", "currency", "settled_coin")
    ):
        index = index_on(position["day"], position["currency"])
        if index is not None:
            cash.append(
                {"day": position["day"], "book": "paper" if position["paper"] else "real",
                 "usd": float(position["settled_coin"]) * float(index)}
            )  # fmt: skip
    equity = [{"day": d, "equity_usd": v} for d, v in equity_by_day.items()]
    return pnl_daily(cash, equity)


#: Columns of the live training data (one row per decision: state, action, reward). `profile`
#: is `live_<mode>`, the column training mode's files lead with (`backtests.domain.profiles`).
TRAINING_COLUMNS = (
    "profile",
    "decision_id",
    "decided_at",
    "market_time",
    "environment",
    "dry_run",
    "mode",
    "policy_version",
    "decision_source",
    "action",
    "underlying",
    "explored",
    "explore_rank",
    "verdict_code",
    "executed",
    "index_usd",
    "equity_usd",
    "margin_used_pct",
    "instrument_name",
    "strike",
    "dte_days",
    "delta",
    "iv",
    "ivrv",
    "premium_usd",
    "score",
    "outcome_status",
    "realised_coin",
    "realised_usd",
)


def decision_outcomes(decisions: list[Decision]) -> dict[int, dict[str, Any]]:
    """`decision_outcome` of many decisions at once (one positions query)."""
    from datetime import timedelta

    from trading.domain.pnl import position_realised_coin

    by_book: dict[tuple[str, bool], list[Position]] = {}
    for row in Position.objects.order_by("opened_at", "id"):
        by_book.setdefault((row.instrument_name, row.paper), []).append(row)
    outcomes: dict[int, dict[str, Any]] = {}
    for decision in decisions:
        sell = next(
            (o for o in decision.orders.all() if o.direction == "sell" and o.filled_amount > 0),
            None,
        )
        if sell is None:
            continue
        start = sell.created_at - timedelta(seconds=5)
        candidates = by_book.get((sell.instrument_name, sell.dry_run), [])
        position = next((p for p in candidates if p.opened_at >= start), None)
        if position is None:
            continue
        if position.status == Position.Status.OPEN:
            outcomes[decision.pk] = {"status": "open", "realised_coin": None, "realised_usd": None}
            continue
        realised = position_realised_coin(
            {
                "size": position.size,
                "average_price_coin": position.average_price_coin,
                "realised_coin": position.realised_coin,
                "fees_coin": position.fees_coin,
                "settled_coin": position.settled_coin,
            }
        )
        index = (decision.state_snapshot or {}).get("index_price_usd", {}).get(position.currency)
        outcomes[decision.pk] = {
            "status": position.status,
            "realised_coin": str(realised),
            "realised_usd": None if index is None else round(float(realised) * float(index), 2),
        }
    return outcomes


def decision_log_export(qs: QuerySet[Decision] | None = None) -> str:
    """The decision log as JSONL: each decision's canonical line with `realised_outcome` added
    (`status` open/closed/archived, realised coin and USD, fees included; null when it sold
    nothing)."""
    import json

    decisions = list((qs if qs is not None else Decision.objects.all()).prefetch_related("orders"))
    decisions.sort(key=lambda d: (d.decided_at, d.pk))
    outcomes = decision_outcomes(decisions)
    lines = []
    for decision in decisions:
        record = (
            json.loads(decision.log_line) if decision.log_line else {"decision_id": decision.pk}
        )
        record["realised_outcome"] = outcomes.get(decision.pk)
        lines.append(json.dumps(record, sort_keys=True, separators=(",", ":")))
    return "\n".join(lines) + ("\n" if lines else "")


def training_csv(qs: QuerySet[Decision] | None = None) -> str:
    """Live training data as CSV: one row per decision with what it saw (index, portfolio, the
    chosen call's features), what it did, and the realised outcome as the reward once known."""
    import csv
    import io

    decisions = list((qs if qs is not None else Decision.objects.all()).prefetch_related("orders"))
    decisions.sort(key=lambda d: (d.decided_at, d.pk))
    outcomes = decision_outcomes(decisions)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=TRAINING_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for d in decisions:
        snapshot = d.state_snapshot or {}
        portfolio = snapshot.get("portfolio") or {}
        chosen = d.chosen_candidate or {}
        outcome = outcomes.get(d.pk) or {}
        writer.writerow(
            {
                "profile": f"live_{d.mode}",
                "decision_id": d.pk,
                "decided_at": d.decided_at.isoformat(),
                "market_time": d.market_time.isoformat(),
                "environment": d.environment,
                "dry_run": d.dry_run,
                "mode": d.mode,
                "policy_version": d.policy_version,
                "decision_source": d.decision_source,
                "action": d.action,
                "underlying": d.underlying,
                "explored": d.explored,
                "explore_rank": d.explore_rank,
                "verdict_code": d.verdict_code,
                "executed": d.executed,
                "index_usd": (snapshot.get("index_price_usd") or {}).get(d.underlying),
                "equity_usd": portfolio.get("equity_usd"),
                "margin_used_pct": portfolio.get("margin_used_pct"),
                **{k: chosen.get(k) for k in ("instrument_name", "strike", "dte_days", "delta",
                                              "iv", "ivrv", "premium_usd", "score")},
                "outcome_status": outcome.get("status", ""),
                "realised_coin": outcome.get("realised_coin"),
                "realised_usd": outcome.get("realised_usd"),
            }
        )  # fmt: skip
    return buffer.getvalue()


def agent_clocks() -> dict[str, Any]:
    """Wall time now, the market (exchange/simulator) clock at the last tick, whether they
    differ (more than a minute apart at that tick: an accelerated simulator), and when the
    next tick is due (wall clock: last tick + loop interval)."""
    from datetime import timedelta

    from django.utils import timezone

    status = AgentStatus.load()
    now = timezone.now()
    market = market_now() if status.last_summary else None
    wall_at_tick = status.last_tick_at
    differ = bool(market and wall_at_tick and abs((market - wall_at_tick).total_seconds()) > 60)
    try:
        interval = effective_params_load().loop_interval_s
    except ValidationError:
        interval = None
    next_tick = None
    if wall_at_tick is not None and interval:
        next_tick = max(wall_at_tick + timedelta(seconds=interval), now)
    return {
        "wall_now": now,
        "market_at_last_tick": market,
        "wall_at_last_tick": wall_at_tick,
        "differ": differ,
        "next_tick_at": next_tick,
        "interval_s": interval,
    }

"""The chat's tools: read-only views of the decision log, positions, candidates and controls.

Why a closed registry: the chat model may only call what is listed in `TOOLS`, and every entry
reads; there is no tool that places, changes or cancels anything, and `.importlinter` forbids
this package from importing the order path (`trading.services.execution`, `tick`,
`reconcile`). A call to any other name is answered with an error the model can read, never
run. Outputs are plain JSON-ready dicts: the same data feeds the LLM and the template answers
(`trading.domain.chat`), and the decisions a tool returns are recorded as the answer's sources.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from pydantic import ValidationError

from trading import selectors
from trading.domain.chat import MAX_LIMIT, InstrumentHint, instrument_hint
from trading.domain.decision_log import to_json_value
from trading.domain.proposal import Proposal
from trading.models import Decision, Position, RuntimeControl
from trading.selectors import decision_candidates, pnl_summary
from trading.services.controls import effective_params_load

#: How far back an instrument search looks (the newest decisions first).
SEARCH_WINDOW = 500
#: Top candidates per underlying a tool returns.
TOP_CANDIDATES = 5
#: Longest reason text a tool returns (decision reasons are short; logged data may not be).
MAX_TEXT = 600


@dataclass
class ToolContext:
    """One answer's tool session: how many decisions a lookup returns, and what was read."""

    limit: int = 10
    sources: list[int] = field(default_factory=list)

    def cite(self, decision_id: int) -> None:
        """Record that the answer drew on this decision."""
        if decision_id not in self.sources:
            self.sources.append(decision_id)


@dataclass(frozen=True, slots=True)
class Tool:
    """A read-only tool: its OpenAI function definition and the function that answers it."""

    name: str
    description: str
    parameters: Mapping[str, Any]
    run: Callable[[ToolContext, Mapping[str, Any]], dict[str, Any]]

    def spec(self) -> dict[str, Any]:
        """The OpenAI `tools` entry."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": dict(self.parameters),
            },
        }


class ToolArgumentError(ValueError):
    """A tool was called with arguments it cannot use."""


def _text(value: Any) -> str:
    text = str(value or "")
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def _int_arg(args: Mapping[str, Any], name: str, default: int, *, high: int) -> int:
    raw = args.get(name, default)
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ToolArgumentError(f"{name} must be an integer")
    try:
        value = int(raw)
    except ValueError as exc:
        raise ToolArgumentError(f"{name} must be an integer, not {raw!r}") from exc
    return max(1, min(value, high))


# ---------------------------------------------------------------------------------- views


def candidate_groups(decision: Decision) -> dict[str, list[dict[str, Any]]]:
    """The decision's ranked candidates per underlying (typed read; rejection counts apart)."""
    ranked, _ = decision_candidates(decision)
    return {name: [row.model_dump(mode="json") for row in rows] for name, rows in ranked.items()}


def _leg_rows(proposal: Proposal) -> list[dict[str, Any]]:
    return [leg.model_dump(mode="json") for leg in proposal.legs]


def decision_view(decision: Decision, *, detail: bool = False) -> dict[str, Any]:
    """One decision as the chat sees it: what, why, by whom, the verdict and what happened.

    Read through the typed `trading.selectors.decision_view`, so a renamed stored field fails
    here instead of giving the model blanks.
    """
    typed = selectors.decision_view(decision, detail=detail)
    shadow = typed.shadow
    view: dict[str, Any] = {
        "id": typed.id,
        "decided_at": typed.decided_at.isoformat(),
        "market_time": typed.market_time.isoformat(),
        "action": typed.action.value,
        "underlying": typed.underlying,
        "source": typed.decision_source.value,
        "decision_mode": typed.decision_mode.value,
        "mode": typed.mode.value,
        "dry_run": typed.dry_run,
        "executed": typed.executed,
        "verdict": typed.verdict_code.value,
        "reason": _text(typed.reason),
        "legs": _leg_rows(typed.proposal),
        "explored": typed.explored,
        "chosen_candidate": None
        if typed.chosen_candidate is None
        else typed.chosen_candidate.model_dump(mode="json"),
        "failed_checks": [
            {"name": name, "detail": _text(detail_text)}
            for name, detail_text in typed.failed_checks
        ],
        "shadow": None
        if shadow is None
        else {
            "source": shadow.source.value,
            "action": shadow.action.value,
            "legs": _leg_rows(shadow),
            "reason": _text(shadow.reason),
        },
        "llm_status": typed.llm_status,
    }
    if not detail:
        return view
    state = typed.state
    context = None if state is None else state.context.get(typed.underlying)
    candidates = typed.candidates_of_underlying()
    view["candidate_count"] = len(candidates)
    view["top_candidates"] = [c.model_dump(mode="json") for c in candidates[:TOP_CANDIDATES]]
    view["rejection_counts"] = typed.rejection_counts
    view["index_price_usd"] = None if state is None else state.index_price_usd.get(typed.underlying)
    view["market"] = {
        k: None if context is None else to_json_value(getattr(context, k))
        for k in ("regime", "vol_trend", "rv_7d", "rv_30d", "return_7d_pct", "return_30d_pct")
    }
    holdings = None if state is None or state.portfolio is None else state.portfolio.holdings_coin
    view["holdings_coin"] = None if holdings is None else to_json_value(holdings)
    view["orders"] = [o.model_dump(mode="json") for o in typed.orders]
    view["llm_issues"] = list(typed.llm_issues)
    return view


def _mentions(decision: Decision, hint: InstrumentHint) -> bool:
    return any(hint.matches(name) for name in selectors.decision_instruments(decision) if name)


# ---------------------------------------------------------------------------------- tools


def get_agent_status(ctx: ToolContext, args: Mapping[str, Any]) -> dict[str, Any]:
    """Environment, modes, dry run, kill switch, guard, last tick, LLM availability."""
    status = selectors.agent_status_snapshot()
    control = RuntimeControl.load()
    guard = status.guard
    view: dict[str, Any] = {
        "kill_switch": control.kill_switch,
        "agent_state": guard.status.value,
        "health": guard.worst_severity.name,
        "trading_allowed": guard.trading_allowed,
        "last_tick_at": status.last_tick_at.isoformat() if status.last_tick_at else None,
        "backoff_until": status.backoff_until.isoformat() if status.backoff_until else None,
        "llm_available": bool(settings.LLM_ENABLED),
        "open_positions": Position.objects.filter(status=Position.Status.OPEN).count(),
        "decisions_logged": Decision.objects.count(),
    }
    try:
        params = effective_params_load(control)
    except ValidationError as exc:
        view["controls_error"] = _text(exc)
        return view
    view.update(
        environment=params.environment.value,
        mode=params.mode.value,
        decision_mode=params.decision_mode.value,
        dry_run=params.dry_run,
        loop_interval_s=params.loop_interval_s,
        policy_version=params.policy_version,
    )
    return view


def _light(qs: QuerySet[Decision]) -> QuerySet[Decision]:
    """Decisions without their heavy JSON, with the LLM status (`selectors.decision_list_light`)."""
    return selectors.decision_list_light(qs)


def list_decisions(ctx: ToolContext, args: Mapping[str, Any]) -> dict[str, Any]:
    """The newest decisions, optionally only one action or those involving an option."""
    limit = _int_arg(args, "limit", ctx.limit, high=MAX_LIMIT)
    qs = Decision.objects.order_by("-decided_at", "-id")
    action = args.get("action")
    if action:
        qs = qs.filter(action=str(action).upper())
    query = str(args.get("instrument") or "").strip()
    if not query:
        rows = list(_light(qs)[:limit])
        searched = len(rows)
    else:
        hint = instrument_hint(query)
        if hint.empty and hint.currency is None:
            raise ToolArgumentError(f"instrument {query!r} names no option, strike or currency")
        window = list(
            qs.only("id", "proposal", "shadow_proposal", "chosen_candidate")[:SEARCH_WINDOW]
        )
        searched = len(window)
        ids = [d.pk for d in window if _mentions(d, hint)][:limit]
        rows = list(_light(qs.filter(pk__in=ids)))
    for d in rows:
        ctx.cite(d.pk)
    return {
        "searched": searched,
        "total_logged": Decision.objects.count(),
        "decisions": [decision_view(d) for d in rows],
    }


def get_decision(ctx: ToolContext, args: Mapping[str, Any]) -> dict[str, Any]:
    """One decision in full: candidates, market, risk checks, orders, shadow and LLM outcome."""
    raw = args.get("decision_id")
    if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).isdigit():
        raise ToolArgumentError("decision_id must be a decision's integer id")
    decision = Decision.objects.filter(pk=int(raw)).prefetch_related("orders").first()
    if decision is None:
        return {"error": f"no decision #{raw}"}
    ctx.cite(decision.pk)
    return decision_view(decision, detail=True)


def get_positions(ctx: ToolContext, args: Mapping[str, Any]) -> dict[str, Any]:
    """Open option positions (paper ones from dry runs included, and marked)."""
    rows = Position.objects.filter(status=Position.Status.OPEN).order_by("instrument_name")
    return {
        "positions": [
            {
                "instrument_name": p.instrument_name,
                "size": str(p.size),
                "average_price": str(p.average_price_coin),
                "strategy_id": p.strategy_id,
                "paper": p.paper,
                "sandbox": p.sandbox,
                "opened_at": p.opened_at.isoformat(),
                "flagged": p.flagged,
            }
            for p in rows
        ]
    }


def get_pnl(ctx: ToolContext, args: Mapping[str, Any]) -> dict[str, Any]:
    """Realised, unrealised (mark, buy-back) and total P&L with fees, per underlying and book."""
    return pnl_summary()


def get_candidates(ctx: ToolContext, args: Mapping[str, Any]) -> dict[str, Any]:
    """The last tick's ranked candidates per underlying (best first)."""
    top = _int_arg(args, "top", TOP_CANDIDATES, high=20)
    latest = Decision.objects.order_by("-decided_at", "-id").first()
    if latest is None:
        return {"as_of": None, "candidates": {}}
    ctx.cite(latest.pk)
    currency = str(args.get("currency") or "").upper()
    groups = {
        name: rows[:top]
        for name, rows in candidate_groups(latest).items()
        if not currency or name == currency
    }
    _, rejections = decision_candidates(latest)
    return {
        "as_of": latest.market_time.isoformat(),
        "decision_id": latest.pk,
        "candidates": groups,
        "rejection_counts": rejections,
    }


def get_next_outlook(ctx: ToolContext, args: Mapping[str, Any]) -> dict[str, Any]:
    """What the next tick would likely do, per underlying, following the rule policy's order:
    manage an open call (roll rules), else open the best candidate while below the per-underlying
    limit, else nothing; plus what blocks new risk. A forecast from stored data, not a decision."""
    status = get_agent_status(ctx, {})
    blockers = []
    if status.get("kill_switch"):
        blockers.append("the kill switch is on")
    if not status.get("trading_allowed", True):
        blockers.append(f"the health guard has the agent {status.get('agent_state')}")
    if status.get("backoff_until"):
        blockers.append(f"backing off until {status['backoff_until']}")
    if status.get("controls_error"):
        blockers.append("the controls are inconsistent, so ticks refuse to run")
    latest = Decision.objects.order_by("-decided_at", "-id").first()
    if latest is not None:
        ctx.cite(latest.pk)
    groups = {} if latest is None else candidate_groups(latest)
    open_calls = Position.objects.filter(
        status=Position.Status.OPEN, sandbox=False, size__lt=0
    ).values_list("currency", "instrument_name")
    held: dict[str, list[str]] = {}
    for currency, name in open_calls:
        held.setdefault(currency, []).append(name)
    try:
        params = effective_params_load()
    except ValidationError:
        params = None
    names = list(params.underlyings) if params else sorted({*groups, *held})
    return {
        "blockers": blockers,
        "dry_run": status.get("dry_run"),
        "decision_mode": status.get("decision_mode"),
        "loop_interval_s": status.get("loop_interval_s"),
        "last_decision": None if latest is None else decision_view(latest),
        "underlyings": {
            name: {
                "open_calls": held.get(name, []),
                "best_candidate": next(iter(groups.get(name) or []), None),
            }
            for name in names
        },
        "max_calls_per_underlying": params.risk.max_calls_per_underlying if params else None,
        "roll_rules": params.roll.model_dump() if params else None,
    }


_NO_ARGS: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}

TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool(
            "get_agent_status",
            "Current environment, mode, decision mode, dry run, kill switch, health guard, "
            "last tick time and whether an LLM is configured.",
            _NO_ARGS,
            get_agent_status,
        ),
        Tool(
            "list_decisions",
            "The newest logged decisions (newest first), optionally only one action or only "
            "those involving an option: a full name (BTC-11DEC26-97000-C), a strike "
            "('97k', '97000') or a currency.",
            {
                "type": "object",
                "properties": {
                    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                    "action": {
                        "type": "string",
                        "enum": [
                            "DO_NOTHING",
                            "OPEN_COVERED_CALL",
                            "ROLL_COVERED_CALL",
                            "CLOSE_COVERED_CALL",
                        ],
                    },
                    "instrument": {"type": "string"},
                },
                "additionalProperties": False,
            },
            list_decisions,
        ),
        Tool(
            "get_decision",
            "One decision in full by id: its reason, chosen candidate and the top candidates, "
            "market context, every failed risk check, orders, the shadow proposal and LLM "
            "outcome.",
            {
                "type": "object",
                "properties": {"decision_id": {"type": "integer"}},
                "required": ["decision_id"],
                "additionalProperties": False,
            },
            get_decision,
        ),
        Tool("get_positions", "The open option positions.", _NO_ARGS, get_positions),
        Tool(
            "get_pnl",
            "Profit and loss per underlying, dry-run (paper) and real books apart, in coin and "
            "USD: realised (closed calls, every trading fee paid), unrealised (open calls at "
            "the last mark and at the best ask, the price to buy back now), total, fees; with "
            "premium received, paid to buy back and settled at expiry; subtotals per book.",
            _NO_ARGS,
            get_pnl,
        ),
        Tool(
            "get_candidates",
            "The last tick's ranked covered-call candidates per underlying, best first.",
            {
                "type": "object",
                "properties": {
                    "currency": {"type": "string", "enum": ["BTC", "ETH"]},
                    "top": {"type": "integer", "minimum": 1, "maximum": 20},
                },
                "additionalProperties": False,
            },
            get_candidates,
        ),
        Tool(
            "get_next_outlook",
            "What the next tick would likely do per underlying (manage the open call, open "
            "the best candidate, or nothing), what blocks new risk, and the roll rules.",
            _NO_ARGS,
            get_next_outlook,
        ),
    )
}


def tool_specs() -> list[dict[str, Any]]:
    """Every tool's OpenAI definition."""
    return [tool.spec() for tool in TOOLS.values()]


def tool_run(name: str, arguments: str | Mapping[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Run one listed tool; an unknown name or bad arguments come back as `{"error": ...}`."""
    tool = TOOLS.get(name)
    if tool is None:
        allowed = ", ".join(TOOLS)
        return {"error": f"unknown tool {name!r}: chat tools only read ({allowed})"}
    if isinstance(arguments, str):
        try:
            parsed = json.loads(arguments or "{}")
        except json.JSONDecodeError:
            return {"error": f"arguments of {name} are not JSON"}
    else:
        parsed = dict(arguments)
    if not isinstance(parsed, dict):
        return {"error": f"arguments of {name} must be a JSON object"}
    try:
        return tool.run(ctx, parsed)
    except ToolArgumentError as exc:
        return {"error": str(exc)}

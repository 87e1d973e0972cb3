"""Rules vs LLM, tick by tick: pair the two proposals of each decision and measure agreement.

A decision row keeps the proposal that acted and the other source's proposal as its shadow
(`trading.domain.policy.route_decision`); which one is the rules' depends on the decision mode
and on whether the LLM answered. This module undoes that routing from plain dicts (the stored
JSON), so the dashboard, the API and the tests all read the same numbers without a database.

Two proposals agree when they have the same action on the same instrument(s) (both DO_NOTHING
agree); sizes are not compared, the risk rails clamp them anyway. Only a tick the LLM answered
(status `ok`) can agree or disagree. One whose LLM gave no proposal at all (not configured, or
the policy broke) or only the DO_NOTHING its failure became (invalid, refused, truncated, timed
out) is counted apart and left out of the agreement rate: a timeout is not an opinion, and
counting it would make a failing LLM look like one that agrees with the rules' DO_NOTHING.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from trading.domain.proposal import ActionType, DecisionSource

Side = Literal["rules", "llm"]
RULES: Side = "rules"
LLM: Side = "llm"

#: Every LLM outcome status (`trading.services.llm_policy.LLMDecision`), in summary order.
LLM_STATUSES = ("ok", "invalid", "refused", "truncated", "timeout", "unavailable", "error")
ACTIONS = tuple(action.value for action in ActionType)

LIMIT_DEFAULT = 200
LIMIT_MAX = 2000

_SIDE_OF_SOURCE: dict[str, Side] = {DecisionSource.RULE.value: RULES, DecisionSource.LLM.value: LLM}


class ComparedTick(BaseModel):
    """One decision that consulted the LLM: what each source proposed and whether they agree.

    `acted` is the source whose proposal went to the health guard and the risk engine;
    `llm_action` is None when the LLM gave no proposal; `agree` is None then and whenever the
    LLM failed (its DO_NOTHING is a fallback, not its view).
    """

    model_config = ConfigDict(frozen=True)

    decision_id: int
    decided_at: datetime
    decision_mode: str
    acted: Side
    rule_action: str | None
    rule_instruments: tuple[str, ...] = ()
    llm_action: str | None
    llm_instruments: tuple[str, ...] = ()
    agree: bool | None
    llm_status: str
    llm_failed: bool
    total_tokens: int | None = None
    latency_ms: float | None = None
    verdict_code: str = ""
    executed: bool = False


class ComparisonSummary(BaseModel):
    """Totals over the compared ticks (rates and means are None when nothing was measured)."""

    model_config = ConfigDict(frozen=True)

    ticks: int
    compared: int
    agreements: int
    agreement_rate: float | None
    acted: dict[str, int]
    llm_statuses: dict[str, int]
    actions: dict[str, dict[str, int]]
    llm_do_nothing_by_choice: int
    llm_do_nothing_by_failure: int
    llm_without_proposal: int
    mean_tokens: float | None
    median_latency_ms: float | None
    since: datetime | None
    until: datetime | None


class SourceComparison(BaseModel):
    """Per-tick rows (in the order given, the selector's newest first) and their summary."""

    model_config = ConfigDict(frozen=True)

    rows: tuple[ComparedTick, ...]
    summary: ComparisonSummary


def comparison_limit(raw: str | None) -> int:
    """How many decisions to compare, from a query string value (absent: the default).

    Raises ValueError with a message fit for the user when it is not an integer in 1..2000.
    """
    if raw is None or raw.strip() == "":
        return LIMIT_DEFAULT
    try:
        limit = int(raw)
    except ValueError:
        raise ValueError(f"an integer from 1 to {LIMIT_MAX}, got {raw!r}") from None
    if not 1 <= limit <= LIMIT_MAX:
        raise ValueError(f"an integer from 1 to {LIMIT_MAX}, got {limit}")
    return limit


def _side_of(record: Mapping[str, Any] | None) -> Side | None:
    if not record:
        return None
    return _SIDE_OF_SOURCE.get(str(record.get("source", "")))


def _instruments(record: Mapping[str, Any]) -> tuple[str, ...]:
    """Leg instruments in leg order (a roll: the call bought back, then the call sold)."""
    return tuple(str(leg.get("instrument_name", "")) for leg in record.get("legs") or ())


def pair_proposals(
    proposal: Mapping[str, Any] | None,
    shadow: Mapping[str, Any] | None,
    decision_source: str,
) -> tuple[Side, Mapping[str, Any] | None, Mapping[str, Any] | None]:
    """(who acted, the rules' proposal, the LLM's proposal) of one decision.

    The shadow's `source` decides, not the acting proposal's: the health guard may replace an
    acting LLM OPEN by a DO_NOTHING stamped with the rules' source, while the shadow is always
    the other policy's own answer. With no shadow the LLM gave nothing and `decision_source`
    (normally the rules, who fell back) names what acted.
    """
    shadow_side = _side_of(shadow)
    if shadow_side == LLM:
        acted: Side = RULES
    elif shadow_side == RULES:
        acted = LLM
    else:
        acted = _SIDE_OF_SOURCE.get(decision_source, RULES)
    if acted == RULES:
        return acted, proposal or None, shadow or None
    return acted, shadow or None, proposal or None


def proposals_agree(rule: Mapping[str, Any] | None, llm: Mapping[str, Any] | None) -> bool | None:
    """Same action on the same instrument(s); None when either side has no proposal."""
    if not rule or not llm:
        return None
    same_action = rule.get("action") == llm.get("action")
    return same_action and _instruments(rule) == _instruments(llm)


def _optional_number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def compare_tick(decision: Mapping[str, Any]) -> ComparedTick:
    """One decision (a dict of the `Decision` fields, `llm_record` at least its status, tokens
    and latency) as a compared tick."""
    acted, rule, llm = pair_proposals(
        decision.get("proposal"),
        decision.get("shadow_proposal"),
        str(decision.get("decision_source", "")),
    )
    record = decision.get("llm_record") or {}
    status = str(record.get("status") or "unknown")
    failed = status != "ok"
    tokens = _optional_number(record.get("total_tokens"))
    return ComparedTick(
        decision_id=int(decision["id"]),
        decided_at=decision["decided_at"],
        decision_mode=str(decision.get("decision_mode", "")),
        acted=acted,
        rule_action=None if rule is None else str(rule.get("action")),
        rule_instruments=() if rule is None else _instruments(rule),
        llm_action=None if llm is None else str(llm.get("action")),
        llm_instruments=() if llm is None else _instruments(llm),
        agree=None if failed else proposals_agree(rule, llm),
        llm_status=status,
        llm_failed=failed,
        total_tokens=None if tokens is None else int(tokens),
        latency_ms=_optional_number(record.get("latency_ms")),
        verdict_code=str(decision.get("verdict_code", "")),
        executed=bool(decision.get("executed", False)),
    )


def _action_counts(actions: Iterable[str | None]) -> dict[str, int]:
    """Counts per action, every action listed (an unexpected one is added after them)."""
    counts = Counter(a for a in actions if a is not None)
    return {action: counts.pop(action, 0) for action in ACTIONS} | dict(counts)


def _status_counts(statuses: Iterable[str]) -> dict[str, int]:
    counts = Counter(statuses)
    known = {status: counts.pop(status, 0) for status in LLM_STATUSES}
    return known | dict(sorted(counts.items()))


def summarize_comparison(rows: Iterable[ComparedTick]) -> ComparisonSummary:
    """Agreement rate, statuses, actions per source, why the LLM did nothing, tokens, latency."""
    ticks = list(rows)
    compared = [t for t in ticks if t.agree is not None]
    agreements = sum(1 for t in compared if t.agree)
    llm_nothing = [t for t in ticks if t.llm_action == ActionType.DO_NOTHING.value]
    tokens = [t.total_tokens for t in ticks if t.total_tokens is not None]
    latencies = [t.latency_ms for t in ticks if t.latency_ms is not None]
    times = [t.decided_at for t in ticks]
    return ComparisonSummary(
        ticks=len(ticks),
        compared=len(compared),
        agreements=agreements,
        agreement_rate=agreements / len(compared) if compared else None,
        acted={side: sum(1 for t in ticks if t.acted == side) for side in (RULES, LLM)},
        llm_statuses=_status_counts(t.llm_status for t in ticks),
        actions={
            RULES: _action_counts(t.rule_action for t in ticks),
            LLM: _action_counts(t.llm_action for t in ticks),
        },
        llm_do_nothing_by_choice=sum(1 for t in llm_nothing if not t.llm_failed),
        llm_do_nothing_by_failure=sum(1 for t in llm_nothing if t.llm_failed),
        llm_without_proposal=sum(1 for t in ticks if t.llm_action is None),
        mean_tokens=round(statistics.fmean(tokens), 1) if tokens else None,
        median_latency_ms=round(statistics.median(latencies), 1) if latencies else None,
        since=min(times) if times else None,
        until=max(times) if times else None,
    )


def compare_sources(decisions: Iterable[Mapping[str, Any]]) -> SourceComparison:
    """Every decision paired (order kept) and summarised; see the module docstring."""
    rows = tuple(compare_tick(decision) for decision in decisions)
    return SourceComparison(rows=rows, summary=summarize_comparison(rows))

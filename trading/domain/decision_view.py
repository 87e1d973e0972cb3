"""The typed read side of a decision: what the tick stores beside the JSONL line, read back.

The tick writes a `DecisionLogRecord` (`trading.domain.decision_log`) and stores parts of it
on the `Decision` row (`state_snapshot`, `candidates`, `chosen_candidate`, `proposal`, ...) and
a summary on the agent's status. Every reader (chat tools, selectors, the API, templates) reads
those parts through the models here, never with string keys and `.get()` defaults, so a renamed
or missing field fails loudly (a `pydantic.ValidationError`) where it is read, in tests too,
instead of quietly showing nothing.

The writer uses the same models (`decision_parts`, `LastTick`), so the stored shape has one
definition. Models are strict (`extra="forbid"`): a stored key the model does not know is an
error as much as a missing one.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from trading.domain.context import MarketContext
from trading.domain.decision_log import DecisionLogRecord, to_json_value
from trading.domain.health import GuardState, HealthSeverity
from trading.domain.params import AgentMode, DecisionMode, Environment
from trading.domain.proposal import ActionType, DecisionSource, Proposal
from trading.domain.risk import DrawdownState, VerdictCode
from trading.domain.risk.verdict import RiskCheck

__all__ = [
    "ActionType",
    "AgentMode",
    "CandidateRow",
    "DecisionMode",
    "DecisionParts",
    "DecisionSource",
    "DecisionState",
    "DecisionView",
    "Environment",
    "LastTick",
    "OrderLegView",
    "PortfolioView",
    "StoredVerdict",
    "VerdictCode",
    "candidates_split",
    "decision_parts",
    "decision_state",
]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _severity_by_name(value: Any) -> Any:
    return HealthSeverity[value] if isinstance(value, str) else value


class LoggedGuard(GuardState):
    """The guard state as the decision log writes it: severities by name ("OK", "FATAL")."""

    worst_severity: Annotated[
        HealthSeverity,
        BeforeValidator(_severity_by_name),
        PlainSerializer(lambda s: s.name, return_type=str, when_used="json"),
    ] = HealthSeverity.OK


class CandidateRow(_Strict):
    """One ranked candidate as logged (`CandidateEvaluation.ranked[i].as_dict()`)."""

    instrument_name: str
    score: float | None
    rank: int | None
    strike: float | None
    dte_days: float | None
    delta: float | None
    iv: float | None
    ivrv: float | None
    premium_usd: float | None


class StoredVerdict(_Strict):
    """The risk verdict as stored (`RiskVerdict.as_record()`: the checks plus code and reasons)."""

    action: ActionType
    approved: bool
    increases_risk: bool
    checks: tuple[RiskCheck, ...] = ()
    code: VerdictCode
    reasons: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[RiskCheck, ...]:
        """The checks that failed."""
        return tuple(c for c in self.checks if not c.passed)


class PositionRow(_Strict):
    """A position in the portfolio the tick saw."""

    instrument_name: str
    size: Decimal
    average_price_coin: Decimal
    strategy_id: str
    sandbox: bool


class PortfolioView(_Strict):
    """The portfolio the tick saw (equity, margin, holdings, net delta, positions, drawdown)."""

    equity_usd: Decimal | None
    initial_margin_usd: Decimal
    maintenance_margin_usd: Decimal
    margin_used_pct: float | None
    holdings_coin: dict[str, Decimal]
    net_delta: dict[str, float]
    positions: list[PositionRow]
    drawdown: DrawdownState | None


class DecisionState(_Strict):
    """`Decision.state_snapshot`: what the tick saw (portfolio, index, context, health, params)."""

    portfolio: PortfolioView | None
    index_price_usd: dict[str, float]
    context: dict[str, MarketContext]
    health: LoggedGuard | None
    params: dict[str, Any]
    state_source: dict[str, Any] | None = None  # stream or REST (absent before the stream)


class DecisionParts(_Strict):
    """What the tick stores on the Decision row besides its columns."""

    state: DecisionState
    candidates: dict[str, list[CandidateRow]]
    rejection_counts: dict[str, dict[str, int]]
    chosen_candidate: CandidateRow | None

    def stored_state(self) -> dict[str, Any]:
        """`Decision.state_snapshot` as JSON."""
        stored: dict[str, Any] = to_json_value(self.state.model_dump(mode="python"))
        return stored

    def stored_candidates(self) -> dict[str, Any]:
        """`Decision.candidates` as JSON: ranked rows per underlying and `rejection_counts`."""
        ranked = {
            k: [r.model_dump(mode="json") for r in rows] for k, rows in self.candidates.items()
        }
        return ranked | {REJECTION_KEY: self.rejection_counts}


#: The member of `Decision.candidates` that holds the rejection counts (the rest are currencies).
REJECTION_KEY = "rejection_counts"


def decision_parts(record: DecisionLogRecord) -> DecisionParts:
    """The stored parts of a decision, from its log record (validated on the way in)."""
    data = to_json_value(record.model_dump(mode="python"))
    return DecisionParts.model_validate(
        {
            "state": {k: data[k] for k in DecisionState.model_fields},
            "candidates": data["candidates"],
            "rejection_counts": data["rejection_counts"],
            "chosen_candidate": data["chosen_candidate"],
        }
    )


def decision_state(stored: dict[str, Any] | None) -> DecisionState | None:
    """Read `Decision.state_snapshot`; None while it is empty (the tick has not finished the
    row). Any other shape than the one written fails."""
    return DecisionState.model_validate(stored) if stored else None


def candidates_split(
    stored: dict[str, Any] | None,
) -> tuple[dict[str, list[CandidateRow]], dict[str, dict[str, int]] | None]:
    """Read `Decision.candidates`: (ranked rows per underlying, rejection counts or None)."""
    groups = dict(stored or {})
    rejections = groups.pop(REJECTION_KEY, None)
    ranked = {name: [CandidateRow.model_validate(r) for r in rows] for name, rows in groups.items()}
    if rejections is not None:
        rejections = {k: {r: int(n) for r, n in v.items()} for k, v in rejections.items()}
    return ranked, rejections


class OrderLegView(_Strict):
    """One order leg of a decision, as readers show it."""

    label: str
    instrument_name: str
    direction: str
    amount: str
    state: str
    filled_amount: str


class DecisionView(_Strict):
    """One decision, typed: what every reader of the decision log sees.

    `state`, `candidates` and `rejection_counts` are None when the reader did not load them
    (lists defer the heavy JSON); `orders` is empty when not loaded.
    """

    id: int
    decided_at: datetime
    market_time: datetime
    environment: Environment
    mode: AgentMode
    policy_version: str
    params_hash: str
    decision_mode: DecisionMode
    decision_source: DecisionSource
    dry_run: bool
    action: ActionType
    underlying: str
    explored: bool
    explore_rank: int | None
    reason: str
    verdict_code: VerdictCode
    verdict: StoredVerdict | None
    proposal: Proposal
    shadow: Proposal | None
    chosen_candidate: CandidateRow | None
    executed: bool
    llm_status: str | None = None
    llm_issues: tuple[str, ...] = ()
    orders: tuple[OrderLegView, ...] = ()
    state: DecisionState | None = None
    candidates: dict[str, list[CandidateRow]] | None = None
    rejection_counts: dict[str, dict[str, int]] | None = None

    @property
    def by_llm(self) -> bool:
        """Whether the LLM's proposal acted (otherwise the rules')."""
        return self.decision_source is DecisionSource.LLM

    @property
    def decided_by(self) -> str:
        """ "LLM" or "rules"."""
        return "LLM" if self.by_llm else "rules"

    @property
    def failed_checks(self) -> tuple[tuple[str, str], ...]:
        """(name, detail) of every risk check that failed."""
        return tuple((c.name, c.detail) for c in self.verdict.failed) if self.verdict else ()

    def candidates_of_underlying(self) -> list[CandidateRow]:
        """The ranked candidates of the decision's underlying (all, when it has none)."""
        groups = self.candidates or {}
        if self.underlying in groups:
            return groups[self.underlying]
        return [row for rows in groups.values() for row in rows]


class PortfolioSummary(_Strict):
    """The portfolio line of the status (equity, margin, holdings, net delta)."""

    equity_usd: Decimal | None
    margin_used_pct: float | None
    holdings_coin: dict[str, Decimal]
    net_delta: dict[str, float]


class PositionMark(_Strict):
    """The last quote of an instrument we hold (`trading.services.state.position_marks`): mark,
    bid, ask in coin per contract; IV; Black-76 greeks per coin; the forward; when (epoch s)."""

    mark: float | None = None
    bid: float | None = None
    ask: float | None = None
    iv: float | None = None
    delta: float | None = None
    gamma: float | None = None
    vega: float | None = None
    theta: float | None = None
    underlying_usd: float | None = None
    at: float | None = None


class TickStateSource(_Strict):
    """Where the last tick's state came from, and the stream's health as the tick saw it.

    `source` is "stream" (the streamed state, `age_s` old) or "rest" (`reason` says why the
    stream was not used); the `stream_*` fields are None when the ticking process holds no
    stream (AGENT_STREAM off)."""

    source: Literal["stream", "rest"]
    age_s: float | None = None
    reason: str = ""
    open_orders: int | None = None
    stream_connected: bool | None = None
    stream_age_s: float | None = None
    reconnects: int | None = None
    resyncs: int | None = None
    gaps: int | None = None
    last_resync_at: datetime | None = None


class LastTick(_Strict):
    """`AgentStatus.last_summary`: the last tick as the dashboard and the status API show it."""

    tick_at: datetime
    decision_id: int
    environment: Environment
    mode: AgentMode
    policy_version: str
    decision_mode: DecisionMode
    dry_run: bool
    explore_pct: float
    spot: dict[str, float]
    portfolio: PortfolioSummary
    top_candidates: dict[str, list[CandidateRow]]
    context: dict[str, str]
    action: ActionType
    underlying: str
    reason: str
    verdict: VerdictCode
    verdict_reasons: list[str] = Field(default_factory=list)
    explored: bool
    guard: LoggedGuard
    drawdown: DrawdownState | None
    marks: dict[str, PositionMark] = Field(default_factory=dict)
    state_source: TickStateSource | None = None

    def stored(self) -> dict[str, Any]:
        """As JSON for `AgentStatus.last_summary`."""
        stored: dict[str, Any] = to_json_value(self.model_dump(mode="python"))
        return stored

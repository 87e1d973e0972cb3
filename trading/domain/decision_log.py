"""The JSONL record of one decision, for ML/RL training and audits.

One line per tick. It holds what the agent saw (portfolio, market context, top candidates with
their features and the rejection counts), what it chose and how (action, legs, explored flag and
rank, source, mode, policy version, effective parameters and their hash), what the risk engine
said (every check) and what happened to the order.

The line is canonical, so the same decision always gives the same bytes:

* every key is always present (null when unknown), keys sorted, compact separators, UTF-8;
* `Decimal` values are strings in plain notation with no exponent and no trailing zeros
  ("0.0005", "100"), so money survives float-free;
* times are UTC ISO-8601 with microseconds and a `Z` ("2025-12-10T12:00:00.000000Z"); a naive
  datetime is an error;
* NaN and infinities become null; enums become their values (integer enums such as health
  severities their names); tuples and sets become lists.

The schema version is the first thing a reader should check: `SCHEMA_VERSION`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Context, Decimal
from enum import Enum
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from trading.domain.candidates import CandidateEvaluation
from trading.domain.context import MarketContext
from trading.domain.health import GuardState
from trading.domain.params import EffectiveParams
from trading.domain.proposal import Proposal
from trading.domain.risk import RiskInputs, RiskVerdict

SCHEMA_VERSION = "optionsdesk.decision.v1"


def format_decimal(value: Decimal) -> str:
    """Plain, canonical notation: no exponent, no trailing zeros ("0.0005", "100", "-2.5")."""
    if not value.is_finite():
        raise ValueError(f"cannot log a non-finite Decimal: {value}")
    # normalize() under the default context would round beyond 28 digits; give it exactly
    # enough precision to only strip trailing zeros.
    digits = len(value.as_tuple().digits)
    text = format(value.normalize(Context(prec=max(digits, 1))), "f")
    return "0" if text in ("-0", "0") else text


def format_time(value: datetime) -> str:
    """UTC ISO-8601 with microseconds and Z; naive datetimes are refused."""
    if value.utcoffset() is None:
        raise ValueError(f"naive datetime in a decision record: {value!r}")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _mapping(value: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(to_json_value(k)): to_json_value(v) for k, v in value.items()}


def to_json_value(value: Any) -> Any:  # noqa: C901 - one flat dispatch on the value's type
    """Convert decision data to JSON values by the rules of this module."""
    if isinstance(value, Enum):
        return to_json_value(value.value if not isinstance(value, int) else value.name)
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return format_decimal(value) if value.is_finite() else None
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return to_json_value(value.item())
    if isinstance(value, BaseModel):
        return to_json_value(value.model_dump(mode="python"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _mapping({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    if isinstance(value, Mapping):
        return _mapping(value)
    if isinstance(value, set | frozenset):
        return sorted((to_json_value(v) for v in value), key=repr)
    if isinstance(value, list | tuple | np.ndarray):
        return [to_json_value(v) for v in value]
    raise TypeError(f"cannot put {type(value).__name__} in a decision record")


class DecisionLogRecord(BaseModel):
    """One decision, as logged. Build it with `build_decision_record`."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    schema_version: str = SCHEMA_VERSION
    decision_id: str = Field(min_length=1)
    tick_at: datetime
    #: Which clock `tick_at` is on: the exchange's market time (the simulator's own clock in
    #: `sim`, which may run faster than wall time); `recorded_at` is wall-clock UTC.
    tick_at_clock: Literal["exchange"] = "exchange"
    recorded_at: datetime | None = None
    environment: str
    mode: str
    policy_version: str
    params_hash: str
    decision_mode: str
    decision_source: str
    dry_run: bool
    action: str
    underlying: str | None
    explored: bool
    explore_rank: int | None
    reason: str
    proposal: dict[str, Any]
    shadow_proposal: dict[str, Any] | None
    verdict: dict[str, Any] | None
    order: dict[str, Any] | None
    portfolio: dict[str, Any] | None
    index_price_usd: dict[str, float]
    context: dict[str, Any]
    candidates: dict[str, list[dict[str, Any]]]
    chosen_candidate: dict[str, Any] | None
    rejection_counts: dict[str, dict[str, int]]
    health: dict[str, Any] | None
    params: dict[str, Any]
    #: Where the tick's state came from: `{"source": "stream"|"rest", "age_s", "reason",
    #: "open_orders"}` (absent in records written before the stream).
    state_source: dict[str, Any] | None = None

    @field_validator("tick_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.utcoffset() is None:
            raise ValueError("tick_at must be timezone-aware (UTC)")
        return value

    def to_line(self) -> str:
        """The canonical JSON line (no trailing newline)."""
        return decision_log_line(self)


def _portfolio(inputs: RiskInputs | None) -> dict[str, Any] | None:
    if inputs is None:
        return None
    p = inputs.portfolio
    return {
        "equity_usd": p.equity_usd,
        "initial_margin_usd": p.initial_margin_usd,
        "maintenance_margin_usd": p.maintenance_margin_usd,
        "margin_used_pct": p.margin_used_pct,
        "holdings_coin": p.holdings_coin,
        "net_delta": p.net_delta,
        "positions": [
            {
                "instrument_name": pos.instrument_name,
                "size": pos.size,
                "average_price_coin": pos.average_price_coin,
                "strategy_id": pos.strategy_id,
                "sandbox": pos.sandbox,
            }
            for pos in p.positions
        ],
        "drawdown": inputs.drawdown,
    }


def _index_prices(inputs: RiskInputs | None, given: Mapping[str, float] | None) -> dict[str, float]:
    prices = {k: v for k, v in (given or {}).items() if v > 0}
    for quote in inputs.quotes.values() if inputs else ():
        prices.setdefault(quote.currency, quote.index_price_usd)
    return dict(sorted(prices.items()))


def _chosen(proposal: Proposal, evaluations: Mapping[str, CandidateEvaluation]) -> Any:
    leg = proposal.open_leg
    if leg is None:
        return None
    for evaluation in evaluations.values():
        for candidate in evaluation.ranked:
            if candidate.instrument_name == leg.instrument_name:
                return candidate.as_dict()
    return None


def build_decision_record(
    *,
    decision_id: str,
    tick_at: datetime,
    params: EffectiveParams,
    proposal: Proposal,
    verdict: RiskVerdict | None,
    inputs: RiskInputs | None = None,
    evaluations: Mapping[str, CandidateEvaluation] | None = None,
    contexts: Mapping[str, MarketContext] | None = None,
    shadow: Proposal | None = None,
    order: Mapping[str, Any] | None = None,
    health: GuardState | None = None,
    top_k: int = 10,
    index_price_usd: Mapping[str, float] | None = None,
    recorded_at: datetime | None = None,
    state_source: Mapping[str, Any] | None = None,
) -> DecisionLogRecord:
    """Assemble the record of one decision from the tick's domain objects.

    `order` is whatever the execution layer knows (label, status, exchange id, fills);
    `top_k` bounds the candidates kept per underlying (the ranking files hold the rest).
    `index_price_usd` is the tick's index per underlying; without it (or for an underlying it
    lacks) the index comes from the quotes, which miss an underlying with no candidate.
    """
    evals = dict(evaluations or {})
    return DecisionLogRecord(
        decision_id=decision_id,
        tick_at=tick_at,
        recorded_at=recorded_at,
        environment=params.environment.value,
        mode=params.mode.value,
        policy_version=params.policy_version,
        params_hash=params.params_hash,
        decision_mode=params.decision_mode.value,
        decision_source=proposal.source.value,
        dry_run=params.dry_run,
        action=proposal.action.value,
        underlying=proposal.underlying,
        explored=proposal.explored,
        explore_rank=proposal.explore_rank,
        reason=proposal.reason,
        proposal=proposal.model_dump(mode="python"),
        shadow_proposal=None if shadow is None else shadow.model_dump(mode="python"),
        verdict=None if verdict is None else verdict.as_record(),
        order=None if order is None else dict(order),
        portfolio=_portfolio(inputs),
        index_price_usd=_index_prices(inputs, index_price_usd),
        context={k: v.model_dump(mode="python") for k, v in sorted((contexts or {}).items())},
        candidates={k: [c.as_dict() for c in ev.ranked[:top_k]] for k, ev in sorted(evals.items())},
        chosen_candidate=_chosen(proposal, evals),
        rejection_counts={k: ev.rejection_counts() for k, ev in sorted(evals.items())},
        health=None if health is None else health.model_dump(mode="python"),
        params=params.model_dump(mode="python"),
        state_source=None if state_source is None else dict(state_source),
    )


def decision_log_line(record: DecisionLogRecord | Mapping[str, Any]) -> str:
    """One canonical JSON line for a record (or any mapping of decision data)."""
    data = record.model_dump(mode="python") if isinstance(record, BaseModel) else record
    return json.dumps(
        to_json_value(data),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def parse_decision_line(line: str) -> dict[str, Any]:
    """Read a line back; refuses lines of another schema version."""
    data = json.loads(line)
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"not a {SCHEMA_VERSION} decision line")
    return data

"""Proposal types: what a policy wants to do, as order legs (no validation of outsiders here).

A `Proposal` is one of four actions, DO_NOTHING, OPEN_COVERED_CALL, ROLL_COVERED_CALL or
CLOSE_COVERED_CALL, made of order legs with `Decimal` amounts (coins) and limit prices (coin per
contract). Split from `trading.domain.proposal` (the validation of external proposals, which
sizes orders with the risk engine's capacity) so the risk engine can name these types without an
import cycle: risk -> proposal_types <- proposal -> risk.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trading.domain.params import EffectiveParams

Direction = Literal["buy", "sell"]


class ActionType(StrEnum):
    """The four things the covered-call agent may do (the LLM is sandboxed to these)."""

    DO_NOTHING = "DO_NOTHING"
    OPEN_COVERED_CALL = "OPEN_COVERED_CALL"
    ROLL_COVERED_CALL = "ROLL_COVERED_CALL"
    CLOSE_COVERED_CALL = "CLOSE_COVERED_CALL"


class DecisionSource(StrEnum):
    """Who proposed: the rule policy or the LLM (seed field `decision_source`)."""

    RULE = "rule_based"
    LLM = "llm"


def _finite_positive(value: Decimal, name: str) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{name} must be a finite positive number, got {value}")
    return value


class OrderLeg(BaseModel):
    """One order: sell to open a covered call, or buy to close one (amount coins, price coin)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instrument_name: str = Field(min_length=3, max_length=64)
    direction: Direction
    amount: Decimal
    limit_price_coin: Decimal

    @field_validator("amount")
    @classmethod
    def _amount_positive(cls, value: Decimal) -> Decimal:
        return _finite_positive(value, "amount")

    @field_validator("limit_price_coin")
    @classmethod
    def _price_positive(cls, value: Decimal) -> Decimal:
        return _finite_positive(value, "limit_price_coin")


_LEG_SHAPES: dict[ActionType, tuple[Direction, ...]] = {
    ActionType.DO_NOTHING: (),
    ActionType.OPEN_COVERED_CALL: ("sell",),
    ActionType.CLOSE_COVERED_CALL: ("buy",),
    ActionType.ROLL_COVERED_CALL: ("buy", "sell"),
}


class Proposal(BaseModel):
    """What a policy proposes for this tick, with why, and how it was chosen.

    Legs by action: DO_NOTHING none; OPEN one sell; CLOSE one buy; ROLL a buy (the call being
    closed) then a sell (the new call), on two different instruments. `explored` and
    `explore_rank` record epsilon-greedy exploration (rank 0 is the best-scored candidate).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: ActionType
    underlying: str | None = None
    legs: tuple[OrderLeg, ...] = ()
    reason: str = ""
    source: DecisionSource = DecisionSource.RULE
    mode: str = ""
    policy_version: str = ""
    explored: bool = False
    explore_rank: int | None = Field(default=None, ge=0)
    candidate_score: float | None = None
    triggers: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _legs_match_action(self) -> Self:
        shape = tuple(leg.direction for leg in self.legs)
        if shape != _LEG_SHAPES[self.action]:
            raise ValueError(f"{self.action.value} needs legs {_LEG_SHAPES[self.action]}")
        names = {leg.instrument_name for leg in self.legs}
        if len(names) != len(self.legs):
            raise ValueError("a roll must close and open two different instruments")
        if self.action is not ActionType.DO_NOTHING and not self.underlying:
            raise ValueError("an order-bearing proposal names its underlying")
        return self

    @classmethod
    def do_nothing(
        cls,
        reason: str,
        *,
        params: EffectiveParams | None = None,
        source: DecisionSource = DecisionSource.RULE,
        underlying: str | None = None,
        triggers: Iterable[str] = (),
    ) -> Proposal:
        """A DO_NOTHING proposal with its reason (and the mode/policy when known)."""
        return cls(
            action=ActionType.DO_NOTHING,
            underlying=underlying,
            reason=reason,
            source=source,
            mode=params.mode.value if params else "",
            policy_version=params.policy_version if params else "",
            triggers=tuple(triggers),
        )

    @property
    def open_leg(self) -> OrderLeg | None:
        """The sell leg (the call being sold), if any."""
        return next((leg for leg in self.legs if leg.direction == "sell"), None)

    @property
    def close_leg(self) -> OrderLeg | None:
        """The buy leg (the call being bought back), if any."""
        return next((leg for leg in self.legs if leg.direction == "buy"), None)

    @property
    def increases_risk(self) -> bool:
        """True when the proposal sells a call (OPEN or ROLL); closes only reduce risk."""
        return self.open_leg is not None

    def as_record(self) -> dict[str, Any]:
        """JSON-ready dict with stable keys; Decimals as strings."""
        return self.model_dump(mode="json")

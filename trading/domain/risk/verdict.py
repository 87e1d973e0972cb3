"""The engine's output: one `RiskCheck` per rule and leg, gathered into a `RiskVerdict`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class VerdictCode(StrEnum):
    """A decision's outcome in one word (`Decision.verdict_code`)."""

    NO_ACTION = "no_action"
    APPROVED = "approved"
    REJECTED = "rejected"


class RiskCheck(BaseModel):
    """One rule applied to one leg: its name, whether it passed, and the numbers behind it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    passed: bool
    detail: str
    leg: Literal["open", "close", "proposal"] = "proposal"
    value: str | None = None
    limit: str | None = None


class RiskVerdict(BaseModel):
    """The engine's judgement: approved only when every applicable check passed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: str
    approved: bool
    increases_risk: bool
    checks: tuple[RiskCheck, ...] = ()

    @property
    def failed(self) -> tuple[RiskCheck, ...]:
        """The checks that failed."""
        return tuple(c for c in self.checks if not c.passed)

    @property
    def reasons(self) -> tuple[str, ...]:
        """Every failure as "name: detail" (empty when approved)."""
        return tuple(f"{c.name}: {c.detail}" for c in self.failed)

    @property
    def code(self) -> VerdictCode:
        """Short outcome for a Decision row: no_action, approved or rejected."""
        if self.action == "DO_NOTHING":
            return VerdictCode.NO_ACTION
        return VerdictCode.APPROVED if self.approved else VerdictCode.REJECTED

    def as_record(self) -> dict[str, Any]:
        """JSON-ready dict with stable keys (code and reasons included)."""
        record = self.model_dump(mode="json")
        record["code"] = self.code.value
        record["reasons"] = list(self.reasons)
        return record


@dataclass
class _Checks:
    """Accumulates checks (never stops at the first failure)."""

    items: list[RiskCheck] = field(default_factory=list)

    def add(
        self,
        name: str,
        passed: bool,
        detail: str,
        *,
        leg: Literal["open", "close", "proposal"] = "proposal",
        value: object = None,
        limit: object = None,
    ) -> None:
        self.items.append(
            RiskCheck(
                name=name,
                passed=passed,
                detail=detail,
                leg=leg,
                value=None if value is None else str(value),
                limit=None if limit is None else str(limit),
            )
        )

"""ENTRY_ENGINE: the decision waterfall over the eleven sensors, with a full trace.

Every rule is evaluated (so all eight outcomes are shown, not only the winner); the first rule
in step order that fires decides. A condition whose sensor is missing is *unknown*; a rule with
an unknown condition never fires on it. One deliberate reading of "not passed" for the safety
filter (step 1): the market must *pass* the filter to go on, so when the filter cannot be
cleared (it did not fire but one of its inputs is missing) the waterfall stops there with
NO_TRADE. A missing input therefore never lets a trade through.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Final

from pydantic import BaseModel, ConfigDict

from greg.domain.spec import (
    ConditionSpec,
    EntryThresholds,
    GregSpec,
    Operator,
    RuleSpec,
    load_spec,
)

_OPS: Final[dict[Operator, Callable[[float, float], bool]]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
SAFETY_STEP: Final[int] = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConditionResult(_Frozen):
    """One comparison with its numbers; ``result`` is None when the sensor was missing."""

    text: str
    sensor: str
    value: float | None
    compared: float | None
    op: str
    bound: float
    result: bool | None


class RuleResult(_Frozen):
    """One rule of the waterfall: whether it fired, and each condition's truth value."""

    key: str
    step: int
    name: str
    outcome: str
    combine: str
    reasoning: str
    fired: bool
    missing: tuple[str, ...]
    conditions: tuple[ConditionResult, ...]


class EntryDecision(_Frozen):
    """The waterfall's verdict: the deciding rule and the trace of every rule."""

    engine_version: str
    calibration_version: int
    strategy: str
    step: int
    rule_key: str
    reasoning: str
    rules: tuple[RuleResult, ...]

    def selector_item(self) -> dict[str, object]:
        """The batch selector's shape: ``{"strategy", "step", "reasoning"}``."""
        return {"strategy": self.strategy, "step": self.step, "reasoning": self.reasoning}


def condition_evaluate(
    condition: ConditionSpec, sensors: Mapping[str, float | None], thresholds: EntryThresholds
) -> ConditionResult:
    """Evaluate one comparison exactly as written (None when its sensor is missing)."""
    value = sensors.get(condition.sensor)
    bound = condition.bound(thresholds)
    compared: float | None = None
    result: bool | None = None
    if value is not None:
        compared = abs(value) if condition.transform == "abs" else value
        result = _OPS[condition.op](compared, bound)
    return ConditionResult(
        text=condition.text(),
        sensor=condition.sensor,
        value=value,
        compared=compared,
        op=condition.op,
        bound=bound,
        result=result,
    )


def rule_evaluate(
    rule: RuleSpec, sensors: Mapping[str, float | None], thresholds: EntryThresholds
) -> RuleResult:
    """Evaluate a rule: ``all`` fires when every condition is True, ``any`` when one is True.

    An unknown (missing) condition counts as not True, so it can never make a rule fire.
    """
    results = tuple(condition_evaluate(c, sensors, thresholds) for c in rule.conditions)
    truths = [r.result is True for r in results]
    fired = any(truths) if rule.combine == "any" else all(truths)
    missing = tuple(dict.fromkeys(r.sensor for r in results if r.result is None))
    return RuleResult(
        key=rule.key,
        step=rule.step,
        name=rule.name,
        outcome=rule.outcome,
        combine=rule.combine,
        reasoning=rule.reasoning,
        fired=fired,
        missing=missing,
        conditions=results,
    )


def entry_decide(
    sensors: Mapping[str, float | None],
    *,
    thresholds: EntryThresholds | None = None,
    calibration_version: int = 0,
    spec: GregSpec | None = None,
) -> EntryDecision:
    """Run the waterfall over one underlying's sensor values (None = missing)."""
    spec = spec or load_spec()
    thresholds = thresholds or spec.entry.thresholds
    rules = tuple(rule_evaluate(rule, sensors, thresholds) for rule in spec.waterfall)
    deciding = _deciding(rules)
    reasoning = deciding.reasoning
    if deciding.step == SAFETY_STEP and not deciding.fired:
        reasoning = "Safety filter cannot be cleared: missing " + ", ".join(deciding.missing) + "."
    return EntryDecision(
        engine_version=spec.entry.version,
        calibration_version=calibration_version,
        strategy=deciding.outcome,
        step=deciding.step,
        rule_key=deciding.key,
        reasoning=reasoning,
        rules=rules,
    )


def _deciding(rules: tuple[RuleResult, ...]) -> RuleResult:
    for rule in rules:
        if rule.step == SAFETY_STEP and not rule.fired and rule.missing:
            return rule
        if rule.fired:
            return rule
    return rules[-1]  # the default step fires (no conditions); kept as a safe fallback

"""The validation of external proposals (LLM answers, API requests); the types themselves are
in `trading.domain.proposal_types` and re-exported here.

A `Proposal` is one of four actions, DO_NOTHING, OPEN_COVERED_CALL, ROLL_COVERED_CALL or
CLOSE_COVERED_CALL, made of order legs with `Decimal` amounts (coins) and limit prices (coin per
contract). The rule policy builds proposals directly. Anything produced outside our code (an LLM
answer, an API request) goes through `validate_external_proposal` first. That function checks
the action, the instruments (the option to sell must be one of this tick's ranked candidates,
the call to close or roll must be an open short), and the size: one larger than all the coins
the account holds is implausible (refused: no covered call can be that large, so the proposer
misread units or invented it); any other size is clamped to the risk limits and put on the
exchange's amount step (docs/decisions/0012). Prices always come from the order book, never
from the proposer. Whatever is invalid becomes DO_NOTHING, with every reason found.

Validation is not approval: the risk engine (`trading.domain.risk`) still judges the result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from trading.domain.candidates import CandidateEvaluation
from trading.domain.instruments import quantize_price
from trading.domain.params import EffectiveParams

# The types live in `trading.domain.proposal_types` (the risk engine imports them from there);
# they are re-exported here for the callers that build or read proposals.
from trading.domain.proposal_types import (
    ActionType,
    DecisionSource,
    Direction,
    OrderLeg,
    Proposal,
)
from trading.domain.risk import (
    OptionQuote,
    RiskInputs,
    open_amount_capacity,
    quantize_order_amount,
    roll_open_amount,
)

__all__ = [
    "ActionType",
    "DecisionSource",
    "Direction",
    "ExternalProposalOutcome",
    "OrderLeg",
    "Proposal",
    "parse_amount",
    "parse_llm_output",
    "validate_external_proposal",
]


# ------------------------------------------------------------------------- external proposals


class ExternalProposalOutcome(BaseModel):
    """The result of validating an external proposal: the proposal to use (DO_NOTHING when
    invalid), whether it was valid, every issue found, and whether its size was clamped."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    proposal: Proposal
    valid: bool
    issues: tuple[str, ...] = ()
    clamped: bool = False
    requested: dict[str, Any] = Field(default_factory=dict)


_FENCE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)


def parse_llm_output(text: str) -> dict[str, Any] | None:
    """The JSON object in an LLM answer (bare, or inside a ``` fence); None when there is none."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        candidates.append(text[start : end + 1])
    for chunk in candidates:
        try:
            value = json.loads(chunk)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _flatten(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Accept the seed's `{action, params: {...}, reasoning}` and a flat object alike."""
    flat = {str(k).lower(): v for k, v in raw.items() if k != "params"}
    params = raw.get("params")
    if isinstance(params, Mapping):
        flat.update({str(k).lower(): v for k, v in params.items()})
    return flat


def _first(flat: Mapping[str, Any], *names: str) -> Any:
    return next((flat[n] for n in names if flat.get(n) is not None), None)


def parse_amount(value: Any) -> Decimal | None:
    """A size as a finite positive Decimal, or None (booleans, NaN, inf, <= 0, text are refused)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() and amount > 0 else None


class _Validation:
    """Collects issues while one external proposal is checked (never stops at the first)."""

    def __init__(self, inputs: RiskInputs, params: EffectiveParams, ranked: set[str]) -> None:
        self.inputs = inputs
        self.params = params
        self.ranked = ranked
        self.issues: list[str] = []
        self.clamped = False

    def fail(self, issue: str) -> None:
        self.issues.append(issue)

    def requested_amount(self, flat: Mapping[str, Any]) -> Decimal | None:
        """The size asked for; None when absent (defaults apply) or invalid (an issue)."""
        raw = _first(flat, "size", "amount", "contracts", "quantity")
        if raw is None:
            return None
        amount = parse_amount(raw)
        if amount is None:
            self.fail(f"invalid_size: {raw!r} is not a finite positive number")
        return amount

    def plausible(self, requested: Decimal | None, currency: str) -> None:
        """A size above every coin the account holds is not a size to trim: no covered call
        can be that large, so the proposer misread its units or invented the number (an
        issue, so DO_NOTHING). Sizes within holdings are clamped to the risk limits."""
        holdings = self.inputs.portfolio.holdings(currency)
        if requested is not None and requested > holdings:
            self.fail(
                f"implausible_size: {requested} {currency} is more than the {holdings} "
                f"{currency} held, so no covered call can be that large"
            )

    def open_quote(self, name: str | None, field: str) -> OptionQuote | None:
        if not name:
            self.fail(f"missing_instrument: {field} is required")
            return None
        if name not in self.ranked:
            self.fail(f"not_a_candidate: {name} is not among this tick's ranked candidates")
        quote = self.inputs.quotes.get(name)
        if quote is None:
            self.fail(f"unknown_instrument: {name} has no quote this tick")
        return quote

    def short_amount(self, name: str | None, field: str) -> Decimal:
        if not name:
            self.fail(f"missing_instrument: {field} is required")
            return Decimal(0)
        held = self.inputs.portfolio.short_call_amount_of(name)
        if held <= 0:
            self.fail(f"no_open_short_call: {name} is not an open short call")
        return held

    def sell_leg(self, quote: OptionQuote, amount: Decimal) -> OrderLeg | None:
        if quote.best_bid_coin is None or quote.best_bid_coin <= 0:
            self.fail(f"no_bid: {quote.instrument_name} has no bid to sell into")
            return None
        price = quantize_price(quote.best_bid_coin, quote.spec, "sell")
        return OrderLeg(
            instrument_name=quote.instrument_name,
            direction="sell",
            amount=amount,
            limit_price_coin=price,
        )

    def buy_leg(self, name: str, amount: Decimal) -> OrderLeg | None:
        quote = self.inputs.quotes.get(name)
        if quote is None or quote.best_ask_coin is None or quote.best_ask_coin <= 0:
            self.fail(f"no_ask: {name} has no ask to buy back at")
            return None
        price = quantize_price(quote.best_ask_coin, quote.spec, "buy")
        return OrderLeg(
            instrument_name=name, direction="buy", amount=amount, limit_price_coin=price
        )

    def clamp_open(self, quote: OptionQuote, requested: Decimal | None) -> Decimal | None:
        """The size to sell: requested (or the mode's default), clamped and on the step."""
        wanted = requested or self.params.order_amount_for(quote.currency)
        capacity = open_amount_capacity(quote, self.inputs, self.params.risk)
        amount = quantize_order_amount(min(wanted, capacity), quote.spec)
        if amount is None:
            self.fail(
                f"size_below_minimum: {wanted} clamped to the risk limits ({capacity}) is below "
                f"the minimum {quote.spec.min_trade_amount}"
            )
            return None
        if amount != wanted:
            self.clamped = True
        return amount

    def clamp_close(
        self, requested: Decimal | None, held: Decimal, quote: OptionQuote | None
    ) -> Decimal:
        wanted = requested if requested is not None else held
        amount = min(wanted, held)
        if quote is not None:
            amount = quantize_order_amount(amount, quote.spec) or Decimal(0)
        if amount != wanted:
            self.clamped = True
        return amount


def _validate_open(v: _Validation, flat: Mapping[str, Any]) -> tuple[OrderLeg, ...]:
    name = _first(flat, "symbol", "instrument_name", "instrument", "to_symbol")
    quote = v.open_quote(None if name is None else str(name), "symbol")
    requested = v.requested_amount(flat)
    if quote is not None:
        v.plausible(requested, quote.currency)
    if quote is None or v.issues:
        return ()
    amount = v.clamp_open(quote, requested)
    leg = v.sell_leg(quote, amount) if amount is not None else None
    return (leg,) if leg is not None else ()


def _validate_close(v: _Validation, flat: Mapping[str, Any]) -> tuple[OrderLeg, ...]:
    name = _first(flat, "symbol", "instrument_name", "instrument", "from_symbol")
    name = None if name is None else str(name)
    held = v.short_amount(name, "symbol")
    requested = v.requested_amount(flat)
    if name is not None:
        v.plausible(requested, name.split("-")[0].upper())
    if name is None or v.issues:
        return ()
    amount = v.clamp_close(requested, held, v.inputs.quotes.get(name))
    if amount <= 0:
        v.fail(f"size_below_minimum: cannot close {requested} of {name}")
        return ()
    leg = v.buy_leg(name, amount)
    return (leg,) if leg is not None else ()


def _validate_roll(v: _Validation, flat: Mapping[str, Any]) -> tuple[OrderLeg, ...]:
    from_name = _first(flat, "from_symbol", "from_instrument", "symbol")
    to_name = _first(flat, "to_symbol", "to_instrument")
    from_name = None if from_name is None else str(from_name)
    held = v.short_amount(from_name, "from_symbol")
    quote = v.open_quote(None if to_name is None else str(to_name), "to_symbol")
    requested = v.requested_amount(flat)
    if quote is not None:
        v.plausible(requested, quote.currency)
    if from_name is not None and from_name == to_name:
        v.fail("same_instrument: a roll must move to a different call")
    if quote is not None and from_name is not None:
        from_quote = v.inputs.quotes.get(from_name)
        if from_quote is not None and from_quote.currency != quote.currency:
            v.fail("different_underlying: a roll stays on the same underlying")
    if quote is None or from_name is None or v.issues:
        return ()
    from_quote = v.inputs.quotes.get(from_name)
    close_amount = v.clamp_close(requested, held, from_quote)
    open_amount = roll_open_amount(
        quote, v.inputs, v.params.risk, close_amount=close_amount, close_quote=from_quote
    )
    if close_amount <= 0 or open_amount is None:
        v.fail(f"size_below_minimum: roll size {close_amount} clamped below the minimum")
        return ()
    if open_amount != close_amount:
        v.clamped = True
    buy = v.buy_leg(from_name, close_amount)
    sell = v.sell_leg(quote, open_amount)
    return (buy, sell) if buy is not None and sell is not None else ()


_VALIDATORS = {
    ActionType.OPEN_COVERED_CALL: _validate_open,
    ActionType.CLOSE_COVERED_CALL: _validate_close,
    ActionType.ROLL_COVERED_CALL: _validate_roll,
}


def _ranked_names(candidates: Mapping[str, CandidateEvaluation] | Iterable[str]) -> set[str]:
    if isinstance(candidates, Mapping):
        return {c.instrument_name for ev in candidates.values() for c in ev.ranked}
    return {str(name) for name in candidates}


def _underlying_of(legs: tuple[OrderLeg, ...], inputs: RiskInputs) -> str | None:
    for leg in legs:
        quote = inputs.quotes.get(leg.instrument_name)
        if quote is not None:
            return quote.currency
    return None


def validate_external_proposal(
    raw: str | Mapping[str, Any],
    *,
    candidates: Mapping[str, CandidateEvaluation] | Iterable[str],
    inputs: RiskInputs,
    params: EffectiveParams,
    source: DecisionSource = DecisionSource.LLM,
) -> ExternalProposalOutcome:
    """Check an external proposal against this tick and clamp its size to the risk limits.

    `raw` is the proposer's JSON text or object: `{"action", "params": {"symbol" | "from_symbol"
    + "to_symbol", "size"}, "reasoning"}` (flat objects work too). The option to sell must be
    one of `candidates` (this tick's ranked candidates); prices come from the book. Invalid
    input yields DO_NOTHING carrying every issue found.
    """
    parsed = parse_llm_output(raw) if isinstance(raw, str) else dict(raw)
    if parsed is None:
        return _invalid(["unparseable_output: no JSON object found"], {}, params, source)
    flat = _flatten(parsed)
    reason = str(_first(flat, "reasoning", "reason", "rationale") or "")[:2000]
    action_text = str(flat.get("action", "")).strip().upper()
    try:
        action = ActionType(action_text)
    except ValueError:
        issue = f"unknown_action: {action_text or '<missing>'} is not one of " + ", ".join(
            a.value for a in ActionType
        )
        return _invalid([issue], parsed, params, source)
    if action is ActionType.DO_NOTHING:
        proposal = Proposal.do_nothing(reason or "proposer chose to do nothing", params=params)
        proposal = proposal.model_copy(update={"source": source})
        return ExternalProposalOutcome(proposal=proposal, valid=True, requested=parsed)
    check = _Validation(inputs, params, _ranked_names(candidates))
    legs = _VALIDATORS[action](check, flat)
    if check.issues or not legs:
        return _invalid(check.issues or ["no_order: nothing to trade"], parsed, params, source)
    proposal = Proposal(
        action=action,
        underlying=_underlying_of(legs, inputs),
        legs=legs,
        reason=reason,
        source=source,
        mode=params.mode.value,
        policy_version=params.policy_version,
    )
    return ExternalProposalOutcome(
        proposal=proposal, valid=True, clamped=check.clamped, requested=parsed
    )


def _invalid(
    issues: list[str],
    requested: Mapping[str, Any],
    params: EffectiveParams,
    source: DecisionSource,
) -> ExternalProposalOutcome:
    proposal = Proposal.do_nothing(
        "invalid external proposal: " + "; ".join(issues), params=params, source=source
    )
    return ExternalProposalOutcome(
        proposal=proposal, valid=False, issues=tuple(issues), requested=dict(requested)
    )

"""Rule policy for covered calls, and the routing between the rule policy and the LLM.

One tick, per underlying, in this order (the first rule that fires wins):

1. **Manage open calls.** Each open covered call of ours (not sandbox) is checked against the
   roll rules (`RollRules`):
   - *in the money near expiry*: delta >= `roll_itm_delta` and days left <= `roll_itm_dte_days`;
   - *near expiry*: days left < `roll_dte_min_days`, unless delta <= `let_expire_delta_max`
     (then the call is left to expire worthless: buying it back would only pay the spread);
   - *profit taken*: (sold price - ask) / sold price >= `take_profit_frac`.
   A triggered call is **rolled** into the best candidate (epsilon-greedy, another instrument)
   when new risk is allowed and a candidate exists, otherwise **closed**. Calls the roll rules
   would trigger on within `ROLL_WINDOW_MARGIN_DAYS` (an hour) are never sold, by a roll or
   an open (`outside_roll_window`): otherwise research mode, whose `dte_min_days` equals
   `roll_dte_min_days`, sells a call at 1.002 days left and rolls it five minutes later.
2. **Open.** An underlying with fewer open calls than `max_calls_per_underlying` and a ranked
   candidate gets a new call: epsilon-greedy choice among the top K (`candidates.py`), size the
   mode's default amount clamped to the risk limits and put on the amount step.
3. Otherwise **do nothing**, saying why.

The kill switch and a tripped drawdown stop turn rolls into closes and stop opens; the risk
engine enforces the same independently. Prices: sell at the best bid, buy back at the best ask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from trading.domain.candidates import CandidateEvaluation, Selection, choose_candidate
from trading.domain.context import MarketContext
from trading.domain.instruments import dte_days, quantize_price
from trading.domain.params import DecisionMode, EffectiveParams, RollRules
from trading.domain.proposal import (
    ActionType,
    DecisionSource,
    ExternalProposalOutcome,
    OrderLeg,
    Proposal,
)
from trading.domain.risk import (
    OptionPosition,
    OptionQuote,
    RiskInputs,
    open_amount_capacity,
    quantize_order_amount,
    roll_open_amount,
)

COVERED_CALL_STRATEGY = "covered_call"
#: A new call must stay out of the roll rules' reach for at least this long (one hour).
ROLL_WINDOW_MARGIN_DAYS = 1.0 / 24.0


@dataclass(frozen=True, slots=True)
class PolicyInput:
    """What the rule policy sees at one tick: the risk inputs (portfolio, quotes, time), the
    screened candidates per underlying and, optionally, the market context per underlying."""

    risk: RiskInputs
    evaluations: Mapping[str, CandidateEvaluation]
    contexts: Mapping[str, MarketContext] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PositionReview:
    """Why (or why not) one open call should be rolled or closed now."""

    position: OptionPosition
    triggers: tuple[str, ...]
    dte_days: float
    delta: float | None
    profit_frac: float | None
    let_expire: bool
    note: str


def opening_allowed(inputs: RiskInputs, params: EffectiveParams) -> tuple[bool, str]:
    """Whether new calls may be sold at all this tick (kill switch, drawdown stop)."""
    if params.risk.kill_switch:
        return False, "kill switch is ON"
    if inputs.drawdown is not None and inputs.drawdown.halted:
        return False, "daily drawdown stop is tripped"
    return True, ""


def managed_calls(inputs: RiskInputs, currency: str) -> tuple[OptionPosition, ...]:
    """Our open covered calls in `currency` (sandbox and other strategies are not ours)."""
    return tuple(
        p
        for p in inputs.portfolio.short_calls(currency)
        if not p.sandbox and p.strategy_id == COVERED_CALL_STRATEGY
    )


def review_position(
    position: OptionPosition, quote: OptionQuote | None, inputs: RiskInputs, params: EffectiveParams
) -> PositionReview:
    """Apply the roll/close rules to one open call."""
    rules = params.roll
    expiry = position.expiry
    left = dte_days(expiry, inputs.now) if expiry is not None else 0.0
    delta = quote.delta if quote is not None else None
    ask = quote.best_ask_coin if quote is not None else None
    profit = None
    if ask is not None and position.average_price_coin > 0:
        profit = float((position.average_price_coin - ask) / position.average_price_coin)
    triggers: list[str] = []
    if delta is not None and delta >= rules.roll_itm_delta and left <= rules.roll_itm_dte_days:
        triggers.append("itm_near_expiry")
    let_expire = False
    if left < rules.roll_dte_min_days:
        if delta is not None and delta <= rules.let_expire_delta_max and not triggers:
            let_expire = True
        else:
            triggers.append("near_expiry")
    if profit is not None and profit >= rules.take_profit_frac and not let_expire:
        triggers.append("profit_taken")
    note = (
        f"{position.instrument_name}: DTE={left:.2f}, delta="
        f"{'n/a' if delta is None else f'{delta:.2f}'}, profit="
        f"{'n/a' if profit is None else f'{profit:.0%}'}"
    )
    return PositionReview(position, tuple(triggers), left, delta, profit, let_expire, note)


def _sell_leg(quote: OptionQuote, amount: Decimal) -> OrderLeg | None:
    if quote.best_bid_coin is None or quote.best_bid_coin <= 0:
        return None
    return OrderLeg(
        instrument_name=quote.instrument_name,
        direction="sell",
        amount=amount,
        limit_price_coin=quantize_price(quote.best_bid_coin, quote.spec, "sell"),
    )


def _buy_leg(quote: OptionQuote | None, name: str, amount: Decimal) -> OrderLeg | None:
    if quote is None or quote.best_ask_coin is None or quote.best_ask_coin <= 0:
        return None
    return OrderLeg(
        instrument_name=name,
        direction="buy",
        amount=amount,
        limit_price_coin=quantize_price(quote.best_ask_coin, quote.spec, "buy"),
    )


def outside_roll_window(dte: float, delta: float, rules: RollRules) -> bool:
    """Whether a call with `dte` days left and `delta` stays clear of the roll rules (near
    expiry, in the money near expiry) for `ROLL_WINDOW_MARGIN_DAYS` after it is sold."""
    horizon = dte - ROLL_WINDOW_MARGIN_DAYS
    if horizon < rules.roll_dte_min_days:
        return False
    return not (delta >= rules.roll_itm_delta and horizon <= rules.roll_itm_dte_days)


def _available(
    evaluation: CandidateEvaluation | None, exclude: set[str], rules: RollRules
) -> CandidateEvaluation:
    if evaluation is None:
        return CandidateEvaluation(ranked=(), rejected=())
    ranked = tuple(
        c
        for c in evaluation.ranked
        if c.instrument_name not in exclude and outside_roll_window(c.dte_days, c.delta, rules)
    )
    return CandidateEvaluation(ranked=ranked, rejected=evaluation.rejected)


def _selection_rank(available: CandidateEvaluation, selection: Selection) -> int:
    return next(
        i
        for i, c in enumerate(available.ranked)
        if c.instrument_name == selection.candidate.instrument_name
    )


def _describe(selection: Selection, params: EffectiveParams) -> str:
    c = selection.candidate
    tag = "Exploratory " if selection.explored else ""
    return (
        f"{tag}{c.instrument_name}: DTE={c.dte_days:.1f}, delta={c.delta:.2f}, "
        f"premium=${c.premium_usd:.2f}, IVRV={c.ivrv:.2f}, score={c.score:.4g}. "
        f"Mode={params.mode.value}, policy={params.policy_version}."
    )


@dataclass(frozen=True, slots=True)
class _Tick:
    state: PolicyInput
    params: EffectiveParams
    rng: np.random.Generator

    def proposal(
        self, action: ActionType, currency: str, legs: tuple[OrderLeg, ...], **kw: object
    ) -> Proposal:
        return Proposal(
            action=action,
            underlying=currency,
            legs=legs,
            source=DecisionSource.RULE,
            mode=self.params.mode.value,
            policy_version=self.params.policy_version,
            **kw,  # type: ignore[arg-type]
        )


def _manage(tick: _Tick, currency: str, review: PositionReview, can_open: bool) -> Proposal | None:
    inputs = tick.state.risk
    position = review.position
    held = -position.size
    close_quote = inputs.quotes.get(position.instrument_name)
    close_leg = _buy_leg(close_quote, position.instrument_name, held)
    why = f"{', '.join(review.triggers)} ({review.note})"
    if close_leg is None:
        return None
    if can_open:
        available = _available(
            tick.state.evaluations.get(currency), {position.instrument_name}, tick.params.roll
        )
        selection = choose_candidate(available, tick.params.strategy, tick.rng)
        if selection is not None:
            roll = _roll(tick, currency, close_leg, close_quote, selection, available, why)
            if roll is not None:
                return roll
    return tick.proposal(
        ActionType.CLOSE_COVERED_CALL,
        currency,
        (close_leg,),
        reason=f"Closing {position.instrument_name}: {why}."
        + ("" if can_open else " No roll: new calls are blocked."),
        triggers=review.triggers,
    )


def _roll(
    tick: _Tick,
    currency: str,
    close_leg: OrderLeg,
    close_quote: OptionQuote | None,
    selection: Selection,
    available: CandidateEvaluation,
    why: str,
) -> Proposal | None:
    inputs = tick.state.risk
    quote = inputs.quotes.get(selection.candidate.instrument_name)
    if quote is None:
        return None
    amount = roll_open_amount(
        quote, inputs, tick.params.risk, close_amount=close_leg.amount, close_quote=close_quote
    )
    sell_leg = _sell_leg(quote, amount) if amount is not None else None
    if sell_leg is None:
        return None
    return tick.proposal(
        ActionType.ROLL_COVERED_CALL,
        currency,
        (close_leg, sell_leg),
        reason=f"Rolling {close_leg.instrument_name}: {why}. New call: "
        + _describe(selection, tick.params),
        explored=selection.explored,
        explore_rank=_selection_rank(available, selection),
        candidate_score=selection.candidate.score,
        triggers=("roll",),
    )


def _open(tick: _Tick, currency: str) -> tuple[Proposal | None, str]:
    inputs = tick.state.risk
    params = tick.params
    mine = managed_calls(inputs, currency)
    if len(mine) >= params.risk.max_calls_per_underlying:
        names = ", ".join(p.instrument_name for p in mine)
        return None, f"{currency}: already at {len(mine)} open call(s) ({names})"
    exclude = {p.instrument_name for p in inputs.portfolio.short_calls(currency)}
    available = _available(tick.state.evaluations.get(currency), exclude, params.roll)
    selection = choose_candidate(available, params.strategy, tick.rng)
    if selection is None:
        return None, f"{currency}: no candidate passed the filter"
    quote = inputs.quotes.get(selection.candidate.instrument_name)
    if quote is None:
        return None, f"{currency}: no quote for {selection.candidate.instrument_name}"
    wanted = params.order_amount_for(currency)
    capacity = open_amount_capacity(quote, inputs, params.risk)
    amount = quantize_order_amount(min(wanted, capacity), quote.spec)
    if amount is None:
        return None, (
            f"{currency}: room for {capacity} {currency} under the risk limits is below the "
            f"minimum {quote.spec.min_trade_amount}"
        )
    leg = _sell_leg(quote, amount)
    if leg is None:
        return None, f"{currency}: {quote.instrument_name} has no bid"
    proposal = tick.proposal(
        ActionType.OPEN_COVERED_CALL,
        currency,
        (leg,),
        reason="OPEN_COVERED_CALL on " + _describe(selection, params),
        explored=selection.explored,
        explore_rank=_selection_rank(available, selection),
        candidate_score=selection.candidate.score,
    )
    return proposal, ""


def decide_rule_based(
    state: PolicyInput, params: EffectiveParams, rng: np.random.Generator
) -> Proposal:
    """The rule policy's proposal for this tick (see the module docstring for the rules).

    `rng` drives exploration; seed it per tick (e.g. from the tick id) to replay a decision.
    """
    tick = _Tick(state, params, rng)
    inputs = state.risk
    can_open, blocked = opening_allowed(inputs, params)
    notes: list[str] = []
    for currency in params.underlyings:
        for position in managed_calls(inputs, currency):
            review = review_position(
                position, inputs.quotes.get(position.instrument_name), inputs, params
            )
            if review.let_expire:
                notes.append(f"letting {review.note} expire")
            if review.triggers:
                managed = _manage(tick, currency, review, can_open)
                if managed is not None:
                    return managed
                notes.append(f"{position.instrument_name} needs action but has no ask to buy at")
    if not can_open:
        return Proposal.do_nothing(f"No new calls: {blocked}. " + " ".join(notes), params=params)
    for currency in params.underlyings:
        proposal, why = _open(tick, currency)
        if proposal is not None:
            return proposal
        notes.append(why)
    return Proposal.do_nothing(
        "; ".join(n for n in notes if n) + f". Mode={params.mode.value}, "
        f"policy={params.policy_version}.",
        params=params,
    )


# --------------------------------------------------------------------------------- routing


@dataclass(frozen=True, slots=True)
class RoutedDecision:
    """The proposal to execute and, in shadow mode, the one logged beside it."""

    executed: Proposal
    shadow: Proposal | None
    note: str


def route_decision(
    decision_mode: DecisionMode,
    rule: Proposal,
    llm: ExternalProposalOutcome | None,
) -> RoutedDecision:
    """Pick what executes by decision mode (seed semantics).

    rule_only: the rule proposal (an LLM proposal, if computed, is logged as shadow);
    llm_only: the LLM's validated proposal, falling back to the rules when it is missing or
    invalid; hybrid_shadow: the rules execute and the LLM's proposal is logged beside them.
    """
    llm_proposal = llm.proposal if llm is not None else None
    if decision_mode is DecisionMode.LLM_ONLY:
        if llm is not None and llm.valid:
            return RoutedDecision(llm.proposal, rule, "llm decided; rules logged as shadow")
        why = "no LLM answer" if llm is None else "; ".join(llm.issues)
        return RoutedDecision(rule, llm_proposal, f"LLM fell back to rules: {why}")
    if decision_mode is DecisionMode.HYBRID_SHADOW:
        return RoutedDecision(rule, llm_proposal, "rules decided; LLM logged as shadow")
    return RoutedDecision(rule, llm_proposal, "rules decided")

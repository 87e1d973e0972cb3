"""Proposal value objects and the validation of external (LLM) proposals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.builders import (
    CALL,
    CALL_2,
    ETH_CALL,
    make_inputs,
    make_portfolio,
    make_quote,
    short,
)
from trading.domain.params import AgentMode, RuntimeOverrides, resolve_effective_params
from trading.domain.proposal import (
    ActionType,
    DecisionSource,
    OrderLeg,
    Proposal,
    parse_amount,
    parse_llm_output,
    validate_external_proposal,
)
from trading.domain.risk import evaluate_risk, open_amount_capacity

PARAMS = resolve_effective_params(environment="testnet")
CANDIDATES = [CALL, CALL_2, ETH_CALL]


def leg(direction: str, name: str = CALL, amount: str = "0.1", price: str = "0.01") -> OrderLeg:
    return OrderLeg(
        instrument_name=name,
        direction=direction,  # type: ignore[arg-type]
        amount=Decimal(amount),
        limit_price_coin=Decimal(price),
    )


def validate(raw: Any, **kw: Any) -> Any:
    inputs = kw.pop("inputs", None) or make_inputs(
        quotes=[make_quote(), make_quote(CALL_2), make_quote(ETH_CALL)]
    )
    return validate_external_proposal(
        raw, candidates=kw.pop("candidates", CANDIDATES), inputs=inputs, params=PARAMS, **kw
    )


# ------------------------------------------------------------------------------ value objects


@pytest.mark.parametrize(
    ("action", "legs"),
    [
        (ActionType.DO_NOTHING, ("sell",)),
        (ActionType.OPEN_COVERED_CALL, ("buy",)),
        (ActionType.OPEN_COVERED_CALL, ()),
        (ActionType.CLOSE_COVERED_CALL, ("sell",)),
        (ActionType.ROLL_COVERED_CALL, ("sell", "buy")),
    ],
)
def test_a_proposal_refuses_legs_that_do_not_fit_its_action(
    action: ActionType, legs: tuple[str, ...]
) -> None:
    names = [CALL, CALL_2]
    with pytest.raises(ValidationError):
        Proposal(
            action=action,
            underlying="BTC",
            legs=tuple(leg(d, names[i]) for i, d in enumerate(legs)),
        )


def test_a_roll_moves_to_another_instrument() -> None:
    with pytest.raises(ValidationError, match="different instruments"):
        Proposal(
            action=ActionType.ROLL_COVERED_CALL, underlying="BTC", legs=(leg("buy"), leg("sell"))
        )


@pytest.mark.parametrize("amount", ["0", "-0.1", "NaN", "Infinity"])
def test_order_legs_need_finite_positive_amounts(amount: str) -> None:
    with pytest.raises(ValidationError):
        leg("sell", amount=amount)


def test_order_bearing_proposals_name_their_underlying() -> None:
    with pytest.raises(ValidationError, match="underlying"):
        Proposal(action=ActionType.OPEN_COVERED_CALL, legs=(leg("sell"),))


def test_legs_are_reachable_by_role_and_the_record_keeps_decimals_as_strings() -> None:
    roll = Proposal(
        action=ActionType.ROLL_COVERED_CALL,
        underlying="BTC",
        legs=(leg("buy", CALL_2), leg("sell", CALL, "0.3")),
    )
    assert roll.close_leg is not None
    assert roll.close_leg.instrument_name == CALL_2
    assert roll.open_leg is not None
    assert roll.open_leg.amount == Decimal("0.3")
    assert roll.increases_risk
    record = roll.as_record()
    assert record["legs"][1]["amount"] == "0.3"
    assert record["action"] == "ROLL_COVERED_CALL"
    assert record["source"] == "rule_based"


def test_do_nothing_carries_mode_and_policy_version() -> None:
    proposal = Proposal.do_nothing("quiet market", params=PARAMS)
    assert (proposal.mode, proposal.policy_version) == ("research", "rb_v1_explore")
    assert not proposal.increases_risk


# ------------------------------------------------------------------------------------ parsing


def test_it_finds_json_in_a_fenced_answer() -> None:
    text = 'Sure!\n```json\n{"action": "DO_NOTHING", "reasoning": "calm"}\n```\nDone.'
    assert parse_llm_output(text) == {"action": "DO_NOTHING", "reasoning": "calm"}


@pytest.mark.parametrize(
    "text", ['{"action": "OPEN_COVERED_CALL", "params": {"sym', "I refuse.", ""]
)
def test_truncated_or_refused_output_becomes_do_nothing(text: str) -> None:
    outcome = validate(text)
    assert not outcome.valid
    assert outcome.proposal.action is ActionType.DO_NOTHING
    assert outcome.issues[0].startswith("unparseable_output")


@pytest.mark.parametrize("raw", [True, None, "abc", "-1", "0", "NaN", "inf", float("nan"), -3])
def test_sizes_that_are_not_finite_positive_numbers_are_refused(raw: Any) -> None:
    assert parse_amount(raw) is None


def test_sizes_parse_exactly() -> None:
    assert parse_amount(0.1) == Decimal("0.1")
    assert parse_amount("2") == Decimal(2)


# --------------------------------------------------------------------------------- validation


def test_it_accepts_an_open_on_a_ranked_candidate_priced_at_the_bid() -> None:
    outcome = validate(
        {"action": "OPEN_COVERED_CALL", "params": {"symbol": CALL}, "reasoning": "rich vol"}
    )
    assert outcome.valid
    assert not outcome.issues
    proposal = outcome.proposal
    assert proposal.action is ActionType.OPEN_COVERED_CALL
    assert proposal.source is DecisionSource.LLM
    assert proposal.underlying == "BTC"
    assert proposal.reason == "rich vol"
    assert (proposal.mode, proposal.policy_version) == ("research", "rb_v1_explore")
    sell = proposal.open_leg
    assert sell is not None
    assert sell.amount == Decimal("0.1"), "the mode's default size when none is given"
    assert sell.limit_price_coin == Decimal("0.0100")
    assert not outcome.clamped


def test_it_refuses_an_action_outside_the_sandbox() -> None:
    outcome = validate({"action": "SELL_NAKED_CALL", "params": {"symbol": CALL, "size": 1}})
    assert not outcome.valid
    assert outcome.proposal.action is ActionType.DO_NOTHING
    assert outcome.issues[0].startswith("unknown_action: SELL_NAKED_CALL")
    assert "unknown_action" in outcome.proposal.reason


def test_it_refuses_a_hallucinated_instrument() -> None:
    outcome = validate({"action": "OPEN_COVERED_CALL", "symbol": "BTC-19DEC25-97000-C"})
    assert not outcome.valid
    assert any(i.startswith("not_a_candidate") for i in outcome.issues)
    assert any(i.startswith("unknown_instrument") for i in outcome.issues)


def test_it_refuses_an_instrument_that_is_quoted_but_not_a_candidate() -> None:
    outcome = validate({"action": "OPEN_COVERED_CALL", "symbol": CALL}, candidates=[CALL_2])
    assert outcome.issues == (
        f"not_a_candidate: {CALL} is not among this tick's ranked candidates",
    )


def test_it_reports_every_issue_not_just_the_first() -> None:
    outcome = validate({"action": "OPEN_COVERED_CALL", "symbol": "BTC-1JAN26-1-C", "size": "-5"})
    kinds = {issue.split(":")[0] for issue in outcome.issues}
    assert kinds == {"not_a_candidate", "unknown_instrument", "invalid_size"}


def test_it_refuses_a_size_larger_than_the_holdings() -> None:
    outcome = validate({"action": "OPEN_COVERED_CALL", "params": {"symbol": CALL, "size": 1e9}})
    assert not outcome.valid
    assert outcome.proposal.action is ActionType.DO_NOTHING
    assert outcome.issues[0].startswith("implausible_size")
    assert "1 BTC held" in outcome.issues[0]


def test_it_clamps_a_size_within_the_holdings_to_the_risk_limits() -> None:
    inputs = make_inputs(portfolio=make_portfolio(holdings_coin={"BTC": Decimal("3")}))
    outcome = validate(
        {"action": "OPEN_COVERED_CALL", "params": {"symbol": CALL, "size": 2.5}}, inputs=inputs
    )
    assert outcome.valid
    assert outcome.clamped
    sell = outcome.proposal.open_leg
    assert sell is not None
    # 3 BTC held, but the cap is 1 BTC per order.
    assert sell.amount == Decimal("1.0")


def test_it_puts_a_size_on_the_amount_step() -> None:
    outcome = validate({"action": "OPEN_COVERED_CALL", "params": {"symbol": CALL, "size": "0.37"}})
    sell = outcome.proposal.open_leg
    assert sell is not None
    assert sell.amount == Decimal("0.3")
    assert outcome.clamped


def test_it_refuses_a_size_that_clamps_below_the_minimum() -> None:
    inputs = make_inputs(portfolio=make_portfolio(holdings_coin={"BTC": Decimal("0.05")}))
    outcome = validate({"action": "OPEN_COVERED_CALL", "symbol": CALL}, inputs=inputs)
    assert not outcome.valid
    assert outcome.issues[0].startswith("size_below_minimum")


def test_it_refuses_to_sell_without_a_bid() -> None:
    inputs = make_inputs(quotes=[make_quote(best_bid_coin=None)])
    outcome = validate({"action": "OPEN_COVERED_CALL", "symbol": CALL}, inputs=inputs)
    assert any(i.startswith("no_bid") for i in outcome.issues)


def test_do_nothing_is_valid_and_keeps_the_reasoning() -> None:
    outcome = validate('{"action": "do_nothing", "reasoning": "IV too low"}')
    assert outcome.valid
    assert outcome.proposal.action is ActionType.DO_NOTHING
    assert outcome.proposal.reason == "IV too low"
    assert outcome.proposal.source is DecisionSource.LLM


def test_a_close_must_name_an_open_short_call_and_is_clamped_to_it() -> None:
    held = make_inputs(portfolio=make_portfolio(positions=(short(CALL, "0.2"),)))
    missing = validate({"action": "CLOSE_COVERED_CALL", "symbol": CALL_2}, inputs=held)
    assert not missing.valid
    assert missing.issues[0].startswith("no_open_short_call")
    huge = validate({"action": "CLOSE_COVERED_CALL", "symbol": CALL, "size": 5}, inputs=held)
    assert huge.issues[0].startswith("implausible_size")
    outcome = validate({"action": "CLOSE_COVERED_CALL", "symbol": CALL, "size": 0.8}, inputs=held)
    assert outcome.valid
    assert outcome.clamped
    buy = outcome.proposal.close_leg
    assert buy is not None
    assert buy.amount == Decimal("0.2")
    assert buy.limit_price_coin == Decimal("0.0105")


def test_a_close_without_size_closes_the_whole_position() -> None:
    held = make_inputs(portfolio=make_portfolio(positions=(short(CALL, "0.2"),)))
    outcome = validate({"action": "CLOSE_COVERED_CALL", "symbol": CALL}, inputs=held)
    assert outcome.valid
    assert not outcome.clamped
    assert outcome.proposal.close_leg is not None
    assert outcome.proposal.close_leg.amount == Decimal("0.2")


def test_it_accepts_a_roll_from_an_open_call_to_a_candidate() -> None:
    held = make_inputs(portfolio=make_portfolio(positions=(short(CALL, "0.2"),)))
    outcome = validate(
        {"action": "ROLL_COVERED_CALL", "params": {"from_symbol": CALL, "to_symbol": CALL_2}},
        inputs=held,
    )
    assert outcome.valid, outcome.issues
    proposal = outcome.proposal
    assert proposal.close_leg is not None
    assert proposal.open_leg is not None
    assert proposal.close_leg.instrument_name == CALL
    assert proposal.open_leg.instrument_name == CALL_2
    assert proposal.open_leg.amount == proposal.close_leg.amount == Decimal("0.2")
    assert evaluate_risk(proposal, held, PARAMS.risk).approved


@pytest.mark.parametrize(
    ("params", "issue"),
    [
        ({"from_symbol": CALL, "to_symbol": CALL}, "same_instrument"),
        ({"from_symbol": CALL, "to_symbol": ETH_CALL}, "different_underlying"),
        ({"from_symbol": CALL_2, "to_symbol": CALL}, "no_open_short_call"),
        ({"from_symbol": CALL}, "missing_instrument"),
    ],
)
def test_it_refuses_malformed_rolls(params: dict[str, str], issue: str) -> None:
    held = make_inputs(
        portfolio=make_portfolio(positions=(short(CALL, "0.2"),)),
        quotes=[make_quote(), make_quote(CALL_2), make_quote(ETH_CALL)],
    )
    outcome = validate({"action": "ROLL_COVERED_CALL", "params": params}, inputs=held)
    assert not outcome.valid
    assert any(i.startswith(issue) for i in outcome.issues), outcome.issues


def test_production_limits_clamp_harder_than_research() -> None:
    params = resolve_effective_params(
        environment="testnet", overrides=RuntimeOverrides(mode=AgentMode.PRODUCTION)
    )
    outcome = validate_external_proposal(
        {"action": "OPEN_COVERED_CALL", "symbol": CALL, "size": 1},
        candidates=CANDIDATES,
        inputs=make_inputs(),
        params=params,
    )
    sell = outcome.proposal.open_leg
    assert sell is not None
    assert sell.amount == Decimal("0.3"), "30% of 1 BTC per expiry"


@settings(max_examples=80, deadline=None)
@given(
    size=st.one_of(
        st.decimals(allow_nan=True, allow_infinity=True),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=-(10**12), max_value=10**12),
        st.text(max_size=8),
    ),
    holdings=st.decimals(min_value=Decimal(0), max_value=Decimal(3), places=2),
)
def test_a_validated_size_is_on_the_step_within_the_limits_or_refused(
    size: Any, holdings: Decimal
) -> None:
    inputs = make_inputs(portfolio=make_portfolio(holdings_coin={"BTC": holdings}))
    outcome = validate({"action": "OPEN_COVERED_CALL", "symbol": CALL, "size": size}, inputs=inputs)
    if not outcome.valid:
        assert outcome.proposal.action is ActionType.DO_NOTHING
        assert outcome.issues
        return
    sell = outcome.proposal.open_leg
    assert sell is not None
    spec = make_quote().spec
    assert sell.amount >= spec.min_trade_amount
    assert sell.amount % spec.min_trade_amount == 0
    assert sell.amount <= open_amount_capacity(make_quote(), inputs, PARAMS.risk)
    verdict = evaluate_risk(outcome.proposal, inputs, PARAMS.risk)
    assert verdict.approved, verdict.reasons

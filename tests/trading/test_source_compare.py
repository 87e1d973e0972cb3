"""Rules vs LLM pairing and agreement (`trading.domain.source_compare`), without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading.domain.proposal import ActionType, DecisionSource, OrderLeg, Proposal
from trading.domain.source_compare import (
    LIMIT_DEFAULT,
    compare_sources,
    compare_tick,
    comparison_limit,
    pair_proposals,
    proposals_agree,
)

T0 = datetime(2025, 12, 10, 9, 0, tzinfo=UTC)
CALL_A, CALL_B, CALL_C = "BTC-19DEC25-100000-C", "BTC-26DEC25-105000-C", "BTC-26DEC25-110000-C"
RULE, LLM = DecisionSource.RULE, DecisionSource.LLM


def _leg(name: str, direction: str) -> OrderLeg:
    return OrderLeg(
        instrument_name=name,
        direction=direction,  # type: ignore[arg-type]
        amount=Decimal("0.1"),
        limit_price_coin=Decimal("0.01"),
    )


def opens(name: str, source: DecisionSource) -> dict[str, Any]:
    legs = (_leg(name, "sell"),)
    action = ActionType.OPEN_COVERED_CALL
    return Proposal(action=action, underlying="BTC", legs=legs, source=source).as_record()


def rolls(old: str, new: str, source: DecisionSource) -> dict[str, Any]:
    legs = (_leg(old, "buy"), _leg(new, "sell"))
    action = ActionType.ROLL_COVERED_CALL
    return Proposal(action=action, underlying="BTC", legs=legs, source=source).as_record()


def nothing(source: DecisionSource, reason: str = "no trigger") -> dict[str, Any]:
    return Proposal.do_nothing(reason, source=source).as_record()


def llm_ok(tokens: int = 150, latency_ms: float = 40.0) -> dict[str, Any]:
    return {"status": "ok", "issues": [], "total_tokens": tokens, "latency_ms": latency_ms}


def row(
    proposal: dict[str, Any],
    shadow: dict[str, Any] | None,
    *,
    mode: str = "hybrid_shadow",
    record: dict[str, Any] | None = None,
    minutes: int = 0,
    pk: int = 1,
) -> dict[str, Any]:
    """A decision as the tick stores it (`proposal` acted, `shadow_proposal` the other)."""
    return {
        "id": pk,
        "decided_at": T0 + timedelta(minutes=minutes),
        "decision_mode": mode,
        "decision_source": proposal["source"],
        "proposal": proposal,
        "shadow_proposal": shadow,
        "llm_record": llm_ok() if record is None else record,
        "verdict_code": "approved",
        "executed": True,
    }


def test_it_pairs_the_rules_acting_in_hybrid_shadow_with_the_llm_shadow():
    tick = compare_tick(row(opens(CALL_A, RULE), opens(CALL_A, LLM)))
    assert tick.acted == "rules"
    assert (tick.rule_action, tick.rule_instruments) == ("OPEN_COVERED_CALL", (CALL_A,))
    assert (tick.llm_action, tick.llm_instruments) == ("OPEN_COVERED_CALL", (CALL_A,))
    assert tick.agree is True
    assert (tick.total_tokens, tick.latency_ms, tick.llm_failed) == (150, 40.0, False)


def test_it_pairs_the_llm_acting_in_llm_only_with_the_rules_shadow():
    tick = compare_tick(row(opens(CALL_B, LLM), opens(CALL_A, RULE), mode="llm_only"))
    assert tick.acted == "llm"
    assert tick.rule_instruments == (CALL_A,)
    assert tick.llm_instruments == (CALL_B,)


def test_the_same_action_on_another_call_is_a_disagreement():
    tick = compare_tick(row(opens(CALL_A, RULE), opens(CALL_B, LLM)))
    assert tick.agree is False


def test_rules_doing_nothing_while_the_llm_opens_is_a_disagreement():
    tick = compare_tick(row(nothing(RULE), opens(CALL_A, LLM)))
    assert (tick.rule_action, tick.rule_instruments) == ("DO_NOTHING", ())
    assert tick.llm_action == "OPEN_COVERED_CALL"
    assert tick.agree is False


def test_both_doing_nothing_agree():
    assert compare_tick(row(nothing(RULE), nothing(LLM))).agree is True


def test_a_roll_agrees_only_on_the_same_call_out_and_the_same_call_in():
    same = compare_tick(row(rolls(CALL_A, CALL_B, RULE), rolls(CALL_A, CALL_B, LLM)))
    assert same.rule_instruments == (CALL_A, CALL_B)
    assert same.agree is True
    other_target = compare_tick(row(rolls(CALL_A, CALL_B, RULE), rolls(CALL_A, CALL_C, LLM)))
    assert other_target.agree is False
    close_instead = {**rolls(CALL_A, CALL_B, LLM), "action": "CLOSE_COVERED_CALL"}
    assert proposals_agree(rolls(CALL_A, CALL_B, RULE), close_instead) is False


def test_a_failed_llm_answer_is_its_do_nothing_and_counts_as_a_failure():
    failed = nothing(LLM, "llm_invalid: not_a_candidate")
    record = {"status": "invalid", "issues": ["not_a_candidate"], "total_tokens": 300}
    tick = compare_tick(row(failed, opens(CALL_A, RULE), mode="llm_only", record=record))
    assert tick.acted == "llm"
    assert (tick.llm_action, tick.llm_status, tick.llm_failed) == ("DO_NOTHING", "invalid", True)
    assert tick.agree is None  # a fallback is not the LLM's view
    assert tick.latency_ms is None
    summary = compare_sources([row(failed, opens(CALL_A, RULE), record=record)]).summary
    assert summary.llm_do_nothing_by_failure == 1
    assert summary.llm_do_nothing_by_choice == 0


def test_an_llm_without_a_proposal_is_left_out_of_the_agreement_rate():
    unavailable = {"status": "unavailable", "error": "no key", "fallback": "rule_only"}
    tick = compare_tick(row(opens(CALL_A, RULE), None, mode="llm_only", record=unavailable))
    assert tick.acted == "rules"
    assert tick.llm_action is None
    assert tick.agree is None
    assert tick.total_tokens is None
    comparison = compare_sources(
        [
            row(opens(CALL_A, RULE), None, record=unavailable, pk=2),
            row(opens(CALL_A, RULE), opens(CALL_A, LLM), pk=1),
        ]
    )
    summary = comparison.summary
    assert (summary.ticks, summary.compared, summary.agreements) == (2, 1, 1)
    assert summary.agreement_rate == 1.0
    assert summary.llm_without_proposal == 1
    assert summary.llm_statuses["unavailable"] == 1


def test_a_guarded_llm_proposal_stays_on_the_llm_side():
    # The health guard turns an acting LLM OPEN into a DO_NOTHING stamped with the rules' source.
    guarded = nothing(RULE, "No new calls: health guard paused")
    tick = compare_tick(row(guarded, opens(CALL_A, RULE), mode="llm_only"))
    assert tick.acted == "llm"
    assert tick.rule_action == "OPEN_COVERED_CALL"
    assert tick.llm_action == "DO_NOTHING"


def test_without_a_shadow_the_decision_source_names_who_acted():
    assert pair_proposals(opens(CALL_A, LLM), None, "llm")[0] == "llm"
    assert pair_proposals(opens(CALL_A, RULE), None, "rule_based")[0] == "rules"
    acted, rule, llm = pair_proposals(opens(CALL_A, RULE), None, "")
    assert (acted, llm) == ("rules", None)
    assert rule is not None


def test_the_summary_counts_statuses_actions_tokens_latency_and_time_span():
    rows = [
        row(nothing(RULE), nothing(LLM), record=llm_ok(100, 10.0), minutes=3, pk=4),
        row(opens(CALL_A, RULE), opens(CALL_B, LLM), record=llm_ok(200, 30.0), minutes=2, pk=3),
        row(
            opens(CALL_A, RULE),
            nothing(LLM, "llm_timeout: 5s"),
            record={"status": "timeout", "total_tokens": 0, "latency_ms": 5000.0},
            minutes=1,
            pk=2,
        ),
        row(rolls(CALL_A, CALL_B, RULE), rolls(CALL_A, CALL_B, LLM), minutes=0, pk=1),
    ]
    comparison = compare_sources(rows)
    assert [t.decision_id for t in comparison.rows] == [4, 3, 2, 1]
    summary = comparison.summary
    # The timed-out tick is left out: nothing/nothing and the roll agree, CALL_A vs CALL_B not.
    assert (summary.ticks, summary.compared, summary.agreements) == (4, 3, 2)
    assert summary.agreement_rate == pytest.approx(2 / 3)
    assert summary.acted == {"rules": 4, "llm": 0}
    assert summary.llm_statuses["ok"] == 3
    assert summary.llm_statuses["timeout"] == 1
    assert summary.actions["rules"] == {
        "DO_NOTHING": 1,
        "OPEN_COVERED_CALL": 2,
        "ROLL_COVERED_CALL": 1,
        "CLOSE_COVERED_CALL": 0,
    }
    assert summary.actions["llm"]["DO_NOTHING"] == 2
    assert summary.actions["llm"]["OPEN_COVERED_CALL"] == 1
    assert (summary.llm_do_nothing_by_choice, summary.llm_do_nothing_by_failure) == (1, 1)
    assert summary.mean_tokens == pytest.approx((100 + 200 + 0 + 150) / 4)
    assert summary.median_latency_ms == pytest.approx((30.0 + 40.0) / 2)
    assert (summary.since, summary.until) == (T0, T0 + timedelta(minutes=3))


def test_nothing_to_compare_gives_empty_figures_not_zeros():
    summary = compare_sources([]).summary
    assert summary.ticks == 0
    assert summary.agreement_rate is None
    assert summary.mean_tokens is None
    assert summary.median_latency_ms is None
    assert summary.since is None


def test_an_unknown_status_is_counted_after_the_known_ones_and_odd_numbers_are_dropped():
    record = {"status": "new", "total_tokens": "lots", "latency_ms": True}
    comparison = compare_sources([row(nothing(RULE), nothing(LLM), record=record)])
    summary = comparison.summary
    assert list(summary.llm_statuses)[-1] == "new"
    assert summary.llm_statuses["new"] == 1
    assert (comparison.rows[0].total_tokens, comparison.rows[0].latency_ms) == (None, None)
    assert comparison.rows[0].llm_failed is True


@pytest.mark.parametrize(("raw", "limit"), [(None, LIMIT_DEFAULT), ("", LIMIT_DEFAULT), ("1", 1)])
def test_the_limit_defaults_and_parses(raw, limit):
    assert comparison_limit(raw) == limit
    assert comparison_limit("2000") == 2000


@pytest.mark.parametrize("raw", ["0", "-5", "2001", "ten", "1.5"])
def test_a_bad_limit_is_refused(raw):
    with pytest.raises(ValueError, match="an integer from 1 to 2000"):
        comparison_limit(raw)


calls = st.sampled_from([CALL_A, CALL_B, CALL_C])
proposals = st.one_of(
    st.just("nothing"),
    st.tuples(st.just("open"), calls),
    st.tuples(st.just("roll"), calls, calls).filter(lambda t: t[1] != t[2]),
)


def _build(spec: Any, source: DecisionSource) -> dict[str, Any]:
    if spec == "nothing":
        return nothing(source)
    if spec[0] == "open":
        return opens(spec[1], source)
    return rolls(spec[1], spec[2], source)


@given(st.lists(st.tuples(proposals, proposals), max_size=20))
def test_agreement_is_symmetric_and_the_rate_is_a_fraction(pairs):
    rows = [row(_build(a, RULE), _build(b, LLM), pk=i, minutes=i) for i, (a, b) in enumerate(pairs)]
    comparison = compare_sources(rows)
    for (a, b), tick in zip(pairs, comparison.rows, strict=True):
        assert tick.agree == proposals_agree(_build(b, RULE), _build(a, LLM))
        assert tick.agree == (a == b)
    summary = comparison.summary
    assert summary.compared == len(pairs)
    if pairs:
        assert summary.agreement_rate is not None
        assert 0.0 <= summary.agreement_rate <= 1.0

"""Covered-call candidate filter, scoring and epsilon-greedy exploration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from trading.domain.candidates import (
    CandidateChain,
    RejectReason,
    StrategyParams,
    choose_candidate,
    evaluate_candidates,
    explore_pick,
    reason_counts,
    reason_names,
    rejection_flags,
    score_candidates,
)

SPOT = 100_000.0


def _chain(**overrides: object) -> CandidateChain:
    """Five calls around the money: only the 105k and 110k calls fit the research defaults."""
    columns: dict[str, object] = {
        "instrument_name": [
            "BTC-A-95000-C",
            "BTC-A-105000-C",
            "BTC-A-110000-C",
            "BTC-A-140000-C",
            "BTC-A-105000-P",
        ],
        "strike": [95_000, 105_000, 110_000, 140_000, 105_000],
        "underlying_usd": SPOT,
        "dte_days": 7.0,
        "delta": [0.70, 0.30, 0.18, 0.01, -0.70],
        "iv": 0.55,
        "premium_usd": [6_000.0, 1_500.0, 700.0, 10.0, 5_000.0],
        "is_call": [True, True, True, True, False],
    }
    columns.update(overrides)
    return CandidateChain.build(**columns)  # type: ignore[arg-type]


def test_it_keeps_only_calls_inside_every_range() -> None:
    evaluation = evaluate_candidates(_chain(), StrategyParams.research(), rv=0.45)

    assert [c.instrument_name for c in evaluation.ranked] == ["BTC-A-105000-C", "BTC-A-110000-C"]
    reasons = {r.instrument_name: r.reasons for r in evaluation.rejected}
    assert reasons["BTC-A-95000-C"] == ["delta_above_max"]
    assert reasons["BTC-A-140000-C"] == ["delta_below_min", "premium_below_min"]
    assert "not_a_call" in reasons["BTC-A-105000-P"]


def test_it_reports_every_failed_check_for_a_rejected_row() -> None:
    params = StrategyParams.production()  # DTE 5-10, IV/RV >= 1.2
    chain = _chain(dte_days=[2, 7, 30, 7, 7], iv=0.40)
    evaluation = evaluate_candidates(chain, params, rv=0.45)

    assert evaluation.ranked == ()
    reasons = {r.instrument_name: r.reasons for r in evaluation.rejected}
    assert reasons["BTC-A-95000-C"] == ["dte_below_min", "delta_above_max", "ivrv_below_min"]
    assert reasons["BTC-A-110000-C"] == ["dte_above_max", "delta_below_min", "ivrv_below_min"]
    assert evaluation.rejection_counts()["ivrv_below_min"] == 5


def test_it_rejects_rows_with_no_bid_or_missing_data() -> None:
    chain = _chain(premium_usd=[6_000.0, 0.0, np.nan, 10.0, 1.0], delta=[0.7, 0.3, 0.2, np.nan, 0])
    flags = rejection_flags(chain, StrategyParams.research(), rv=0.45)

    assert flags[1] & RejectReason.NO_BID
    assert flags[2] & RejectReason.NO_BID
    assert flags[3] & RejectReason.MISSING_DATA
    assert not flags[1] & RejectReason.PREMIUM_BELOW_MIN


def test_it_treats_unknown_realised_vol_as_missing_data() -> None:
    flags = rejection_flags(_chain(), StrategyParams.research(), rv=0.0)

    assert all(f & RejectReason.MISSING_DATA for f in flags)


def test_it_applies_liquidity_guards_only_when_configured() -> None:
    chain = _chain(spread_pct=[0.1, 0.5, 0.1, 0.1, 0.1], open_interest=[9, 9, 1, 9, 9])
    # The research preset carries the live guards (parity); switched off here.
    unguarded = StrategyParams.research(max_spread_pct=None, min_open_interest=0.0)
    loose = evaluate_candidates(chain, unguarded, rv=0.45)
    strict = evaluate_candidates(
        chain, StrategyParams.research(max_spread_pct=0.3, min_open_interest=5), rv=0.45
    )

    assert len(loose.ranked) == 2
    assert strict.ranked == ()
    reasons = {r.instrument_name: r.reasons for r in strict.rejected}
    assert reasons["BTC-A-105000-C"] == ["spread_too_wide"]
    assert reasons["BTC-A-110000-C"] == ["open_interest_too_low"]


def test_it_rejects_ivrv_above_an_optional_ceiling() -> None:
    flags = rejection_flags(_chain(), StrategyParams.research(ivrv_max=1.1), rv=0.45)

    assert all(f & RejectReason.IVRV_ABOVE_MAX for f in flags)


def test_it_scores_by_annualised_yield_ivrv_and_delta_fit() -> None:
    params = StrategyParams.research(target_delta=0.30)  # range 0.10-0.40, half width 0.15
    chain = _chain()
    scores = score_candidates(chain, params, rv=0.5)

    # 105k call: 1500/100000 * 365/7 * (0.55/0.5) * 1 (at target delta)
    assert scores[1] == pytest.approx(0.015 * 365 / 7 * 1.1)
    # 110k call: 700/100000 * 365/7 * 1.1 * (1 - 0.5 * 0.12/0.15)
    assert scores[2] == pytest.approx(0.007 * 365 / 7 * 1.1 * (1 - 0.5 * 0.8))


def test_it_caps_the_ivrv_bonus() -> None:
    params = StrategyParams.research(ivrv_score_cap=1.5)
    rich = score_candidates(_chain(), params, rv=0.1)
    richer = score_candidates(_chain(), params, rv=0.01)

    np.testing.assert_allclose(rich, richer)


def test_it_ranks_best_score_first_and_breaks_ties_in_chain_order() -> None:
    chain = _chain(premium_usd=[6_000.0, 900.0, 900.0, 10.0, 1.0], delta=[0.7, 0.25, 0.25, 0, 0])
    evaluation = evaluate_candidates(chain, StrategyParams.research(), rv=0.45)

    assert [c.rank for c in evaluation.ranked] == [0, 1]
    assert [c.index for c in evaluation.ranked] == [1, 2]
    assert evaluation.best is not None
    assert evaluation.best.as_dict()["instrument_name"] == "BTC-A-105000-C"


def test_it_never_explores_when_the_probability_is_zero() -> None:
    params = StrategyParams.research(explore_prob=0.0)
    evaluation = evaluate_candidates(_chain(), params, rv=0.45)
    rng = np.random.default_rng(1)

    picks = [choose_candidate(evaluation, params, rng) for _ in range(200)]

    assert all(p is not None and not p.explored and p.candidate.rank == 0 for p in picks)


def test_it_explores_runners_up_at_the_configured_rate() -> None:
    params = StrategyParams.research(explore_prob=0.25, explore_top_k=3)
    rng = np.random.default_rng(7)

    ranks = np.array([explore_pick(10, params, rng) for _ in range(8_000)])

    assert set(np.unique(ranks)) == {0, 1, 2}
    assert np.mean(ranks > 0) == pytest.approx(0.25, abs=0.02)
    assert np.mean(ranks == 1) == pytest.approx(np.mean(ranks == 2), abs=0.02)


def test_it_replays_identically_for_the_same_seed() -> None:
    params = StrategyParams.research(explore_prob=0.5)
    evaluation = evaluate_candidates(_chain(), params, rv=0.45)

    def run(seed: int) -> list[str]:
        rng = np.random.default_rng(seed)
        picks = [choose_candidate(evaluation, params, rng) for _ in range(50)]
        return [p.candidate.instrument_name for p in picks if p is not None]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_it_returns_none_when_nothing_passes() -> None:
    params = StrategyParams.research(premium_min_usd=1e9)
    evaluation = evaluate_candidates(_chain(), params, rv=0.45)

    assert choose_candidate(evaluation, params, np.random.default_rng(0)) is None
    with pytest.raises(ValueError, match="no candidates"):
        explore_pick(0, params, np.random.default_rng(0))


def test_it_builds_from_a_frame_with_option_type_column() -> None:
    frame = pd.DataFrame(
        {
            "instrument_name": ["X-1-C", "X-1-P"],
            "option_type": ["C", "P"],
            "strike": [105_000.0, 95_000.0],
            "underlying_usd": [SPOT, SPOT],
            "dte_days": [7.0, 7.0],
            "delta": [0.3, -0.3],
            "iv": [0.5, 0.5],
            "premium_usd": [1_000.0, 1_000.0],
            "open_interest": [10.0, 10.0],
        }
    )
    chain = CandidateChain.from_frame(frame)

    assert chain.is_call.tolist() == [True, False]
    assert np.isnan(chain.spread_pct).all()
    assert chain.open_interest.tolist() == [10.0, 10.0]


def test_it_rejects_inconsistent_parameters_and_columns() -> None:
    with pytest.raises(ValidationError, match="delta_min"):
        StrategyParams(delta_min=0.5, delta_max=0.2)
    with pytest.raises(ValidationError, match="dte_min_days"):
        StrategyParams(dte_min_days=9, dte_max_days=2)
    with pytest.raises(ValidationError, match="ivrv_max"):
        StrategyParams(ivrv_min=1.5, ivrv_max=1.2)
    with pytest.raises(ValueError, match="expected"):
        CandidateChain.build(
            instrument_name=["a", "b"],
            strike=[1.0],
            underlying_usd=1.0,
            dte_days=1.0,
            delta=0.2,
            iv=0.5,
            premium_usd=1.0,
        )


def test_it_names_reasons_in_a_stable_order() -> None:
    flags = RejectReason.PREMIUM_BELOW_MIN | RejectReason.DTE_BELOW_MIN
    assert reason_names(int(flags)) == ["dte_below_min", "premium_below_min"]


def test_it_offers_research_and_production_presets() -> None:
    research, production = StrategyParams.research(), StrategyParams.production()

    assert (research.delta_min, research.delta_max, research.explore_prob) == (0.10, 0.40, 0.25)
    assert (production.dte_min_days, production.dte_max_days, production.explore_prob) == (5, 10, 0)
    assert production.effective_target_delta == pytest.approx(0.25)
    assert StrategyParams.research(delta_max=0.3).delta_max == 0.3


@settings(max_examples=60, deadline=None)
@given(
    deltas=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30),
    premium=st.floats(0.0, 5_000.0),
    seed=st.integers(0, 2**16),
)
def test_it_only_ever_selects_eligible_candidates(
    deltas: list[float], premium: float, seed: int
) -> None:
    n = len(deltas)
    chain = CandidateChain.build(
        instrument_name=[f"C{i}" for i in range(n)],
        strike=np.linspace(90_000, 150_000, n),
        underlying_usd=SPOT,
        dte_days=np.linspace(0.5, 30, n),
        delta=deltas,
        iv=0.6,
        premium_usd=premium,
    )
    params = StrategyParams.research(explore_prob=0.5)
    flags = rejection_flags(chain, params, rv=0.5)
    evaluation = evaluate_candidates(chain, params, rv=0.5)
    choice = choose_candidate(evaluation, params, np.random.default_rng(seed))

    assert len(evaluation.ranked) + len(evaluation.rejected) == n
    assert {c.index for c in evaluation.ranked} == set(np.flatnonzero(flags == 0).tolist())
    if choice is not None:
        assert flags[choice.candidate.index] == 0
        assert choice.candidate.rank < params.explore_top_k
    scores = [c.score for c in evaluation.ranked]
    assert scores == sorted(scores, reverse=True)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=(1 << 12) - 1), max_size=60))
def test_reason_counts_count_each_reason_of_each_row(flags: list[int]) -> None:
    expected: dict[str, int] = {}
    for value in flags:
        for reason in RejectReason:
            if reason.name and value & reason:
                expected[reason.name.lower()] = expected.get(reason.name.lower(), 0) + 1
    assert reason_counts(flags) == expected
    assert all(set(reason_names(value)) <= set(expected) for value in flags)

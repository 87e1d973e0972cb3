"""ENTRY_ENGINE waterfall: every step and outcome, boundary values, missing inputs."""

from __future__ import annotations

from typing import Any

import pytest

from greg.domain.spec import OUTCOMES, SENSOR_NAMES, EntryThresholds, load_spec
from greg.domain.waterfall import entry_decide
from tests.builders import NEUTRAL

CASES: list[tuple[str, dict[str, Any], str, int]] = [
    # (id, changes, strategy, step)
    ("default", {}, "NO_TRADE", 8),
    ("safety adx", {"adx_14d": 35.01}, "NO_TRADE", 1),
    ("safety adx == high is not > (passes)", {"adx_14d": 35.0}, "NO_TRADE", 8),
    ("safety chop", {"chop_factor_7d": 0.851}, "NO_TRADE", 1),
    ("safety chop == high passes", {"chop_factor_7d": 0.85}, "NO_TRADE", 8),
    (
        "calendar",
        {"term_structure_spread": 5.1, "front_rv_iv_ratio": 0.79, "vrp_7d": 5.1},
        "STRATEGY_B_CALENDAR",
        2,
    ),
    (
        "calendar term == min is not >",
        {"term_structure_spread": 5.0, "front_rv_iv_ratio": 0.79, "vrp_7d": 5.1},
        "NO_TRADE",
        8,
    ),
    (
        "calendar ratio == max is not <",
        {"term_structure_spread": 5.1, "front_rv_iv_ratio": 0.8, "vrp_7d": 5.1},
        "NO_TRADE",
        8,
    ),
    (
        "calendar vrp_7d == min is not >",
        {"term_structure_spread": 5.1, "front_rv_iv_ratio": 0.79, "vrp_7d": 5.0},
        "NO_TRADE",
        8,
    ),
    ("iron fly", {"iv_rank_6m": 0.81, "vrp_30d": 10.1}, "STRATEGY_D_IRON_BUTTERFLY", 3),
    (
        "iron fly rank == min falls to strangle",
        {"iv_rank_6m": 0.8, "vrp_30d": 10.1},
        "STRATEGY_A_STRANGLE",
        5,
    ),
    (
        "iron fly vrp == min falls to strangle (>=)",
        {"iv_rank_6m": 0.9, "vrp_30d": 10.0},
        "STRATEGY_A_STRANGLE",
        5,
    ),
    (
        "straddle",
        {"vrp_30d": 15.1, "chop_factor_7d": 0.59, "adx_14d": 19.9, "skew_25d": -3.9},
        "STRATEGY_A_STRADDLE",
        4,
    ),
    (
        "straddle vrp == min falls to strangle",
        {"vrp_30d": 15.0, "chop_factor_7d": 0.59, "adx_14d": 19.9},
        "STRATEGY_A_STRANGLE",
        5,
    ),
    (
        "straddle chop == max falls to strangle",
        {"vrp_30d": 15.1, "chop_factor_7d": 0.6, "adx_14d": 19.9},
        "STRATEGY_A_STRANGLE",
        5,
    ),
    (
        "straddle adx == max falls to strangle",
        {"vrp_30d": 15.1, "chop_factor_7d": 0.59, "adx_14d": 20.0},
        "STRATEGY_A_STRANGLE",
        5,
    ),
    ("strangle vrp == min (>=)", {"vrp_30d": 10.0}, "STRATEGY_A_STRANGLE", 5),
    ("strangle vrp below min", {"vrp_30d": 9.99}, "NO_TRADE", 8),
    ("strangle chop == max", {"vrp_30d": 12.0, "chop_factor_7d": 0.8}, "NO_TRADE", 8),
    ("strangle adx == max", {"vrp_30d": 12.0, "adx_14d": 30.0}, "NO_TRADE", 8),
    (
        "neutral skew boundary |skew| == 4 is not <",
        {"vrp_30d": 12.0, "skew_25d": 4.0},
        "NO_TRADE",
        8,
    ),
    ("negative skew boundary", {"vrp_30d": 12.0, "skew_25d": -4.0}, "NO_TRADE", 8),
    (
        "short put",
        {"skew_25d": 4.1, "price_vs_ma200": 0.01, "vrp_30d": 2.1},
        "STRATEGY_C_SHORT_PUT",
        6,
    ),
    (
        "short put at MA200 (== 0)",
        {"skew_25d": 4.1, "price_vs_ma200": 0.0, "vrp_30d": 2.1},
        "NO_TRADE",
        8,
    ),
    ("short put vrp == directional min", {"skew_25d": 4.1, "vrp_30d": 2.0}, "NO_TRADE", 8),
    (
        "bull put spread",
        {"skew_25d": 4.1, "price_vs_ma200": -5.0, "rsi_14d": 29.9, "vrp_30d": 2.1},
        "STRATEGY_F_BULL_PUT_SPREAD",
        7,
    ),
    (
        "bull put rsi == lower is not <",
        {"skew_25d": 4.1, "price_vs_ma200": -5.0, "rsi_14d": 30.0, "vrp_30d": 2.1},
        "NO_TRADE",
        8,
    ),
    (
        "bear call spread",
        {"skew_25d": -4.1, "rsi_14d": 70.1, "vrp_30d": 2.1},
        "STRATEGY_F_BEAR_CALL_SPREAD",
        7,
    ),
    (
        "bear call skew == -threshold is not <",
        {"skew_25d": -4.0, "rsi_14d": 70.1, "vrp_30d": 2.1},
        "NO_TRADE",
        8,
    ),
    (
        "bear call rsi == upper is not >",
        {"skew_25d": -4.1, "rsi_14d": 70.0, "vrp_30d": 2.1},
        "NO_TRADE",
        8,
    ),
    # Missing inputs never let a rule fire, and an uncleared safety filter stops the waterfall.
    ("missing adx blocks at safety", {"adx_14d": None}, "NO_TRADE", 1),
    ("missing chop but adx fires", {"chop_factor_7d": None, "adx_14d": 40.0}, "NO_TRADE", 1),
    (
        "missing vrp_7d: no calendar",
        {"term_structure_spread": 5.1, "front_rv_iv_ratio": 0.79, "vrp_7d": None},
        "NO_TRADE",
        8,
    ),
    (
        "missing iv rank: no iron fly, strangle",
        {"iv_rank_6m": None, "vrp_30d": 10.1},
        "STRATEGY_A_STRANGLE",
        5,
    ),
    (
        "missing skew: nothing skew-based",
        {"skew_25d": None, "vrp_30d": 20.0, "chop_factor_7d": 0.5, "adx_14d": 10.0},
        "NO_TRADE",
        8,
    ),
    (
        "missing ma200: no short put",
        {"skew_25d": 4.1, "price_vs_ma200": None, "vrp_30d": 2.1},
        "NO_TRADE",
        8,
    ),
]


@pytest.mark.parametrize(
    ("changes", "strategy", "step"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_it_decides_as_the_rules_say(changes, strategy, step):
    decision = entry_decide({**NEUTRAL, **changes})
    assert (decision.strategy, decision.step) == (strategy, step), decision.reasoning


def test_the_table_reaches_every_step_and_every_outcome():
    reached = {(entry_decide({**NEUTRAL, **c[1]}).step, c[2]) for c in CASES}
    assert {step for step, _ in reached} == set(range(1, 9))
    assert {outcome for _, outcome in reached} == set(OUTCOMES)


def test_every_rule_is_traced_with_numbers_and_truth_values():
    decision = entry_decide({**NEUTRAL, "skew_25d": -4.1, "rsi_14d": 70.1, "vrp_30d": 2.1})
    assert [r.key for r in decision.rules] == ["1", "2", "3", "4", "5", "6", "7a", "7b", "8"]
    assert {r.outcome for r in decision.rules} == set(OUTCOMES)
    bear = next(r for r in decision.rules if r.key == "7b")
    assert bear.fired
    skew = bear.conditions[0]
    assert (skew.text, skew.value, skew.bound, skew.result) == (
        "skew_25d < -skew_neutral_threshold",
        -4.1,
        -4.0,
        True,
    )
    straddle = next(r for r in decision.rules if r.key == "4")
    assert straddle.conditions[3].text == "ABS(skew_25d) < skew_neutral_threshold"
    assert straddle.conditions[3].compared == 4.1


def test_a_missing_sensor_is_unknown_not_false_or_true():
    decision = entry_decide({**NEUTRAL, "adx_14d": None})
    safety = decision.rules[0]
    assert safety.missing == ("adx_14d",)
    assert safety.conditions[0].result is None
    assert "cannot be cleared" in decision.reasoning


def test_calibrated_thresholds_change_the_decision():
    vector = {**NEUTRAL, "vrp_30d": 12.0}
    assert entry_decide(vector).strategy == "STRATEGY_A_STRANGLE"
    raised = EntryThresholds().with_overrides({"strangle_vrp_min": 12.5})
    assert entry_decide(vector, thresholds=raised, calibration_version=3).strategy == "NO_TRADE"
    with pytest.raises(ValueError, match="unknown threshold"):
        EntryThresholds().with_overrides({"nope": 1.0})


def test_spec_defaults_are_the_rules_defaults():
    spec = load_spec()
    assert spec.entry.version == "8.0"
    assert spec.entry.thresholds == EntryThresholds()
    assert len(SENSOR_NAMES) == 11
    assert spec.strategies["STRATEGY_F_BULL_PUT_SPREAD"].dte_min == 20

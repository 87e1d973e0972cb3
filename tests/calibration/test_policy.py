"""Update policy and guardrails: EWMA exactly as by hand, thresholds, refusals."""

from __future__ import annotations

import pytest

from calibration.domain.policy import (
    CalibrationFacts,
    GuardrailVerdict,
    Outcome,
    PolicyConfig,
    guardrails_check,
    policy_decide,
)

PASS = GuardrailVerdict(ok=True)


def test_it_smooths_a_sequence_exactly_like_a_hand_computed_ewma():
    sequence = [1.10, 1.20, 0.90, 1.05, 1.00]
    alpha = 0.25
    hand = [1.10]
    for value in sequence[1:]:
        hand.append(alpha * value + (1 - alpha) * hand[-1])
    config = PolicyConfig(ewma_alpha=alpha, min_change=0.0, max_step=10.0)
    smoothed: dict[str, float] = {}
    applied: dict[str, float] = {}
    seen = []
    for value in sequence:
        result = policy_decide(
            recommended={"7-30d": value},
            smoothed=smoothed,
            applied=applied,
            verdict=PASS,
            config=config,
        )
        smoothed, applied = result.smoothed, result.applied
        seen.append(applied["7-30d"])
    assert seen == pytest.approx(hand, abs=1e-12)


def test_it_holds_changes_below_the_minimum():
    result = policy_decide(
        recommended={"7-30d": 1.004},
        smoothed={"7-30d": 1.0},
        applied={"7-30d": 1.0},
        verdict=PASS,
        config=PolicyConfig(ewma_alpha=1.0, min_change=0.01),
    )
    assert result.outcome is Outcome.HELD
    assert result.applied == {"7-30d": 1.0}
    assert "below" in result.reasons[0]


def test_it_clips_a_large_move_to_the_maximum_step():
    result = policy_decide(
        recommended={"90d+": 1.6},
        smoothed={},
        applied={"90d+": 1.0},
        verdict=PASS,
        config=PolicyConfig(ewma_alpha=1.0, min_change=0.01, max_step=0.1),
    )
    assert result.outcome is Outcome.APPLIED
    assert result.applied["90d+"] == pytest.approx(1.1)
    assert result.smoothed["90d+"] == pytest.approx(1.6)


def test_it_refuses_when_guardrails_fail_and_keeps_state():
    verdict = GuardrailVerdict(ok=False, reasons=("mark coverage 50% < 80%",))
    result = policy_decide(
        recommended={"7-30d": 1.3},
        smoothed={"7-30d": 1.1},
        applied={"7-30d": 1.05},
        verdict=verdict,
    )
    assert result.outcome is Outcome.REFUSED
    assert result.smoothed == {"7-30d": 1.1}
    assert result.applied == {"7-30d": 1.05}
    assert "coverage" in result.reasons[0]


def _facts(**changes: object) -> CalibrationFacts:
    base = dict(
        n_options=700,
        n_expiries=12,
        mark_coverage=0.99,
        surface_vw_mae_volpts=0.15,
        adjusted_synthetic_vw_mae_volpts=1.0,
        multipliers={"7-30d": 1.02},
        quality_ok=True,
    )
    base.update(changes)
    return CalibrationFacts(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"mark_coverage": 0.5}, "coverage"),
        ({"multipliers": {"7-30d": 3.0}}, "outside"),
        ({"multipliers": {}}, "no multiplier"),
        ({"surface_vw_mae_volpts": 2.0}, "surface vw MAE"),
        ({"n_expiries": 1}, "expiries"),
        ({"quality_ok": False}, "data-quality"),
        ({"surface_vw_mae_volpts": float("nan")}, "surface vw MAE"),
    ],
)
def test_guardrails_name_each_failed_rule(changes, reason):
    verdict = guardrails_check(_facts(**changes))
    assert not verdict.ok
    assert any(reason in r for r in verdict.reasons)


def test_guardrails_pass_a_sound_calibration():
    assert guardrails_check(_facts()).ok

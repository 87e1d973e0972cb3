"""Guardrails on a calibration and the update policy that turns recommendations into applied
multipliers (EWMA smoothing, minimum change, maximum step).

Auto-calibration only records recommendations; the multipliers the synthetic market uses change
through `policy_decide` (or an audited manual override), never directly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Guardrails:
    """Bounds a calibration must meet before its multipliers may be considered."""

    multiplier_min: float = 0.5
    multiplier_max: float = 2.0
    max_surface_vw_mae_volpts: float = 1.0
    max_adjusted_synthetic_vw_mae_volpts: float = 15.0
    min_mark_coverage: float = 0.8
    min_expiries: int = 3
    min_options: int = 50


@dataclass(frozen=True, slots=True)
class CalibrationFacts:
    """What the guardrails look at, from one calibration."""

    n_options: int
    n_expiries: int
    mark_coverage: float
    surface_vw_mae_volpts: float
    adjusted_synthetic_vw_mae_volpts: float
    multipliers: Mapping[str, float]
    quality_ok: bool = True


@dataclass(frozen=True, slots=True)
class GuardrailVerdict:
    """Pass or fail, and every reason for a failure."""

    ok: bool
    reasons: tuple[str, ...] = ()


def guardrails_check(facts: CalibrationFacts, rails: Guardrails | None = None) -> GuardrailVerdict:
    """Every failed rule of `rails` for `facts` (empty reasons: the calibration may be used)."""
    r = rails or Guardrails()
    reasons: list[str] = []
    if not facts.quality_ok:
        reasons.append("data-quality report is bad")
    if facts.n_options < r.min_options:
        reasons.append(f"{facts.n_options} options < {r.min_options}")
    if facts.n_expiries < r.min_expiries:
        reasons.append(f"{facts.n_expiries} fitted expiries < {r.min_expiries}")
    if not facts.mark_coverage >= r.min_mark_coverage:
        reasons.append(f"mark coverage {facts.mark_coverage:.0%} < {r.min_mark_coverage:.0%}")
    if not facts.surface_vw_mae_volpts <= r.max_surface_vw_mae_volpts:
        reasons.append(
            f"surface vw MAE {facts.surface_vw_mae_volpts:.3f} > {r.max_surface_vw_mae_volpts}"
        )
    if not facts.adjusted_synthetic_vw_mae_volpts <= r.max_adjusted_synthetic_vw_mae_volpts:
        reasons.append(
            f"synthetic vw MAE after multipliers {facts.adjusted_synthetic_vw_mae_volpts:.2f} "
            f"> {r.max_adjusted_synthetic_vw_mae_volpts}"
        )
    if not facts.multipliers:
        reasons.append("no multiplier could be estimated")
    for band, value in sorted(facts.multipliers.items()):
        if not (math.isfinite(value) and r.multiplier_min <= value <= r.multiplier_max):
            reasons.append(
                f"multiplier {band}={value:.3f} outside [{r.multiplier_min}, {r.multiplier_max}]"
            )
    return GuardrailVerdict(ok=not reasons, reasons=tuple(reasons))


class Outcome(StrEnum):
    """What the policy did with a recommendation."""

    APPLIED = "applied"
    HELD = "held"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """EWMA weight of the newest recommendation, and change thresholds (multiplier units)."""

    ewma_alpha: float = 0.3
    min_change: float = 0.01
    max_step: float = 0.10

    def __post_init__(self) -> None:
        if not 0 < self.ewma_alpha <= 1:
            raise ValueError("ewma_alpha must be in (0, 1]")
        if self.min_change < 0 or self.max_step <= 0:
            raise ValueError("min_change must be >= 0 and max_step > 0")


@dataclass(frozen=True, slots=True)
class PolicyDecisionResult:
    """One decision: outcome, the smoothed state to keep, the multipliers now in force, why."""

    outcome: Outcome
    smoothed: dict[str, float]
    applied: dict[str, float]
    reasons: tuple[str, ...] = field(default_factory=tuple)


def ewma_update(previous: float | None, value: float, alpha: float) -> float:
    """s = alpha * value + (1 - alpha) * previous; the first value starts the average."""
    return value if previous is None else alpha * value + (1.0 - alpha) * previous


def policy_decide(
    *,
    recommended: Mapping[str, float],
    smoothed: Mapping[str, float],
    applied: Mapping[str, float],
    verdict: GuardrailVerdict,
    config: PolicyConfig | None = None,
) -> PolicyDecisionResult:
    """Decide what to do with a calibration's recommended multipliers.

    Refused when the guardrails failed (state unchanged). Otherwise the EWMA moves; a band
    whose smoothed value differs from the applied one by less than `min_change` is held, and
    changes larger than `max_step` are clipped to it. Applied when any band moved.
    """
    cfg = config or PolicyConfig()
    if not verdict.ok:
        return PolicyDecisionResult(
            Outcome.REFUSED,
            dict(smoothed),
            dict(applied),
            tuple(f"guardrail: {reason}" for reason in verdict.reasons),
        )
    new_smoothed = dict(smoothed)
    new_applied = dict(applied)
    reasons: list[str] = []
    for band, value in sorted(recommended.items()):
        s = ewma_update(smoothed.get(band), value, cfg.ewma_alpha)
        new_smoothed[band] = s
        current = applied.get(band, 1.0)
        delta = s - current
        if abs(delta) < cfg.min_change:
            reasons.append(f"{band}: change {delta:+.4f} below {cfg.min_change}")
            continue
        step = max(-cfg.max_step, min(cfg.max_step, delta))
        if step != delta:
            reasons.append(f"{band}: step {delta:+.4f} clipped to {step:+.4f}")
        else:
            reasons.append(f"{band}: {current:.4f} -> {current + step:.4f}")
        new_applied[band] = current + step
    moved = any(new_applied.get(b) != applied.get(b) for b in new_applied)
    return PolicyDecisionResult(
        Outcome.APPLIED if moved else Outcome.HELD, new_smoothed, new_applied, tuple(reasons)
    )


def ewma_series(values: Sequence[float], alpha: float) -> list[float]:
    """The EWMA of a sequence, for charts and checks."""
    out: list[float] = []
    previous: float | None = None
    for value in values:
        previous = ewma_update(previous, value, alpha)
        out.append(previous)
    return out

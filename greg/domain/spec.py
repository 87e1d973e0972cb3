"""Greg's rules as a typed, versioned spec: the entry waterfall, thresholds, leg structures and
the position/hedge management, loaded once from ``greg_spec.toml`` (our own format).

Why data: thresholds are calibrated at runtime (a ``GregCalibration`` row overrides them) and
the rules stay readable side by side with the reference they encode. ``load_spec`` validates
the file strictly: an unknown sensor, threshold or operator fails at import, not at a tick.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SENSOR_NAMES: Final[tuple[str, ...]] = (
    "vrp_30d",
    "vrp_7d",
    "front_rv_iv_ratio",
    "chop_factor_7d",
    "iv_rank_6m",
    "term_structure_spread",
    "skew_25d",
    "adx_14d",
    "rsi_14d",
    "price_vs_ma200",
    "predicted_funding_rate",
)
OUTCOMES: Final[tuple[str, ...]] = (
    "NO_TRADE",
    "STRATEGY_B_CALENDAR",
    "STRATEGY_D_IRON_BUTTERFLY",
    "STRATEGY_A_STRADDLE",
    "STRATEGY_A_STRANGLE",
    "STRATEGY_C_SHORT_PUT",
    "STRATEGY_F_BULL_PUT_SPREAD",
    "STRATEGY_F_BEAR_CALL_SPREAD",
)
STRATEGY_OUTCOMES: Final[tuple[str, ...]] = OUTCOMES[1:]
SPEC_PATH: Final[Path] = Path(__file__).with_name("greg_spec.toml")

Operator = Literal[">", ">=", "<", "<="]
HedgeMode = Literal["DYNAMIC_DELTA", "LIGHT_DELTA", "LOOSE_DELTA", "NONE"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EntryThresholds(_Frozen):
    """ENTRY_ENGINE calibration (vol points, fractions, RSI/ADX points); defaults are the rules'."""

    skew_neutral_threshold: float = 4.0
    min_vrp_floor: float = 0.0
    min_vrp_directional: float = 2.0
    rsi_lower: float = 30.0
    rsi_upper: float = 70.0
    safety_adx_high: float = 35.0
    safety_chop_high: float = 0.85
    straddle_vrp_min: float = 15.0
    straddle_adx_max: float = 20.0
    straddle_chop_max: float = 0.6
    strangle_vrp_min: float = 10.0
    strangle_adx_max: float = 30.0
    strangle_chop_max: float = 0.8
    calendar_term_spread_min: float = 5.0
    calendar_front_rv_iv_ratio_max: float = 0.8
    calendar_vrp_7d_min: float = 5.0
    iron_fly_iv_rank_min: float = 0.80
    iron_fly_vrp_min: float = 10.0

    def with_overrides(self, overrides: dict[str, float]) -> EntryThresholds:
        """A copy with some thresholds replaced (unknown names raise ``ValueError``)."""
        unknown = sorted(set(overrides) - set(type(self).model_fields))
        if unknown:
            raise ValueError(f"unknown threshold(s): {', '.join(unknown)}")
        return type(self).model_validate({**self.model_dump(), **overrides})


class ConditionSpec(_Frozen):
    """One comparison: ``[abs](sensor) op [-]threshold`` (or a literal number)."""

    sensor: str
    op: Operator
    threshold: str | None = None
    literal: float | None = None
    negate: bool = False
    transform: Literal["abs"] | None = None

    @model_validator(mode="after")
    def _check(self) -> ConditionSpec:
        if self.sensor not in SENSOR_NAMES:
            raise ValueError(f"unknown sensor {self.sensor!r}")
        if (self.threshold is None) == (self.literal is None):
            raise ValueError("a condition needs exactly one of threshold or literal")
        if self.threshold is not None and self.threshold not in EntryThresholds.model_fields:
            raise ValueError(f"unknown threshold {self.threshold!r}")
        return self

    def bound(self, thresholds: EntryThresholds) -> float:
        """The number the sensor is compared with under these thresholds."""
        base = self.literal if self.threshold is None else getattr(thresholds, self.threshold)
        value = float(base if base is not None else 0.0)
        return -value if self.negate else value

    def text(self) -> str:
        """The condition as the rules write it, e.g. ``ABS(skew_25d) < skew_neutral_threshold``."""
        left = f"ABS({self.sensor})" if self.transform == "abs" else self.sensor
        right = self.threshold if self.threshold is not None else f"{self.literal:g}"
        if self.negate:
            right = f"-{right}"
        return f"{left} {self.op} {right}"


class RuleSpec(_Frozen):
    """One waterfall rule: a step (with a branch letter at step 7) and the outcome it picks."""

    step: int = Field(ge=1, le=8)
    branch: str = ""
    name: str
    outcome: str
    combine: Literal["all", "any"]
    reasoning: str
    conditions: tuple[ConditionSpec, ...]

    @property
    def key(self) -> str:
        """Stable id of the rule, e.g. ``7a``."""
        return f"{self.step}{self.branch}"


class LegSpec(_Frozen):
    """One leg of a structure: side, type, strike target (ATM or an absolute delta)."""

    side: Literal["buy", "sell"]
    kind: Literal["C", "P"]
    target: Literal["atm", "delta"]
    delta: float | None = None
    delta_min: float | None = None
    delta_max: float | None = None
    expiry: Literal["front", "back"] = "front"


class DteWindow(_Frozen):
    """Where a leg's expiry may lie: the rules' target window inside the allowed range (days)."""

    target_min: float
    target_max: float
    allowed_min: float
    allowed_max: float

    @model_validator(mode="after")
    def _check(self) -> DteWindow:
        if not self.allowed_min <= self.target_min <= self.target_max <= self.allowed_max:
            raise ValueError(
                f"target {self.target_min:g}-{self.target_max:g} DTE must lie inside the "
                f"allowed {self.allowed_min:g}-{self.allowed_max:g}"
            )
        return self

    def text(self) -> str:
        """E.g. ``25-45 DTE (target 30-45)``."""
        allowed = f"{self.allowed_min:g}-{self.allowed_max:g} DTE"
        if (self.allowed_min, self.allowed_max) == (self.target_min, self.target_max):
            return allowed
        return f"{allowed} (target {self.target_min:g}-{self.target_max:g})"


class StructureSpec(_Frozen):
    """A strategy's legs with its DTE windows (and the back windows of a calendar).

    ``dte_min..dte_max`` is the strategy's target DTE; ``allowed_dte_*`` the global entry
    filter's allowed range for it (the target when not given).
    """

    display_name: str
    structure: str
    dte_min: float
    dte_max: float
    allowed_dte_min: float | None = None
    allowed_dte_max: float | None = None
    back_dte_min: float | None = None
    back_dte_max: float | None = None
    back_allowed_dte_min: float | None = None
    back_allowed_dte_max: float | None = None
    short_vol: bool
    legs: tuple[LegSpec, ...]

    @property
    def front_window(self) -> DteWindow:
        """The (front) expiry's window."""
        return _window(self.dte_min, self.dte_max, self.allowed_dte_min, self.allowed_dte_max)

    @property
    def back_window(self) -> DteWindow | None:
        """The back expiry's window (calendars), else None."""
        if self.back_dte_min is None or self.back_dte_max is None:
            return None
        return _window(
            self.back_dte_min,
            self.back_dte_max,
            self.back_allowed_dte_min,
            self.back_allowed_dte_max,
        )

    @model_validator(mode="after")
    def _check_windows(self) -> StructureSpec:
        self.front_window  # noqa: B018 - validates the window
        self.back_window  # noqa: B018
        return self


def _window(
    low: float, high: float, allowed_low: float | None, allowed_high: float | None
) -> DteWindow:
    return DteWindow(
        target_min=low,
        target_max=high,
        allowed_min=low if allowed_low is None else allowed_low,
        allowed_max=high if allowed_high is None else allowed_high,
    )


class RuleThreshold(_Frozen):
    """A management rule's kind and number (fraction, multiple or delta)."""

    kind: str
    threshold: float


class ManagementSpec(_Frozen):
    """POSITION_ENGINE and HEDGE_ENGINE rules of one strategy."""

    hedge_mode: HedgeMode
    delta_threshold: float | None = None
    profit: RuleThreshold
    stop: RuleThreshold
    close_at_dte: float | None = None
    close_front_leg_hours: float | None = None
    assignment: str | None = None


class PositionSpec(_Frozen):
    """POSITION_ENGINE globals and per-strategy management."""

    version: str
    hedge_on_price_move_pct: float
    black_swan_drop_pct: float
    black_swan_min_health: float
    hedge_instrument: dict[str, str]
    strategies: dict[str, ManagementSpec]


class EntrySpec(_Frozen):
    """ENTRY_ENGINE identity and default thresholds."""

    version: str
    module: str
    thresholds: EntryThresholds


class GregSpec(_Frozen):
    """The whole spec: entry engine, waterfall, structures and management."""

    entry: EntrySpec
    waterfall: tuple[RuleSpec, ...]
    strategies: dict[str, StructureSpec]
    position: PositionSpec

    @model_validator(mode="after")
    def _check(self) -> GregSpec:
        outcomes = {rule.outcome for rule in self.waterfall}
        if outcomes != set(OUTCOMES):
            raise ValueError(f"waterfall outcomes {sorted(outcomes)} != the eight outcomes")
        if set(self.strategies) != set(STRATEGY_OUTCOMES):
            raise ValueError("every strategy outcome needs a structure")
        if set(self.position.strategies) != set(STRATEGY_OUTCOMES):
            raise ValueError("every strategy outcome needs management rules")
        steps = [rule.step for rule in self.waterfall]
        if steps != sorted(steps):
            raise ValueError("waterfall rules must be in step order")
        return self


@lru_cache(maxsize=1)
def load_spec(path: Path = SPEC_PATH) -> GregSpec:
    """The validated spec (cached: the file is part of the code)."""
    with path.open("rb") as handle:
        return GregSpec.model_validate(tomllib.load(handle))

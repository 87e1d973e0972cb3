"""The operator's runtime controls described once: label, kind, sane range, and where an
effective value comes from (the mode's default, the deployment's setting, or an override).

The model's validators, the dashboard form, the API and the error sentences are all derived
from `CONTROL_SPECS`, so adding a control is one entry here plus the model field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from trading.domain.params import (
    AgentDefaults,
    EffectiveParams,
    Environment,
    RuntimeOverrides,
    resolve_effective_params,
)


class ControlKind(StrEnum):
    """How a control is entered."""

    NUMBER = "number"
    INTEGER = "integer"
    CHOICE = "choice"
    TRISTATE = "tristate"  # on / off / the configured default
    BOOL = "bool"


@dataclass(frozen=True, slots=True)
class ControlSpec:
    """One control: its label (with unit), kind, and the closed range a value must lie in."""

    name: str
    label: str
    kind: ControlKind
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: the value must be strictly above `low`
    help: str = ""
    off_value: float | None = None  # one more value accepted outside the range: "off"

    def range_sentence(self) -> str:
        """The rule as a sentence: "Explore probability must be a number from 0 to 1"."""
        what = "a whole number" if self.kind is ControlKind.INTEGER else "a number"
        name = self.label.split(",")[0]
        if self.off_value is not None and self.low is not None and self.high is not None:
            return (
                f"{name} must be {_num(self.off_value)} (off) or {what} "
                f"from {_num(self.low)} to {_num(self.high)}"
            )
        if self.low is not None and self.high is not None:
            if self.low_open:
                return f"{name} must be {what} above {_num(self.low)} and at most {_num(self.high)}"
            return f"{name} must be {what} from {_num(self.low)} to {_num(self.high)}"
        return f"{name} must be {what}"

    def check(self, value: Any) -> str | None:
        """None when `value` is acceptable (None means "use the default"), else the sentence."""
        if value is None or self.kind not in (ControlKind.NUMBER, ControlKind.INTEGER):
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return self.range_sentence()
        if not math.isfinite(float(value)):
            return self.range_sentence()
        if self.kind is ControlKind.INTEGER and float(value) != int(value):
            return self.range_sentence()
        if self.off_value is not None and value == self.off_value:
            return None
        too_low = self.low is not None and (
            value <= self.low if self.low_open else value < self.low
        )
        too_high = self.high is not None and value > self.high
        return self.range_sentence() if too_low or too_high else None


def _num(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:,.0f}"


_N, _I = ControlKind.NUMBER, ControlKind.INTEGER

#: Every editable control but the kill switch (it has its own button and endpoint), in form order.
CONTROL_SPECS: tuple[ControlSpec, ...] = (
    ControlSpec("dry_run", "Dry run", ControlKind.TRISTATE, help="off sends real orders"),
    ControlSpec("mode", "Mode", ControlKind.CHOICE),
    ControlSpec("decision_mode", "Decision mode", ControlKind.CHOICE),
    ControlSpec("delta_min", "Delta minimum", _N, 0, 1),
    ControlSpec("delta_max", "Delta maximum", _N, 0, 1),
    ControlSpec("dte_min_days", "Days to expiry minimum, days", _N, 0, 365),
    ControlSpec("dte_max_days", "Days to expiry maximum, days", _N, 0, 365, low_open=True),
    ControlSpec("ivrv_min", "IV/RV minimum", _N, 0, 10),
    ControlSpec("premium_min_usd", "Premium minimum, USD per coin", _N, 0, 1_000_000),
    ControlSpec("take_profit_frac", "Take-profit, fraction of premium", _N, 0, 1, low_open=True),
    ControlSpec("explore_prob", "Explore probability", _N, 0, 1),
    ControlSpec("explore_top_k", "Explore top-K", _I, 1, 50),
    ControlSpec("daily_drawdown_limit_pct", "Daily drawdown limit, %", _N, 0, 99),
    ControlSpec("liquidity_max_spread_pct", "Max spread, %", _N, 0, 100, low_open=True),
    ControlSpec("liquidity_min_open_interest", "Min open interest, contracts", _N, 0, 1_000_000),
    ControlSpec("liquidity_min_depth_multiple", "Min book depth, x order", _N, 0, 100),
    ControlSpec("max_scenario_loss_pct", "Max worst-scenario loss, % of equity", _N, 0, 100),
    ControlSpec("max_vega_usd", "Max book vega, USD per vol point", _N, 0, 10_000_000),
    ControlSpec("loop_interval_s", "Loop interval, s", _I, 10, 86_400),
    ControlSpec(
        "health_check_on_startup",
        "Start-up healthcheck",
        ControlKind.TRISTATE,
        help="run the agent healthcheck before the first tick of each process",
    ),
    ControlSpec(
        "auto_kill_on_health_fail",
        "Pause on a failed healthcheck",
        ControlKind.TRISTATE,
        help="pause on DEGRADED, halt on a mainnet FATAL (never the kill switch)",
    ),
    ControlSpec(
        "health_recheck_interval_s",
        "Health re-check interval, s",
        _I,
        60,
        86_400,
        help="the beat schedule of trading.health_recheck follows it; 0 stops re-checks",
        off_value=0,
    ),
    ControlSpec("reconcile_enabled", "Reconciliation", ControlKind.BOOL),
    ControlSpec("reconcile_action", "Reconciliation action", ControlKind.CHOICE),
)
SPECS_BY_NAME: dict[str, ControlSpec] = {spec.name: spec for spec in CONTROL_SPECS}
#: The health guard's controls (`trading.domain.health.GUARD_CONTROL_FIELDS`): not tick
#: parameters; each falls back to its deployment setting when empty.
GUARD_CONTROLS: tuple[str, ...] = (
    "health_check_on_startup",
    "auto_kill_on_health_fail",
    "health_recheck_interval_s",
)


class ValueSource(StrEnum):
    """Where a control's effective value comes from."""

    DEFAULT = "default"  # the mode's (or the built-in) default
    SETTING = "setting"  # the deployment's configuration (environment, settings)
    OVERRIDE = "override"  # the operator's runtime control


def effective_value(params: EffectiveParams, name: str) -> Any:
    """The value the tick uses for control `name` (None for controls outside the params)."""
    if name in ("mode", "decision_mode"):
        return getattr(params, name).value
    if name in ("dry_run", "loop_interval_s"):
        return getattr(params, name)
    if name == "take_profit_frac":
        return params.roll.take_profit_frac
    if name in ("delta_min", "delta_max", "dte_min_days", "dte_max_days", "ivrv_min"):
        return getattr(params.strategy, name)
    if name in ("explore_prob", "explore_top_k"):
        return getattr(params.strategy, name)
    if hasattr(params.risk, name):
        return getattr(params.risk, name)
    return None


@dataclass(frozen=True, slots=True)
class ControlValue:
    """A control's effective value, where it comes from, and the override stored (if any)."""

    spec: ControlSpec
    value: Any
    source: ValueSource
    override: Any


def controls_explain(
    *,
    environment: Environment | str,
    defaults: AgentDefaults,
    overrides: RuntimeOverrides,
    stored: Mapping[str, Any],
    setting_defaults: Mapping[str, tuple[Any, Any]] | None = None,
) -> list[ControlValue]:
    """Each control's effective value and source; raises like `resolve_effective_params`.

    `stored` are the control row's values (non-parameter controls such as reconciliation are
    always overrides of their own defaults). `setting_defaults` gives, for controls outside the
    tick's parameters that fall back to a setting when empty (the health guard's), the
    deployment's value and the built-in one: `{name: (configured, built_in)}`.
    """
    effective = resolve_effective_params(
        environment=environment, defaults=defaults, overrides=overrides
    )
    built_in = resolve_effective_params(environment=environment, defaults=AgentDefaults())
    configured = resolve_effective_params(environment=environment, defaults=defaults)
    rows = []
    for spec in CONTROL_SPECS:
        value = effective_value(effective, spec.name)
        override = stored.get(spec.name)
        if setting_defaults and spec.name in setting_defaults:
            rows.append(_setting_backed(spec, override, *setting_defaults[spec.name]))
            continue
        if value is None:  # not a tick parameter: the row's value is the value
            rows.append(ControlValue(spec, override, ValueSource.OVERRIDE, override))
            continue
        if override not in (None, "") and spec.name in overrides.set_fields():
            source = ValueSource.OVERRIDE
        elif effective_value(configured, spec.name) != effective_value(built_in, spec.name):
            source = ValueSource.SETTING
        else:
            source = ValueSource.DEFAULT
        rows.append(ControlValue(spec, value, source, override))
    return rows


def _setting_backed(
    spec: ControlSpec, override: Any, configured: Any, built_in: Any
) -> ControlValue:
    """A control that falls back to a deployment setting when no override is stored."""
    if override is not None and override != "":
        return ControlValue(spec, override, ValueSource.OVERRIDE, override)
    source = ValueSource.SETTING if configured != built_in else ValueSource.DEFAULT
    return ControlValue(spec, configured, source, override)

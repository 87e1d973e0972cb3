"""Runtime controls: audited edits and the effective parameters a tick runs with.

Three writers, one audit trail (`RuntimeControlChange`):

- `controls_update`: the service every change goes through (validated, audited, versioned);
- `controls_save`: an operator's save from the dashboard form or `PATCH /api/agent/controls`.
  On top of `controls_update` it never touches the kill switch, refuses a save based on an
  older version ("changed by X at T, reload"), refuses an LLM decision mode when no LLM is
  configured, and wants a confirmation naming the environment before dry run goes off;
- `kill_switch_set`: the kill switch's own button and endpoint.

Errors are `ControlsError` with a sentence a person can act on (never a pydantic dump).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from pydantic import ValidationError

from trading.domain.controls import SPECS_BY_NAME, ControlValue, controls_explain
from trading.domain.health import (
    GUARD_CONTROL_FIELDS,
    HealthGuardConfig,
    guard_config_with_controls,
)
from trading.domain.params import (
    AgentDefaults,
    AgentMode,
    DecisionMode,
    EffectiveParams,
    Environment,
    ModeParams,
    RiskLimits,
    resolve_effective_params,
)
from trading.models import RuntimeControl, RuntimeControlChange


def agent_environment() -> Environment:
    """Where orders would go, from settings.DERIBIT_ENV (sim, testnet, mainnet).

    Here, not beside the exchange client, so reading the controls never imports the client
    (the chat reads them and must have no path to orders; see `.importlinter`).
    """
    return Environment(settings.DERIBIT_ENV)


def agent_defaults() -> AgentDefaults:
    """The deployment's base configuration: dry run from settings.DRY_RUN, and the seeds'
    settings that are set (`MODE`, `LOOP_INTERVAL_SEC`, `RESEARCH_DELTA_MIN`, `DTE_MIN`, ...;
    `settings.AGENT_SEED_DEFAULTS`), research and production values apart. Runtime controls
    stay on top of these."""
    seed: dict[str, Any] = dict(getattr(settings, "AGENT_SEED_DEFAULTS", {}) or {})
    base = AgentDefaults()
    mode_params = dict(base.mode_params)
    for mode in AgentMode:
        values = seed.get(mode.value) or {}
        if values:
            merged = mode_params[mode].model_dump() | values
            mode_params[mode] = ModeParams.model_validate(merged)
    fields: dict[str, Any] = {
        "dry_run": bool(settings.DRY_RUN_DEFAULT),
        "mode_params": mode_params,
    }
    if seed.get("mode"):
        fields["mode"] = AgentMode(seed["mode"])
    if seed.get("loop_interval_s"):
        fields["loop_interval_s"] = int(seed["loop_interval_s"])
    if seed.get("risk"):
        fields["risk"] = RiskLimits.model_validate(base.risk.model_dump() | seed["risk"])
    return AgentDefaults(**fields)


def effective_params_load(control: RuntimeControl | None = None) -> EffectiveParams:
    """Resolve this tick's parameters from a fresh read of the controls row.

    Raises `pydantic.ValidationError` when the controls are inconsistent (e.g. delta_min >
    delta_max): the tick refuses to run rather than guess.
    """
    row = control if control is not None else RuntimeControl.load()
    return resolve_effective_params(
        environment=agent_environment(), defaults=agent_defaults(), overrides=row.to_overrides()
    )


def guard_config_configured() -> HealthGuardConfig:
    """The health guard's settings from the deployment (the controls' defaults)."""
    return HealthGuardConfig(
        auto_pause_on_health_fail=bool(getattr(settings, "AUTO_KILL_ON_HEALTH_FAIL", True)),
        health_check_on_startup=bool(getattr(settings, "HEALTH_CHECK_ON_STARTUP", True)),
        health_recheck_interval_s=int(getattr(settings, "HEALTH_RECHECK_INTERVAL_S", 600)),
    )


def guard_config_load(control: RuntimeControl | None = None) -> HealthGuardConfig:
    """The health guard's effective settings: the operator's controls over the deployment's
    settings (the healthcheck, the tick's health round and the start-up guard read these)."""
    row = control if control is not None else RuntimeControl.load()
    return guard_config_with_controls(guard_config_configured(), row.snapshot())


def _guard_setting_defaults() -> dict[str, tuple[Any, Any]]:
    configured, built_in = guard_config_configured(), HealthGuardConfig()
    return {
        name: (getattr(configured, field), getattr(built_in, field))
        for name, field in GUARD_CONTROL_FIELDS.items()
    }


def controls_effective(control: RuntimeControl | None = None) -> list[ControlValue]:
    """Every control's effective value and where it comes from (default, setting, override)."""
    row = control if control is not None else RuntimeControl.load()
    return controls_explain(
        environment=agent_environment(),
        defaults=agent_defaults(),
        overrides=row.to_overrides(),
        stored=row.snapshot(),
        setting_defaults=_guard_setting_defaults(),
    )


#: The beat row of the health re-check (`optionsdesk.schedule.declared_schedule`).
HEALTH_RECHECK_TASK = "trading.health_recheck"


def health_recheck_schedule_apply(*, interval_s: int) -> None:
    """Make the beat row of `trading.health_recheck` follow `interval_s` (0: disabled).

    django-celery-beat's scheduler notices the changed row and re-reads its schedule."""
    from optionsdesk.schedule import declared_schedule
    from optionsdesk.services import periodic_task_apply

    specs = declared_schedule(
        settings.HEARTBEAT_INTERVAL_S,
        harvest_interval_s=settings.HARVEST_INTERVAL_S,
        health_recheck_interval_s=interval_s,
    )
    spec = next((s for s in specs if s.name == HEALTH_RECHECK_TASK), None)
    periodic_task_apply(name=HEALTH_RECHECK_TASK, spec=spec)


class ControlsError(ValueError):
    """A change the controls refuse; the message is a sentence, `fields` the controls named."""

    def __init__(self, message: str, *, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields


class ControlsConflict(ControlsError):
    """The save was based on an older version of the controls."""


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, bool | int | float | str) or value is None else str(value)


def _resolver_sentence(exc: ValidationError) -> str:
    """A resolver refusal as one sentence ("Delta minimum ... above ...")."""
    first = exc.errors()[0]
    message = str(first.get("msg", "")).removeprefix("Value error, ")
    where = ".".join(str(p) for p in first.get("loc", ()) if p)
    spec = SPECS_BY_NAME.get(where.rsplit(".", 1)[-1]) if where else None
    if spec is not None:
        return spec.range_sentence()
    return f"These controls do not fit together: {message}" + (f" ({where})" if where else "")


def _check_values(changes: Mapping[str, Any]) -> None:
    problems = [
        (name, sentence)
        for name, value in changes.items()
        if name in SPECS_BY_NAME and (sentence := SPECS_BY_NAME[name].check(value))
    ]
    if problems:
        raise ControlsError(
            "; ".join(sentence for _, sentence in problems) + ".",
            fields=tuple(name for name, _ in problems),
        )


@dataclass(frozen=True, slots=True)
class ControlsSaved:
    """What a save did: the row after it and each changed control as (old, new)."""

    control: RuntimeControl
    changed: dict[str, tuple[Any, Any]]

    def sentence(self) -> str:
        """ "Saved: IV/RV minimum 1.0 → 1.1." or "Nothing changed." """
        if not self.changed:
            return "Nothing changed."
        parts = []
        for name, (old, new) in self.changed.items():
            spec = SPECS_BY_NAME.get(name)
            label = spec.label.split(",")[0] if spec else name.replace("_", " ")
            parts.append(f"{label} {_shown(old)} → {_shown(new)}")
        return "Saved: " + "; ".join(parts) + "."


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "default"
    if value is True:
        return "on"
    if value is False:
        return "off"
    return str(value)


def controls_update(
    *,
    changes: Mapping[str, Any],
    user: str = "",
    source: str = "service",
    note: str = "",
    expected_version: int | None = None,
) -> RuntimeControl:
    """Apply `changes` to the controls row, validate the result, and audit what changed.

    Unknown fields and values out of range raise `ControlsError` (a `ValueError`); a
    combination the parameter resolver refuses raises `pydantic.ValidationError`; an
    `expected_version` other than the row's raises `ControlsConflict`. Nothing is saved then.
    Every saved change bumps `version`.
    """
    return _update(changes, user, source, note, expected_version).control


def _update(
    changes: Mapping[str, Any], user: str, source: str, note: str, expected_version: int | None
) -> ControlsSaved:
    unknown = sorted(set(changes) - set(RuntimeControl.EDITABLE_FIELDS))
    if unknown:
        raise ControlsError(f"Not a runtime control: {', '.join(unknown)}.", fields=tuple(unknown))
    _check_values(changes)
    with transaction.atomic():
        RuntimeControl.load()
        control = RuntimeControl.objects.select_for_update().get(pk=1)
        if expected_version is not None and expected_version != control.version:
            when = f"{control.updated_at:%Y-%m-%d %H:%M:%S} UTC"
            raise ControlsConflict(
                f"The controls were changed by {control.updated_by or 'someone'} at {when} "
                f"(version {control.version}, this form had {expected_version}): reload and "
                "make your change again."
            )
        diff: dict[str, tuple[Any, Any]] = {}
        for name, value in changes.items():
            old = getattr(control, name)
            if old != value:
                diff[name] = (old, value)
                setattr(control, name, value)
        effective_params_load(control)  # raises ValidationError: nothing saved
        if diff:
            control.updated_by = user
            control.version += 1
            control.save()
            RuntimeControlChange.objects.create(
                changed_by=user,
                source=source,
                changes={k: [_jsonable(o), _jsonable(n)] for k, (o, n) in diff.items()},
                note=note[:300],
            )
        if "health_recheck_interval_s" in diff:
            interval = guard_config_load(control).health_recheck_interval_s
            health_recheck_schedule_apply(interval_s=interval)
    return ControlsSaved(control=control, changed=diff)


def llm_configured() -> tuple[bool, str]:
    """Whether an LLM can be asked, and if not, why (for refusing an LLM decision mode)."""
    if settings.LLM_ENABLED:
        return True, ""
    return False, "no LLM is configured (set OPENAI_BASE_URL and OPENAI_API_KEY)"


def controls_save(
    *,
    changes: Mapping[str, Any],
    user: str,
    source: str,
    version: int | None,
    confirm: str = "",
) -> ControlsSaved:
    """An operator's save (dashboard form, `PATCH /api/agent/controls`); see the module doc.

    `version` is the version the operator's form was based on (None: an API call without
    `If-Match`). `confirm` must name the environment when the save turns dry run off.
    """
    if "kill_switch" in changes:
        raise ControlsError(
            "The kill switch changes only through its own button "
            "(POST /api/agent/kill-switch), never with the other controls.",
            fields=("kill_switch",),
        )
    mode = changes.get("decision_mode")
    if mode in (DecisionMode.LLM_ONLY.value, DecisionMode.HYBRID_SHADOW.value):
        ok, why = llm_configured()
        if not ok:
            raise ControlsError(
                f"Decision mode {mode} needs an LLM, and {why}.", fields=("decision_mode",)
            )
    if changes.get("dry_run") is False:
        current = RuntimeControl.load()
        try:
            live_now = not effective_params_load(current).dry_run
        except ValidationError:
            live_now = False
        environment = agent_environment().value
        if not live_now and confirm.strip().lower() != environment:
            raise ControlsError(
                f"Turning dry run off sends real orders on {environment}: confirm by typing "
                f"the environment's name ({environment}).",
                fields=("dry_run",),
            )
    return _sentenced(changes, user, source, "", version)


def _sentenced(
    changes: Mapping[str, Any], user: str, source: str, note: str, version: int | None
) -> ControlsSaved:
    try:
        return _update(changes, user, source, note, version)
    except ValidationError as exc:
        raise ControlsError(_resolver_sentence(exc)) from None


def kill_switch_set(*, on: bool, user: str, source: str, reason: str = "") -> RuntimeControl:
    """The kill switch's own button and endpoint (audited; a controls save never touches it)."""
    return _sentenced({"kill_switch": on}, user, source, reason, None).control

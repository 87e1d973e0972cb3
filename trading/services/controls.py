"""Runtime controls: audited edits and the effective parameters a tick runs with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import transaction

from trading.domain.params import (
    AgentDefaults,
    EffectiveParams,
    Environment,
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
    """The deployment's base configuration (dry run from settings.DRY_RUN)."""
    return AgentDefaults(dry_run=bool(settings.DRY_RUN_DEFAULT))


def effective_params_load(control: RuntimeControl | None = None) -> EffectiveParams:
    """Resolve this tick's parameters from a fresh read of the controls row.

    Raises `pydantic.ValidationError` when the controls are inconsistent (e.g. delta_min >
    delta_max): the tick refuses to run rather than guess.
    """
    row = control if control is not None else RuntimeControl.load()
    return resolve_effective_params(
        environment=agent_environment(), defaults=agent_defaults(), overrides=row.to_overrides()
    )


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, bool | int | float | str) or value is None else str(value)


def controls_update(
    *, changes: Mapping[str, Any], user: str = "", source: str = "service", note: str = ""
) -> RuntimeControl:
    """Apply `changes` to the controls row, validate the result, and audit what changed.

    Unknown fields raise `ValueError`; a combination the parameter resolver refuses raises
    `pydantic.ValidationError` and nothing is saved.
    """
    unknown = set(changes) - set(RuntimeControl.EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not a runtime control: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        RuntimeControl.load()
        control = RuntimeControl.objects.select_for_update().get(pk=1)
        diff: dict[str, list[Any]] = {}
        for name, value in changes.items():
            old = getattr(control, name)
            if old != value:
                diff[name] = [_jsonable(old), _jsonable(value)]
                setattr(control, name, value)
        effective_params_load(control)
        if diff:
            control.updated_by = user
            control.save()
            RuntimeControlChange.objects.create(
                changed_by=user, source=source, changes=diff, note=note[:300]
            )
    return control

"""Greg's settings and calibration: audited writes."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from greg.domain.spec import STRATEGY_OUTCOMES, EntryThresholds, load_spec
from greg.models import GregCalibration, GregMode, GregSettings, GregSettingsChange


class GregSettingsError(ValueError):
    """A settings or calibration change was refused; the message names the field."""


def _clean_setting(name: str, value: Any) -> Any:
    if name not in GregSettings.EDITABLE_FIELDS:
        raise GregSettingsError(f"unknown setting {name!r}")
    if name == "mode" and value not in GregMode.values:
        raise GregSettingsError(f"mode must be one of {', '.join(GregMode.values)}")
    if name in ("master_switch", "evaluation_enabled") and not isinstance(value, bool):
        raise GregSettingsError(f"{name} must be true or false")
    if name == "enabled_strategies":
        if not isinstance(value, list) or not set(value) <= set(STRATEGY_OUTCOMES):
            raise GregSettingsError(f"enabled_strategies must list outcomes of {STRATEGY_OUTCOMES}")
        return sorted(set(value))
    if name.startswith("max_notional"):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise GregSettingsError(f"{name} must be a number") from None
        if not number.is_finite() or number <= 0:
            raise GregSettingsError(f"{name} must be positive")
        return number
    if name == "sandbox_size_coin" and not (
        isinstance(value, dict) and all(isinstance(v, int | float) for v in value.values())
    ):
        raise GregSettingsError("sandbox_size_coin must map underlyings to numbers")
    return value


def greg_settings_update(*, changes: dict[str, Any], user: str, source: str) -> GregSettings:
    """Apply a validated subset of the settings and audit old -> new (operator action)."""
    clean = {name: _clean_setting(name, value) for name, value in changes.items()}
    with transaction.atomic():
        row = GregSettings.load()
        row = GregSettings.objects.select_for_update().get(pk=row.pk)
        before = row.snapshot()
        for name, value in clean.items():
            setattr(row, name, value)
        row.updated_by = user
        row.save()
        after = row.snapshot()
        diff = {k: [before[k], after[k]] for k in clean if before[k] != after[k]}
        if diff:
            GregSettingsChange.objects.create(changed_by=user, source=source, changes=diff)
    return row


def calibration_update(
    *, thresholds: dict[str, Any], user: str, source: str, note: str = ""
) -> GregCalibration:
    """Write a new calibration version with some thresholds changed (audited by the version)."""
    current = GregCalibration.objects.order_by("-version").first()
    base = (
        EntryThresholds.model_validate(current.thresholds)
        if current
        else load_spec().entry.thresholds
    )
    for name, value in thresholds.items():
        if name not in EntryThresholds.model_fields:
            raise GregSettingsError(f"unknown threshold {name!r}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise GregSettingsError(f"threshold {name!r} must be a number, got {value!r}")
    new = base.with_overrides({k: float(v) for k, v in thresholds.items()})
    old_values, new_values = base.model_dump(), new.model_dump()
    changes = {
        k: [old_values[k], new_values[k]] for k in new_values if old_values[k] != new_values[k]
    }
    if not changes:
        raise GregSettingsError("no threshold changed")
    with transaction.atomic():
        version = (current.version if current else 0) + 1
        return GregCalibration.objects.create(
            version=version,
            thresholds=new_values,
            changes=changes,
            created_by=user,
            source=source,
            note=note,
        )

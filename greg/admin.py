"""Admin of the greg app: settings and calibration edited through audited services; the
decision log, positions and their logs read-only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from greg import models


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.GregSettings)
class GregSettingsAdmin(admin.ModelAdmin):
    """Edits go through `greg_settings_update` so every change is audited."""

    list_display = ("__str__", "mode", "master_switch", "updated_at", "updated_by")
    readonly_fields = ("updated_at", "updated_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not models.GregSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        from greg.services import greg_settings_update

        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        greg_settings_update(changes=changes, user=str(request.user), source="admin")


@admin.register(models.GregSettingsChange)
class GregSettingsChangeAdmin(_ReadOnly):
    """Read-only audit trail of the settings."""

    list_display = ("changed_at", "changed_by", "source", "changes")


class CalibrationForm(forms.ModelForm):
    """A new version: the thresholds to change, as JSON (`{"straddle_vrp_min": 14}`)."""

    class Meta:
        model = models.GregCalibration
        fields = ("thresholds", "note")


@admin.register(models.GregCalibration)
class GregCalibrationAdmin(admin.ModelAdmin):
    """Versions are immutable; "add" writes a new version through `calibration_update`."""

    form = CalibrationForm
    list_display = ("version", "created_at", "created_by", "source", "changes", "note")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        from greg.services import calibration_update

        saved = calibration_update(
            thresholds=dict(form.cleaned_data["thresholds"] or {}),
            user=str(request.user),
            source="admin",
            note=form.cleaned_data.get("note", ""),
        )
        obj.pk, obj.version = saved.pk, saved.version


@admin.register(models.GregDecision)
class GregDecisionAdmin(_ReadOnly):
    """greg_decision_log, read-only."""

    list_display = ("created_at", "kind", "underlying", "strategy", "step", "action", "outcome")
    list_filter = ("kind", "underlying", "strategy")


class PositionLogInline(admin.TabularInline):
    model = models.GregPositionLog
    extra = 0
    can_delete = False
    readonly_fields = ("at", "kind", "message", "data")


@admin.register(models.GregPosition)
class GregPositionAdmin(_ReadOnly):
    """Greg positions with their log timeline, read-only."""

    list_display = ("id", "strategy", "underlying", "sandbox", "run_id", "status", "pnl_usd")
    list_filter = ("status", "sandbox", "underlying", "strategy")
    inlines = (PositionLogInline,)

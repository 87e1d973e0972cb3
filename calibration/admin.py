"""Admin registrations of the calibration app: records are read-only; applied multipliers change
only through the update policy or an audited override (services), so they are read-only too."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from calibration.models import (
    AppliedMultipliers,
    CalibrationRun,
    DataQualityReport,
    HarvestRun,
    PolicyDecision,
    RegimeFit,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record: viewable and deletable by admins, never added or edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Records come from the services only."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Records are never edited."""
        return False


@admin.register(HarvestRun)
class HarvestRunAdmin(ReadOnlyAdmin):
    """Harvester passes."""

    list_display = ("started_at", "venue", "status", "rows", "duration_s", "trigger")
    list_filter = ("status", "venue")


@admin.register(DataQualityReport)
class DataQualityReportAdmin(ReadOnlyAdmin):
    """Quality per day and underlying."""

    list_display = ("day", "underlying", "verdict", "snapshots", "rows", "missing_marks")
    list_filter = ("verdict", "underlying")


@admin.register(CalibrationRun)
class CalibrationRunAdmin(ReadOnlyAdmin):
    """calibration_history."""

    list_display = (
        "created_at",
        "underlying",
        "source",
        "trigger",
        "surface_vw_mae_volpts",
        "synthetic_vw_mae_volpts",
        "recommended_iv_multiplier",
        "guardrail_ok",
    )
    list_filter = ("underlying", "source", "guardrail_ok")


@admin.register(PolicyDecision)
class PolicyDecisionAdmin(ReadOnlyAdmin):
    """Every decision of the update policy and every manual override."""

    list_display = ("created_at", "underlying", "outcome", "actor")
    list_filter = ("underlying", "outcome")


@admin.register(AppliedMultipliers)
class AppliedMultipliersAdmin(ReadOnlyAdmin):
    """The multipliers in force (change them through the Calibration tab or the API)."""

    list_display = ("underlying", "multipliers", "updated_at")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Deleting would change the market without a decision record."""
        return False


@admin.register(RegimeFit)
class RegimeFitAdmin(ReadOnlyAdmin):
    """Fitted regimes of the synthetic universe v2."""

    list_display = ("created_at", "underlying", "n_regimes", "seed")

"""Serializers of the calibration API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from calibration.domain.surface import DTE_BANDS
from calibration.models import (
    AppliedMultipliers,
    CalibrationRun,
    DataQualityReport,
    HarvestRun,
    PolicyDecision,
    RegimeFit,
)
from optionsdesk.api.fields import StrictCharField

BANDS = [name for name, _, _ in DTE_BANDS]
_MULTIPLIER = {"type": "number", "minimum": 0.5, "maximum": 2.0}


@extend_schema_field(
    {
        "type": "object",
        "properties": {band: _MULTIPLIER for band in BANDS},
        "additionalProperties": False,
    }
)
class BandMultipliersField(serializers.DictField):
    """Multipliers by DTE band; the schema names the bands (others are refused)."""


class CalibrationRunListSerializer(serializers.ModelSerializer[CalibrationRun]):
    """A calibration in a list: provenance summary, headline metrics, multipliers, verdict."""

    source = serializers.CharField(  # type: ignore[assignment]
        read_only=True, help_text="harvested, live or files"
    )

    class Meta:
        model = CalibrationRun
        fields: tuple[str, ...] = (
            "id",
            "created_at",
            "underlying",
            "source",
            "trigger",
            "snapshot_time",
            "n_files",
            "n_rows",
            "content_sha256",
            "surface_vw_mae_volpts",
            "surface_mae_volpts",
            "synthetic_vw_mae_volpts",
            "synthetic_adjusted_vw_mae_volpts",
            "recommended_iv_multiplier",
            "multipliers",
            "guardrail_ok",
            "guardrail_reasons",
            "quality_report",
            "fit_ms",
        )
        read_only_fields: tuple[str, ...] = fields


class CalibrationRunDetailSerializer(CalibrationRunListSerializer):
    """A calibration with the files/snapshot times it used and its full fit."""

    class Meta(CalibrationRunListSerializer.Meta):
        fields = (*CalibrationRunListSerializer.Meta.fields, "files", "snapshot_times", "fit")
        read_only_fields = fields


class DataQualityReportSerializer(serializers.ModelSerializer[DataQualityReport]):
    """One day's data-quality report."""

    class Meta:
        model = DataQualityReport
        fields = "__all__"
        read_only_fields = (
            "underlying",
            "day",
            "source_dir",
            "created_at",
            "snapshots",
            "rows",
            "expiries",
            "strikes_per_expiry_median",
            "max_gap_minutes",
            "stale_snapshots",
            "partial_snapshots",
            "crossed_books",
            "iv_outliers",
            "missing_marks",
            "duplicates",
            "verdict",
            "problems",
        )


class PolicyDecisionSerializer(serializers.ModelSerializer[PolicyDecision]):
    """One decision of the update policy or an operator."""

    outcome = serializers.CharField(read_only=True, help_text="applied, held, refused, override")
    actor: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        read_only=True,
        slug_field="username",
        allow_null=True,
        help_text="null when no user acted (the policy on the beat)",
    )

    class Meta:
        model = PolicyDecision
        fields = (
            "id",
            "created_at",
            "underlying",
            "calibration",
            "outcome",
            "recommended",
            "smoothed",
            "applied_before",
            "applied_after",
            "reasons",
            "actor",
            "note",
        )
        read_only_fields = fields


class HarvestRunSerializer(serializers.ModelSerializer[HarvestRun]):
    """One harvester pass."""

    status = serializers.CharField(read_only=True, help_text="running, ok, partial or failed")

    class Meta:
        model = HarvestRun
        fields = (
            "id",
            "started_at",
            "finished_at",
            "venue",
            "underlyings",
            "rows",
            "files",
            "duration_s",
            "errors",
            "status",
            "trigger",
        )
        read_only_fields = fields


class AppliedMultipliersSerializer(serializers.ModelSerializer[AppliedMultipliers]):
    """The multipliers in force for one underlying."""

    class Meta:
        model = AppliedMultipliers
        fields = ("underlying", "multipliers", "smoothed", "updated_at", "decision")
        read_only_fields = fields


class HoldSerializer(serializers.Serializer[Any]):
    """Why an operator holds a recommendation."""

    note = StrictCharField(required=False, allow_blank=True, default="")


class OverrideSerializer(serializers.Serializer[Any]):
    """A manual override of the applied multipliers (audited)."""

    underlying = StrictCharField()
    multipliers = BandMultipliersField(
        child=serializers.FloatField(min_value=0.5, max_value=2.0),
        help_text=f"multiplier per DTE band ({', '.join(BANDS)}), 0.5 to 2",
    )
    note = StrictCharField(help_text="the reason, required")

    def validate_multipliers(self, value: dict[str, float]) -> dict[str, float]:
        """Only known bands."""
        unknown = sorted(set(value) - set(BANDS))
        if unknown:
            raise serializers.ValidationError(f"unknown bands: {', '.join(unknown)}")
        return value


class RegimeFitSerializer(serializers.ModelSerializer[RegimeFit]):
    """Fitted regimes of the synthetic universe v2."""

    class Meta:
        model = RegimeFit
        fields = (
            "id",
            "created_at",
            "underlying",
            "source_file",
            "content_sha256",
            "n_regimes",
            "seed",
            "features",
            "centroids",
            "regimes",
            "transition",
            "timeline",
        )
        read_only_fields = fields

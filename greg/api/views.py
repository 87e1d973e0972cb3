"""Viewsets of the greg API: the batch selector, evaluations and the decision log, positions
and their logs, calibration, settings, executing a suggestion.

Thin: reads through `greg.selectors`, writes through `greg.services`. Reads: any logged-in
user (viewer). Writes: operator (calibration, settings, execute), per `optionsdesk.roles`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from greg import selectors
from greg.api import serializers as s
from greg.domain.selector import SelectorInputError, selector_run, selector_validate
from greg.domain.spec import load_spec
from greg.models import GregDecision, GregSettings
from optionsdesk.roles import IsOperator, IsViewer, Role, role_for_writes


class SelectViewSet(viewsets.ViewSet):
    """Run the ENTRY_ENGINE waterfall on posted sensor vectors (viewer; nothing is stored)."""

    permission_classes = (IsViewer,)

    @extend_schema(
        request=s.SensorVectorSerializer,
        responses={200: s.SelectorResultSerializer(many=True)},
        tags=["greg"],
        summary="Run the entry waterfall on sensor vectors",
        description="Body: one object of the eleven sensors, or a list of them. Returns a list "
        "in the same order. A bad key or a non-number is a 400 naming it.",
    )
    def create(self, request: Request) -> Response:
        """One `{"strategy", "step", "reasoning"}` per vector (any logged-in user)."""
        try:
            vectors = selector_validate(request.data)
        except SelectorInputError as exc:
            raise ValidationError({"sensors": [str(exc)]}) from None
        thresholds = selectors.thresholds_current()[1]
        return Response(selector_run(vectors, thresholds=thresholds))


@extend_schema_view(
    list=extend_schema(summary="Greg positions, newest first"),
    retrieve=extend_schema(summary="One Greg position"),
)
@extend_schema(tags=["greg"])
class PositionViewSet(viewsets.ReadOnlyModelViewSet):
    """Greg positions (sandbox and executed) with their latest review; `?underlying=&sandbox=`."""

    serializer_class = s.GregPositionSerializer
    permission_classes = (IsViewer,)
    filterset_fields = ("underlying", "sandbox", "status", "strategy", "run_id")

    def get_queryset(self) -> Any:
        return selectors.position_list()

    @extend_schema(responses=s.GregPositionLogSerializer(many=True), summary="A position's log")
    @action(detail=True, methods=["get"], pagination_class=None)
    def logs(self, request: Request, pk: str | None = None) -> Response:
        """The position's timeline, oldest first."""
        position = self.get_object()
        rows = selectors.position_logs(position)
        return Response(s.GregPositionLogSerializer(rows, many=True).data)

    @extend_schema(
        request=s.PositionActSerializer,
        responses=s.ExecuteResultSerializer,
        summary="Carry out a position's suggested CLOSE or HEDGE (operator)",
    )
    @action(detail=True, methods=["post"], permission_classes=[IsOperator])
    def act(self, request: Request, pk: str | None = None) -> Response:
        """Sandbox: close on paper. Executed: Greg's gates, then the order gate (operator)."""
        from greg.services import exchange
        from greg.services.execution import position_action_execute

        body = s.PositionActSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        position = self.get_object()
        with exchange.greg_client() as client:
            result = position_action_execute(
                position=position,
                action=body.validated_data["action"],
                client=client,
                user=str(request.user),
                confirmed=body.validated_data["confirm"],
                expect_dry_run=body.validated_data.get("expect_dry_run"),
            )
        data = {
            "executed": not result.refused,
            "refused": result.refused,
            "execution": result.record,
            "orders": [{"label": o.label, "state": o.state} for o in result.orders],
            "position": position.pk,
        }
        return Response(s.ExecuteResultSerializer(data).data)


@extend_schema_view(
    list=extend_schema(summary="greg_decision_log, newest first"),
    retrieve=extend_schema(summary="One decision-log row"),
)
@extend_schema(tags=["greg"])
class DecisionViewSet(viewsets.ReadOnlyModelViewSet):
    """Every evaluation, suggestion and execution; `?kind=evaluation` for evaluations only."""

    serializer_class = s.GregDecisionSerializer
    permission_classes = (IsViewer,)
    filterset_fields = ("kind", "underlying", "strategy", "outcome", "action")

    def get_queryset(self) -> Any:
        return selectors.decision_list()

    @extend_schema(
        responses=s.DecisionStatsSerializer,
        parameters=[
            OpenApiParameter(
                "days",
                {"type": "integer", "minimum": 1, "maximum": 365},
                description="window in days (1-365, default 30)",
            ),
            OpenApiParameter("bucket", str, enum=["day", "hour"], description="time bucket"),
        ],
        summary="Evaluation counts per outcome and underlying over time",
    )
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def stats(self, request: Request) -> Response:
        """Totals per (underlying, outcome) and a series per time bucket."""
        try:
            days = int(request.query_params.get("days", 30))
        except ValueError:
            raise ValidationError({"days": ["must be an integer"]}) from None
        bucket = request.query_params.get("bucket", "day")
        if not 1 <= days <= 365:
            raise ValidationError({"days": ["must be 1 to 365"]})
        if bucket not in ("day", "hour"):
            raise ValidationError({"bucket": ["must be day or hour"]})
        stats = selectors.decision_stats(days=days, bucket=bucket)
        return Response(s.DecisionStatsSerializer(stats).data)

    @extend_schema(
        request=s.ExecuteSerializer,
        responses=s.ExecuteResultSerializer,
        summary="Execute an OPEN suggestion behind every gate (operator)",
    )
    @action(detail=True, methods=["post"], permission_classes=[IsOperator])
    def execute(self, request: Request, pk: str | None = None) -> Response:
        """Greg's gates, then the order gate; a refusal is a 200 with `refused` (operator)."""
        from greg.services import exchange
        from greg.services.execution import suggestion_execute

        body = s.ExecuteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        suggestion: GregDecision = self.get_object()
        with exchange.greg_client() as client:
            result = suggestion_execute(
                suggestion=suggestion,
                client=client,
                user=str(request.user),
                confirmed=body.validated_data["confirm"],
                expect_dry_run=body.validated_data.get("expect_dry_run"),
            )
        data = {
            "executed": not result.refused,
            "refused": result.refused,
            "execution": result.record,
            "orders": [{"label": o.label, "state": o.state} for o in result.orders],
            "position": result.position.pk if result.position else None,
        }
        return Response(s.ExecuteResultSerializer(data).data)


class CalibrationViewSet(viewsets.ViewSet):
    """ENTRY_ENGINE thresholds: read (viewer) or change some (operator; a new audited version)."""

    permission_classes = (role_for_writes(Role.OPERATOR),)

    def _state(self) -> dict[str, Any]:
        version, thresholds = selectors.thresholds_current()
        return {
            "version": version,
            "engine_version": load_spec().entry.version,
            "thresholds": thresholds.model_dump(),
            "history": selectors.calibration_list()[:50],
        }

    @extend_schema(responses=s.CalibrationStateSerializer, tags=["greg"])
    def retrieve(self, request: Request) -> Response:
        """The thresholds in force and the version history."""
        return Response(s.CalibrationStateSerializer(self._state()).data)

    @extend_schema(
        request=s.CalibrationUpdateSerializer, responses=s.CalibrationStateSerializer, tags=["greg"]
    )
    def partial_update(self, request: Request) -> Response:
        """Change some thresholds: a new version recording old -> new (operator)."""
        from greg.services import GregSettingsError, calibration_update

        body = s.CalibrationUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            calibration_update(
                thresholds=body.validated_data["thresholds"],
                user=str(request.user),
                source="api",
                note=body.validated_data.get("note", ""),
            )
        except (GregSettingsError, ValueError) as exc:
            raise ValidationError({"thresholds": [str(exc)]}) from None
        return Response(s.CalibrationStateSerializer(self._state()).data)


class SettingsViewSet(viewsets.ViewSet):
    """Greg's mode, master switch, strategy flags, guardrails: read (viewer), PATCH (operator)."""

    permission_classes = (role_for_writes(Role.OPERATOR),)

    @extend_schema(responses=s.GregSettingsSerializer, tags=["greg"])
    def retrieve(self, request: Request) -> Response:
        """The current settings."""
        return Response(s.GregSettingsSerializer(GregSettings.load().snapshot()).data)

    @extend_schema(
        request=s.GregSettingsSerializer, responses=s.GregSettingsSerializer, tags=["greg"]
    )
    def partial_update(self, request: Request) -> Response:
        """Change a subset (validated, audited) (operator)."""
        from greg.services import GregSettingsError, greg_settings_update

        body = s.GregSettingsSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        try:
            row = greg_settings_update(
                changes=dict(body.validated_data), user=str(request.user), source="api"
            )
        except GregSettingsError as exc:
            raise ValidationError({"settings": [str(exc)]}) from None
        return Response(s.GregSettingsSerializer(row.snapshot()).data)

"""Calibration API: history, latest fits, quality reports, policy decisions, harvests, the
applied multipliers; apply/hold/override are operator-only, everything else viewer."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from calibration import selectors, services
from calibration.api.serializers import (
    AppliedMultipliersSerializer,
    CalibrationRunDetailSerializer,
    CalibrationRunListSerializer,
    DataQualityReportSerializer,
    HarvestRunSerializer,
    HoldSerializer,
    OverrideSerializer,
    PolicyDecisionSerializer,
    RegimeFitSerializer,
)
from calibration.models import (
    AppliedMultipliers,
    CalibrationRun,
    DataQualityReport,
    HarvestRun,
    PolicyDecision,
    RegimeFit,
)
from optionsdesk.roles import IsOperator, IsViewer, Role, role_for_writes

UNDERLYING = OpenApiParameter("underlying", str, description="e.g. BTC")


@extend_schema(tags=["calibration"])
class CalibrationRunViewSet(viewsets.ReadOnlyModelViewSet[CalibrationRun]):
    """calibration_history (viewer); apply and hold a recommendation (operator)."""

    permission_classes = [role_for_writes(Role.OPERATOR)]

    def get_queryset(self) -> QuerySet[CalibrationRun]:
        """Newest first; `?underlying=` filters."""
        return selectors.calibration_runs(self.request.query_params.get("underlying"))

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        """Lists carry headlines; one run carries its files and fit."""
        if self.action == "list":
            return CalibrationRunListSerializer
        if self.action == "hold":
            return HoldSerializer
        return CalibrationRunDetailSerializer

    @extend_schema(parameters=[UNDERLYING], summary="Calibration history")
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Every calibration, newest first."""
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=None,
        responses={201: PolicyDecisionSerializer},
        summary="Run the update policy on this calibration (operator)",
    )
    @action(detail=True, methods=["post"], permission_classes=[IsOperator])
    def apply(self, request: Request, pk: str | None = None) -> Response:
        """Operator only: EWMA, thresholds and guardrails decide applied/held/refused."""
        decision = services.policy_apply(run=self.get_object(), actor=request.user)
        return Response(PolicyDecisionSerializer(decision).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=HoldSerializer,
        responses={201: PolicyDecisionSerializer},
        summary="Hold this calibration's recommendation (operator)",
    )
    @action(detail=True, methods=["post"], permission_classes=[IsOperator])
    def hold(self, request: Request, pk: str | None = None) -> Response:
        """Operator only: record that the recommendation is not applied, with a note."""
        body = HoldSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        decision = services.policy_hold(
            run=self.get_object(), actor=request.user, note=body.validated_data["note"]
        )
        return Response(PolicyDecisionSerializer(decision).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={200: CalibrationRunDetailSerializer(many=True)},
        summary="Latest calibration per underlying",
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def latest(self, request: Request) -> Response:
        """The newest calibration of each underlying, with its fit."""
        return Response(CalibrationRunDetailSerializer(selectors.latest_runs(), many=True).data)


@extend_schema(tags=["calibration"])
class QualityReportViewSet(viewsets.ReadOnlyModelViewSet[DataQualityReport]):
    """Data-quality reports per day and underlying (viewer)."""

    permission_classes = [IsViewer]
    serializer_class = DataQualityReportSerializer

    def get_queryset(self) -> QuerySet[DataQualityReport]:
        """Newest day first."""
        return selectors.quality_reports()


@extend_schema(tags=["calibration"])
class PolicyDecisionViewSet(viewsets.ReadOnlyModelViewSet[PolicyDecision]):
    """Every policy decision and override (viewer)."""

    permission_classes = [IsViewer]
    serializer_class = PolicyDecisionSerializer

    def get_queryset(self) -> QuerySet[PolicyDecision]:
        """Newest first."""
        return selectors.policy_decisions()


@extend_schema(tags=["calibration"])
class HarvestRunViewSet(viewsets.ReadOnlyModelViewSet[HarvestRun]):
    """Harvester passes (viewer)."""

    permission_classes = [IsViewer]
    serializer_class = HarvestRunSerializer

    def get_queryset(self) -> QuerySet[HarvestRun]:
        """Newest first."""
        return selectors.harvest_runs()


@extend_schema(tags=["calibration"])
class RegimeFitViewSet(viewsets.ReadOnlyModelViewSet[RegimeFit]):
    """Synthetic universe v2 regime fits (viewer)."""

    permission_classes = [IsViewer]
    serializer_class = RegimeFitSerializer

    def get_queryset(self) -> QuerySet[RegimeFit]:
        """Newest first."""
        return RegimeFit.objects.all()


@extend_schema(tags=["calibration"])
class MultipliersViewSet(
    mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet[AppliedMultipliers]
):
    """The applied multipliers (viewer reads); a manual override (operator)."""

    permission_classes = [role_for_writes(Role.OPERATOR)]
    pagination_class = None

    def get_queryset(self) -> QuerySet[AppliedMultipliers]:
        """One row per underlying."""
        return AppliedMultipliers.objects.all()

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        """Reads show the store; writes take an override."""
        return OverrideSerializer if self.action == "create" else AppliedMultipliersSerializer

    @extend_schema(
        request=OverrideSerializer,
        responses={201: PolicyDecisionSerializer},
        summary="Override the applied multipliers by hand (operator, reason required)",
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Operator only: set the multipliers of an underlying; recorded as an override."""
        body = OverrideSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        decision = services.multipliers_override(
            underlying=body.validated_data["underlying"].upper(),
            multipliers=body.validated_data["multipliers"],
            actor=request.user,
            note=body.validated_data["note"],
        )
        return Response(PolicyDecisionSerializer(decision).data, status=status.HTTP_201_CREATED)

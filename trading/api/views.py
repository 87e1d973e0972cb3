"""Viewsets of the live agent: status, decisions, positions, orders, controls, health, reconcile.

Thin: reads go through `trading.selectors`, writes through `trading.services`.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from pydantic import ValidationError as PydanticValidationError
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from optionsdesk.api.throttles import WriteRateThrottle
from optionsdesk.roles import IsViewer, Role, role_for_writes
from trading import models, selectors
from trading.api import serializers as s
from trading.domain.source_compare import LIMIT_DEFAULT, LIMIT_MAX, comparison_limit


class DecisionFilter(django_filters.FilterSet):
    """Filter decisions by what was done, how and when."""

    since = django_filters.IsoDateTimeFilter(field_name="decided_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="decided_at", lookup_expr="lt")

    class Meta:
        model = models.Decision
        fields = (
            "action",
            "underlying",
            "verdict_code",
            "mode",
            "policy_version",
            "decision_source",
            "explored",
            "dry_run",
            "executed",
        )


@extend_schema_field({"type": "integer", "minimum": 1})
class IdFilter(django_filters.NumberFilter):
    """A row id: a whole number (an unknown one matches nothing)."""

    field_class = forms.IntegerField


class OrderFilter(django_filters.FilterSet):
    """Filter order legs; `decision` is a decision id (an unknown one matches nothing)."""

    decision = IdFilter(field_name="decision_id", min_value=1)

    class Meta:
        model = models.Order
        fields = ("state", "direction", "dry_run", "instrument_name", "decision")


@extend_schema_view(
    list=extend_schema(summary="List decisions, newest first"),
    retrieve=extend_schema(
        summary="One decision",
        description="A decision with its orders, the state snapshot it saw and its candidates.",
    ),
)
@extend_schema(tags=["agent"])
class DecisionViewSet(viewsets.ReadOnlyModelViewSet):
    """Every decision the agent made, newest first (filterable)."""

    permission_classes = [IsViewer]

    filterset_class = DecisionFilter

    def get_queryset(self) -> Any:
        qs = selectors.decision_list()
        if self.action == "list":  # the list shows no snapshot, candidates or LLM record
            qs = qs.defer("state_snapshot", "candidates", "log_line", "llm_record")
        return qs

    def get_serializer_class(self) -> Any:
        if self.action == "retrieve":
            return s.AgentDecisionDetailSerializer
        return s.AgentDecisionSerializer


@extend_schema_view(
    list=extend_schema(summary="List tracked positions"),
    retrieve=extend_schema(summary="One position", description="A tracked position."),
)
@extend_schema(tags=["agent"])
class PositionViewSet(viewsets.ReadOnlyModelViewSet):
    """Tracked positions; `?status=open` or `?status=closed`."""

    permission_classes = [IsViewer]

    serializer_class = s.AgentPositionSerializer
    filterset_fields = ("status", "currency", "strategy_id", "paper", "sandbox", "flagged")

    def get_queryset(self) -> Any:
        return selectors.position_list()


@extend_schema_view(
    list=extend_schema(summary="List order legs"),
    retrieve=extend_schema(summary="One order leg", description="An order leg with its state."),
)
@extend_schema(tags=["agent"])
class OrderViewSet(viewsets.ReadOnlyModelViewSet):
    """Order legs with labels and states."""

    permission_classes = [IsViewer]

    serializer_class = s.AgentOrderSerializer
    filterset_class = OrderFilter

    def get_queryset(self) -> Any:
        return selectors.order_list()


class StatusViewSet(viewsets.ViewSet):
    """The live agent's status JSON."""

    permission_classes = [IsViewer]

    @extend_schema(responses=selectors.AgentStatusView, tags=["agent"])
    def retrieve(self, request: Request) -> Response:
        """Last tick (spot, portfolio, action and why, top candidates), guard, controls."""
        return Response(selectors.agent_status_snapshot().model_dump(mode="json"))


class PnlViewSet(viewsets.ViewSet):
    """The books' P&L: premium sold and bought back, expiry settlements, net."""

    permission_classes = [IsViewer]

    @extend_schema(responses=s.AgentPnlSerializer, tags=["agent"])
    def retrieve(self, request: Request) -> Response:
        """P&L per underlying, paper and real books apart (coin, before trading fees)."""
        return Response(s.AgentPnlSerializer(selectors.pnl_summary()).data)


class ControlsViewSet(viewsets.ViewSet):
    """Runtime controls: read, or PATCH a subset (validated, audited, read by the next tick).

    Viewers read; PATCH needs the operator role."""

    permission_classes = [role_for_writes(Role.OPERATOR)]

    @extend_schema(responses=s.AgentControlsSerializer, tags=["agent"])
    def retrieve(self, request: Request) -> Response:
        """The current controls."""
        return Response(s.AgentControlsSerializer(models.RuntimeControl.load()).data)

    @extend_schema(
        request=s.AgentControlsSerializer, responses=s.AgentControlsSerializer, tags=["agent"]
    )
    def partial_update(self, request: Request) -> Response:
        """Change some controls; inconsistent combinations are refused with 400."""
        from trading.services import controls_update

        serializer = s.AgentControlsSerializer(
            models.RuntimeControl.load(), data=request.data, partial=True
        )
        serializer.is_valid(raise_exception=True)
        try:
            control = controls_update(
                changes=serializer.validated_data, user=str(request.user), source="api"
            )
        except PydanticValidationError as exc:
            raise serializers.ValidationError({"controls": [exc.errors()[0]["msg"]]}) from None
        return Response(s.AgentControlsSerializer(control).data)


class HealthViewSet(viewsets.ViewSet):
    """The agent's health guard and its latest checks; POST runs the healthcheck now.

    Viewers read; POST needs the operator role and is throttled (`agent_health` rate: each call
    makes about five exchange requests).
    """

    permission_classes = [role_for_writes(Role.OPERATOR)]
    throttle_classes = [WriteRateThrottle]
    throttle_scope = "agent_health"

    @extend_schema(responses=s.AgentHealthSerializer, tags=["agent"])
    def retrieve(self, request: Request) -> Response:
        """Guard state and latest checks."""
        snapshot = selectors.agent_status_snapshot()
        data = {
            "guard": snapshot.guard.model_dump(mode="json"),
            "trading_allowed": snapshot.trading_allowed,
            "checks": selectors.health_latest(),
        }
        return Response(s.AgentHealthSerializer(data).data)

    @extend_schema(request=None, responses=s.AgentHealthSerializer, tags=["agent"])
    def create(self, request: Request) -> Response:
        """Run the agent healthcheck (config, exchange, auth, data, LLM, risk settings)."""
        from trading.services import agent_healthcheck
        from trading.services.exchange import agent_client

        with agent_client() as client:
            _, guard = agent_healthcheck(client=client, kind="manual")
        data = {
            "guard": guard.model_dump(mode="json"),
            "trading_allowed": guard.trading_allowed,
            "checks": selectors.health_latest(),
        }
        return Response(s.AgentHealthSerializer(data).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="List reconciliation runs, newest first"),
    retrieve=extend_schema(
        summary="One reconciliation run", description="A reconciliation run with its discrepancies."
    ),
)
@extend_schema(tags=["agent"])
class ReconciliationViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Reconciliation history; POST runs one now (`action` optional; operator role)."""

    permission_classes = [role_for_writes(Role.OPERATOR)]

    serializer_class = s.AgentReconciliationSerializer

    def get_queryset(self) -> Any:
        return selectors.reconciliation_list()

    @extend_schema(
        summary="Reconcile now",
        request=s.AgentReconcileRequestSerializer,
        responses={201: s.AgentReconciliationSerializer},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Reconcile positions against the exchange now."""
        from trading.services import reconcile_run

        body = s.AgentReconcileRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run = reconcile_run(action=body.validated_data.get("action"), trigger="api")
        return Response(s.AgentReconciliationSerializer(run).data, status=status.HTTP_201_CREATED)


class ComparisonViewSet(viewsets.ViewSet):
    """Rules vs LLM: each tick's two proposals paired, agreement, statuses, tokens, latency."""

    permission_classes = [IsViewer]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX},
                default=LIMIT_DEFAULT,
                description=f"newest decisions that consulted the LLM, 1 to {LIMIT_MAX}",
            )
        ],
        responses=s.AgentComparisonSerializer,
        tags=["agent"],
    )
    def retrieve(self, request: Request) -> Response:
        """Per-tick rows (newest first) and their summary; a bad `limit` is a 400."""
        try:
            limit = comparison_limit(request.query_params.get("limit"))
        except ValueError as exc:
            raise serializers.ValidationError({"limit": [str(exc)]}) from None
        comparison = selectors.decision_source_comparison(limit=limit)
        return Response(s.AgentComparisonSerializer({"limit": limit, **comparison}).data)

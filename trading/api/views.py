"""Viewsets of the live agent: status, decisions, positions, orders, controls, health, reconcile.

Thin: reads go through `trading.selectors`, writes through `trading.services`.
"""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import APIException, NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from optionsdesk.api.throttles import WriteRateThrottle
from optionsdesk.roles import IsOperator, IsViewer, Role, role_for_writes
from trading import models, selectors
from trading.api import serializers as s
from trading.domain.risk import DrawdownState
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
        return selectors.decision_list()

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
    filterset_fields = ("state", "direction", "dry_run", "instrument_name", "decision")

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


class PreconditionFailed(APIException):
    """`If-Match` named an older version of the controls."""

    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The controls changed since you read them: reload."
    default_code = "precondition_failed"


def _etag(control: models.RuntimeControl) -> str:
    return f'"{control.version}"'


def _if_match_version(request: Request) -> int | None:
    raw = request.headers.get("If-Match", "").strip()
    if not raw or raw == "*":
        return None
    text = raw.removeprefix("W/").strip('"')
    if not text.isdigit():
        raise serializers.ValidationError({"If-Match": ['must be an ETag from GET, e.g. "3"']})
    return int(text)


def _controls_response(control: models.RuntimeControl, **kwargs: Any) -> Response:
    response = Response(s.AgentControlsSerializer(control).data, **kwargs)
    response["ETag"] = _etag(control)
    return response


#: Members a controls PATCH may carry besides the controls: the go-live confirmation.
PATCH_EXTRAS = ("confirm",)


class ControlsViewSet(viewsets.ViewSet):
    """Runtime controls: read (viewer), or PATCH a subset (operator; validated, audited,
    versioned, read by the next tick). The kill switch has its own endpoint."""

    permission_classes = (role_for_writes(Role.OPERATOR),)

    @extend_schema(responses=s.AgentControlsSerializer, tags=["agent"])
    def retrieve(self, request: Request) -> Response:
        """The current controls, each one's effective value and source; `ETag` is the version."""
        return _controls_response(models.RuntimeControl.load())

    @extend_schema(
        request=s.AgentControlsSerializer,
        responses={200: s.AgentControlsSerializer, 412: None},
        parameters=[
            OpenApiParameter(
                "If-Match",
                str,
                OpenApiParameter.HEADER,
                description="the ETag of the controls this change is based on (412 if stale)",
            )
        ],
        tags=["agent"],
    )
    def partial_update(self, request: Request) -> Response:
        """Change some controls (operator role). Unknown members, the kill switch, values out
        of range, inconsistent combinations, an LLM mode with no LLM and going live without
        `"confirm": "<environment>"` are 400s naming why; a stale `If-Match` is a 412."""
        from trading.services.controls import ControlsConflict, ControlsError, controls_save

        if not isinstance(request.data, dict):
            raise serializers.ValidationError({"controls": ["Send a JSON object of controls."]})
        editable = set(models.RuntimeControl.EDITABLE_FIELDS) - {"kill_switch"}
        unknown = sorted(set(request.data) - editable - {"kill_switch", *PATCH_EXTRAS})
        if unknown:
            raise serializers.ValidationError(
                {name: [f"{name} is not a runtime control."] for name in unknown}
            )
        if "kill_switch" in request.data:
            raise serializers.ValidationError(
                {
                    "kill_switch": [
                        "The kill switch changes only through POST /api/agent/kill-switch."
                    ]
                }
            )
        body = {k: v for k, v in request.data.items() if k not in PATCH_EXTRAS}
        serializer = s.AgentControlsSerializer(
            models.RuntimeControl.load(), data=body, partial=True
        )
        serializer.is_valid(raise_exception=True)
        try:
            saved = controls_save(
                changes=serializer.validated_data,
                user=str(request.user),
                source="api",
                version=_if_match_version(request),
                confirm=str(request.data.get("confirm") or ""),
            )
        except ControlsConflict as exc:
            raise PreconditionFailed(str(exc)) from None
        except ControlsError as exc:
            key = exc.fields[0] if len(exc.fields) == 1 else "controls"
            raise serializers.ValidationError({key: [str(exc)]}) from None
        return _controls_response(saved.control)


class KillSwitchViewSet(viewsets.ViewSet):
    """The kill switch's own endpoint (operator role): on stops every order, off releases."""

    permission_classes = (IsOperator,)

    @extend_schema(
        request=s.AgentKillSwitchSerializer, responses=s.AgentControlsSerializer, tags=["agent"]
    )
    def create(self, request: Request) -> Response:
        """Press (`{"on": true}`) or release (`{"on": false}`) the kill switch; audited."""
        from trading.services.controls import kill_switch_set

        body = s.AgentKillSwitchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        control = kill_switch_set(
            on=body.validated_data["on"],
            user=str(request.user),
            source="api",
            reason=body.validated_data.get("reason", ""),
        )
        return _controls_response(control)


class DrawdownViewSet(viewsets.ViewSet):
    """The daily drawdown stop: read it (viewer); release a latched stop (operator, audited)."""

    permission_classes = (role_for_writes(Role.OPERATOR),)

    @extend_schema(responses=DrawdownState, tags=["agent"])
    def retrieve(self, request: Request) -> Response:
        """Today's peak equity and whether the stop latched (when and why); 404 before the
        first tick that knew the equity."""
        from trading.services.agent_status import drawdown_load

        state = drawdown_load()
        if state is None:
            raise NotFound("No drawdown is tracked yet: no tick has seen the equity.")
        return Response(state.model_dump(mode="json"))

    @extend_schema(request=s.AgentDrawdownResetSerializer, responses=DrawdownState, tags=["agent"])
    def reset(self, request: Request) -> Response:
        """Release a latched drawdown stop (operator role): a fresh peak at the last equity.
        Audited in the controls' trail with when and why it latched; 400 when not latched."""
        from trading.services.agent_status import DrawdownNotLatched, drawdown_operator_reset

        body = s.AgentDrawdownResetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            state = drawdown_operator_reset(
                user=str(request.user), reason=body.validated_data["reason"], source="api"
            )
        except (DrawdownNotLatched, ValueError) as exc:
            raise serializers.ValidationError({"drawdown": [str(exc)]}) from None
        from trading.services.agent_status import drawdown_load

        current = state or drawdown_load()
        return Response(None if current is None else current.model_dump(mode="json"))


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
                int,
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

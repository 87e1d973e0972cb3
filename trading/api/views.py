"""Viewsets of the live agent: status, decisions, positions, orders, controls, health, reconcile.

Thin: reads go through `trading.selectors`, writes through `trading.services`.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from optionsdesk.api.filters import UTCIsoDateTimeFilter
from optionsdesk.api.throttles import WriteRateThrottle
from optionsdesk.roles import IsOperator, IsResearcher, IsViewer, Role, role_for_writes
from trading import models, selectors
from trading.api import serializers as s
from trading.domain.risk import DrawdownState
from trading.domain.source_compare import LIMIT_DEFAULT, LIMIT_MAX, comparison_limit
from trading.filters import OrderFilter


class DecisionFilter(django_filters.FilterSet):
    """Filter decisions by what was done, how and when."""

    since = UTCIsoDateTimeFilter(field_name="decided_at", lookup_expr="gte")
    until = UTCIsoDateTimeFilter(field_name="decided_at", lookup_expr="lt")

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
        qs = selectors.decision_list()
        if self.action == "list":  # the list shows no run, snapshot, candidates or LLM record
            qs = qs.select_related(None).defer(
                "state_snapshot", "candidates", "log_line", "llm_record"
            )
        return qs

    def get_serializer_class(self) -> Any:
        if self.action == "retrieve":
            return s.AgentDecisionDetailSerializer
        return s.AgentDecisionSerializer

    @extend_schema(
        summary="Export the decision log (researcher)",
        description="The filtered decisions as JSONL (`application/x-ndjson`): each one's "
        "canonical decision-log line plus `realised_outcome` (status, realised coin and USD, "
        "fees included; null when it sold nothing). Researcher role; 403 below.",
        responses={
            (200, "application/x-ndjson"): OpenApiTypes.STR,
            403: OpenApiResponse(description="Not a researcher (code `permission_denied`)."),
        },
    )
    @action(
        detail=False,
        methods=["get"],
        url_path="export",
        pagination_class=None,
        permission_classes=[IsResearcher],
    )
    def export(self, request: Request) -> HttpResponse:
        """Researcher: the decision log with realised outcomes."""
        decisions = self.filter_queryset(self.get_queryset())
        response = HttpResponse(
            selectors.decision_log_export(decisions), content_type="application/x-ndjson"
        )
        response["Content-Disposition"] = 'attachment; filename="decisions.jsonl"'
        return response

    @extend_schema(
        summary="Export live training data (researcher)",
        description="One CSV row per filtered decision: what it saw (index, equity, margin, the "
        "chosen call's strike, DTE, delta, IV, IV/RV, premium, score), what it did, and the "
        "realised outcome as the reward once known (columns `trading.selectors."
        "TRAINING_COLUMNS`). Researcher role; 403 below.",
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            403: OpenApiResponse(description="Not a researcher (code `permission_denied`)."),
        },
    )
    @action(
        detail=False,
        methods=["get"],
        url_path="training",
        pagination_class=None,
        permission_classes=[IsResearcher],
    )
    def training(self, request: Request) -> HttpResponse:
        """Researcher: live (state, action, reward) rows as CSV."""
        decisions = self.filter_queryset(self.get_queryset())
        response = HttpResponse(selectors.training_csv(decisions), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="training.csv"'
        return response


@extend_schema_view(
    list=extend_schema(summary="List tracked positions"),
    retrieve=extend_schema(summary="One position", description="A tracked position."),
)
@extend_schema(tags=["agent"])
class PositionViewSet(viewsets.ReadOnlyModelViewSet):
    """Tracked positions; `?status=open` or `?status=closed`; operators close or roll one."""

    permission_classes = [IsViewer]

    serializer_class = s.AgentPositionSerializer
    filterset_fields = ("status", "currency", "strategy_id", "paper", "sandbox", "flagged")

    def get_queryset(self) -> Any:
        return selectors.position_list()

    def _act(self, request: Request, pk: str | None, verb: str) -> Response:
        from trading.services.position_actions import (
            PositionActionRefused,
            position_close_now,
            position_roll_now,
        )

        position = self.get_object()
        act = position_close_now if verb == "close" else position_roll_now
        try:
            result = act(position_id=position.pk, user=str(request.user))
        except PositionActionRefused as exc:
            raise PositionActionConflict(str(exc)) from None
        body = {"message": result.message, "orders": result.orders}
        return Response(s.AgentPositionActionSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Close a position now (operator)",
        description="Buy the short call back at the best ask through the order gate (controls, "
        "kill switch, environment, dry run, risk engine, label first). Operator role; a viewer "
        "or researcher gets 403. Refused (409) when the gate or the risk engine says no, or the "
        "position's book (paper/real) does not match the dry-run setting.",
        request=None,
        responses={
            201: s.AgentPositionActionSerializer,
            403: OpenApiResponse(description="Not an operator (code `permission_denied`)."),
            409: OpenApiResponse(description="Refused, nothing sent (code `refused`)."),
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[IsOperator])
    def close(self, request: Request, pk: str | None = None) -> Response:
        """Operator: close now."""
        return self._act(request, pk, "close")

    @extend_schema(
        summary="Roll a position now (operator)",
        description="Buy the short call back and sell the best-ranked other call of its "
        "underlying, through the order gate. Operator role (403 otherwise); 409 when refused.",
        request=None,
        responses={
            201: s.AgentPositionActionSerializer,
            403: OpenApiResponse(description="Not an operator (code `permission_denied`)."),
            409: OpenApiResponse(description="Refused, nothing sent (code `refused`)."),
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[IsOperator])
    def roll(self, request: Request, pk: str | None = None) -> Response:
        """Operator: roll now."""
        return self._act(request, pk, "roll")


class PaperBookViewSet(viewsets.ViewSet):
    """The paper book (open dry-run positions): keep it apart or archive it when going live."""

    permission_classes = [role_for_writes(Role.OPERATOR)]

    @extend_schema(
        request=s.AgentPaperBookSerializer, responses=s.AgentPaperBookSerializer, tags=["agent"]
    )
    def create(self, request: Request) -> Response:
        """Operator: `{"choice": "archive"}` closes every open paper position at its last mark
        (status `archived`, audited); `{"choice": "keep"}` leaves the book apart."""
        from trading.services.paper_book import paper_book_archive, paper_positions_open

        body = s.AgentPaperBookSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        archived = 0
        if body.validated_data["choice"] == "archive":
            archived = len(paper_book_archive(user=str(request.user), source="api"))
        data = {
            "choice": body.validated_data["choice"],
            "archived": archived,
            "open": len(paper_positions_open()),
        }
        return Response(s.AgentPaperBookSerializer(data).data, status=status.HTTP_201_CREATED)


class PositionActionConflict(APIException):
    """The action was refused (gate, risk engine, or book mismatch): nothing was sent."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "refused"
    default_detail = "The action was refused."


@extend_schema_view(
    list=extend_schema(summary="List order legs"),
    retrieve=extend_schema(summary="One order leg", description="An order leg with its state."),
)
@extend_schema(tags=["agent"])
class OrderViewSet(viewsets.ReadOnlyModelViewSet):
    """Order legs with labels, states, fills, fees and exchange ids (filterable, CSV export)."""

    permission_classes = [IsViewer]

    serializer_class = s.AgentOrderSerializer
    filterset_class = OrderFilter

    def get_queryset(self) -> Any:
        return selectors.order_list()

    @extend_schema(
        summary="Export order legs as CSV",
        description="The filtered orders (same filters as the list) as text/csv, one row each.",
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    @action(detail=False, methods=["get"], url_path="export", pagination_class=None)
    def export(self, request: Request) -> HttpResponse:
        """The filtered orders as CSV (columns: `trading.selectors.ORDER_COLUMNS`)."""
        orders = self.filter_queryset(self.get_queryset())
        response = HttpResponse(selectors.orders_csv(orders), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="orders.csv"'
        return response


class StatusViewSet(viewsets.ViewSet):
    """The live agent's status JSON."""

    permission_classes = [IsViewer]

    @extend_schema(responses=selectors.AgentStatusView, tags=["agent"])
    def retrieve(self, request: Request) -> Response:
        """Last tick (spot, portfolio, action and why, top candidates), guard, controls."""
        return Response(selectors.agent_status_snapshot().model_dump(mode="json"))


class PnlViewSet(viewsets.ViewSet):
    """The books' P&L: realised, unrealised (mark, buy-back), total, fees per fill."""

    permission_classes = [IsViewer]

    @extend_schema(responses=s.AgentPnlSerializer, tags=["agent"])
    def retrieve(self, request: Request) -> Response:
        """P&L per underlying and book (paper and real apart, with subtotals): realised,
        unrealised at mark and at the buy-back price, total, fees; coin and USD."""
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
        request=s.AgentKillSwitchSerializer,
        responses={200: s.AgentControlsSerializer},
        tags=["agent"],
    )
    def create(self, request: Request) -> Response:
        """Press (`{"on": true}`) or release (`{"on": false}`) the kill switch; audited; 200 with
        the controls."""
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


class DrawdownNotLatchedConflict(APIException):
    """A drawdown release asked while the stop is not latched: nothing to release."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "not_latched"
    default_detail = "The daily drawdown stop is not latched: nothing to reset."


class DrawdownViewSet(viewsets.ViewSet):
    """The daily drawdown stop: read it (viewer); release a latched stop (operator, audited)."""

    permission_classes = (role_for_writes(Role.OPERATOR),)

    @extend_schema(responses={200: DrawdownState, 404: None}, tags=["agent"])
    def retrieve(self, request: Request) -> Response:
        """Today's peak equity and whether the stop latched (when and why); 404 before the
        first tick that knew the equity."""
        from trading.services.agent_status import drawdown_load

        state = drawdown_load()
        if state is None:
            raise NotFound("No drawdown is tracked yet: no tick has seen the equity.")
        return Response(state.model_dump(mode="json"))

    @extend_schema(
        request=s.AgentDrawdownResetSerializer,
        responses={
            200: DrawdownState,
            409: OpenApiResponse(description="The stop is not latched (code `not_latched`)."),
        },
        tags=["agent"],
    )
    def reset(self, request: Request) -> Response:
        """Release a latched drawdown stop (operator role): a fresh peak at the last equity.
        Audited in the controls' trail with when and why it latched; 409 when not latched
        (the request is right, the state is not)."""
        from trading.services.agent_status import DrawdownNotLatched, drawdown_operator_reset

        body = s.AgentDrawdownResetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            state = drawdown_operator_reset(
                user=str(request.user), reason=body.validated_data["reason"], source="api"
            )
        except DrawdownNotLatched as exc:
            raise DrawdownNotLatchedConflict(str(exc)) from None
        except ValueError as exc:
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

    @extend_schema(
        request=None, responses={201: s.AgentHealthSerializer, 429: None}, tags=["agent"]
    )
    def create(self, request: Request) -> Response:
        """Run the agent healthcheck (config, exchange, auth, data, LLM, risk settings)."""
        from trading.exchange import exchange_client
        from trading.services import agent_healthcheck

        with exchange_client() as client:
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

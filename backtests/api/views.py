"""Backtests API: create, list, detail, trades, download, stop, resume, delete, compare, diff."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, Throttled, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer, Serializer

from backtests import lab_services, research_services, selectors, services
from backtests.api.serializers import (
    STATUS_TEXT,
    BacktestRunCreateSerializer,
    BacktestRunDetailSerializer,
    BacktestRunListSerializer,
    CompareSerializer,
    DiffSerializer,
    RegimeDateSerializer,
    ResumeSerializer,
    SelectorStudyCreateSerializer,
    SelectorStudySerializer,
    SimulatedTradeSerializer,
)
from backtests.models import BacktestRun, SelectorStudy, SimulatedTrade
from backtests.quota import ResearchQuotaExceededError, research_quota_check
from optionsdesk.api.parsers import JSONParser
from optionsdesk.api.permissions import OwnerOrAdminWrites
from optionsdesk.roles import IsResearcher, Role, role_for_writes

#: Trade columns of downloads (everything but the id and the run).
TRADE_COLUMNS = [f.name for f in SimulatedTrade._meta.fields if f.name not in ("id", "run")]


class Conflict(APIException):
    """409: the request does not fit the object's state."""

    status_code = 409
    default_code = "conflict"
    default_detail = "Conflict with the object's state."


#: The largest id a run can have (a 64-bit signed integer in every database).
MAX_ID = 2**63 - 1


def _ids(raw: str | None, name: str) -> list[int]:
    try:
        values = [int(v) for v in (raw or "").split(",") if v.strip()]
    except ValueError:
        raise ValidationError({name: ["comma-separated run ids"]}) from None
    if not values:
        raise ValidationError({name: ["required"]})
    out_of_range = [v for v in values if not 1 <= v <= MAX_ID]
    if out_of_range:
        raise ValidationError({name: [f"run ids are from 1 to {MAX_ID}: {out_of_range}"]})
    return values


def _choice(request: Request, name: str, choices: list[str]) -> str | None:
    """A query parameter that must be one of `choices` when given (else a 400)."""
    value = request.query_params.get(name)
    if value is not None and value not in choices:
        raise ValidationError({name: [f"one of {', '.join(choices)}"]})
    return value


def research_quota_throttle(user: Any) -> None:
    """429 when the user already has `RESEARCH_QUEUED_RUNS_PER_USER` research runs queued or
    running (backtests, grids, studies and training runs together)."""
    try:
        research_quota_check(user=user)
    except ResearchQuotaExceededError as exc:
        raise Throttled(detail=str(exc)) from None


#: The 429 of every research launch (`research_launch_data`), as the schema documents it.
RESEARCH_QUOTA_RESPONSE = OpenApiResponse(
    description="The user already has `RESEARCH_QUEUED_RUNS_PER_USER` research runs "
    "queued or running (`throttled`); nothing is queued."
)


def research_launch_data(request: Request, form_class: type[Serializer[Any]]) -> Any:
    """The validated launch form of a research run, study or training run: 400 when the form is
    wrong, then 429 when the user's research quota is full (`research_quota_throttle`)."""
    form = form_class(data=request.data)
    form.is_valid(raise_exception=True)
    research_quota_throttle(request.user)
    return form.validated_data


@extend_schema_view(
    retrieve=extend_schema(
        summary="One run",
        description="Everything about a run: configuration, data provenance, metrics, flags, "
        "assumptions, equity curve and (for a grid) ranked results.",
    ),
    destroy=extend_schema(
        summary="Delete a run",
        description="Delete a run with its trades, grid cells and exports.",
    ),
)
@extend_schema(tags=["backtests"])
class BacktestRunViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[BacktestRun],
):
    """Backtest runs: launch (single or grid), follow, download, stop, compare and diff.

    Viewers read; launching needs the researcher role (and at most
    `RESEARCH_QUEUED_RUNS_PER_USER` queued runs, else 429); stop, resume and delete need the
    researcher role and the run's ownership (admins: any run); downloads (exports) need the
    researcher role.
    """

    queryset = BacktestRun.objects.all()
    permission_classes = [role_for_writes(Role.RESEARCHER), OwnerOrAdminWrites]
    parser_classes = [JSONParser]
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self) -> QuerySet[BacktestRun]:
        """Runs newest first; `?kind=`, `?status=`, `?include_cells=1` filter the list."""
        if self.action != "list":
            return BacktestRun.objects.all()
        request = self.request
        include = _choice(request, "include_cells", ["1", "0", "true", "false"])
        return selectors.backtest_run_list(
            kind=_choice(request, "kind", list(BacktestRun.Kind.values)),
            status=_choice(request, "status", list(BacktestRun.Status.values)),
            include_cells=include in ("1", "true"),
        )

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        """List rows, full detail, or the create form."""
        if self.action == "list":
            return BacktestRunListSerializer
        if self.action == "create":
            return BacktestRunCreateSerializer
        return BacktestRunDetailSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, enum=BacktestRun.Kind.values),
            OpenApiParameter(
                "status", str, enum=BacktestRun.Status.values, description=STATUS_TEXT
            ),
            OpenApiParameter("include_cells", bool),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Runs, newest first (grid cells hidden unless `include_cells`)."""
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=BacktestRunCreateSerializer,
        responses={
            201: BacktestRunDetailSerializer,
            429: RESEARCH_QUOTA_RESPONSE,
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Queue a single run, or a grid search when `grid` is given."""
        data = research_launch_data(request, BacktestRunCreateSerializer)
        if data["grid"] is not None:
            run = services.grid_run_create(
                spec=data["grid"], source=data["source"], name=data["name"], user=request.user
            )
        else:
            run = services.backtest_run_create(
                config=data["config"], source=data["source"], name=data["name"], user=request.user
            )
        body = BacktestRunDetailSerializer(run).data
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: BacktestRun) -> None:
        """Delete through the service (trades, cells and exports go with it)."""
        services.backtest_run_delete(run=instance)

    @extend_schema(request=None, responses=BacktestRunDetailSerializer)
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str | None = None) -> Response:
        """Ask a queued or running run (or grid) to stop."""
        run = services.backtest_run_stop(run=self.get_object())
        return Response(BacktestRunDetailSerializer(run).data)

    @extend_schema(
        request=ResumeSerializer,
        responses={
            200: OpenApiTypes.OBJECT,
            409: OpenApiResponse(description="not a grid run (`conflict`)"),
        },
    )
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        """Re-send a grid's cells lost with a dead worker (and queued ones if asked)."""
        run = self.get_object()
        if run.kind != BacktestRun.Kind.GRID:
            raise Conflict("only grid runs can be resumed")
        form = ResumeSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        include_queued = bool(form.validated_data.get("include_queued", False))
        resent = services.grid_run_resume(run=run, include_queued=include_queued)
        return Response({"resent": resent})

    @extend_schema(responses=SimulatedTradeSerializer(many=True))
    @action(detail=True, methods=["get"])
    def trades(self, request: Request, pk: str | None = None) -> Response:
        """The run's simulated trades, in order (paginated)."""
        trades = selectors.run_trade_list(run=self.get_object())
        page = self.paginate_queryset(trades)  # type: ignore[arg-type]
        serializer = SimulatedTradeSerializer(page if page is not None else trades, many=True)
        if page is not None:
            return self.get_paginated_response(serializer.data)
        return Response(serializer.data)

    @extend_schema(
        parameters=[OpenApiParameter("as", str, enum=["json", "csv"], default="json")],
        responses={(200, "application/json"): OpenApiTypes.OBJECT, (200, "text/csv"): str},
    )
    @action(detail=True, methods=["get"], permission_classes=[IsResearcher])
    def download(self, request: Request, pk: str | None = None) -> HttpResponse:
        """The whole run as a JSON file (`?as=json`) or its trades as CSV (`?as=csv`)."""
        run = self.get_object()
        trades = list(selectors.run_trade_list(run=run).values(*TRADE_COLUMNS))
        if _choice(request, "as", ["json", "csv"]) == "csv":
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=TRADE_COLUMNS)
            writer.writeheader()
            writer.writerows(trades)
            response = HttpResponse(buffer.getvalue(), content_type="text/csv")
            filename = f"backtest_{run.pk}_trades.csv"
        else:
            body = dict(BacktestRunDetailSerializer(run).data) | {"trades": trades}
            response = HttpResponse(
                json.dumps(body, default=str, indent=1), content_type="application/json"
            )
            filename = f"backtest_{run.pk}.json"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "ids",
                {"type": "string", "pattern": r"^[1-9][0-9]{0,17}(,[1-9][0-9]{0,17})*$"},
                required=True,
                description="run ids, e.g. 3,5,8",
            )
        ],
        responses={
            200: CompareSerializer,
            404: OpenApiResponse(description="an unknown run (`not_found`)"),
        },
    )
    @action(detail=False, methods=["get"])
    def compare(self, request: Request) -> Response:
        """Metrics of several runs side by side."""
        ids = _ids(request.query_params.get("ids"), "ids")
        by_id = BacktestRun.objects.in_bulk(ids)
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise NotFound(f"unknown runs {missing}")
        runs = [by_id[i] for i in ids]
        body = {
            "runs": BacktestRunListSerializer(runs, many=True).data,
            "rows": selectors.backtest_run_compare(runs=runs),
        }
        return Response(body)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "a", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, required=True
            ),
            OpenApiParameter(
                "b", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, required=True
            ),
        ],
        responses={
            200: DiffSerializer,
            404: OpenApiResponse(description="an unknown run (`not_found`)"),
        },
    )
    @action(detail=False, methods=["get"])
    def diff(self, request: Request) -> Response:
        """Configuration changes and metric deltas from run `a` to run `b`."""
        a_id = _ids(request.query_params.get("a"), "a")[0]
        b_id = _ids(request.query_params.get("b"), "b")[0]
        runs = BacktestRun.objects.in_bulk([a_id, b_id])
        if a_id not in runs or b_id not in runs:
            raise NotFound("unknown run")
        return Response(selectors.backtest_run_diff(a=runs[a_id], b=runs[b_id]))


@extend_schema(tags=["backtests"])
class SelectorStudyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[SelectorStudy],
):
    """Research studies (issue 15): the selector's funnel and 2D heatmaps, policy arenas,
    environment heatmaps and synthetic-vs-live comparisons, stored and queued.

    Viewers read (also an environment cell's dates, `regime`); launching needs the researcher
    role. Studies run on the research queue.
    """

    queryset = SelectorStudy.objects.all()
    serializer_class = SelectorStudySerializer
    permission_classes = [role_for_writes(Role.RESEARCHER)]
    parser_classes = [JSONParser]
    lookup_value_regex = r"[0-9]{1,18}"

    @extend_schema(
        request=SelectorStudyCreateSerializer,
        responses={
            201: SelectorStudySerializer,
            429: RESEARCH_QUOTA_RESPONSE,
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Queue a funnel, or a heatmap of two selector parameters."""
        data = research_launch_data(request, SelectorStudyCreateSerializer)
        if data["kind"] in lab_services.LAB_KINDS:
            study = lab_services.lab_study_create(**data, user=request.user)
        else:
            study = research_services.selector_study_create(**data, user=request.user)
        return Response(SelectorStudySerializer(study).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            OpenApiParameter("x", {"type": "integer", "minimum": 0, "maximum": 100}, required=True),
            OpenApiParameter("y", {"type": "integer", "minimum": 0, "maximum": 100}, required=True),
        ],
        responses={
            200: RegimeDateSerializer(many=True),
            409: OpenApiResponse(description="not a finished environment heatmap (`conflict`)"),
        },
    )
    @action(detail=True, methods=["get"], pagination_class=None)  # one heatmap cell's dates
    def regime(self, request: Request, pk: str | None = None) -> Response:
        """Find me this regime: the UTC dates whose sampled times fall in cell (`x`, `y`) of an
        environment heatmap (column and row indexes from 0), with the reference call's mean
        outcome on each date."""
        from backtests.domain.environment import regime_dates

        study = self.get_object()
        if study.kind != SelectorStudy.Kind.ENVIRONMENT or not study.result.get("counts"):
            raise Conflict("only a finished environment heatmap has regimes")
        cell = {}
        for axis, size in (
            ("x", len(study.result["x_edges"]) - 1),
            ("y", len(study.result["y_edges"]) - 1),
        ):
            raw = request.query_params.get(axis, "")
            if not raw.isdigit() or not 0 <= int(raw) < size:
                raise ValidationError({axis: [f"a cell index from 0 to {size - 1}"]})
            cell[axis] = int(raw)
        return Response(regime_dates(study.result, xi=cell["x"], yi=cell["y"]))

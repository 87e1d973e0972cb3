"""API of the book's risk: portfolio greeks and the spot x vol x time scenario grid (viewer).

Both read the report the last tick stored (`trading.services.risk.risk_report_build`); before
the first tick they answer 404 `not_found`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from optionsdesk.roles import IsViewer
from trading import selectors


class RiskGreeksRowSerializer(serializers.Serializer[Any]):
    """Greeks of one slice of the book: `group` is total, underlying, expiry or strategy."""

    group = serializers.CharField()
    key = serializers.CharField()
    underlying = serializers.CharField(allow_null=True)
    positions = serializers.IntegerField()
    delta_coin = serializers.FloatField(allow_null=True)
    delta_usd = serializers.FloatField()
    gamma_coin = serializers.FloatField(allow_null=True)
    gamma_usd = serializers.FloatField()
    vega_coin = serializers.FloatField(allow_null=True)
    vega_usd = serializers.FloatField()
    theta_coin = serializers.FloatField(allow_null=True)
    theta_usd = serializers.FloatField()


class RiskWorstCellSerializer(serializers.Serializer[Any]):
    """The cell with the lowest USD P&L: its spot and vol moves (fractions), days, loss."""

    spot_move = serializers.FloatField()
    vol_move = serializers.FloatField()
    days = serializers.FloatField()
    pnl_usd = serializers.FloatField()
    loss_pct_of_equity = serializers.FloatField(allow_null=True)
    label = serializers.CharField()  # type: ignore[assignment]


class RiskLimitsSerializer(serializers.Serializer[Any]):
    """The stress limits in force (0 = off)."""

    max_scenario_loss_pct = serializers.FloatField()
    max_vega_usd = serializers.FloatField()


class RiskPortfolioSerializer(serializers.Serializer[Any]):
    """The book's greeks as of the last tick, with the convention they follow."""

    as_of = serializers.DateTimeField()
    environment = serializers.CharField()
    convention = serializers.CharField()
    equity_usd = serializers.FloatField(allow_null=True)
    index_usd = serializers.DictField(child=serializers.FloatField())
    coins = serializers.DictField(child=serializers.FloatField())
    positions = serializers.IntegerField()
    unvalued = serializers.ListField(child=serializers.CharField())
    greeks = RiskGreeksRowSerializer(many=True)
    worst = RiskWorstCellSerializer()
    limits = RiskLimitsSerializer()


def _cube() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ListField(child=serializers.ListField(child=serializers.FloatField()))
    )


class RiskScenariosSerializer(serializers.Serializer[Any]):
    """The grid: arrays indexed [day][spot move][vol move]; moves are fractions (-0.4 = -40%)."""

    as_of = serializers.DateTimeField()
    spot_moves = serializers.ListField(child=serializers.FloatField())
    vol_moves = serializers.ListField(child=serializers.FloatField())
    days = serializers.ListField(child=serializers.FloatField())
    pnl_usd = _cube()
    pnl_coin = serializers.DictField(child=_cube())
    margin_usd = _cube()
    equity_usd = serializers.FloatField(allow_null=True)
    worst = RiskWorstCellSerializer()
    limits = RiskLimitsSerializer()


def _report() -> dict[str, Any]:
    report = selectors.risk_report_latest()
    if report is None or "greeks" not in report:
        detail = (report or {}).get("error") or "no risk report yet: the agent has not ticked"
        raise NotFound(detail)
    return report


class RiskPortfolioViewSet(viewsets.ViewSet):
    """GET /api/risk/portfolio (viewer)."""

    permission_classes = [IsViewer]

    @extend_schema(
        responses={
            200: RiskPortfolioSerializer,
            404: OpenApiResponse(description="no risk report yet"),
        },
        tags=["risk"],
    )
    def retrieve(self, request: Request) -> Response:
        """Delta, gamma, vega, theta of the book by underlying, expiry and strategy (viewer)."""
        report = _report()
        names: list[str] = list(RiskPortfolioSerializer().fields)
        data: dict[str, Any] = {k: report[k] for k in names if k in report}
        data["worst"] = report["scenarios"]["worst"]
        return Response(RiskPortfolioSerializer(data).data)


class RiskScenariosViewSet(viewsets.ViewSet):
    """GET /api/risk/scenarios (viewer)."""

    permission_classes = [IsViewer]

    @extend_schema(
        responses={
            200: RiskScenariosSerializer,
            404: OpenApiResponse(description="no risk report yet"),
        },
        tags=["risk"],
    )
    def retrieve(self, request: Request) -> Response:
        """P&L in USD and coin and margin on every spot x vol x time cell; the worst (viewer)."""
        report = _report()
        data = report["scenarios"] | {"as_of": report["as_of"], "limits": report["limits"]}
        return Response(RiskScenariosSerializer(data).data)

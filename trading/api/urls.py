"""API routes of the trading app (under /api/): the live agent."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from trading.api import risk, views

router = SimpleRouter(trailing_slash=False)
router.register("agent/decisions", views.DecisionViewSet, basename="agent-decision")
router.register("agent/positions", views.PositionViewSet, basename="agent-position")
router.register("agent/orders", views.OrderViewSet, basename="agent-order")
router.register("agent/reconcile", views.ReconciliationViewSet, basename="agent-reconcile")

urlpatterns = [
    *router.urls,
    # Singletons: one object, no id in the URL.
    path("agent/status", views.StatusViewSet.as_view({"get": "retrieve"}), name="agent-status"),
    path("agent/pnl", views.PnlViewSet.as_view({"get": "retrieve"}), name="agent-pnl"),
    path(
        "agent/paper-book",
        views.PaperBookViewSet.as_view({"post": "create"}),
        name="agent-paper-book",
    ),
    path(
        "agent/controls",
        views.ControlsViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="agent-controls",
    ),
    path(
        "agent/kill-switch",
        views.KillSwitchViewSet.as_view({"post": "create"}),
        name="agent-kill-switch",
    ),
    path(
        "agent/drawdown",
        views.DrawdownViewSet.as_view({"get": "retrieve"}),
        name="agent-drawdown",
    ),
    path(
        "agent/drawdown/reset",
        views.DrawdownViewSet.as_view({"post": "reset"}),
        name="agent-drawdown-reset",
    ),
    path(
        "agent/comparison",
        views.ComparisonViewSet.as_view({"get": "retrieve"}),
        name="agent-comparison",
    ),
    path(
        "agent/health",
        views.HealthViewSet.as_view({"get": "retrieve", "post": "create"}),
        name="agent-health",
    ),
    path(
        "risk/portfolio",
        risk.RiskPortfolioViewSet.as_view({"get": "retrieve"}),
        name="risk-portfolio",
    ),
    path(
        "risk/scenarios",
        risk.RiskScenariosViewSet.as_view({"get": "retrieve"}),
        name="risk-scenarios",
    ),
]

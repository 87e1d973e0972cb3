"""API routes of the trading app (under /api/): the live agent."""

from typing import Any

from django.urls import URLPattern, path
from rest_framework.routers import SimpleRouter

from trading.api import risk, views

router = SimpleRouter(trailing_slash=False)
router.register("agent/decisions", views.DecisionViewSet, basename="agent-decision")
router.register("agent/positions", views.PositionViewSet, basename="agent-position")
router.register("agent/orders", views.OrderViewSet, basename="agent-order")
router.register("agent/reconcile", views.ReconciliationViewSet, basename="agent-reconcile")


def singleton(route: str, viewset: Any, name: str, **actions: str) -> URLPattern:
    """A route to one object (no id in the URL): HTTP method -> viewset action."""
    return path(route, viewset.as_view(actions), name=name)


urlpatterns = [
    *router.urls,
    singleton("agent/status", views.StatusViewSet, "agent-status", get="retrieve"),
    singleton("agent/pnl", views.PnlViewSet, "agent-pnl", get="retrieve"),
    singleton("agent/paper-book", views.PaperBookViewSet, "agent-paper-book", post="create"),
    singleton(
        "agent/controls",
        views.ControlsViewSet,
        "agent-controls",
        get="retrieve",
        patch="partial_update",
    ),
    singleton("agent/kill-switch", views.KillSwitchViewSet, "agent-kill-switch", post="create"),
    singleton("agent/drawdown", views.DrawdownViewSet, "agent-drawdown", get="retrieve"),
    singleton("agent/drawdown/reset", views.DrawdownViewSet, "agent-drawdown-reset", post="reset"),
    singleton("agent/comparison", views.ComparisonViewSet, "agent-comparison", get="retrieve"),
    singleton("agent/health", views.HealthViewSet, "agent-health", get="retrieve", post="create"),
    singleton("risk/portfolio", risk.RiskPortfolioViewSet, "risk-portfolio", get="retrieve"),
    singleton("risk/scenarios", risk.RiskScenariosViewSet, "risk-scenarios", get="retrieve"),
]

"""API routes of the greg app (under /api/greg/)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from greg.api import views

router = SimpleRouter(trailing_slash=False)
router.register("greg/positions", views.PositionViewSet, basename="greg-position")
router.register("greg/decisions", views.DecisionViewSet, basename="greg-decision")

urlpatterns = [
    *router.urls,
    path("greg/select", views.SelectViewSet.as_view({"post": "create"}), name="greg-select"),
    path(
        "greg/calibration",
        views.CalibrationViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="greg-calibration",
    ),
    path(
        "greg/settings",
        views.SettingsViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="greg-settings",
    ),
]

"""API routes of the calibration app (under /api/calibration/)."""

from rest_framework.routers import SimpleRouter

from calibration.api import views

router = SimpleRouter(trailing_slash=False)
router.register("calibration/runs", views.CalibrationRunViewSet, basename="calibration-run")
router.register("calibration/quality", views.QualityReportViewSet, basename="calibration-quality")
router.register(
    "calibration/decisions", views.PolicyDecisionViewSet, basename="calibration-decision"
)
router.register("calibration/harvests", views.HarvestRunViewSet, basename="calibration-harvest")
router.register("calibration/regimes", views.RegimeFitViewSet, basename="calibration-regime")
router.register(
    "calibration/multipliers", views.MultipliersViewSet, basename="calibration-multipliers"
)

urlpatterns = router.urls

"""API routes of the steward app."""

from rest_framework.routers import SimpleRouter

from steward.api.views import StewardReportViewSet

router = SimpleRouter(trailing_slash=False)
router.register("steward/reports", StewardReportViewSet, basename="steward-report")

urlpatterns = router.urls

"""API routes of the reviewbot app."""

from rest_framework.routers import SimpleRouter

router = SimpleRouter(trailing_slash=False)

urlpatterns = router.urls

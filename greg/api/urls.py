"""API routes of the greg app (under /api/greg/)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from greg.api import views

router = SimpleRouter(trailing_slash=False)

urlpatterns = [
    *router.urls,
    path("greg/select", views.SelectViewSet.as_view({"post": "create"}), name="greg-select"),
]

"""Dashboard routes of the steward app."""

from django.urls import path

from steward import views

app_name = "steward"
urlpatterns = [
    path("", views.index, name="index"),
    path("refresh", views.refresh, name="refresh"),
    path("reports/<int:report_id>/progress", views.progress, name="progress"),
    path("ask", views.ask, name="ask"),
]

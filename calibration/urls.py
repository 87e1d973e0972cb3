"""Dashboard routes of the calibration app."""

from django.urls import path

from calibration import views

app_name = "calibration"
urlpatterns = [
    path("", views.index, name="index"),
    path("runs/<int:pk>/apply", views.run_apply, name="run-apply"),
    path("runs/<int:pk>/hold", views.run_hold, name="run-hold"),
]

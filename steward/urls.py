"""Dashboard routes of the steward app."""

from django.urls import path

from steward import views

app_name = "steward"
urlpatterns = [path("", views.index, name="index")]

"""Dashboard routes of the greg app."""

from django.urls import path

from greg import views

app_name = "greg"
urlpatterns = [
    path("bots/", views.bots, name="bots"),
    path("greg/", views.lab, name="lab"),
]

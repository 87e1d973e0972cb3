"""Dashboard routes of the greg app."""

from django.urls import path

from greg import views

app_name = "greg"
urlpatterns = [
    path("bots/", views.bots, name="bots"),
    path("bots/evaluate/", views.evaluate_now, name="evaluate"),
    path("greg/", views.lab, name="lab"),
    path("greg/notes/", views.notes, name="notes"),
    path("greg/execute/<int:pk>/", views.execute, name="execute"),
    path("greg/positions/<int:pk>/<str:action>/", views.position_act, name="position-act"),
]

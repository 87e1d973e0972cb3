"""Dashboard routes of the trading app."""

from django.urls import path

from trading import views

app_name = "trading"
urlpatterns = [
    path("", views.live, name="live"),
    path("chat/", views.chat, name="chat"),
    path("agent/controls/", views.controls, name="controls"),
]

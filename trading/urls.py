"""Dashboard routes of the trading app."""

from django.urls import path

from trading import views

app_name = "trading"
urlpatterns = [
    path("", views.live, name="live"),
    path("chat/", views.chat, name="chat"),
    path("chat/ask", views.chat_ask_view, name="chat-ask"),
    path("chat/answer/<int:question_id>", views.chat_answer_view, name="chat-answer"),
    path("agent/controls/", views.controls, name="controls"),
    path("agent/health/", views.agent_health, name="agent-health"),
    path("compare/", views.compare, name="compare"),
    path("agent/risk/", views.risk_panel, name="risk"),
    path("agent/preflight/", views.preflight_panel, name="preflight"),
]

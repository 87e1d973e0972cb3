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
    path("orders/", views.orders, name="orders"),
    path("exports/decisions.jsonl", views.decisions_download, {"kind": "log"}, name="export-log"),
    path(
        "exports/training.csv",
        views.decisions_download,
        {"kind": "training"},
        name="export-training",
    ),
    path("pnl/", views.pnl_history_page, name="pnl-history"),
    path("agent/paper-book", views.paper_book_view, name="paper-book"),
    path("positions/<int:position_id>/close", views.position_close_view, name="position-close"),
    path("positions/<int:position_id>/roll", views.position_roll_view, name="position-roll"),
    path("decisions/<int:decision_id>/", views.decision_page, name="decision"),
    path("agent/risk/", views.risk_panel, name="risk"),
    path("agent/preflight/", views.preflight_panel, name="preflight"),
]

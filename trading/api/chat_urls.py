"""API routes of the chat (under /api/): `chat` and `chat/conversations`."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from trading.api import chat

router = SimpleRouter(trailing_slash=False)
router.register("chat/conversations", chat.ConversationViewSet, basename="chat-conversation")

urlpatterns = [
    path("chat", chat.ChatView.as_view(), name="chat"),
    *router.urls,
]

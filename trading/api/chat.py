"""The chat API: `POST /api/chat` asks the agent; conversations keep the history.

A user sees and continues only their own conversations (others' ids answer 404). Answers are
made in the request (LLM with read-only tools, or labelled templates without an LLM).
"""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from django.db.models import Count
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import NotFound, Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from optionsdesk.api.fields import StrictCharField
from optionsdesk.roles import IsViewer
from trading.chat.service import (
    MAX_QUESTION_CHARS,
    ChatInputError,
    ChatRateLimited,
    conversation_list,
    question_answer,
    question_ask,
)
from trading.domain.chat import DEFAULT_LIMIT, MAX_LIMIT
from trading.models import ChatMessage, Conversation


class ChatMessageSerializer(serializers.ModelSerializer[ChatMessage]):
    """A question or an answer, with how the answer was made."""

    answer_kind = serializers.ChoiceField(
        choices=[*ChatMessage.AnswerKind.choices, ("", "a question")],
        read_only=True,
        help_text="llm or template for an answer; empty for a question",
    )

    class Meta:
        model = ChatMessage
        fields = (
            "id",
            "role",
            "content",
            "reply_to",
            "answer_kind",
            "sources",
            "tool_calls",
            "model",
            "total_tokens",
            "latency_ms",
            "llm_error",
            "created_at",
        )
        read_only_fields = fields


_CONVERSATION_FIELDS: tuple[str, ...] = (
    "id",
    "title",
    "channel",
    "created_at",
    "updated_at",
    "message_count",
)


class ConversationSerializer(serializers.ModelSerializer[Conversation]):
    """A conversation's header."""

    message_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Conversation
        fields = _CONVERSATION_FIELDS
        read_only_fields = fields


class ConversationDetailSerializer(ConversationSerializer):
    """A conversation with every message, oldest first."""

    messages = ChatMessageSerializer(many=True, read_only=True)

    class Meta(ConversationSerializer.Meta):
        fields = (*_CONVERSATION_FIELDS, "messages")
        read_only_fields = fields


#: Some text that is not only spaces (declared as a pattern: spaces alone trim to nothing).
NOT_BLANK = RegexValidator(r"\S", "may not be blank")


class ChatRequestSerializer(serializers.Serializer[dict[str, Any]]):
    """A question, optionally continuing a conversation.

    Send `message` (the full form: 201 with the stored messages) or, the seed's compatibility
    form, `question` (200 with `{"question", "answer"}` as plain strings); not both.
    """

    message = StrictCharField(
        max_length=MAX_QUESTION_CHARS,
        trim_whitespace=True,
        required=False,
        validators=[NOT_BLANK],
    )
    question = StrictCharField(
        max_length=MAX_QUESTION_CHARS,
        trim_whitespace=True,
        required=False,
        validators=[NOT_BLANK],
        help_text="compatibility form (the seed's): answered as {question, answer} strings",
    )
    conversation = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    limit = serializers.IntegerField(
        required=False,
        default=DEFAULT_LIMIT,
        min_value=1,
        max_value=MAX_LIMIT,
        help_text="decisions a lookup returns when the question does not say",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Exactly one of `message` and `question`."""
        if bool(attrs.get("message")) == bool(attrs.get("question")):
            raise serializers.ValidationError(
                {"message": ["Send the question as `message` or as `question`, not both."]}
            )
        return attrs


class ChatRequestSchema(OpenApiSerializerExtension):
    """The "exactly one of `message` and `question`" rule, stated in the schema (`oneOf`)."""

    target_class = ChatRequestSerializer

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        """The serializer's own schema plus the one-of rule."""
        schema = auto_schema._map_basic_serializer(self.target, direction)
        return {**schema, "oneOf": [{"required": ["message"]}, {"required": ["question"]}]}


class ChatCompatResponseSerializer(serializers.Serializer[dict[str, Any]]):
    """The seed's answer form: the question and the answer as plain strings."""

    question = serializers.CharField()
    answer = serializers.CharField()


class ChatResponseSerializer(serializers.Serializer[dict[str, Any]]):
    """The conversation id, the stored question and the agent's answer."""

    conversation = serializers.IntegerField()
    question = ChatMessageSerializer()
    answer = ChatMessageSerializer()


def _own(request: Request) -> Any:
    """The user's conversations with their message counts, newest activity first.

    The ordering is explicit: Django drops `Meta.ordering` from a query with GROUP BY (the
    count), which would leave the list unordered and its pages inconsistent.
    """
    return (
        conversation_list(user=request.user)
        .annotate(message_count=Count("messages"))
        .order_by("-updated_at", "-id")
    )


def _throttled(exc: ChatRateLimited) -> Throttled:
    """429 with `Retry-After`; DRF appends "Expected available in N seconds." to the detail."""
    return Throttled(wait=exc.retry_after_s, detail=f"At most {exc.limit} questions a minute.")


class ChatView(APIView):
    """Ask the agent a question (any role: the chat reads and never trades)."""

    permission_classes = [IsViewer]

    @extend_schema(
        request=ChatRequestSerializer,
        responses={
            201: ChatResponseSerializer,
            200: OpenApiResponse(
                ChatCompatResponseSerializer,
                description="The compatibility form (`question` sent): plain strings.",
            ),
            404: OpenApiResponse(description="No such conversation of yours (`not_found`)."),
            429: OpenApiResponse(
                description="More than `CHAT_QUESTIONS_PER_MINUTE` questions this minute "
                "(`throttled`; `Retry-After` says when to ask again). Nothing is stored."
            ),
        },
        tags=["chat"],
    )
    def post(self, request: Request) -> Response:
        """Answer a question about decisions, positions, candidates or controls (never trades)."""
        body = ChatRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        conversation = None
        if data.get("conversation"):
            conversation = _own(request).filter(pk=data["conversation"]).first()
            if conversation is None:
                raise NotFound(f"no conversation {data['conversation']}")
        compat = bool(data.get("question"))
        try:
            question = question_ask(
                text=data.get("message") or data["question"],
                user=request.user,
                conversation=conversation,
                channel=Conversation.Channel.API,
            )
        except ChatInputError as exc:
            raise serializers.ValidationError({"message": [str(exc)]}) from None
        except ChatRateLimited as exc:
            raise _throttled(exc) from None
        conversation = question.conversation
        answer = question_answer(question=question, limit=data["limit"])
        if compat:
            compat_payload = {"question": question.content, "answer": answer.content}
            return Response(ChatCompatResponseSerializer(compat_payload).data)
        payload = {"conversation": conversation.pk, "question": question, "answer": answer}
        return Response(ChatResponseSerializer(payload).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["chat"])
@extend_schema_view(
    list=extend_schema(summary="Your conversations, newest activity first (paginated)."),
    retrieve=extend_schema(
        summary="One of your conversations with its messages, oldest first.",
        description="Each answer says how it was made: LLM or template, tools called, "
        "decisions used (`sources`), model, tokens and latency. Another user's: 404.",
    ),
    destroy=extend_schema(
        summary="Delete one of your conversations and its messages.",
        description="Another user's conversation is a 404; nothing else is touched.",
    ),
)
class ConversationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[Conversation],
):
    """Your conversations with the agent (newest activity first); one with its history."""

    permission_classes = [IsViewer]  # own conversations only: any role may delete theirs

    queryset = Conversation.objects.none()  # the schema's model; requests use get_queryset

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Conversation.objects.none()
        qs = _own(self.request)
        return qs.prefetch_related("messages") if self.action == "retrieve" else qs

    def get_serializer_class(self) -> Any:
        if self.action == "retrieve":
            return ConversationDetailSerializer
        return ConversationSerializer

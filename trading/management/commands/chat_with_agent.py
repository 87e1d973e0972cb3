"""`manage.py chat_with_agent "QUESTION" [--limit N] [--conversation ID] [--json]`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trading.chat.service import ChatInputError, chat_ask, conversation_create, question_clean
from trading.domain.chat import DEFAULT_LIMIT, MAX_LIMIT
from trading.models import Conversation


def _limit(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number from 1 to {MAX_LIMIT}")
    return value


class Command(BaseCommand):
    """Ask the agent a question from the shell; the conversation is stored like any other."""

    help = (
        "Ask the agent about its decisions, positions, candidates and controls. Answers come "
        "from the LLM with read-only tools, or from labelled templates when no LLM is configured."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """QUESTION, --limit, --conversation, --json."""
        parser.add_argument("question", help='e.g. "why did you pick the 97k call?"')
        parser.add_argument(
            "--limit",
            type=_limit,
            default=DEFAULT_LIMIT,
            help=f"decisions a lookup returns when the question does not say (1-{MAX_LIMIT})",
        )
        parser.add_argument(
            "--conversation", type=int, default=None, help="continue this conversation id"
        )
        parser.add_argument("--json", action="store_true", help="print the answer as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        """Ask, answer, print the answer with how it was made."""
        try:
            question_clean(options["question"])
        except ChatInputError as exc:
            raise CommandError(str(exc)) from exc
        if options["conversation"] is None:
            conversation = conversation_create(channel=Conversation.Channel.CLI)
        else:
            found = Conversation.objects.filter(pk=options["conversation"]).first()
            if found is None:
                raise CommandError(f"no conversation {options['conversation']}")
            conversation = found
        try:
            _, answer = chat_ask(
                conversation=conversation, text=options["question"], limit=options["limit"]
            )
        except ChatInputError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            record = {
                "conversation": conversation.pk,
                "answer": answer.content,
                "answer_kind": answer.answer_kind,
                "sources": answer.sources,
                "tool_calls": [c["name"] for c in answer.tool_calls],
                "model": answer.model,
                "total_tokens": answer.total_tokens,
                "latency_ms": answer.latency_ms,
            }
            self.stdout.write(json.dumps(record, indent=2))
            return
        self.stdout.write(answer.content)
        made = "LLM " + answer.model if answer.answer_kind == "llm" else "template"
        sources = ", ".join(f"#{s}" for s in answer.sources) or "none"
        self.stdout.write(
            f"\n-- {made}; decisions used: {sources}; conversation {conversation.pk} "
            f"(continue with --conversation {conversation.pk})"
        )

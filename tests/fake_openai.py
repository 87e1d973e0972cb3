"""A fake OpenAI-compatible server on loopback with scripted replies, for tests.

It serves `POST /v1/chat/completions` (Starlette behind a real uvicorn in a daemon thread) so the
real `openai` client is exercised over HTTP. Each request takes the next `Scripted` reply in
order (an exhausted script answers 500) and is recorded with its body and Authorization header.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from optionsdesk.llm import LLMConfig, OpenAICompatibleClient
from trading.deribit.simulator.server import LoopbackServer

#: The key `make_llm_client` sends (tests search requests and records for it).
TEST_API_KEY = "sk-fake-0123456789abcdefKEY"


@dataclass(frozen=True, slots=True)
class Scripted:
    """One scripted answer: a message (content, refusal or tool calls), or an HTTP error, after
    a delay. `tool_calls` are (function name, arguments) pairs the model asks to run."""

    content: str | None = None
    tool_calls: tuple[tuple[str, dict[str, Any]], ...] = ()
    refusal: str | None = None
    finish_reason: str = "stop"
    status: int = 200
    delay_s: float = 0.0
    prompt_tokens: int = 120
    completion_tokens: int = 30


def decision(action: str, **fields: Any) -> Scripted:
    """A scripted well-formed decision JSON (`fields` e.g. symbol=..., size=...)."""
    body = {"action": action, "reasoning": fields.pop("reasoning", "scripted"), **fields}
    return Scripted(content=json.dumps(body))


def tool_calls(*calls: tuple[str, dict[str, Any]]) -> Scripted:
    """A scripted reply that asks to run the given (name, arguments) tool calls."""
    return Scripted(tool_calls=tuple(calls), finish_reason="tool_calls")


def answer(text: str) -> Scripted:
    """A scripted plain-text answer."""
    return Scripted(content=text)


@dataclass(frozen=True, slots=True)
class Received:
    """A request the fake server got: the JSON body and the Authorization header."""

    body: dict[str, Any]
    authorization: str

    @property
    def model(self) -> str:
        """The model asked for."""
        return str(self.body.get("model", ""))

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages sent."""
        return list(self.body.get("messages", []))

    @property
    def tool_names(self) -> list[str]:
        """The names of the tools offered with this request."""
        return [t["function"]["name"] for t in self.body.get("tools", [])]

    @property
    def text(self) -> str:
        """The raw body as text (to search for leaked secrets)."""
        return json.dumps(self.body)


class FakeOpenAI:
    """The scripted server state and its Starlette app."""

    def __init__(self) -> None:
        self.script: deque[Scripted] = deque()
        self.received: list[Received] = []
        self.app = Starlette(routes=[Route("/v1/chat/completions", self._chat, methods=["POST"])])

    def queue(self, *replies: Scripted) -> None:
        """Append replies to the script."""
        self.script.extend(replies)

    async def _chat(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.received.append(Received(body, request.headers.get("authorization", "")))
        if not self.script:
            return JSONResponse({"error": {"message": "script exhausted"}}, status_code=500)
        reply = self.script.popleft()
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.status != 200:
            error = {"message": f"scripted {reply.status}", "type": "scripted", "code": None}
            return JSONResponse({"error": error}, status_code=reply.status)
        return JSONResponse(_completion(body, reply))


def _completion(body: dict[str, Any], reply: Scripted) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.content,
        "refusal": reply.refusal,
    }
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{index}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
            for index, (name, arguments) in enumerate(reply.tool_calls)
        ]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
        "usage": {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        },
    }


class FakeOpenAIServer(LoopbackServer):
    """`FakeOpenAI` behind uvicorn on 127.0.0.1 (free port) in a daemon thread."""

    def __init__(self) -> None:
        self.fake = FakeOpenAI()
        super().__init__(self.fake.app, name="fake-openai")

    @property
    def base_url(self) -> str:
        """The OpenAI base URL of this server (ends in /v1)."""
        return f"{self.origin}/v1"


def make_llm_client(server: FakeOpenAIServer, **overrides: Any) -> OpenAICompatibleClient:
    """A real `openai`-backed client of `server` (test key, model "primary", 5 s timeout, no
    fallback and no retries unless `overrides` say so)."""
    values: dict[str, Any] = {
        "base_url": server.base_url,
        "api_key": TEST_API_KEY,
        "model": "primary",
        "timeout_s": 5.0,
        "retries_per_model": 0,
    }
    return OpenAICompatibleClient(LLMConfig(**(values | overrides)))

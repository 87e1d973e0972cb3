"""The project's LLM client: any OpenAI-compatible server through the `openai` package.

Why our own thin layer: every caller needs the same guarantees, so they live in one place. A
model fallback chain (`OPENAI_MODEL`, then `OPENAI_FALLBACK_MODELS`), bounded retries (the
`openai` client's own retries are off), token and latency accounting on every result, and
redaction: message contents (and tool-call arguments) go through `optionsdesk.redaction.redact`
BEFORE they are sent, so what the server saw, what we store and what we log are the same
secret-free text. Tools (OpenAI function calling) are passed through: the caller offers them and
runs the calls the model asks for; this layer never executes anything. Without a base URL and a
key the client is unavailable and says so instead of calling anything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, cast, runtime_checkable

import openai
from openai import OpenAI

from optionsdesk.redaction import redact

logger = logging.getLogger(__name__)

ErrorKind = Literal["unavailable", "timeout", "connection", "rate_limited", "server", "request"]
_TRANSIENT: frozenset[str] = frozenset({"timeout", "connection", "rate_limited", "server"})


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call the model asked for: its id, the tool's name and raw JSON arguments."""

    id: str
    name: str
    arguments: str

    def as_dict(self) -> dict[str, Any]:
        """The wire form (`type: function`)."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One chat message as sent to the server.

    `role` is system/user/assistant/tool. An assistant message may carry the `tool_calls` it
    made; a `tool` message answers one of them (`tool_call_id`) with the tool's output.
    """

    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The wire/record form."""
        wire: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            wire["tool_calls"] = [call.as_dict() for call in self.tool_calls]
        if self.role == "tool":
            wire["tool_call_id"] = self.tool_call_id
        return wire

    def redacted(self, clean: Callable[[str], str]) -> ChatMessage:
        """This message with its content and tool-call arguments passed through `clean`."""
        calls = tuple(replace(c, arguments=clean(c.arguments)) for c in self.tool_calls)
        return replace(self, content=clean(self.content), tool_calls=calls)


@dataclass(frozen=True, slots=True)
class LLMAttempt:
    """One HTTP call: which model, whether it answered, why not, and how long it took (ms)."""

    model: str
    ok: bool
    latency_ms: float
    error_kind: ErrorKind | None = None
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready record."""
        return {
            "model": self.model,
            "ok": self.ok,
            "latency_ms": round(self.latency_ms, 1),
            "error_kind": self.error_kind,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class LLMResult:
    """A completed call: the (redacted) reply, why it stopped, tokens and latency.

    `finish_reason` is the server's ("stop", "length" = truncated, "content_filter",
    "tool_calls", ...); `refusal` is the model's refusal text when it declined; `tool_calls` are
    the functions it asked to run (redacted arguments). `prompt` is the redacted messages as
    sent; `latency_ms` covers every attempt, including failed ones before the fallback answered.
    """

    text: str
    model: str
    finish_reason: str
    refusal: str | None
    prompt: tuple[ChatMessage, ...]
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    attempts: tuple[LLMAttempt, ...]
    tool_calls: tuple[ToolCall, ...] = ()

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    @property
    def truncated(self) -> bool:
        """True when the server stopped because of the token limit."""
        return self.finish_reason == "length"

    @property
    def refused(self) -> bool:
        """True when the model declined (refusal text or a content filter stop)."""
        return bool(self.refusal) or self.finish_reason == "content_filter"

    def as_record(self) -> dict[str, Any]:
        """JSON-ready record for storage (already redacted)."""
        return {
            "model": self.model,
            "finish_reason": self.finish_reason,
            "refusal": self.refusal,
            "reply": self.text,
            "tool_calls": [c.as_dict() for c in self.tool_calls],
            "prompt": [m.as_dict() for m in self.prompt],
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "latency_ms": round(self.latency_ms, 1),
            "attempts": [a.as_dict() for a in self.attempts],
        }


@dataclass(frozen=True, slots=True)
class _Request:
    """What one `complete` call asks every model of the chain."""

    prompt: tuple[ChatMessage, ...]
    json_schema: Mapping[str, Any] | None
    tools: Sequence[Mapping[str, Any]] | None
    max_tokens: int


class LLMError(Exception):
    """No model answered: `kind` of the last failure and every attempt made."""

    def __init__(self, kind: ErrorKind, message: str, attempts: Sequence[LLMAttempt] = ()) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.attempts: tuple[LLMAttempt, ...] = tuple(attempts)


@runtime_checkable
class LLMClient(Protocol):
    """What the project's LLM users need: availability and one chat completion."""

    @property
    def available(self) -> bool:
        """True when calls can be made (a server and key are configured)."""
        ...

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: Mapping[str, Any] | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        max_tokens: int = 800,
        deadline_s: float | None = None,
    ) -> LLMResult:
        """One chat completion; raises `LLMError` when no model answered.

        `tools` are OpenAI function definitions the model may call; the calls come back in
        `LLMResult.tool_calls` for the caller to run (or refuse). `deadline_s` bounds the whole
        call, fallbacks and retries included (each request's timeout shrinks to what is left).
        """
        ...


@dataclass(frozen=True, slots=True)
class LLMConfig:
    """Where and how to call: server, key, model chain, per-call timeout, retries per model."""

    base_url: str
    api_key: str = field(repr=False)
    model: str
    fallback_models: tuple[str, ...] = ()
    timeout_s: float = 30.0
    retries_per_model: int = 1
    reasoning_effort: str = ""  # sent only when set (reasoning models: low, medium, high)

    @property
    def configured(self) -> bool:
        """Both a base URL and a key are set."""
        return bool(self.base_url and self.api_key)

    @property
    def models(self) -> tuple[str, ...]:
        """The fallback chain, primary first, without duplicates or blanks."""
        chain = [self.model, *self.fallback_models]
        return tuple(dict.fromkeys(m for m in chain if m))

    @classmethod
    def from_settings(cls) -> LLMConfig:
        """Read `settings.APP.OPENAI_*` (the fallback list is comma-separated)."""
        from django.conf import settings

        app = settings.APP
        fallbacks = tuple(m.strip() for m in app.OPENAI_FALLBACK_MODELS.split(",") if m.strip())
        return cls(
            base_url=app.OPENAI_BASE_URL,
            api_key=app.OPENAI_API_KEY.get_secret_value(),
            model=app.llm_model,
            fallback_models=fallbacks,
            timeout_s=float(app.OPENAI_TIMEOUT_S),
        )


def _failure(attempts: list[LLMAttempt], deadline: str) -> LLMError:
    """The error when no model answered: the last attempt's kind, or a timeout at the deadline."""
    last = attempts[-1] if attempts else None
    kind: ErrorKind = "timeout" if deadline or last is None else (last.error_kind or "request")
    message = deadline or (last.error if last else "")
    logger.warning("llm: no model answered after %d attempts: %s", len(attempts), message)
    return LLMError(kind, message, attempts)


def _classify(exc: Exception) -> ErrorKind:
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection"
    if isinstance(exc, openai.RateLimitError):
        return "rate_limited"
    if isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
        return "server"
    return "request"


class UnavailableLLMClient:
    """The client used when no LLM is configured: never calls anything."""

    def __init__(self, reason: str = "no OPENAI_BASE_URL or OPENAI_API_KEY configured") -> None:
        self.reason = reason

    @property
    def available(self) -> bool:
        """Always False."""
        return False

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: Mapping[str, Any] | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        max_tokens: int = 800,
        deadline_s: float | None = None,
    ) -> LLMResult:
        """Always raises `LLMError("unavailable")`."""
        raise LLMError("unavailable", self.reason)


class OpenAICompatibleClient:
    """`LLMClient` over the `openai` package with a model fallback chain and bounded retries.

    Per model: 1 + `retries_per_model` attempts, retried only on transient failures (timeout,
    connection, 429, 5xx); a request error (4xx, e.g. unknown model) moves to the next model at
    once. So a call makes at most `len(models) * (1 + retries_per_model)` HTTP requests.
    """

    def __init__(self, config: LLMConfig, *, http_client: Any = None) -> None:
        self.config = config
        self._client: OpenAI | None = None
        if config.configured:
            self._client = OpenAI(
                base_url=config.base_url,
                api_key=config.api_key,
                max_retries=0,
                timeout=config.timeout_s,
                http_client=http_client,
            )

    @property
    def available(self) -> bool:
        """True when a base URL and key are configured."""
        return self._client is not None

    def redact(self, text: str) -> str:
        """`optionsdesk.redaction.redact`, also knowing this client's own key."""
        return redact(text, extra_secrets=[self.config.api_key])

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: Mapping[str, Any] | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        max_tokens: int = 800,
        deadline_s: float | None = None,
    ) -> LLMResult:
        """Ask each model of the chain in turn until one answers (redacted in and out).

        Gives up with `LLMError("timeout")` once `deadline_s` (seconds from now) has passed.
        """
        if self._client is None:
            raise LLMError("unavailable", "no OPENAI_BASE_URL or OPENAI_API_KEY configured")
        request = _Request(
            prompt=tuple(m.redacted(self.redact) for m in messages),
            json_schema=json_schema,
            tools=tools,
            max_tokens=max_tokens,
        )
        attempts: list[LLMAttempt] = []
        started = time.monotonic()
        ends = None if deadline_s is None else started + deadline_s
        for model in self.config.models:
            for _ in range(1 + max(0, self.config.retries_per_model)):
                timeout_s = self.config.timeout_s
                if ends is not None:
                    timeout_s = min(timeout_s, ends - time.monotonic())
                    if timeout_s <= 0:
                        raise _failure(attempts, f"deadline of {deadline_s:g} s passed")
                result = self._attempt(self._client, model, request, timeout_s)
                attempts.append(result if isinstance(result, LLMAttempt) else result.attempts[0])
                if isinstance(result, LLMResult):
                    latency_ms = (time.monotonic() - started) * 1000
                    done = replace(result, attempts=tuple(attempts), latency_ms=latency_ms)
                    _log_result(done)
                    return done
                if result.error_kind not in _TRANSIENT:
                    break
        raise _failure(attempts, "")

    def _attempt(
        self, client: OpenAI, model: str, request: _Request, timeout_s: float
    ) -> LLMResult | LLMAttempt:
        kwargs: dict[str, Any] = {}
        if request.json_schema is not None:
            schema = dict(request.json_schema)
            kwargs["response_format"] = {"type": "json_schema", "json_schema": schema}
        if request.tools:
            kwargs["tools"] = [dict(t) for t in request.tools]
        if self.config.reasoning_effort:
            kwargs["reasoning_effort"] = self.config.reasoning_effort
        t0 = time.monotonic()
        try:
            reply = client.chat.completions.create(
                model=model,
                messages=cast(Any, [m.as_dict() for m in request.prompt]),
                max_tokens=request.max_tokens,
                temperature=0,
                timeout=timeout_s,
                **kwargs,
            )
        except openai.OpenAIError as exc:
            latency_ms = (time.monotonic() - t0) * 1000
            kind = _classify(exc)
            message = self.redact(f"{type(exc).__name__}: {exc}")[:500]
            logger.info("llm: model %s failed (%s) %s", model, kind, message)
            return LLMAttempt(model, False, latency_ms, kind, message)
        latency_ms = (time.monotonic() - t0) * 1000
        return _result(reply, model, request.prompt, latency_ms, self.redact)


def _result(
    reply: Any, model: str, prompt: tuple[ChatMessage, ...], latency_ms: float, clean: Any
) -> LLMResult | LLMAttempt:
    choices = getattr(reply, "choices", None) or []
    if not choices:
        return LLMAttempt(model, False, latency_ms, "server", "reply without choices")
    message = choices[0].message
    usage = getattr(reply, "usage", None)
    refusal = getattr(message, "refusal", None)
    calls = tuple(
        ToolCall(
            id=str(call.id),
            name=str(call.function.name),
            arguments=clean(call.function.arguments or ""),
        )
        for call in (getattr(message, "tool_calls", None) or [])
        if getattr(call, "function", None) is not None
    )
    return LLMResult(
        text=clean(message.content or ""),
        model=str(getattr(reply, "model", None) or model),
        finish_reason=str(choices[0].finish_reason or ""),
        refusal=clean(refusal) if refusal else None,
        prompt=prompt,
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        latency_ms=latency_ms,
        attempts=(LLMAttempt(model, True, latency_ms),),
        tool_calls=calls,
    )


def _log_result(result: LLMResult) -> None:
    logger.info(
        "llm: %s answered (%s) in %.0f ms, %d+%d tokens, %d attempt(s): %s",
        result.model,
        result.finish_reason,
        result.latency_ms,
        result.prompt_tokens,
        result.completion_tokens,
        len(result.attempts),
        result.text[:200],
    )


def build_llm_client() -> LLMClient:
    """The configured client from settings, or an unavailable one (`settings.LLM_ENABLED`)."""
    from django.conf import settings

    if not getattr(settings, "LLM_ENABLED", False):
        return UnavailableLLMClient()
    return OpenAICompatibleClient(LLMConfig.from_settings())

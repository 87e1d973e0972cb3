"""The LLM client against a fake OpenAI-compatible llm_server, with the real `openai` client."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from optionsdesk.llm import (
    ChatMessage,
    LLMClient,
    LLMConfig,
    LLMError,
    OpenAICompatibleClient,
    UnavailableLLMClient,
    build_llm_client,
)
from optionsdesk.redaction import REDACTED
from tests.fake_openai import FakeOpenAI, FakeOpenAIServer, Scripted

API_KEY = "sk-test-0123456789abcdefSECRET"
HELLO = (ChatMessage("user", "hello"),)


def make_client(llm_server: FakeOpenAIServer, **overrides: object) -> OpenAICompatibleClient:
    values: dict[str, object] = {
        "base_url": llm_server.base_url,
        "api_key": API_KEY,
        "model": "primary",
        "fallback_models": ("fallback",),
        "timeout_s": 5.0,
        "retries_per_model": 1,
    }
    return OpenAICompatibleClient(LLMConfig(**(values | overrides)))  # type: ignore[arg-type]


def test_it_returns_the_reply_with_tokens_and_latency(
    llm_server: FakeOpenAIServer, fake: FakeOpenAI
) -> None:
    fake.queue(Scripted(content='{"ok": true}', prompt_tokens=11, completion_tokens=7))
    schema = {"name": "x", "schema": {"type": "object"}, "strict": True}
    result = make_client(llm_server).complete(HELLO, json_schema=schema, max_tokens=50)
    assert result.text == '{"ok": true}'
    assert (result.model, result.finish_reason) == ("primary", "stop")
    assert (result.prompt_tokens, result.completion_tokens, result.total_tokens) == (11, 7, 18)
    assert result.latency_ms > 0
    assert [a.ok for a in result.attempts] == [True]
    sent = fake.received[0]
    assert sent.authorization == f"Bearer {API_KEY}"
    assert sent.body["response_format"] == {"type": "json_schema", "json_schema": schema}
    assert sent.body["max_tokens"] == 50
    assert result.as_record()["total_tokens"] == 18


def test_it_falls_back_to_the_next_model_when_the_first_fails(
    llm_server: FakeOpenAIServer, fake: FakeOpenAI
) -> None:
    fake.queue(Scripted(status=404), Scripted(content="from fallback"))
    result = make_client(llm_server).complete(HELLO)
    assert result.text == "from fallback"
    assert result.model == "fallback"
    assert [r.model for r in fake.received] == ["primary", "fallback"]
    assert [(a.model, a.ok, a.error_kind) for a in result.attempts] == [
        ("primary", False, "request"),
        ("fallback", True, None),
    ]


def test_it_retries_transient_failures_a_bounded_number_of_times(
    llm_server: FakeOpenAIServer, fake: FakeOpenAI
) -> None:
    fake.queue(*[Scripted(status=503)] * 6)
    with pytest.raises(LLMError) as caught:
        make_client(llm_server, retries_per_model=1).complete(HELLO)
    assert caught.value.kind == "server"
    assert [r.model for r in fake.received] == ["primary", "primary", "fallback", "fallback"]
    assert len(caught.value.attempts) == 4
    assert len(fake.script) == 2


def test_a_slow_server_ends_as_a_timeout_error(
    llm_server: FakeOpenAIServer, fake: FakeOpenAI
) -> None:
    fake.queue(Scripted(content="late", delay_s=1.5))
    client = make_client(llm_server, timeout_s=0.3, retries_per_model=0, fallback_models=())
    with pytest.raises(LLMError) as caught:
        client.complete(HELLO)
    assert caught.value.kind == "timeout"
    assert [a.error_kind for a in caught.value.attempts] == ["timeout"]


def test_a_deadline_bounds_the_whole_chain(llm_server: FakeOpenAIServer, fake: FakeOpenAI) -> None:
    # Every model is slow; with a 5 s timeout each, the chain could take 20 s. The deadline cuts
    # the first request short and tries nothing after it.
    fake.queue(*[Scripted(content="late", delay_s=2.0)] * 4)
    client = make_client(llm_server, timeout_s=5.0, retries_per_model=1)
    with pytest.raises(LLMError) as caught:
        client.complete(HELLO, deadline_s=0.4)
    assert caught.value.kind == "timeout"
    assert [a.error_kind for a in caught.value.attempts] == ["timeout"]
    assert "deadline of 0.4 s passed" in str(caught.value)
    assert len(fake.received) == 1


def test_secrets_never_reach_the_server_nor_the_stored_prompt(
    llm_server: FakeOpenAIServer, fake: FakeOpenAI, settings: Any
) -> None:
    deribit_secret = "deribit-secret-XYZ-987"
    settings.APP = settings.APP.model_copy(
        update={"DERIBIT_CLIENT_SECRET": SecretStr(deribit_secret)}
    )
    fake.queue(Scripted(content=f"echo {API_KEY} and {deribit_secret}"))
    leaky = (
        ChatMessage("system", f"key is {API_KEY}"),
        ChatMessage("user", f"client_secret={deribit_secret} and api_key: hunter22"),
    )
    result = make_client(llm_server).complete(leaky)
    stored = str(result.as_record())
    for secret in (API_KEY, deribit_secret, "hunter22"):
        assert secret not in fake.received[0].text
        assert secret not in stored
    assert REDACTED in result.prompt[0].content
    assert result.text == f"echo {REDACTED} and {REDACTED}"


def test_it_is_unavailable_when_not_configured() -> None:
    client = OpenAICompatibleClient(LLMConfig(base_url="", api_key="", model="m"))
    assert not client.available
    with pytest.raises(LLMError) as caught:
        client.complete(HELLO)
    assert caught.value.kind == "unavailable"


def test_settings_without_a_server_give_an_unavailable_client(
    settings: Any,
) -> None:
    settings.LLM_ENABLED = False
    client = build_llm_client()
    assert isinstance(client, UnavailableLLMClient)
    assert isinstance(client, LLMClient)
    assert not client.available


def test_settings_build_the_fallback_chain(settings: Any) -> None:
    settings.APP = settings.APP.model_copy(
        update={
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "OPENAI_API_KEY": SecretStr(API_KEY),
            "OPENAI_MODEL": "main-model",
            "OPENAI_FALLBACK_MODELS": " backup-a, ,backup-b,main-model",
            "OPENAI_TIMEOUT_S": 7.0,
        }
    )
    settings.LLM_ENABLED = True
    client = build_llm_client()
    assert isinstance(client, OpenAICompatibleClient)
    assert client.available
    assert client.config.models == ("main-model", "backup-a", "backup-b")
    assert client.config.timeout_s == 7.0
    assert API_KEY not in repr(client.config)

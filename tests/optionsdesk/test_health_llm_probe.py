"""The /health LLM line probes the server cheaply (GET /models, never a completion)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from pydantic import SecretStr

from optionsdesk.health import _llm
from tests.fake_openai import FakeOpenAIServer
from tests.workers import free_port

API_KEY = "sk-health-0123456789abcdefKEY"


@pytest.fixture
def llm_server() -> Iterator[FakeOpenAIServer]:
    srv = FakeOpenAIServer().start()
    yield srv
    srv.stop()


def configure(settings, base_url: str) -> None:
    cache.clear()
    settings.LLM_ENABLED = True
    settings.APP = settings.APP.model_copy(
        update={"OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": SecretStr(API_KEY)}
    )


def test_a_reachable_llm_server_is_ok_without_any_completion(settings, llm_server):
    configure(settings, llm_server.base_url)
    status, detail = _llm()
    assert status == "ok", detail
    assert "reachable" in detail
    assert llm_server.fake.received == []  # no chat completion was asked for


def test_an_unreachable_llm_server_is_degraded(settings):
    configure(settings, f"http://127.0.0.1:{free_port()}/v1")
    status, detail = _llm()
    assert status == "degraded"
    assert "unreachable" in detail
    assert API_KEY not in detail

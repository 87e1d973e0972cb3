"""The LLM policy over HTTP: fake OpenAI llm_server, real `openai` client, real validation."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from optionsdesk.llm import LLMConfig, OpenAICompatibleClient, UnavailableLLMClient
from tests.builders import CALL, CALL_2, ETH_CALL, make_inputs, make_portfolio, make_quote
from tests.builders import short as short_position
from tests.fake_openai import FakeOpenAI, FakeOpenAIServer, Scripted, decision
from trading.domain.candidates import CandidateEvaluation, ScoredCandidate
from trading.domain.params import resolve_effective_params
from trading.domain.proposal import ActionType, DecisionSource
from trading.services.llm_policy import LLM_POLICY_VERSION, LLMDecision, LLMPolicy

API_KEY = "sk-policy-0123456789abcdefKEY"
PARAMS = resolve_effective_params(environment="testnet")
CANDIDATES = [CALL, CALL_2, ETH_CALL]
HALLUCINATED = "BTC-19DEC25-250000-C"


def make_policy(llm_server: FakeOpenAIServer, **overrides: Any) -> LLMPolicy:
    values: dict[str, Any] = {
        "base_url": llm_server.base_url,
        "api_key": API_KEY,
        "model": "primary",
        "fallback_models": ("fallback",),
        "timeout_s": 5.0,
        "retries_per_model": 0,
    }
    return LLMPolicy(OpenAICompatibleClient(LLMConfig(**(values | overrides))))


def decide(llm_server: FakeOpenAIServer, *, portfolio: Any = None, **overrides: Any) -> LLMDecision:
    inputs = make_inputs(
        portfolio=portfolio,
        quotes=[make_quote(), make_quote(CALL_2), make_quote(ETH_CALL)],
    )
    policy = make_policy(llm_server, **overrides)
    return policy.propose(candidates=CANDIDATES, inputs=inputs, params=PARAMS)


def assert_do_nothing(result: LLMDecision, status: str, issue_prefix: str) -> None:
    assert result.proposal.action is ActionType.DO_NOTHING
    assert result.proposal.legs == ()
    assert result.proposal.source is DecisionSource.LLM
    assert result.status == status
    assert result.proposal.reason.startswith(f"llm_{status}: ")
    assert any(issue.startswith(issue_prefix) for issue in result.issues), result.issues


def test_a_valid_decision_validates_into_an_order_priced_from_the_book(
    llm_server: FakeOpenAIServer, fake: FakeOpenAI
) -> None:
    fake.queue(decision("OPEN_COVERED_CALL", symbol=CALL, size=0.1, reasoning="rich IV"))
    result = decide(llm_server)
    assert result.status == "ok"
    proposal = result.proposal
    assert proposal.action is ActionType.OPEN_COVERED_CALL
    assert proposal.source is DecisionSource.LLM
    assert proposal.policy_version == LLM_POLICY_VERSION
    assert proposal.reason == "rich IV"
    assert proposal.open_leg is not None
    assert proposal.open_leg.instrument_name == CALL
    assert proposal.open_leg.amount == Decimal("0.1")
    assert proposal.open_leg.limit_price_coin == Decimal("0.0100")
    assert result.total_tokens == 150
    assert len(fake.received) == 1
    body = fake.received[0].body
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["action"]["enum"] == [a.value for a in ActionType]
    state = body["messages"][1]["content"]
    assert CALL in state
    assert '"mode": "research"' in state
    assert json.dumps(result.as_record(), default=str)


def test_a_roll_of_an_open_short_validates_into_two_legs(
    llm_server: FakeOpenAIServer, fake: FakeOpenAI
) -> None:
    fake.queue(decision("ROLL_COVERED_CALL", from_symbol=CALL_2, to_symbol=CALL, size=None))
    portfolio = make_portfolio(positions=(short_position(CALL_2, "0.1"),))
    result = decide(llm_server, portfolio=portfolio)
    assert result.status == "ok"
    assert result.proposal.action is ActionType.ROLL_COVERED_CALL
    assert [(leg.instrument_name, leg.direction) for leg in result.proposal.legs] == [
        (CALL_2, "buy"),
        (CALL, "sell"),
    ]
    assert CALL_2 in fake.received[0].body["messages"][1]["content"]


BAD_JSON = Scripted(content='{"action": "OPEN_COVERED_CALL", "symbol": "BTC-19DE')
UNKNOWN = decision("BUY_PUT", symbol=CALL)


@pytest.mark.parametrize(
    ("replies", "status", "issue", "requests"),
    [
        pytest.param([BAD_JSON, BAD_JSON], "invalid", "unparseable_output", 2, id="malformed"),
        pytest.param([UNKNOWN, UNKNOWN], "invalid", "unknown_action", 2, id="unknown-action"),
        pytest.param(
            [decision("OPEN_COVERED_CALL", symbol=HALLUCINATED)],
            "invalid",
            "not_a_candidate",
            1,
            id="hallucinated-instrument",
        ),
        pytest.param(
            [decision("OPEN_COVERED_CALL", symbol=CALL, size=-0.5)],
            "invalid",
            "invalid_size",
            1,
            id="negative-size",
        ),
        pytest.param(
            [
                Scripted(
                    content=f'{{"action": "OPEN_COVERED_CALL", "symbol": "{CALL}", "size": 1e999}}'
                )
            ],
            "invalid",
            "invalid_size",
            1,
            id="overflowing-size",
        ),
        pytest.param(
            [
                Scripted(
                    content=f'{{"action": "OPEN_COVERED_CALL", "symbol": "{CALL}", "size": NaN}}'
                )
            ],
            "invalid",
            "invalid_size",
            1,
            id="nan-size",
        ),
        pytest.param(
            [Scripted(refusal="I can't help with trading.")],
            "refused",
            "llm_refused",
            1,
            id="refusal",
        ),
        pytest.param(
            [Scripted(content="", finish_reason="content_filter")],
            "refused",
            "llm_refused",
            1,
            id="content-filter",
        ),
        pytest.param(
            [Scripted(content='{"action": "DO_NOTHING", "reas', finish_reason="length")] * 2,
            "truncated",
            "truncated_output",
            2,
            id="truncated",
        ),
    ],
)
def test_bad_replies_end_as_do_nothing_with_the_reason(
    llm_server: FakeOpenAIServer,
    fake: FakeOpenAI,
    replies: list[Scripted],
    status: str,
    issue: str,
    requests: int,
) -> None:
    fake.queue(*replies)
    result = decide(llm_server, fallback_models=())
    assert_do_nothing(result, status, issue)
    assert len(fake.received) == requests
    assert result.repaired is (requests == 2)
    assert len(result.calls) == requests


def test_a_huge_size_ends_as_do_nothing(llm_server: FakeOpenAIServer, fake: FakeOpenAI) -> None:
    fake.queue(decision("OPEN_COVERED_CALL", symbol=CALL, size=1_000_000))
    result = decide(llm_server)
    assert_do_nothing(result, "invalid", "implausible_size")
    assert len(fake.received) == 1  # a disallowed trade is final: no repair request


def test_a_size_above_the_limits_but_within_the_holdings_is_clamped(
    llm_server: FakeOpenAIServer, fake: FakeOpenAI
) -> None:
    fake.queue(decision("OPEN_COVERED_CALL", symbol=CALL, size=0.9))
    limits = PARAMS.risk.model_copy(update={"max_order_amount": {"BTC": Decimal("0.5")}})
    policy = make_policy(llm_server)
    inputs = make_inputs(quotes=[make_quote(), make_quote(CALL_2), make_quote(ETH_CALL)])
    params = PARAMS.model_copy(update={"risk": limits})
    result = policy.propose(candidates=CANDIDATES, inputs=inputs, params=params)
    assert result.status == "ok"
    assert result.outcome is not None
    assert result.outcome.clamped
    leg = result.proposal.open_leg
    assert leg is not None
    assert leg.amount == Decimal("0.5")
    assert "clamped" in result.proposal.reason


def test_a_size_with_no_room_left_does_nothing(
    llm_server: FakeOpenAIServer, fake: FakeOpenAI
) -> None:
    fake.queue(decision("OPEN_COVERED_CALL", symbol=CALL, size=0.5))
    covered = make_portfolio(positions=(short_position(CALL_2, "1"),))
    result = decide(llm_server, portfolio=covered)
    assert_do_nothing(result, "invalid", "size_below_minimum")


def test_a_timeout_ends_as_do_nothing(llm_server: FakeOpenAIServer, fake: FakeOpenAI) -> None:
    fake.queue(Scripted(content="{}", delay_s=1.5))
    result = decide(llm_server, timeout_s=0.3, fallback_models=())
    assert_do_nothing(result, "timeout", "llm_timeout")
    assert result.calls == ()


def test_the_policy_deadline_bounds_a_slow_chain(
    llm_server: FakeOpenAIServer, fake: FakeOpenAI
) -> None:
    fake.queue(*[Scripted(content="{}", delay_s=1.5)] * 4)
    client = make_policy(llm_server, timeout_s=5.0, retries_per_model=1).client
    policy = LLMPolicy(client, deadline_s=0.3)
    inputs = make_inputs(quotes=[make_quote(), make_quote(CALL_2), make_quote(ETH_CALL)])
    result = policy.propose(candidates=CANDIDATES, inputs=inputs, params=PARAMS)
    assert_do_nothing(result, "timeout", "llm_timeout")
    assert len(fake.received) == 1


def test_one_repair_can_turn_a_malformed_reply_into_a_decision(
    llm_server: FakeOpenAIServer, fake: FakeOpenAI
) -> None:
    fake.queue(BAD_JSON, decision("DO_NOTHING", reasoning="calm market"))
    result = decide(llm_server)
    assert result.status == "ok"
    assert result.repaired
    assert result.proposal.action is ActionType.DO_NOTHING
    assert result.proposal.reason == "calm market"
    repair = fake.received[1].body["messages"]
    assert [m["role"] for m in repair] == ["system", "user", "assistant", "user"]
    assert "unparseable_output" in repair[-1]["content"]


def test_the_fallback_model_decides_when_the_first_fails(
    llm_server: FakeOpenAIServer, fake: FakeOpenAI
) -> None:
    fake.queue(Scripted(status=500), decision("OPEN_COVERED_CALL", symbol=CALL_2))
    result = decide(llm_server)
    assert result.status == "ok"
    assert result.proposal.action is ActionType.OPEN_COVERED_CALL
    assert [r.model for r in fake.received] == ["primary", "fallback"]
    assert result.calls[0].model == "fallback"
    assert [a.ok for a in result.calls[0].attempts] == [False, True]


def test_every_model_failing_ends_as_do_nothing(
    llm_server: FakeOpenAIServer, fake: FakeOpenAI
) -> None:
    fake.queue(Scripted(status=500), Scripted(status=400))
    assert_do_nothing(decide(llm_server), "error", "llm_error")


def test_without_an_llm_the_policy_is_unavailable_and_does_nothing() -> None:
    policy = LLMPolicy(UnavailableLLMClient())
    assert not policy.available
    result = policy.propose(candidates=CANDIDATES, inputs=make_inputs(), params=PARAMS)
    assert_do_nothing(result, "unavailable", "llm_unavailable")


def test_secrets_never_appear_in_stored_prompts_or_replies(
    llm_server: FakeOpenAIServer, fake: FakeOpenAI, settings: Any
) -> None:
    deribit_secret = "deribit-secret-policy-4242"
    settings.APP = settings.APP.model_copy(
        update={"DERIBIT_CLIENT_SECRET": SecretStr(deribit_secret)}
    )
    leak = Scripted(content=f"my key {API_KEY}, client_secret={deribit_secret} {{oops")
    fake.queue(leak, decision("DO_NOTHING", reasoning=f"done {deribit_secret}"))
    result = decide(llm_server)
    stored = json.dumps(result.as_record(), default=str)
    for secret in (API_KEY, deribit_secret):
        assert secret not in stored
        assert all(secret not in r.text for r in fake.received)
    assert fake.received[1].authorization == f"Bearer {API_KEY}"
    assert result.repaired


def test_ranked_candidates_reach_the_prompt_with_their_scores(
    llm_server: FakeOpenAIServer, fake: FakeOpenAI
) -> None:
    ranked = ScoredCandidate(0, CALL, 1.5, 0, 100000.0, 9.0, 0.22, 0.5, 1.3, 920.0)
    candidates = {"BTC": CandidateEvaluation(ranked=(ranked,), rejected=())}
    fake.queue(decision("OPEN_COVERED_CALL", symbol=CALL_2))
    policy = make_policy(llm_server)
    inputs = make_inputs(quotes=[make_quote(), make_quote(CALL_2)])
    result = policy.propose(candidates=candidates, inputs=inputs, params=PARAMS)
    assert_do_nothing(result, "invalid", "not_a_candidate")
    state = json.loads(fake.received[0].body["messages"][1]["content"].split("\n")[1])
    assert state["candidates"][0]["instrument_name"] == CALL
    assert state["candidates"][0]["score"] == 1.5

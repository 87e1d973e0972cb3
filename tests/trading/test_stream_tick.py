"""The agent ticking on streamed state: the same decision as on REST, no request for the state,
and a socket killed mid-tick finishing on REST without a second order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests.trading.agent_helpers import make_agent_client
from trading.domain.policy import PolicyInput, decide_rule_based
from trading.domain.risk import evaluate_risk
from trading.services import effective_params_load
from trading.services.state import TickState, state_build
from trading.services.stream_state import AgentStream

pytestmark = pytest.mark.django_db

pytest.importorskip("websockets")


@pytest.fixture
def agent_stream(sim_server: Any) -> Iterator[AgentStream]:
    """The agent's stream of the test's simulator, complete before the test starts."""
    stream = AgentStream(
        client_factory=lambda: make_agent_client(sim_server.base_url),
        underlyings=("BTC", "ETH"),
        backoff_s=(0.05, 0.2),
    ).start()
    assert stream.wait_ready(timeout_s=60), stream.snapshot(max_age_s=60)[1]
    yield stream
    stream.stop()


def _decision(state: TickState) -> tuple[Any, Any]:
    params = effective_params_load()
    policy_input = PolicyInput(
        risk=state.inputs, evaluations=state.evaluations, contexts=state.contexts
    )
    proposal = decide_rule_based(policy_input, params, np.random.default_rng(5))
    return proposal, evaluate_risk(proposal, state.inputs, params.risk)


def test_the_streamed_state_gives_the_same_decision_as_rest(
    agent_settings: Any, sim_client: Any, agent_stream: AgentStream
) -> None:
    params = effective_params_load()
    snapshot, why = agent_stream.snapshot(max_age_s=60)
    assert snapshot is not None, why
    rest = state_build(client=sim_client, params=params, expire=False)
    before = sim_client.request_count
    streamed = state_build(client=sim_client, params=params, expire=False, stream=snapshot)
    assert sim_client.request_count == before  # the context is cached: no request at all
    assert (rest.source.source, streamed.source.source) == ("rest", "stream")
    assert streamed.now == rest.now
    assert streamed.index_usd == rest.index_usd
    for currency in params.underlyings:
        ranked_rest = [(c.instrument_name, c.score) for c in rest.evaluations[currency].ranked]
        ranked_stream = [
            (c.instrument_name, c.score) for c in streamed.evaluations[currency].ranked
        ]
        assert ranked_rest, currency
        assert ranked_stream == ranked_rest
        assert streamed.evaluations[currency].rejected == rest.evaluations[currency].rejected
    assert streamed.inputs == rest.inputs
    (proposal_rest, verdict_rest), (proposal_stream, verdict_stream) = (
        _decision(rest),
        _decision(streamed),
    )
    assert proposal_rest.action.value == "OPEN_COVERED_CALL"
    assert proposal_stream == proposal_rest
    diff = [(a, b) for a, b in zip(verdict_stream.checks, verdict_rest.checks, strict=True) if a != b]
    assert not diff, "\n".join(f"{a}\n{b}" for a, b in diff)

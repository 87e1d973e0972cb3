"""The agent ticking on streamed state: the same decision as on REST, no request for the state,
and a socket killed mid-tick finishing on REST without a second order."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.urls import reverse

from tests.trading.agent_helpers import make_agent_client
from trading.domain.policy import PolicyInput, decide_rule_based
from trading.domain.risk import evaluate_risk
from trading.models import AgentStatus, Decision, Order
from trading.services import controls_update, effective_params_load, tick_run
from trading.services import tick as tick_module
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
        # The whole chain, every column and row, from tickers as from book summaries.
        pd.testing.assert_frame_equal(streamed.chains[currency], rest.chains[currency])
        ranked_rest = [(c.instrument_name, c.score) for c in rest.evaluations[currency].ranked]
        ranked_stream = [
            (c.instrument_name, c.score) for c in streamed.evaluations[currency].ranked
        ]
        assert ranked_rest, currency
        assert ranked_stream == ranked_rest
        assert streamed.evaluations[currency].ranked == rest.evaluations[currency].ranked
        assert streamed.evaluations[currency].rejected == rest.evaluations[currency].rejected
    assert streamed.inputs == rest.inputs
    (proposal_rest, verdict_rest), (proposal_stream, verdict_stream) = (
        _decision(rest),
        _decision(streamed),
    )
    assert proposal_rest.action.value == "OPEN_COVERED_CALL"
    assert proposal_stream == proposal_rest
    assert verdict_rest.approved
    # To the digit: the account's Decimals are read from the same JSON text either way.
    assert verdict_stream.as_record() == verdict_rest.as_record()


def _until(check: Callable[[], bool], timeout_s: float = 60.0) -> None:
    end = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < end, "condition not reached in time"
        time.sleep(0.05)


def _state_source(decision: Decision | None) -> dict[str, Any]:
    assert decision is not None
    source: dict[str, Any] = json.loads(Decision.objects.get(pk=decision.pk).log_line)[
        "state_source"
    ]
    return source


def test_a_streamed_tick_makes_no_request_for_its_state(
    agent_settings: Any, sim_client: Any, agent_stream: AgentStream, logged_in_client: Any
) -> None:
    first = tick_run(trigger="test", client=sim_client, seed=1, stream=agent_stream)
    assert _state_source(first.decision)["source"] == "stream"
    assert first.requests == 2  # the hourly market context (cached), nothing else
    second = tick_run(trigger="test", client=sim_client, seed=2, stream=agent_stream)
    source = _state_source(second.decision)
    assert source["source"] == "stream", source
    assert 0 <= source["age_s"] < 5
    assert second.requests == 0  # dry run: no order, and no public/get_time either
    assert second.run.summary.startswith("OPEN_COVERED_CALL")
    shown = AgentStatus.load().last_summary["state_source"]
    assert shown["source"] == "stream"
    assert shown["stream_connected"] is True
    # System Health and the status API show where the state came from and the stream's health.
    page = logged_in_client.get(reverse("trading:agent-health") + "?run=0")
    html = page.content.decode()
    assert 'data-testid="state-source-value" class="status-ok">stream<' in html
    assert 'data-testid="stream-connected" class="status-ok">connected' in html
    api = logged_in_client.get("/api/agent/status").json()["last"]["state_source"]
    assert api["source"] == "stream"
    assert api["reconnects"] == 0
    assert api["age_s"] == source["age_s"]


def test_a_socket_killed_mid_tick_finishes_on_rest_and_sends_no_duplicate_order(
    agent_settings: Any,
    sim_client: Any,
    sim_exchange: Any,
    agent_stream: AgentStream,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    controls_update(changes={"dry_run": False}, user="test")
    taken = tick_module._stream_snapshot

    def killed_mid_tick(stream: AgentStream | None, params: Any) -> Any:
        # The tick has started (lock, controls); the socket dies before its state is read.
        assert stream is not None
        sim_exchange.faults.inject("ws_disconnect")
        _until(lambda: not stream.stream.connected.is_set())
        return taken(stream, params)

    monkeypatch.setattr(tick_module, "_stream_snapshot", killed_mid_tick)
    first = tick_run(trigger="test", client=sim_client, seed=1, stream=agent_stream)
    monkeypatch.undo()
    source = _state_source(first.decision)
    assert source == {
        "source": "rest",
        "age_s": None,
        "reason": "stream not connected",
        "open_orders": None,
    }
    (sold,) = first.orders
    assert sold.filled_amount > 0

    # The stream reconnects, subscribes again and reads the account: the fill is in it.
    assert agent_stream.wait_ready(timeout_s=60)
    status = agent_stream.status()
    assert status.connected
    assert status.reconnects >= 1
    assert status.last_resync_at is not None
    held = agent_stream.stream.state.positions[sold.instrument_name]
    assert held["size"] == -float(sold.filled_amount)

    second = tick_run(trigger="test", client=sim_client, seed=2, stream=agent_stream)
    third = tick_run(trigger="test", client=sim_client, seed=3, stream=agent_stream)
    assert _state_source(second.decision)["source"] == "stream"
    assert _state_source(third.decision)["source"] == "stream"
    assert third.decision is not None
    assert third.decision.action == "DO_NOTHING"
    # Exactly one exchange order per label, and no order the agent does not know of.
    ours = list(Order.objects.exclude(exchange_order_id=""))
    assert len(ours) == 2  # one call per underlying
    for order in ours:
        assert len(sim_client.get_order_state_by_label(order.currency, order.label)) == 1
    (account,) = sim_exchange.accounts.values()
    assert len(sim_exchange.books.account_orders(account)) == len(ours)


def test_a_stream_missing_an_underlying_of_the_controls_leaves_the_tick_on_rest(
    agent_settings: Any, sim_server: Any, sim_client: Any
) -> None:
    stream = AgentStream(
        client_factory=lambda: make_agent_client(sim_server.base_url), underlyings=("BTC",)
    ).start()
    try:
        assert stream.wait_ready(timeout_s=60)
        outcome = tick_run(trigger="test", client=sim_client, seed=1, stream=stream)
    finally:
        stream.stop()
    source = _state_source(outcome.decision)
    assert source["source"] == "rest"
    assert source["reason"] == "stream does not follow ETH"

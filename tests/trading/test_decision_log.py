"""Decision log: one canonical JSON line per decision, Decimals as strings, UTC times."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.builders import EXPLORE, NOW, RESEARCH, make_inputs, state_for
from trading.domain.context import market_context
from trading.domain.decision_log import (
    SCHEMA_VERSION,
    DecisionLogRecord,
    build_decision_record,
    decision_log_line,
    format_decimal,
    format_time,
    parse_decision_line,
    to_json_value,
)
from trading.domain.health import GuardState, HealthSeverity
from trading.domain.policy import decide_rule_based
from trading.domain.proposal import Proposal
from trading.domain.risk import evaluate_risk

RECORD_KEYS = {
    "schema_version",
    "decision_id",
    "tick_at",
    "environment",
    "mode",
    "policy_version",
    "params_hash",
    "decision_mode",
    "decision_source",
    "dry_run",
    "action",
    "underlying",
    "explored",
    "explore_rank",
    "reason",
    "proposal",
    "shadow_proposal",
    "verdict",
    "order",
    "portfolio",
    "index_price_usd",
    "context",
    "candidates",
    "chosen_candidate",
    "rejection_counts",
    "health",
    "params",
    "tick_at_clock",
    "recorded_at",
    "state_source",
}


def a_record(**overrides: Any) -> DecisionLogRecord:
    inputs = make_inputs()
    state = state_for(inputs)
    proposal = decide_rule_based(state, RESEARCH, EXPLORE)
    prices = np.linspace(85_000, 92_000, 24 * 40)
    series = pd.Series(
        prices, index=pd.date_range(NOW - timedelta(hours=len(prices) - 1), NOW, freq="h")
    )
    values: dict[str, Any] = {
        "decision_id": "tick-42",
        "tick_at": NOW,
        "params": RESEARCH,
        "proposal": proposal,
        "verdict": evaluate_risk(proposal, inputs, RESEARCH.risk),
        "inputs": inputs,
        "evaluations": state.evaluations,
        "contexts": {"BTC": market_context(series, underlying="BTC")},
        "shadow": Proposal.do_nothing("llm says wait", params=RESEARCH),
        "order": {"label": "od-abc", "status": "simulated", "filled_amount": Decimal("0.10")},
        "health": GuardState(worst_severity=HealthSeverity.TRANSIENT, checked_at=NOW),
    }
    return build_decision_record(**(values | overrides))


def test_a_line_holds_every_key_with_stable_values() -> None:
    line = a_record().to_line()
    assert "\n" not in line
    data = parse_decision_line(line)
    assert set(data) == RECORD_KEYS
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["tick_at"] == "2025-12-10T12:00:00.000000Z"
    assert (data["mode"], data["policy_version"]) == ("research", "rb_v1_explore")
    assert data["action"] == "OPEN_COVERED_CALL"
    assert data["decision_source"] == "rule_based"
    assert data["explored"] is True
    assert data["explore_rank"] == 1
    assert data["dry_run"] is True
    assert data["environment"] == "testnet"
    assert data["params_hash"] == RESEARCH.params_hash


def test_a_line_says_which_clock_its_times_are_on() -> None:
    wall = NOW + timedelta(days=3)  # the simulator's market clock runs ahead of the wall
    data = parse_decision_line(a_record(recorded_at=wall).to_line())
    assert data["tick_at_clock"] == "exchange"
    assert data["tick_at"] == "2025-12-10T12:00:00.000000Z"
    assert data["recorded_at"] == "2025-12-13T12:00:00.000000Z"


def test_decimals_are_plain_strings_and_round_trip() -> None:
    data = parse_decision_line(a_record().to_line())
    sell = data["proposal"]["legs"][0]
    assert sell["amount"] == "0.1"
    assert sell["limit_price_coin"] == "0.01"
    assert Decimal(sell["amount"]) == Decimal("0.1")
    assert data["order"]["filled_amount"] == "0.1"
    assert data["portfolio"]["equity_usd"] == "200000"
    assert data["portfolio"]["holdings_coin"] == {"BTC": "1", "ETH": "10"}
    assert data["params"]["default_order_amount"] == {"BTC": "0.1", "ETH": "1"}


def test_it_logs_the_candidates_the_choice_the_verdict_and_the_context() -> None:
    data = parse_decision_line(a_record().to_line())
    ranked = data["candidates"]["BTC"]
    assert [c["rank"] for c in ranked] == [0, 1]
    assert (
        data["chosen_candidate"]["instrument_name"]
        == data["proposal"]["legs"][0]["instrument_name"]
    )
    assert data["chosen_candidate"]["rank"] == 1
    assert data["verdict"]["code"] == "approved"
    assert {c["name"] for c in data["verdict"]["checks"]} >= {"kill_switch", "covered_by_holdings"}
    assert data["context"]["BTC"]["regime"] in ("bull", "bear", "sideways")
    assert data["shadow_proposal"]["action"] == "DO_NOTHING"
    assert data["health"]["worst_severity"] == "TRANSIENT"
    assert data["index_price_usd"] == {"BTC": 92000.0}
    assert isinstance(data["rejection_counts"]["BTC"], dict)


def test_the_ticks_index_covers_an_underlying_without_candidates() -> None:
    # The quotes only know underlyings with a candidate or a held call; the tick knows both.
    data = parse_decision_line(
        a_record(index_price_usd={"ETH": 3100.0, "BTC": 91_950.0, "SOL": 0.0}).to_line()
    )
    assert data["index_price_usd"] == {"BTC": 91_950.0, "ETH": 3100.0}  # no index: left out


def test_the_same_decision_gives_the_same_bytes_with_sorted_keys() -> None:
    first, second = a_record().to_line(), a_record().to_line()
    assert first == second
    data = json.loads(first)
    assert list(data) == sorted(data)


def test_unknown_parts_are_null_not_missing() -> None:
    record = a_record(
        verdict=None,
        inputs=None,
        evaluations=None,
        contexts=None,
        shadow=None,
        order=None,
        health=None,
    )
    data = parse_decision_line(record.to_line())
    assert set(data) == RECORD_KEYS
    assert data["verdict"] is None
    assert data["portfolio"] is None
    assert data["order"] is None
    assert data["candidates"] == {}
    assert data["chosen_candidate"] is None


def test_times_are_converted_to_utc_and_naive_times_refused() -> None:
    paris = timezone(timedelta(hours=1))
    assert format_time(datetime(2025, 12, 10, 13, 0, tzinfo=paris)) == "2025-12-10T12:00:00.000000Z"
    with pytest.raises(ValueError, match="naive"):
        format_time(datetime(2025, 12, 10, 13, 0))
    with pytest.raises(ValidationError, match="timezone-aware"):
        a_record(tick_at=datetime(2025, 12, 10, 12, 0))
    with pytest.raises(ValueError, match="naive"):
        decision_log_line({"at": datetime(2025, 1, 1)})


def test_odd_values_become_json() -> None:
    converted = to_json_value(
        {
            "nan": float("nan"),
            "inf": float("-inf"),
            "np_float": np.float64(1.5),
            "np_int": np.int64(3),
            "tags": {"b", "a"},
            "severity": HealthSeverity.FATAL,
            "day": NOW.date(),
            "array": np.array([1.0, np.nan]),
            "decimal_nan": Decimal("NaN"),
        }
    )
    assert converted == {
        "nan": None,
        "inf": None,
        "np_float": 1.5,
        "np_int": 3,
        "tags": ["a", "b"],
        "severity": "FATAL",
        "day": "2025-12-10",
        "array": [1.0, None],
        "decimal_nan": None,
    }


def test_it_refuses_values_it_does_not_know() -> None:
    with pytest.raises(TypeError, match="object"):
        to_json_value({"x": object()})


def test_it_refuses_lines_of_another_schema() -> None:
    with pytest.raises(ValueError, match=SCHEMA_VERSION):
        parse_decision_line('{"schema_version": "other"}')


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0.0005"), "0.0005"),
        (Decimal("0.10"), "0.1"),
        (Decimal("1E+2"), "100"),
        (Decimal("-2.50"), "-2.5"),
        (Decimal("-0"), "0"),
        (Decimal("1E-8"), "0.00000001"),
    ],
)
def test_decimal_formatting(value: Decimal, text: str) -> None:
    assert format_decimal(value) == text


@settings(max_examples=200, deadline=None)
@given(st.decimals(allow_nan=False, allow_infinity=False, places=None))
def test_every_finite_decimal_round_trips_exactly(value: Decimal) -> None:
    text = format_decimal(value)
    assert "E" not in text.upper()
    assert Decimal(text) == value

"""Training tuples and their exports."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from backtests.domain.training import (
    candidate_examples,
    chat_examples,
    decision_examples,
    export_chat_jsonl,
    export_frame,
)
from backtests.domain.types import BacktestConfig
from tests.backtests.helpers import ANY_CALL, two_call_sim


@pytest.fixture
def run():
    sim = two_call_sim()
    result = sim.simulate_policy(BacktestConfig(strategy=ANY_CALL), record_decisions=True)
    return sim, result


def test_it_emits_one_decision_row_per_flat_decision_time(run) -> None:
    sim, result = run
    frame = decision_examples(sim, result)

    opened = frame[frame["action"] == "OPEN"]
    assert len(opened) == 1
    assert opened.iloc[0]["instrument_name"] == "BTC-2JAN25-100000-C"
    assert opened.iloc[0]["reward_usd"] == pytest.approx(result.trades[0].pnl_usd)
    assert opened.iloc[0]["n_candidates"] == 2
    # After expiry (hour 32) nothing is listed: the policy can only do nothing.
    assert set(frame["action"]) == {"OPEN", "DO_NOTHING"}
    assert (frame.loc[frame["action"] == "DO_NOTHING", "reward_usd"] == 0).all()
    assert {"spot_usd", "rv", "atm_iv", "ivrv_atm", "return_24h", "policy_version"} <= set(
        frame.columns
    )


def test_it_ranks_every_candidate_with_its_own_reward(run) -> None:
    sim, result = run
    frame = candidate_examples(sim, result)

    assert list(frame["rank"]) == [0, 1]
    assert list(frame["chosen"]) == [True, False]
    chosen = frame[frame["chosen"]].iloc[0]
    assert chosen["reward_usd"] == pytest.approx(result.trades[0].pnl_usd)
    assert sorted(frame["reward_rank"]) == [0, 1]


def test_it_exports_csv_jsonl_and_parquet_that_read_back(run, tmp_path: Path) -> None:
    sim, result = run
    frame = candidate_examples(sim, result)

    csv = pd.read_csv(export_frame(frame, tmp_path / "c.csv", "csv"))
    parquet = pd.read_parquet(export_frame(frame, tmp_path / "c.parquet", "parquet"))
    lines = (export_frame(frame, tmp_path / "c.jsonl", "jsonl")).read_text().splitlines()

    assert len(csv) == len(parquet) == len(lines) == len(frame)
    assert json.loads(lines[0])["instrument_name"] == frame.iloc[0]["instrument_name"]
    assert list(parquet.columns) == list(frame.columns)
    with pytest.raises(ValueError, match="unknown export format"):
        export_frame(frame, tmp_path / "c.xls", "xls")  # type: ignore[arg-type]


def test_it_builds_a_chat_fine_tuning_corpus(run, tmp_path: Path) -> None:
    sim, result = run
    records = chat_examples(candidate_examples(sim, result))
    path = export_chat_jsonl(records, tmp_path / "chat.jsonl")

    assert len(records) == 1
    roles = [m["role"] for m in records[0]["messages"]]
    assert roles == ["system", "user", "assistant"]
    answer = json.loads(records[0]["messages"][2]["content"])
    assert answer["action"] in {"OPEN", "DO_NOTHING"}
    assert json.loads(path.read_text().splitlines()[0]) == records[0]

"""Fine-tuning corpus (issue 15): candidate rankings as chat JSONL, the assistant naming the
candidate the ranking picked, a deterministic train/validation split and a schema check that
fails on a corrupted line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from backtests.domain.corpus import (
    corpus_file_check,
    corpus_line_errors,
    corpus_records,
    corpus_split,
    corpus_write,
)


def _line(answer: str) -> str:
    messages = [
        {"role": "system", "content": "rules"},
        {"role": "user", "content": "Candidates:\nBTC-X-C: delta 0.30"},
        {"role": "assistant", "content": answer},
    ]
    return json.dumps({"messages": messages})


def _ranking(decisions: int = 30, per_decision: int = 8, chosen_rank: int = 2) -> pd.DataFrame:
    rows = []
    for d in range(decisions):
        for rank in range(per_decision):
            rows.append(
                {
                    "profile": "research" if d % 2 else "production",
                    "decision_id": d,
                    "time": pd.Timestamp("2025-01-01", tz="UTC") + pd.Timedelta(hours=d),
                    "instrument_name": f"BTC-{d + 1}JAN25-{90000 + 1000 * rank}-C",
                    "delta": 0.4 - 0.03 * rank,
                    "dte_days": 3.0 + d % 5,
                    "iv": 0.5,
                    "rv": 0.4,
                    "spot_usd": 90000.0,
                    "premium_usd": 500.0 - 20 * rank,
                    "score": 1.0 - 0.1 * rank,
                    "rank": rank,
                    "chosen": rank == (chosen_rank if d % 3 else 6),
                    "reward_usd": float(rank),
                }
            )
    return pd.DataFrame(rows)


def test_the_assistant_names_the_candidate_the_ranking_picked() -> None:
    ranking = _ranking()

    records = corpus_records(ranking, top_n=5)

    assert len(records) == 30
    for record in records:
        roles = [m["role"] for m in record["messages"]]
        assert roles == ["system", "user", "assistant"]
        answer = json.loads(record["messages"][2]["content"])
        user = record["messages"][1]["content"]
        assert answer["action"] == "OPEN"
        assert f"{answer['instrument_name']}:" in user
        assert corpus_line_errors(json.dumps(record)) == []
    picked = {json.loads(r["messages"][2]["content"])["instrument_name"] for r in records}
    assert picked == set(ranking.loc[ranking["chosen"], "instrument_name"])
    # A pick ranked below the top 5 (rank 6) is still shown to the model.
    assert any("-96000-C:" in r["messages"][1]["content"] for r in records)


def test_the_split_is_deterministic_and_ignores_row_order() -> None:
    ranking = _ranking(decisions=200)
    shuffled = ranking.sample(frac=1.0, random_state=3)

    train, validation = corpus_split(corpus_records(ranking), validation_frac=0.2)
    train2, validation2 = corpus_split(corpus_records(shuffled), validation_frac=0.2)

    def users(records: list[dict]) -> set[str]:
        return {r["messages"][1]["content"] for r in records}

    assert users(train) == users(train2)
    assert users(validation) == users(validation2)
    assert not users(train) & users(validation)
    assert len(train) + len(validation) == 200
    assert 20 <= len(validation) <= 60


def test_a_corrupted_line_fails_the_schema_check(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    corpus_write(corpus_records(_ranking(decisions=5)), path)
    assert corpus_file_check(path).ok
    lines = path.read_text().splitlines()
    record = json.loads(lines[2])
    record["messages"][2]["content"] = json.dumps(
        {"action": "OPEN", "instrument_name": "BTC-1JAN30-1-C"}
    )
    lines[2] = json.dumps(record)
    lines[4] = lines[4][:-7]
    path.write_text("\n".join(lines) + "\n")

    check = corpus_file_check(path)

    assert not check.ok
    assert [line for line, _ in check.errors] == [3, 5]
    assert "not among the user's candidates" in check.errors[0][1]
    assert check.errors[1][1].startswith("not JSON")
    with pytest.raises(CommandError, match="2 error"):
        call_command("build_corpus", "--check", str(path))


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ('{"messages": []}', "messages must be a list"),
        ('{"messages": [], "extra": 1}', 'exactly one key, "messages"'),
        (
            '{"messages": [{"role": "user", "content": "x"}, {"role": "user", "content": "y"},'
            ' {"role": "assistant", "content": "{}"}]}',
            "expected a system message",
        ),
        ('{"messages": ["a", "b", "c"]}', "must have exactly role and content"),
        (
            '{"messages": [{"role": "system", "content": " "}, {"role": "user", "content": "y"},'
            ' {"role": "assistant", "content": "{}"}]}',
            "content must be a non-empty string",
        ),
        (_line("not json"), "assistant content is not JSON"),
        (_line('{"action": "DO_NOTHING"}'), 'must be {"action": "OPEN"'),
        (_line('{"action": "OPEN"}'), "has no instrument_name"),
        (_line('{"action": "OPEN", "instrument_name": "BTC-X-C"}'), None),
    ],
)
def test_the_schema_names_what_is_wrong(line: str, error: str | None) -> None:
    errors = corpus_line_errors(line)
    if error is None:
        assert errors == []
    else:
        assert any(error in e for e in errors), errors


def test_a_ranking_needs_its_columns_and_decisions_without_a_pick_are_skipped() -> None:
    ranking = _ranking(decisions=4)
    ranking.loc[ranking["decision_id"] == 1, "chosen"] = False

    assert len(corpus_records(ranking)) == 3
    with pytest.raises(ValueError, match="missing columns"):
        corpus_records(ranking.drop(columns=["chosen"]))
    with pytest.raises(ValueError, match="validation_frac"):
        corpus_split([], validation_frac=1.0)


def test_the_build_corpus_command_reads_an_exported_ranking(tmp_path: Path) -> None:
    source = tmp_path / "candidates.csv"
    _ranking(decisions=40).to_csv(source, index=False)

    call_command("build_corpus", str(source), "--out", str(tmp_path / "out"))

    train = corpus_file_check(tmp_path / "out" / "corpus_train.jsonl")
    validation = corpus_file_check(tmp_path / "out" / "corpus_validation.jsonl")
    assert train.ok
    assert train.lines + validation.lines == 40
    call_command("build_corpus", "--check", str(tmp_path / "out" / "corpus_train.jsonl"))

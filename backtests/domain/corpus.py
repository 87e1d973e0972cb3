"""Fine-tuning corpus: candidate rankings as chat JSONL, a deterministic split, a schema check.

Each decision of a candidate ranking (`backtests.domain.training.candidate_examples`, optionally
with a `profile` column from training mode) becomes one chat record: a system message with the
rules of the answer, a user message with the market state and the ranked candidates, and the
assistant's answer naming the candidate the ranking picked (`chosen`). The train/validation
split hashes each record's user message, so it does not depend on row order or on a random
seed: the same decision always lands in the same file. `corpus_line_errors` is the schema
every line must satisfy (the check a fine-tuning upload would otherwise fail on later).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

CORPUS_SYSTEM_PROMPT = (
    "You select one covered call to sell on Deribit from the ranked candidates given. "
    'Answer with JSON only: {"action": "OPEN", "instrument_name": "<one of the candidates>"}.'
)
ROLES = ("system", "user", "assistant")
CANDIDATE_COLUMNS = ("decision_id", "time", "instrument_name", "rank", "chosen")


def _candidate_line(row: Any) -> str:
    return (
        f"{row.instrument_name}: delta {row.delta:.2f}, {row.dte_days:.1f} DTE, IV {row.iv:.0%}, "
        f"premium ${row.premium_usd:,.0f}, score {row.score:.3f}"
    )


def _user_message(group: pd.DataFrame, shown: pd.DataFrame) -> str:
    first = group.iloc[0]
    header = f"{pd.Timestamp(first['time']):%Y-%m-%d %H:%M} UTC"
    if "profile" in group.columns:
        header += f", profile {first['profile']}"
    return (
        f"{header}, spot ${first['spot_usd']:,.0f}, RV {first['rv']:.0%}. Candidates:\n"
        + "\n".join(_candidate_line(r) for r in shown.itertuples())
    )


def corpus_records(candidates: pd.DataFrame, *, top_n: int = 5) -> list[dict[str, Any]]:
    """One chat record per decision: its top `top_n` candidates (and the chosen one) in, the
    chosen candidate out. Decisions without a chosen candidate are skipped."""
    missing = [c for c in CANDIDATE_COLUMNS if c not in candidates.columns]
    if missing:
        raise ValueError(f"not a candidate ranking: missing columns {missing}")
    keys = ["profile", "decision_id"] if "profile" in candidates.columns else ["decision_id"]
    records: list[dict[str, Any]] = []
    for _, group in candidates.groupby(keys, sort=True):
        chosen = group[group["chosen"].astype(bool)]
        if chosen.empty:
            continue
        pick = chosen.iloc[0]
        shown = group[(group["rank"] < top_n) | group["chosen"].astype(bool)].sort_values("rank")
        answer = {"action": "OPEN", "instrument_name": str(pick["instrument_name"])}
        records.append(
            {
                "messages": [
                    {"role": "system", "content": CORPUS_SYSTEM_PROMPT},
                    {"role": "user", "content": _user_message(group, shown)},
                    {"role": "assistant", "content": json.dumps(answer)},
                ]
            }
        )
    return records


def split_bucket(record: dict[str, Any]) -> float:
    """A stable number in [0, 1) from the record's user message (sha256)."""
    user = next(m["content"] for m in record["messages"] if m["role"] == "user")
    digest = hashlib.sha256(user.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def corpus_split(
    records: Iterable[dict[str, Any]], *, validation_frac: float = 0.1
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train, validation): a record goes to validation when its bucket < `validation_frac`."""
    if not 0.0 <= validation_frac < 1.0:
        raise ValueError("validation_frac must be in [0, 1)")
    train: list[dict[str, Any]] = []
    validation: list[dict[str, Any]] = []
    for record in records:
        (validation if split_bucket(record) < validation_frac else train).append(record)
    return train, validation


def _answer_errors(content: str, user: str) -> list[str]:
    try:
        answer = json.loads(content)
    except json.JSONDecodeError:
        return ["assistant content is not JSON"]
    if not isinstance(answer, dict) or answer.get("action") != "OPEN":
        return ['assistant answer must be {"action": "OPEN", ...}']
    name = answer.get("instrument_name")
    if not isinstance(name, str) or not name:
        return ["assistant answer has no instrument_name"]
    if f"{name}:" not in user:
        return [f"assistant picked {name}, which is not among the user's candidates"]
    return []


def corpus_line_errors(line: str) -> list[str]:
    """What is wrong with one JSONL line of the corpus (empty when it validates)."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return [f"not JSON: {exc.msg}"]
    if not isinstance(record, dict) or set(record) != {"messages"}:
        return ['a record is an object with exactly one key, "messages"']
    messages = record["messages"]
    if not isinstance(messages, list) or len(messages) != len(ROLES):
        return ["messages must be a list of system, user and assistant messages"]
    errors = []
    for expected, message in zip(ROLES, messages, strict=True):
        if not isinstance(message, dict) or set(message) != {"role", "content"}:
            errors.append(f"{expected} message must have exactly role and content")
            continue
        if message["role"] != expected:
            errors.append(f"expected a {expected} message, got {message['role']!r}")
        if not isinstance(message["content"], str) or not message["content"].strip():
            errors.append(f"{expected} message content must be a non-empty string")
    if errors:
        return errors
    return _answer_errors(messages[2]["content"], messages[1]["content"])


@dataclass(frozen=True, slots=True)
class CorpusCheck:
    """A corpus file's schema check: lines read and (line number, error) per failure."""

    path: str
    lines: int
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every line validates (and there is at least one)."""
        return self.lines > 0 and not self.errors


def corpus_file_check(path: Path) -> CorpusCheck:
    """Check every line of a corpus file against `corpus_line_errors`."""
    errors: list[tuple[int, str]] = []
    lines = 0
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            lines += 1
            errors.extend((number, e) for e in corpus_line_errors(line))
    return CorpusCheck(path=str(path), lines=lines, errors=errors)


def corpus_write(records: Iterable[dict[str, Any]], path: Path) -> int:
    """Write records as JSONL (owner-only file); returns how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    path.chmod(0o600)
    return count

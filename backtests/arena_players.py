"""The arena's outside players: the LLM policy and Greg, on the same replayed decision times.

* LLM: with a configured model (`optionsdesk.llm.build_llm_client`) it is asked at each replayed
  decision time the arena reaches flat, with the live policy's system prompt and answer schema
  (`trading.services.llm_policy`), about the baseline's ranked candidates; an answer that is not
  an OPEN of one of them is no trade. Without a model, the LLM's recorded decisions
  (`trading.models.Decision.llm_record`) are replayed where they exist
  (`backtests.domain.replay`). The arena's result says which.
* Greg: `backtests.domain.greg_replay` with the thresholds in force
  (`greg.selectors.thresholds_current`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from backtests.domain.arena import ArenaEntry, default_entries
from backtests.domain.greg_replay import GregReplay, greg_candidate_strategy
from backtests.domain.panel import ChainPanel, IntArray
from backtests.domain.replay import RecordedDecision, RecordedReplay
from backtests.domain.simulator import CoveredCallSimulator
from optionsdesk.llm import LLMClient, LLMError
from trading.domain.proposal_types import ActionType

LLM_LIVE_NAME = "LLM (model asked)"
LLM_REPLAY_NAME = "LLM (recorded decisions)"
GREG_NAME = "Greg (covered-call outcomes)"
#: At most this many model calls per arena (each is a network round trip).
LLM_MAX_CALLS = 300


@dataclass(slots=True)
class LLMArenaChooser:
    """Asks the model which of the ranked calls to sell (or none) at a replayed time."""

    client: LLMClient
    panel: ChainPanel
    max_calls: int = LLM_MAX_CALLS
    max_candidates: int = 10
    calls: int = 0
    sales: int = 0
    failures: int = 0
    skipped: int = 0
    answers: dict[str, int] = field(default_factory=dict)

    def state(self, time_index: int, ranked: IntArray) -> dict[str, Any]:
        """What the model sees: time, spot, RV and the top candidates (best first)."""
        panel = self.panel
        rows = ranked[: self.max_candidates]
        names = panel.instrument_name[panel.row_instrument[rows]]
        when = datetime.fromtimestamp(float(panel.times[time_index]), tz=UTC)
        return {
            "now_utc": when.isoformat(),
            "mode": "arena_replay",
            "underlyings": [panel.underlying],
            "spot_usd": round(float(panel.spot_usd[time_index]), 2),
            "realised_vol": round(float(panel.rv[time_index]), 4),
            "open_short_calls": [],
            "candidates": [
                {
                    "rank": k,
                    "instrument_name": str(name),
                    "strike": float(panel.strike[panel.row_instrument[row]]),
                    "dte_days": round(float(panel.dte_days[row]), 2),
                    "delta": round(float(panel.delta[row]), 3),
                    "iv": round(float(panel.iv[row]), 4),
                    "best_bid_coin": float(panel.bid_coin[row]),
                    "mark_coin": float(panel.mark_coin[row]),
                }
                for k, (row, name) in enumerate(zip(rows.tolist(), names.tolist(), strict=True))
            ],
        }

    def __call__(self, time_index: int, ranked: IntArray) -> int | None:
        """The model's pick as a rank among the shown candidates, or None."""
        from trading.services.llm_policy import DECISION_SCHEMA, build_messages

        if self.calls >= self.max_calls:
            self.skipped += 1
            return None
        state = self.state(time_index, ranked)
        self.calls += 1
        try:
            result = self.client.complete(
                build_messages(state), json_schema=DECISION_SCHEMA, max_tokens=300
            )
        except LLMError:
            self.failures += 1
            return None
        return self._rank(result.text, state)

    def _rank(self, text: str, state: dict[str, Any]) -> int | None:
        try:
            answer = json.loads(text)
        except json.JSONDecodeError:
            self.failures += 1
            return None
        action = str(answer.get("action", "")) if isinstance(answer, dict) else ""
        self.answers[action or "invalid"] = self.answers.get(action or "invalid", 0) + 1
        if action != ActionType.OPEN_COVERED_CALL.value:
            return None
        for candidate in state["candidates"]:
            if candidate["instrument_name"] == answer.get("symbol"):
                self.sales += 1
                return int(candidate["rank"])
        return None

    def note(self) -> str:
        """How the model decided over the replay."""
        answers = ", ".join(f"{k} {v}" for k, v in sorted(self.answers.items()))
        capped = f"; {self.skipped} later time(s) not asked (cap)" if self.skipped else ""
        return (
            f"LLM configured: asked at {self.calls} replayed decision time(s) ({answers or '-'}), "
            f"{self.sales} call sale(s), {self.failures} failure(s) as no trade{capped}"
        )


def llm_recorded_decisions(*, underlying: str, start: float, end: float) -> list[RecordedDecision]:
    """The LLM's recorded proposals (any decision mode that asked it) over a period."""
    from trading.models import Decision

    rows = Decision.objects.filter(
        llm_record__isnull=False,
        underlying=underlying,
        market_time__gte=datetime.fromtimestamp(start, tz=UTC),
        market_time__lte=datetime.fromtimestamp(end, tz=UTC),
    ).values_list("market_time", "llm_record")
    records = []
    for market_time, llm_record in rows:
        proposal = (llm_record or {}).get("proposal") or {}
        sold = next(
            (
                leg.get("instrument_name")
                for leg in proposal.get("legs", [])
                if leg.get("direction") == "sell"
            ),
            None,
        )
        records.append(
            RecordedDecision(market_time.timestamp(), str(proposal.get("action", "")), sold)
        )
    return records


def llm_entry(
    simulator: CoveredCallSimulator, base: ArenaEntry, *, client: LLMClient | None = None
) -> ArenaEntry | str:
    """The LLM's arena entry (model asked, or records replayed), or why there is none."""
    from optionsdesk.llm import build_llm_client

    client = client or build_llm_client()
    panel = simulator.panel
    if client.available:
        chooser = LLMArenaChooser(client, panel)
        return ArenaEntry(LLM_LIVE_NAME, base.config, chooser=chooser)
    times = panel.times
    records = llm_recorded_decisions(
        underlying=panel.underlying, start=float(np.min(times)), end=float(np.max(times))
    )
    if not records:
        return "LLM not configured and no recorded LLM decisions in this period: left out"
    replay = RecordedReplay(
        panel, records, tolerance_hours=base.config.decision_interval_hours, who="LLM"
    )
    return ArenaEntry(LLM_REPLAY_NAME, base.config, chooser=replay)


def greg_entry(simulator: CoveredCallSimulator, base: ArenaEntry) -> ArenaEntry:
    """Greg's arena entry: its waterfall with the thresholds in force."""
    from greg.selectors import thresholds_current

    _, thresholds = thresholds_current()
    config = base.config.model_copy(update={"strategy": greg_candidate_strategy()})
    return ArenaEntry(GREG_NAME, config, chooser=GregReplay(simulator.panel, thresholds=thresholds))


def arena_entries(
    simulator: CoveredCallSimulator,
    *,
    llm: bool = True,
    greg: bool = True,
    client: LLMClient | None = None,
) -> tuple[list[ArenaEntry], list[str]]:
    """The rule-based entries, then the LLM and Greg; plus notes on players left out."""
    entries = default_entries(simulator.panel.underlying)
    notes: list[str] = []
    if llm:
        entry = llm_entry(simulator, entries[0], client=client)
        if isinstance(entry, str):
            notes.append(entry)
        else:
            entries.append(entry)
    if greg:
        entries.append(greg_entry(simulator, entries[0]))
    return entries, notes

"""Recorded decisions replayed in the arena (the LLM's, when no model is configured).

A recorded decision is (market time, action, instrument sold or None). It is placed on the first
panel time at or after its market time, when that is within `tolerance_hours`; at a replayed
decision time with a recorded OPEN whose call is among the eligible calls, that call is sold;
everything else (no record there, DO_NOTHING, a call the panel does not offer) is no trade.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from backtests.domain.panel import ChainPanel, IntArray

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class RecordedDecision:
    """One decision as recorded live: when, what, and the call sold (None unless OPEN)."""

    market_time_s: float
    action: str
    instrument_name: str | None = None


class RecordedReplay:
    """A simulator `Chooser` that does what the record says at each replayed decision time."""

    def __init__(
        self,
        panel: ChainPanel,
        records: Iterable[RecordedDecision],
        *,
        tolerance_hours: float = 1.0,
        who: str = "LLM",
    ) -> None:
        self.panel = panel
        self.who = who
        self.recorded = 0
        self.by_time: dict[int, RecordedDecision] = {}
        for record in sorted(records, key=lambda r: r.market_time_s):
            self.recorded += 1
            index = panel.time_index_at_or_after(record.market_time_s)
            if index >= len(panel.times):
                continue
            if float(panel.times[index]) - record.market_time_s <= tolerance_hours * 3600.0:
                self.by_time[index] = record  # the latest record of that hour wins
        self.asked = 0
        self.matched = 0
        self.sales = 0

    def __call__(self, time_index: int, ranked: IntArray) -> int | None:
        """The recorded call's rank among the eligible calls, or None."""
        self.asked += 1
        record = self.by_time.get(time_index)
        if record is None:
            return None
        self.matched += 1
        if record.action != "OPEN_COVERED_CALL" or not record.instrument_name:
            return None
        names = self.panel.instrument_name[self.panel.row_instrument[ranked]]
        hits = [k for k, name in enumerate(names.tolist()) if name == record.instrument_name]
        if not hits:
            return None
        self.sales += 1
        return hits[0]

    def note(self) -> str:
        """Which decisions drove this row."""
        return (
            f"{self.who} not configured: {self.recorded} recorded {self.who} decision(s) "
            f"replayed, {self.matched} at replayed decision times, {self.sales} call sale(s); "
            "no trade where nothing was recorded"
        )

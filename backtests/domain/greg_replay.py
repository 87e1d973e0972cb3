"""Greg in the arena: the greg app's sensors and waterfall replayed on a backtest panel.

At a decision time Greg's eleven sensors are computed from what the panel knew then (the chain
of that hour, hourly closes and complete daily bars before it, the ATM-IV history up to it; no
funding history, so that sensor is missing) with `greg.domain.sensors.sensors_compute`, and the
waterfall decides with `greg.domain.waterfall.entry_decide`. Only the covered-call-compatible
part of an outcome can be traded by a coin holder: an outcome whose structure sells a call
(straddle, strangle, calendar front leg, iron butterfly, bear call spread) becomes the sale of
that call (its target: ATM, or the leg's delta; in the structure's DTE window), among the calls
with a sellable bid; every other outcome (NO_TRADE, short put, bull put spread) is no trade.
Greg's live beat evaluates every 5 minutes; the replay re-evaluates at most every
`reevaluate_hours` of market time (the latest outcome holds in between) to stay affordable.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from backtests.domain.panel import ChainPanel, IntArray, snapshot_frame
from backtests.domain.training import atm_iv_by_time
from greg.domain.sensors import MarketInputs, sensors_compute
from greg.domain.spec import EntryThresholds, GregSpec, LegSpec, load_spec
from greg.domain.waterfall import entry_decide
from trading.domain.candidates import StrategyParams

SECONDS_PER_HOUR = 3600.0
ATM_DELTA = 0.5


def greg_candidate_strategy() -> StrategyParams:
    """Every call with a sellable bid within the live liquidity guards: Greg picks its own."""
    return StrategyParams.research(
        delta_min=0.01,
        delta_max=0.99,
        dte_min_days=0.0,
        dte_max_days=120.0,
        ivrv_min=0.0,
        premium_min_usd=0.0,
        explore_prob=0.0,
        policy_version="greg_replay",
    )


def call_leg(outcome: str, spec: GregSpec) -> tuple[LegSpec, float, float] | None:
    """The call sold by an outcome's structure with its DTE window, or None (no call sale)."""
    structure = spec.strategies.get(outcome)
    if structure is None:
        return None
    for leg in structure.legs:
        if leg.side == "sell" and leg.kind == "C":
            return leg, structure.dte_min, structure.dte_max
    return None


class GregReplay:
    """A `Chooser` for the simulator that sells the call Greg's outcome implies (or nothing)."""

    def __init__(
        self,
        panel: ChainPanel,
        *,
        thresholds: EntryThresholds | None = None,
        reevaluate_hours: float = 12.0,
        spec: GregSpec | None = None,
    ) -> None:
        self.panel = panel
        self.spec = spec or load_spec()
        self.thresholds = thresholds
        self.reevaluate_s = max(reevaluate_hours, 1e-9) * SECONDS_PER_HOUR
        index = pd.to_datetime(panel.times, unit="s", utc=True)
        self._hourly = pd.Series(panel.spot_usd, index=index)
        daily = self._hourly.resample("1D").agg(["max", "min", "last"]).dropna()
        self._daily = daily.rename(columns={"max": "high", "min": "low", "last": "close"})
        self._iv = pd.Series(atm_iv_by_time(panel) * 100.0, index=index).dropna()
        self._decided: dict[int, str] = {}
        self.outcomes: Counter[str] = Counter()
        self.sales = 0

    def inputs_at(self, time_index: int) -> MarketInputs:
        """What Greg's sensors read at a panel time (nothing from after it)."""
        as_of = datetime.fromtimestamp(float(self.panel.times[time_index]), tz=UTC)
        stamp = pd.Timestamp(as_of)
        complete_days = self._daily[self._daily.index + pd.Timedelta(days=1) <= stamp]
        return MarketInputs(
            underlying=self.panel.underlying,
            as_of=as_of,
            chain=snapshot_frame(self.panel, time_index),
            chain_time=as_of,
            hourly_close=self._hourly.iloc[: time_index + 1],
            daily=complete_days.iloc[-260:],
            iv_history=self._iv[self._iv.index <= stamp],
            iv_history_source="atm_iv (panel)",
            index_price=float(self.panel.spot_usd[time_index]),
        )

    def outcome_at(self, time_index: int) -> str:
        """Greg's waterfall outcome at a time (re-evaluated once per `reevaluate_hours`)."""
        bucket = math.floor(float(self.panel.times[time_index]) / self.reevaluate_s)
        outcome = self._decided.get(bucket)
        if outcome is None:
            sensors = sensors_compute(self.inputs_at(time_index))
            decision = entry_decide(sensors.values(), thresholds=self.thresholds, spec=self.spec)
            outcome = self._decided[bucket] = decision.strategy
        return outcome

    def pick(self, ranked: IntArray, leg: LegSpec, dte_min: float, dte_max: float) -> int | None:
        """Rank (in `ranked`) of the call nearest the leg's target within the DTE window."""
        panel = self.panel
        dte = panel.dte_days[ranked]
        inside = np.flatnonzero((dte >= dte_min) & (dte <= dte_max))
        if len(inside) == 0:
            return None
        target = ATM_DELTA if leg.target == "atm" else float(leg.delta or ATM_DELTA)
        gaps = np.abs(panel.delta[ranked[inside]] - target)
        return int(inside[int(np.argmin(gaps))])

    def __call__(self, time_index: int, ranked: IntArray) -> int | None:
        """The simulator's question: which rank to sell now, or None."""
        outcome = self.outcome_at(time_index)
        self.outcomes[outcome] += 1
        mapped = call_leg(outcome, self.spec)
        if mapped is None:
            return None
        rank = self.pick(ranked, *mapped)
        if rank is not None:
            self.sales += 1
        return rank

    def note(self) -> str:
        """How Greg's outcomes mapped onto covered calls over the replay."""
        seen = ", ".join(f"{k} {v}" for k, v in self.outcomes.most_common())
        return (
            f"Greg waterfall at the replayed decision times (re-evaluated every "
            f"{self.reevaluate_s / SECONDS_PER_HOUR:g} h): {seen or 'never asked'}; "
            f"{self.sales} call sale(s) from outcomes that sell a call, others no trade"
        )

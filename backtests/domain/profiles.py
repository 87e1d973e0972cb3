"""Training mode: several named policies (profiles) over the same replayed decision times.

Each profile is typed configuration: a selector (`StrategyParams`, exploration included) and an
optional per-expiry limit (at most N sales of calls of one expiry over the run, so collected
rows spread over the curve instead of piling on one favourite expiry). Every profile runs on the
same panel with the same decision interval and exits; its (state, action, reward) rows and its
candidate rankings come from the existing exporters (`backtests.domain.training`) with a
`profile` column in front, so one file holds every profile and a learner can group by it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from backtests.domain.panel import IntArray
from backtests.domain.simulator import Chooser, CoveredCallSimulator
from backtests.domain.training import candidate_examples, decision_examples
from backtests.domain.types import BacktestConfig
from trading.domain.candidates import StrategyParams, explore_pick

ProfileProgress = Callable[[int, int], None]


class TrainingProfile(BaseModel):
    """One data-collection policy: a name, what it is for, its selector and expiry limit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    description: str = ""
    strategy: StrategyParams
    max_sales_per_expiry: int | None = Field(default=None, ge=1, le=1000)


def _profiles() -> dict[str, TrainingProfile]:
    research = StrategyParams.research()
    return {
        p.name: p
        for p in (
            TrainingProfile(
                name="production",
                description="the live rules (production preset: spread and open-interest guards)",
                strategy=StrategyParams.production(),
            ),
            TrainingProfile(
                name="research",
                description="the research preset (wider bands, 10% exploration)",
                strategy=research,
            ),
            TrainingProfile(
                name="aggressive_exploration",
                description="wide delta and DTE bands, half the sales a runner-up of the top 10",
                strategy=research.model_copy(
                    update={
                        "delta_min": 0.05,
                        "delta_max": 0.5,
                        "explore_prob": 0.5,
                        "explore_top_k": 10,
                    }
                ),
            ),
            TrainingProfile(
                name="per_expiry_limit",
                description="the research preset, at most 2 sales per expiry (spreads the curve)",
                strategy=research.model_copy(update={"explore_prob": 0.0}),
                max_sales_per_expiry=2,
            ),
        )
    }


#: The named profiles the tab, the API and `manage.py training_run` offer.
PROFILES: dict[str, TrainingProfile] = _profiles()


def profiles_resolve(names: Sequence[str]) -> list[TrainingProfile]:
    """The profiles of these names, in order, without duplicates; ValueError on an unknown one."""
    unknown = [n for n in names if n not in PROFILES]
    if unknown:
        raise ValueError(f"unknown training profile(s) {unknown}; known: {list(PROFILES)}")
    if not names:
        raise ValueError("choose at least one training profile")
    return [PROFILES[n] for n in dict.fromkeys(names)]


def expiry_limit_chooser(sim: CoveredCallSimulator, limit: int, config: BacktestConfig) -> Chooser:
    """Sell the rule's pick among calls whose expiry has had fewer than `limit` sales.

    Exploration stays the profile's: the rule's rank is drawn over the allowed calls only.
    """
    sold: Counter[float] = Counter()
    rng = np.random.default_rng(config.seed + 7919)
    panel = sim.panel

    def choose(time_index: int, ranked: IntArray) -> int | None:
        expiries = panel.expiry_ts[panel.row_instrument[ranked]]
        allowed = np.flatnonzero([sold[float(e)] < limit for e in expiries])
        if len(allowed) == 0:
            return None
        rank = int(allowed[explore_pick(len(allowed), config.strategy, rng)])
        sold[float(expiries[rank])] += 1
        return rank

    return choose


@dataclass(frozen=True, slots=True)
class ProfileSummary:
    """What one profile collected."""

    profile: str
    decisions: int
    sales: int
    candidates: int
    net_pnl_usd: float


@dataclass(frozen=True, slots=True)
class TrainingCollection:
    """Every profile's rows, concatenated, and one summary per profile."""

    decisions: pd.DataFrame
    candidates: pd.DataFrame
    summaries: list[ProfileSummary]


def profile_config(base: BacktestConfig, profile: TrainingProfile) -> BacktestConfig:
    """The base run (source, exits, fills, interval, seed) with the profile's selector."""
    return base.model_copy(update={"strategy": profile.strategy})


def training_collect(
    sim: CoveredCallSimulator,
    base: BacktestConfig,
    profiles: Sequence[TrainingProfile],
    *,
    max_candidates_per_decision: int = 20,
    progress: ProfileProgress | None = None,
) -> TrainingCollection:
    """Run every profile on the simulator's panel and label its rows with the profile."""
    decisions, candidates, summaries = [], [], []
    for done, profile in enumerate(profiles):
        config = profile_config(base, profile)
        chooser = (
            None
            if profile.max_sales_per_expiry is None
            else expiry_limit_chooser(sim, profile.max_sales_per_expiry, config)
        )
        result = sim.simulate_policy(config, record_decisions=True, chooser=chooser)
        frame = decision_examples(sim, result)
        frame.insert(0, "profile", profile.name)
        ranking = candidate_examples(sim, result, max_per_decision=max_candidates_per_decision)
        ranking.insert(0, "profile", profile.name)
        decisions.append(frame)
        candidates.append(ranking)
        summaries.append(
            ProfileSummary(
                profile=profile.name,
                decisions=len(frame),
                sales=len(result.trades),
                candidates=len(ranking),
                net_pnl_usd=float(sum(t.pnl_usd for t in result.trades)),
            )
        )
        if progress is not None:
            progress(done + 1, len(profiles))
    return TrainingCollection(
        decisions=pd.concat(decisions, ignore_index=True),
        candidates=pd.concat(candidates, ignore_index=True),
        summaries=summaries,
    )

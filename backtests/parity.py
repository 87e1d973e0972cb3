"""Live/backtest parity: the same chain snapshot and parameters give the same decision.

The live tick screens a chain with `trading.services.state.candidate_chain` (premium at the best
bid times the index, greeks from `enrich_chain`) and chooses with the rule policy
(`trading.domain.policy.decide_rule_based`: `choose_candidate`, then sizing and the risk
engine); the backtester screens every row of its panel (`CoveredCallSimulator.selection`) and
chooses with `explore_pick`. Both use `trading.domain.candidates` and ONE parameter set
(`EffectiveParams.strategy`: the live guards, spread limit and open-interest minimum,
included). `decide_both` runs the two paths on one snapshot, for a flat book holding one coin,
and `differences` lists what disagrees: candidates, scores, the chosen call, the action.
`manage.py parity_check SNAPSHOT.parquet` prints both and exits non-zero on a difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.domain.panel import panel_from_chains
from backtests.domain.simulator import CoveredCallSimulator
from backtests.domain.sources.snapshots import SnapshotFile, read_snapshots
from backtests.domain.types import DataProvenance, FillModel
from trading.domain.candidates import StrategyParams, evaluate_candidates, explore_pick
from trading.domain.chain import enrich_chain
from trading.domain.params import EffectiveParams
from trading.domain.policy import PolicyInput, decide_rule_based
from trading.domain.proposal import ActionType
from trading.domain.risk import PortfolioState, RiskInputs, evaluate_risk
from trading.services.state import candidate_chain, quotes_for

#: Scores agree when within this relative tolerance (both sides compute them in float64).
SCORE_RTOL = 1e-9
#: Coins held by the book the live side decides for (the backtester does not size orders).
PARITY_HOLDINGS_COIN = 1000


@dataclass(frozen=True, slots=True)
class SideDecision:
    """What one side decided: ranked candidates (name, score), the chosen call, the action."""

    side: str
    candidates: tuple[tuple[str, float], ...]
    chosen: str | None
    action: str
    risk_approved: bool | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class ParityResult:
    """Both decisions on one snapshot and the differences between them (empty: parity)."""

    snapshot: str
    underlying: str
    live: SideDecision
    backtest: SideDecision
    differences: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when the two sides agree."""
        return not self.differences


def read_chain(path: Path) -> pd.DataFrame:
    """One harvested snapshot, normalised (`trading.domain.chain` shape)."""
    chain, used, _ = read_snapshots([SnapshotFile(path=path, time=pd.Timestamp.now())], min_rows=1)
    if not used or chain.empty:
        raise ValueError(f"{path.name} holds no chain rows")
    return chain


def _index_usd(chain: pd.DataFrame) -> float:
    """The index stand-in both sides use: the forward of the nearest expiry (median)."""
    nearest = chain["expiry_timestamp"] == chain["expiry_timestamp"].min()
    return float(chain.loc[nearest, "underlying_price"].median())


def live_decision(
    chain: pd.DataFrame, params: EffectiveParams, *, rv: float, seed: int, index_usd: float
) -> SideDecision:
    """The live tick's screening and rule decision for a flat book whose coins cover many
    default-sized calls (sizing and exposure limits never bind, as in the backtester)."""
    frame = enrich_chain(chain)
    evaluation = evaluate_candidates(candidate_chain(frame, index_usd), params.strategy, rv=rv)
    currency = str(chain["underlying"].iloc[0])
    names = {c.instrument_name for c in evaluation.ranked}
    coins = Decimal(PARITY_HOLDINGS_COIN)
    portfolio = PortfolioState(
        equity_usd=coins * Decimal(repr(index_usd)),
        holdings_coin={currency: coins},
        net_delta={currency: float(coins)},
    )
    inputs = RiskInputs.build(
        portfolio=portfolio,
        quotes=quotes_for(frame, names, index_usd),
        now=frame["harvest_time"].iloc[0].to_pydatetime(),
        environment=params.environment,
    )
    state = PolicyInput(risk=inputs, evaluations={currency: evaluation})
    proposal = decide_rule_based(state, params, np.random.default_rng(seed))
    chosen = proposal.open_leg.instrument_name if proposal.open_leg is not None else None
    verdict = evaluate_risk(proposal, inputs, params.risk)
    return SideDecision(
        side="live",
        candidates=tuple((c.instrument_name, c.score) for c in evaluation.ranked),
        chosen=chosen,
        action=proposal.action.value,
        risk_approved=verdict.approved,
        notes=(proposal.reason,),
    )


def backtest_decision(
    chain: pd.DataFrame, strategy: StrategyParams, *, rv: float, seed: int, index_usd: float
) -> SideDecision:
    """The backtester's screening and choice at the snapshot (its panel's only time)."""
    currency = str(chain["underlying"].iloc[0])
    frame = chain.assign(index_price=index_usd)
    panel = panel_from_chains(
        frame,
        underlying=currency,
        provenance=DataProvenance(source="parity", underlying=currency, description="one file"),
        rv_by_time=pd.Series([rv], index=[pd.Timestamp("2000-01-01", tz="UTC")]),
    )
    simulator = CoveredCallSimulator(panel)
    # Live sells at the bid or not at all: no fallback fill from the mark (parity).
    table = simulator.selection(strategy, FillModel(style="bid_ask", fallback="none"))
    ranked = simulator.ranked_rows(0, table)
    names = panel.instrument_name[panel.row_instrument[ranked]]
    candidates = tuple((str(n), float(table.scores[r])) for n, r in zip(names, ranked, strict=True))
    if not len(ranked):
        return SideDecision("backtest", candidates, None, ActionType.DO_NOTHING.value)
    rank = explore_pick(len(ranked), strategy, np.random.default_rng(seed))
    return SideDecision(
        "backtest", candidates, str(names[rank]), ActionType.OPEN_COVERED_CALL.value
    )


def differences(live: SideDecision, backtest: SideDecision) -> tuple[str, ...]:
    """What the two decisions disagree on (empty when they agree)."""
    out: list[str] = []
    live_names = [name for name, _ in live.candidates]
    test_names = [name for name, _ in backtest.candidates]
    if live_names != test_names:
        only_live = sorted(set(live_names) - set(test_names))
        only_test = sorted(set(test_names) - set(live_names))
        out.append(
            f"candidates differ: {len(live_names)} live vs {len(test_names)} backtest; only "
            f"live {only_live[:5]}, only backtest {only_test[:5]}"
            + ("" if only_live or only_test else "; same set, different order")
        )
    else:
        for (name, a), (_, b) in zip(live.candidates, backtest.candidates, strict=True):
            if not np.isclose(a, b, rtol=SCORE_RTOL, atol=0.0):
                out.append(f"score of {name}: live {a:.12g} vs backtest {b:.12g}")
                break
    if live.chosen != backtest.chosen:
        out.append(f"chosen call: live {live.chosen} vs backtest {backtest.chosen}")
    if live.action != backtest.action:
        out.append(f"action: live {live.action} vs backtest {backtest.action}")
    return tuple(out)


def parity_check(
    path: Path,
    params: EffectiveParams,
    *,
    rv: float = 0.4,
    seed: int = 0,
    backtest_strategy: StrategyParams | None = None,
) -> ParityResult:
    """Both decisions on one snapshot file with one parameter set (`backtest_strategy`, when
    given, replaces the backtest side's: the check must then be able to fail)."""
    chain = read_chain(path)
    index_usd = _index_usd(chain)
    strategy = params.strategy if backtest_strategy is None else backtest_strategy
    live = live_decision(chain, params, rv=rv, seed=seed, index_usd=index_usd)
    backtest = backtest_decision(chain, strategy, rv=rv, seed=seed, index_usd=index_usd)
    return ParityResult(
        snapshot=path.name,
        underlying=str(chain["underlying"].iloc[0]),
        live=live,
        backtest=backtest,
        differences=differences(live, backtest),
    )

"""Covered-call candidate filter, scoring and epsilon-greedy exploration.

The one implementation of "which call would we sell now?", shared by the live agent and the
backtester so that a policy behaves identically in simulation and on the exchange.

Everything works on columnar numpy arrays (`CandidateChain`), so the same code scores one live
chain of a few hundred calls or a whole backtest panel of millions of (time, option) rows in one
call. Typical use by the live agent::

    chain = CandidateChain.from_frame(frame)           # one snapshot, with delta and IV columns
    evaluation = evaluate_candidates(chain, params, rv=0.45)
    choice = choose_candidate(evaluation, params, rng=np.random.default_rng(seed))

Units: `delta` is the call's Black-76 delta in [0, 1]; `iv` and `rv` are annualised fractions
(0.55, not 55); `dte_days` are calendar days (fractional); premiums are USD per contract (one coin).
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
FlagArray = npt.NDArray[np.uint32]

# Scores of rejected rows; sorts last and is never selected.
REJECTED_SCORE = -np.inf


class RejectReason(enum.IntFlag):
    """Why a row of the chain is not a covered-call candidate (bit flags, several may hold)."""

    NOT_A_CALL = 1
    MISSING_DATA = 2
    DTE_BELOW_MIN = 4
    DTE_ABOVE_MAX = 8
    DELTA_BELOW_MIN = 16
    DELTA_ABOVE_MAX = 32
    IVRV_BELOW_MIN = 64
    IVRV_ABOVE_MAX = 128
    PREMIUM_BELOW_MIN = 256
    NO_BID = 512
    SPREAD_TOO_WIDE = 1024
    OPEN_INTEREST_TOO_LOW = 2048


#: (name, bit) of every reason, in declaration order. Iterating an IntFlag class and reading
#: `.value` is slow enough to matter on a full chain (~1,200 rows a tick), so it is done once.
_REASON_BITS: tuple[tuple[str, int], ...] = tuple(
    (r.name.lower(), int(r.value)) for r in RejectReason if r.name
)


def reason_names(flags: int) -> list[str]:
    """Names of the reasons set in `flags`, lower case, in a stable order (for logs and JSON)."""
    return [name for name, bit in _REASON_BITS if flags & bit]


def reason_counts(flags: Iterable[int]) -> dict[str, int]:
    """How many of `flags` have each reason set (names as in `reason_names`; zeros left out).

    Rows of a chain share a handful of distinct flag sets, so each distinct set is expanded once.
    """
    by_flags = Counter(int(f) for f in flags)
    counts: dict[str, int] = {}
    for name, bit in _REASON_BITS:
        hits = sum(n for f, n in by_flags.items() if f & bit)
        if hits:
            counts[name] = hits
    return counts


#: The live agent's liquidity guards as strategy fields (`RiskLimits.liquidity_max_spread_pct`
#: 15% and `liquidity_min_open_interest` 50 contracts): the research and production presets carry
#: them so a backtest screens exactly as the live tick does (issue 15, parity).
LIVE_GUARDS: dict[str, Any] = {"max_spread_pct": 0.15, "min_open_interest": 50.0}


class StrategyParams(BaseModel):
    """Effective covered-call selection parameters of one mode (research or production).

    Why a model: every decision records the exact parameters it ran with, and the backtester's
    grid search varies them; a frozen, validated value object makes both safe.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    delta_min: float = Field(default=0.10, ge=0.0, le=1.0, description="lowest call delta accepted")
    delta_max: float = Field(
        default=0.40, ge=0.0, le=1.0, description="highest call delta accepted"
    )
    dte_min_days: float = Field(default=1.0, ge=0.0, description="shortest days to expiry accepted")
    dte_max_days: float = Field(default=21.0, gt=0.0, description="longest days to expiry accepted")
    ivrv_min: float = Field(default=1.0, ge=0.0, description="minimum implied/realised vol ratio")
    ivrv_max: float | None = Field(default=None, gt=0.0, description="maximum IV/RV ratio, if any")
    premium_min_usd: float = Field(
        default=50.0, ge=0.0, description="minimum premium per contract, USD"
    )
    explore_prob: float = Field(
        default=0.25, ge=0.0, le=1.0, description="epsilon of epsilon-greedy"
    )
    explore_top_k: int = Field(default=3, ge=1, description="explore among the best K candidates")
    max_spread_pct: float | None = Field(
        default=None,
        gt=0.0,
        description="max (ask-bid)/mid of the option, e.g. 0.25; None disables",
    )
    min_open_interest: float = Field(
        default=0.0, ge=0.0, description="min open interest, contracts"
    )
    target_delta: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="delta scored best; default the middle of the range",
    )
    ivrv_score_cap: float = Field(default=3.0, gt=0.0, description="IV/RV above this adds no score")
    policy_version: str = Field(default="rb_v1_explore", min_length=1, max_length=64)

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> Self:
        if self.delta_min > self.delta_max:
            raise ValueError("delta_min must not exceed delta_max")
        if self.dte_min_days > self.dte_max_days:
            raise ValueError("dte_min_days must not exceed dte_max_days")
        if self.ivrv_max is not None and self.ivrv_max < self.ivrv_min:
            raise ValueError("ivrv_max must not be below ivrv_min")
        return self

    @classmethod
    def research(cls, **overrides: Any) -> StrategyParams:
        """Wide ranges with 25% exploration among the top 3 (testnet data collection).

        With the live agent's liquidity guards (`LIVE_GUARDS`: spread at most 15% of mid, open
        interest at least 50): equal to the live research strategy
        (`resolve_effective_params(...).strategy`), so backtests and live share one set.
        """
        base: dict[str, Any] = LIVE_GUARDS | {
            "delta_min": 0.10,
            "delta_max": 0.40,
            "dte_min_days": 1,
            "dte_max_days": 21,
            "ivrv_min": 1.0,
            "premium_min_usd": 50.0,
            "explore_prob": 0.25,
            "explore_top_k": 3,
            "policy_version": "rb_v1_explore",
        }
        return cls(**(base | overrides))

    @classmethod
    def production(cls, **overrides: Any) -> StrategyParams:
        """Strict ranges and no exploration (mainnet), with the live guards (`LIVE_GUARDS`)."""
        base: dict[str, Any] = LIVE_GUARDS | {
            "delta_min": 0.20,
            "delta_max": 0.30,
            "dte_min_days": 5,
            "dte_max_days": 10,
            "ivrv_min": 1.2,
            "premium_min_usd": 50.0,
            "explore_prob": 0.0,
            "explore_top_k": 1,
            "policy_version": "rb_v1",
        }
        return cls(**(base | overrides))

    @property
    def effective_target_delta(self) -> float:
        """The delta that scores best: `target_delta`, or the middle of the delta range."""
        if self.target_delta is not None:
            return self.target_delta
        return 0.5 * (self.delta_min + self.delta_max)


def _as_float(values: npt.ArrayLike, n: int, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 0:
        return np.full(n, float(array))
    if array.shape != (n,):
        raise ValueError(f"{name} has shape {array.shape}, expected ({n},)")
    return array


@dataclass(frozen=True, slots=True)
class CandidateChain:
    """Columnar view of option rows to screen: one entry per (instrument, time) row.

    `premium_usd` is what selling one contract would bring (the bid, or mid less a haircut, in
    USD); `spread_pct` and `open_interest` may be NaN when unknown (the guards then pass).
    """

    instrument_name: npt.NDArray[np.object_]
    is_call: BoolArray
    strike: FloatArray
    underlying_usd: FloatArray
    dte_days: FloatArray
    delta: FloatArray
    iv: FloatArray
    premium_usd: FloatArray
    spread_pct: FloatArray
    open_interest: FloatArray

    def __post_init__(self) -> None:
        n = len(self.instrument_name)
        for name in ("is_call", "strike", "underlying_usd", "dte_days", "delta", "iv"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} length differs from instrument_name")
        for name in ("premium_usd", "spread_pct", "open_interest"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} length differs from instrument_name")

    def __len__(self) -> int:
        return len(self.instrument_name)

    def take(self, indices: npt.ArrayLike) -> CandidateChain:
        """The rows at `indices` (integer positions or a boolean mask), as a new chain."""
        index = np.asarray(indices)
        return CandidateChain(
            instrument_name=self.instrument_name[index],
            is_call=self.is_call[index],
            strike=self.strike[index],
            underlying_usd=self.underlying_usd[index],
            dte_days=self.dte_days[index],
            delta=self.delta[index],
            iv=self.iv[index],
            premium_usd=self.premium_usd[index],
            spread_pct=self.spread_pct[index],
            open_interest=self.open_interest[index],
        )

    @classmethod
    def build(
        cls,
        *,
        instrument_name: Sequence[str] | npt.NDArray[np.object_],
        strike: npt.ArrayLike,
        underlying_usd: npt.ArrayLike,
        dte_days: npt.ArrayLike,
        delta: npt.ArrayLike,
        iv: npt.ArrayLike,
        premium_usd: npt.ArrayLike,
        is_call: npt.ArrayLike | None = None,
        spread_pct: npt.ArrayLike | None = None,
        open_interest: npt.ArrayLike | None = None,
    ) -> CandidateChain:
        """Build from array-likes; scalars broadcast, optional columns default to unknown."""
        names = np.asarray(instrument_name, dtype=object)
        n = len(names)
        calls = np.ones(n, dtype=bool) if is_call is None else np.asarray(is_call, dtype=bool)
        nan = np.full(n, np.nan)
        return cls(
            instrument_name=names,
            is_call=calls if calls.ndim else np.full(n, bool(calls)),
            strike=_as_float(strike, n, "strike"),
            underlying_usd=_as_float(underlying_usd, n, "underlying_usd"),
            dte_days=_as_float(dte_days, n, "dte_days"),
            delta=_as_float(delta, n, "delta"),
            iv=_as_float(iv, n, "iv"),
            premium_usd=_as_float(premium_usd, n, "premium_usd"),
            spread_pct=nan if spread_pct is None else _as_float(spread_pct, n, "spread_pct"),
            open_interest=nan
            if open_interest is None
            else _as_float(open_interest, n, "open_interest"),
        )

    @classmethod
    def from_frame(cls, frame: Any, *, premium_column: str = "premium_usd") -> CandidateChain:
        """Build from a pandas DataFrame with the field names of this class as columns.

        `is_call` may instead be given as `option_type` ("C"/"P"); `spread_pct` and
        `open_interest` are optional.
        """
        columns: Mapping[str, Any] = frame
        if "is_call" in frame.columns:
            is_call = columns["is_call"].to_numpy(dtype=bool)
        elif "option_type" in frame.columns:
            is_call = (columns["option_type"].astype(str).str.upper() == "C").to_numpy()
        else:
            is_call = None
        return cls.build(
            instrument_name=columns["instrument_name"].to_numpy(dtype=object),
            strike=columns["strike"].to_numpy(dtype=float),
            underlying_usd=columns["underlying_usd"].to_numpy(dtype=float),
            dte_days=columns["dte_days"].to_numpy(dtype=float),
            delta=columns["delta"].to_numpy(dtype=float),
            iv=columns["iv"].to_numpy(dtype=float),
            premium_usd=columns[premium_column].to_numpy(dtype=float),
            is_call=is_call,
            spread_pct=columns["spread_pct"].to_numpy(dtype=float)
            if "spread_pct" in frame.columns
            else None,
            open_interest=columns["open_interest"].to_numpy(dtype=float)
            if "open_interest" in frame.columns
            else None,
        )


def ivrv_ratio(iv: npt.ArrayLike, rv: npt.ArrayLike) -> FloatArray:
    """Implied over realised volatility, NaN where RV is not positive or unknown."""
    iv_array = np.asarray(iv, dtype=np.float64)
    rv_array = np.broadcast_to(np.asarray(rv, dtype=np.float64), iv_array.shape)
    out = np.full(iv_array.shape, np.nan)
    np.divide(iv_array, rv_array, out=out, where=rv_array > 0)
    return out


def _flag(flags: FlagArray, mask: BoolArray, reason: RejectReason) -> None:
    np.bitwise_or(flags, np.uint32(reason.value), out=flags, where=mask)


def _missing_data(chain: CandidateChain, ratio: FloatArray) -> BoolArray:
    finite = np.isfinite(chain.dte_days) & np.isfinite(chain.delta)
    finite &= np.isfinite(chain.underlying_usd) & np.isfinite(ratio)
    return ~finite


def rejection_flags(
    chain: CandidateChain, params: StrategyParams, *, rv: npt.ArrayLike
) -> FlagArray:
    """Bit flags (`RejectReason`) per row; 0 means the row is an eligible candidate.

    `rv` is the realised volatility (fraction), a scalar or one value per row.
    """
    flags = np.zeros(len(chain), dtype=np.uint32)
    ratio = ivrv_ratio(chain.iv, rv)
    _flag(flags, ~chain.is_call, RejectReason.NOT_A_CALL)
    _flag(flags, _missing_data(chain, ratio), RejectReason.MISSING_DATA)
    _flag(flags, chain.dte_days < params.dte_min_days, RejectReason.DTE_BELOW_MIN)
    _flag(flags, chain.dte_days > params.dte_max_days, RejectReason.DTE_ABOVE_MAX)
    _flag(flags, chain.delta < params.delta_min, RejectReason.DELTA_BELOW_MIN)
    _flag(flags, chain.delta > params.delta_max, RejectReason.DELTA_ABOVE_MAX)
    _flag(flags, ratio < params.ivrv_min, RejectReason.IVRV_BELOW_MIN)
    if params.ivrv_max is not None:
        _flag(flags, ratio > params.ivrv_max, RejectReason.IVRV_ABOVE_MAX)
    no_bid = ~(chain.premium_usd > 0)
    _flag(flags, no_bid, RejectReason.NO_BID)
    _flag(
        flags,
        ~no_bid & (chain.premium_usd < params.premium_min_usd),
        RejectReason.PREMIUM_BELOW_MIN,
    )
    if params.max_spread_pct is not None:
        _flag(flags, chain.spread_pct > params.max_spread_pct, RejectReason.SPREAD_TOO_WIDE)
    if params.min_open_interest > 0:
        too_low = chain.open_interest < params.min_open_interest
        _flag(flags, too_low, RejectReason.OPEN_INTEREST_TOO_LOW)
    return flags


def eligible_mask(chain: CandidateChain, params: StrategyParams, *, rv: npt.ArrayLike) -> BoolArray:
    """True where a row passes every check: `rejection_flags(...) == 0`, computed faster.

    Why both: a backtest grid screens millions of rows per parameter set and needs only the
    verdict; logs and training data need the reasons.
    """
    ratio = ivrv_ratio(chain.iv, rv)
    ok = chain.is_call & (chain.dte_days >= params.dte_min_days)
    ok &= chain.dte_days <= params.dte_max_days
    ok &= chain.delta >= params.delta_min
    ok &= chain.delta <= params.delta_max
    ok &= ratio >= params.ivrv_min
    if params.ivrv_max is not None:
        ok &= ratio <= params.ivrv_max
    ok &= chain.premium_usd >= max(params.premium_min_usd, np.finfo(np.float64).tiny)
    if params.max_spread_pct is not None:
        ok &= ~(chain.spread_pct > params.max_spread_pct)
    if params.min_open_interest > 0:
        ok &= ~(chain.open_interest < params.min_open_interest)
    ok &= np.isfinite(chain.underlying_usd)
    return ok


def score_candidates(
    chain: CandidateChain, params: StrategyParams, *, rv: npt.ArrayLike
) -> FloatArray:
    """Score every row (higher is better), whether or not it passes the filter.

    score = annualised premium yield x min(IV/RV, cap) x delta fit, where the annualised yield
    is premium / underlying * 365 / DTE (the return of the covered call if nothing moves), IV/RV
    rewards selling rich volatility, and the delta fit (1 at the target delta falling linearly to
    0.5 at the edges of the range) prefers the desk's intended moneyness over far-wing lottery
    premium.
    """
    dte = np.maximum(chain.dte_days, 1.0 / 24.0)
    yield_ann = chain.premium_usd / chain.underlying_usd * (365.0 / dte)
    ratio = np.minimum(ivrv_ratio(chain.iv, rv), params.ivrv_score_cap)
    half_width = max(0.5 * (params.delta_max - params.delta_min), 1e-6)
    distance = np.abs(chain.delta - params.effective_target_delta) / half_width
    delta_fit = 1.0 - 0.5 * np.clip(distance, 0.0, 1.0)
    score: FloatArray = yield_ann * ratio * delta_fit
    return np.where(np.isfinite(score), score, REJECTED_SCORE)


@dataclass(frozen=True, slots=True)
class ScoredCandidate:
    """An eligible call with its score and rank (0 = best) in the evaluated chain."""

    index: int
    instrument_name: str
    score: float
    rank: int
    strike: float
    dte_days: float
    delta: float
    iv: float
    ivrv: float
    premium_usd: float

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (for decision logs and training exports)."""
        return {
            "instrument_name": self.instrument_name,
            "score": self.score,
            "rank": self.rank,
            "strike": self.strike,
            "dte_days": self.dte_days,
            "delta": self.delta,
            "iv": self.iv,
            "ivrv": self.ivrv,
            "premium_usd": self.premium_usd,
        }


@dataclass(frozen=True, slots=True)
class RejectedCandidate:
    """A row that failed the filter and every reason it failed."""

    index: int
    instrument_name: str
    flags: int

    @property
    def reasons(self) -> list[str]:
        """The failed checks by name, e.g. ["delta_above_max", "premium_below_min"]."""
        return reason_names(self.flags)


@dataclass(frozen=True, slots=True)
class CandidateEvaluation:
    """The outcome of screening one chain: ranked eligible calls and rejected rows."""

    ranked: tuple[ScoredCandidate, ...]
    rejected: tuple[RejectedCandidate, ...]

    @property
    def best(self) -> ScoredCandidate | None:
        """The highest-scoring candidate, if any passed."""
        return self.ranked[0] if self.ranked else None

    def rejection_counts(self) -> dict[str, int]:
        """How many rows failed each check (a row may count under several reasons)."""
        return reason_counts(r.flags for r in self.rejected)


def rank_order(scores: FloatArray, eligible: BoolArray) -> IntArray:
    """Indices of eligible rows from best to worst score (stable: ties keep chain order)."""
    candidates = np.flatnonzero(eligible)
    order = np.argsort(-scores[candidates], kind="stable")
    return candidates[order].astype(np.int64)


def evaluate_candidates(
    chain: CandidateChain, params: StrategyParams, *, rv: npt.ArrayLike
) -> CandidateEvaluation:
    """Filter, score and rank one chain; rejected rows carry the reasons they failed."""
    flags = rejection_flags(chain, params, rv=rv)
    scores = score_candidates(chain, params, rv=rv)
    eligible = (flags == 0) & np.isfinite(scores)
    ratio = np.broadcast_to(ivrv_ratio(chain.iv, rv), (len(chain),))
    ranked = tuple(
        ScoredCandidate(
            index=int(i),
            instrument_name=str(chain.instrument_name[i]),
            score=float(scores[i]),
            rank=rank,
            strike=float(chain.strike[i]),
            dte_days=float(chain.dte_days[i]),
            delta=float(chain.delta[i]),
            iv=float(chain.iv[i]),
            ivrv=float(ratio[i]),
            premium_usd=float(chain.premium_usd[i]),
        )
        for rank, i in enumerate(rank_order(scores, eligible))
    )
    rejected = tuple(
        RejectedCandidate(
            index=int(i), instrument_name=str(chain.instrument_name[i]), flags=int(flags[i])
        )
        for i in np.flatnonzero(~eligible)
    )
    return CandidateEvaluation(ranked=ranked, rejected=rejected)


@dataclass(frozen=True, slots=True)
class Selection:
    """The candidate chosen to sell and whether exploration (not the best) picked it."""

    candidate: ScoredCandidate
    explored: bool
    reason: Literal["best_score", "exploration"]


def explore_pick(n_ranked: int, params: StrategyParams, rng: np.random.Generator) -> int:
    """Rank to take among `n_ranked` eligible candidates under epsilon-greedy exploration.

    With probability `explore_prob`, and when there is a runner-up within the top K, one of
    ranks 1..K-1 is drawn uniformly (exploration means "not the best"); otherwise rank 0.
    The RNG is drawn from exactly once per call whatever happens, so a seeded run replays
    identically even when candidate counts change.
    """
    if n_ranked <= 0:
        raise ValueError("no candidates to pick from")
    draw = float(rng.random())
    pool = min(params.explore_top_k, n_ranked)
    if pool < 2 or draw >= params.explore_prob:
        return 0
    # Reuse the same uniform draw, rescaled, to choose among the runners-up.
    return 1 + min(int(draw / params.explore_prob * (pool - 1)), pool - 2)


def choose_candidate(
    evaluation: CandidateEvaluation, params: StrategyParams, rng: np.random.Generator
) -> Selection | None:
    """Epsilon-greedy choice among the ranked candidates; None when nothing passed."""
    if not evaluation.ranked:
        return None
    rank = explore_pick(len(evaluation.ranked), params, rng)
    explored = rank > 0
    return Selection(
        candidate=evaluation.ranked[rank],
        explored=explored,
        reason="exploration" if explored else "best_score",
    )

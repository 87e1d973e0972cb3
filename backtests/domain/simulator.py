"""`CoveredCallSimulator`: "what if I sold this call here?" and whole policies over a period.

The simulator holds the coins (the cover) and sells at most one call position at a time. It uses
the live agent's own candidate filter, scoring and epsilon-greedy exploration
(`trading.domain.candidates`), the fill model of the run, Deribit's fees and settlement at the
expiry index, and keeps coin and USD books.

Speed: filter and scores are computed once per (strategy, fill model) over the whole panel in
numpy; the policy loop then visits only the times at which a sale happens, and each trade's
exit is found with one vectorised pass over its path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

from backtests.domain.costs import FeeModel, deribit_fee_model
from backtests.domain.metrics import Flag, Metrics, compute_metrics, too_good_flags
from backtests.domain.panel import ChainPanel, IntArray
from backtests.domain.types import (
    BacktestConfig,
    BoolArray,
    EquityCurve,
    ExitPolicy,
    ExitReason,
    FillModel,
    FloatArray,
    SimulatedTrade,
    TradePath,
)
from trading.domain.candidates import (
    CandidateChain,
    StrategyParams,
    eligible_mask,
    explore_pick,
    rejection_flags,
    score_candidates,
)
from trading.domain.fees import FillStyle, fill_price_array

ProgressCallback = Callable[[float], None]
StopCheck = Callable[[], bool]
#: An outside decision maker: (time index, eligible rows best first) -> rank to sell, or None.
Chooser = Callable[[int, IntArray], int | None]

#: A call sold under `roll_at_dte` must have more than `roll_dte_days` plus this many days left,
#: so the roll rule cannot buy it back within an hour of the sale (issue 12: with
#: `roll_dte_days=1`, dailies sold at 08:00 with exactly one day left were rolled an hour later).
ROLL_WINDOW_MARGIN_DAYS = 1.0 / 24.0


#: Why a run's trade P&L (the option leg, USD) and its excess over buy-and-hold differ.
PNL_VS_BUY_AND_HOLD = (
    "Net P&L sums the option leg in USD, each cash flow at the index of its own time (premium "
    "at the sale, buy-back or settlement at the exit, fees). The excess over buy-and-hold is "
    "the whole book against the coins alone: premiums are received and kept in coin, so they "
    "are revalued as the coin moves (worth more USD after a rise, less after a fall), and a "
    "call still open at the end counts at its mark; the two differ by that revaluation."
)


def settlement_assumption(details: Mapping[str, object]) -> str:
    """How expiries were settled, naming those interpolated across a gap in the data."""
    text = (
        "European, cash-settled in coin at the index at 08:00 UTC expiry (interpolated "
        "between the snapshots around 08:00)"
    )
    gaps = details.get("settlement_gaps_hours")
    if isinstance(gaps, Mapping) and gaps:
        listed = ", ".join(f"{day} ({hours:g} h between snapshots)" for day, hours in gaps.items())
        text += f"; settled by interpolation across a data gap: {listed}"
    elif isinstance(gaps, Mapping):
        text += "; no expiry fell in a gap of more than an hour"
    return text


def market_assumption(details: Mapping[str, object]) -> str:
    """The drift and forward basis a run's market had (every report states them)."""
    basis = details.get("basis_per_year")
    drift = details.get("drift_per_year")
    if not isinstance(basis, int | float):
        return "real chains: forwards as quoted (the observed basis), the index's own path"
    if not isinstance(drift, int | float):
        return (
            f"forward basis {basis:.1%}/yr (model) over the index's real path: forwards priced "
            "with the model basis, whatever the index did"
        )
    consistent = "forwards are unbiased forecasts, no edge from the basis"
    if abs(drift - basis) > 1e-12:
        consistent = "drift differs from the basis: sellers gain or lose from the basis"
    return f"spot drift {drift:.1%}/yr, forward basis {basis:.1%}/yr ({consistent})"


class SimulationStopped(Exception):
    """Raised inside `simulate_policy` when the stop check asks to abandon the run."""


@dataclass(frozen=True, slots=True)
class FillPrices:
    """Per-row prices (coin) a sale and a buy-back would get; NaN when unfillable."""

    sell_coin: FloatArray
    buy_coin: FloatArray
    sell_fallback: BoolArray
    buy_fallback: BoolArray


def fill_prices(panel: ChainPanel, fill: FillModel) -> FillPrices:
    """Prices for every row of the panel under a fill model (`trading.domain.fees` fills)."""
    style: FillStyle = "cross" if fill.style == "bid_ask" else "mid_haircut"
    haircut = fill.haircut_pct
    sell = fill_price_array(False, panel.bid_coin, panel.ask_coin, style=style, haircut=haircut)
    buy = fill_price_array(True, panel.bid_coin, panel.ask_coin, style=style, haircut=haircut)
    sell_fallback = np.zeros(len(sell), dtype=bool)
    buy_fallback = np.zeros(len(buy), dtype=bool)
    if fill.fallback == "mark_haircut":
        mark = panel.mark_coin
        sell_fallback, buy_fallback = ~np.isfinite(sell), ~np.isfinite(buy)
        sell = np.where(sell_fallback, mark * (1 - haircut), sell)
        buy = np.where(buy_fallback, mark * (1 + haircut), buy)
    sell = np.where(sell > 0, sell, np.nan)
    return FillPrices(
        sell_coin=sell, buy_coin=buy, sell_fallback=sell_fallback, buy_fallback=buy_fallback
    )


@dataclass(frozen=True, slots=True)
class SelectionTable:
    """Filter verdicts and scores (NaN where not eligible) of one strategy over every row."""

    eligible: BoolArray
    scores: FloatArray
    eligible_at_time: BoolArray


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """What the policy saw and did at one sale (for training data)."""

    time_index: int
    ranked_rows: IntArray
    chosen_rank: int
    trade_index: int


@dataclass(slots=True)
class SimulationResult:
    """A policy run: trades, equity curve, report metrics, flags and stated assumptions."""

    config: BacktestConfig
    trades: list[SimulatedTrade]
    curve: EquityCurve
    metrics: Metrics
    flags: list[Flag]
    assumptions: dict[str, str]
    decisions: list[DecisionRecord] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """Metrics, flags and assumptions as one JSON-ready dict."""
        return {
            "metrics": self.metrics.as_dict(),
            "flags": [{"code": f.code, "message": f.message} for f in self.flags],
            "assumptions": self.assumptions,
        }


@dataclass(frozen=True, slots=True)
class _Exit:
    reason: ExitReason
    price_coin: float
    ts: float
    time_index: int
    spot_usd: float
    path_end: int  # number of path rows (from entry) the position was open for
    fallback: bool = False  # bought back at the mark + haircut: the ask side was empty


@dataclass(frozen=True, slots=True)
class _Opened:
    """A sale and how it ends, before fees are charged (fees are computed per batch)."""

    row: int
    entry_price: float
    exit: _Exit
    path: IntArray
    fallback: bool = False  # a side was filled at the mark -/+ haircut (book side empty)


class CoveredCallSimulator:
    """Simulates covered calls on one `ChainPanel` (reuse it across runs: caches are per panel)."""

    def __init__(self, panel: ChainPanel, *, fee_model: FeeModel | None = None) -> None:
        self.panel = panel
        self.fee_model = fee_model or deribit_fee_model()
        self._fills: dict[FillModel, FillPrices] = {}
        self._chains: dict[FillModel, CandidateChain] = {}
        self._row_rv = panel.row_rv()
        self._selections: dict[tuple[StrategyParams, FillModel], SelectionTable] = {}
        self._outside_roll: dict[tuple[StrategyParams, FillModel, float], SelectionTable] = {}
        self._decision_masks: dict[float, BoolArray] = {}
        inverse = np.empty(panel.n_rows, dtype=np.int64)
        inverse[panel.path_order] = np.arange(panel.n_rows, dtype=np.int64)
        self._path_position = inverse
        self._path_end = panel.path_start[1:][panel.row_instrument]
        self._buy_fallback: BoolArray | None = None

    # ------------------------------------------------------------------ caches

    def fills(self, fill: FillModel) -> FillPrices:
        """Fill prices of every row (cached per fill model)."""
        cached = self._fills.get(fill)
        if cached is None:
            cached = self._fills[fill] = fill_prices(self.panel, fill)
        return cached

    def candidate_chain(self, fill: FillModel) -> CandidateChain:
        """Every row as a candidate chain selling at the fill model's price (cached)."""
        cached = self._chains.get(fill)
        if cached is None:
            cached = self._chains[fill] = self.panel.candidate_chain(self.fills(fill).sell_coin)
        return cached

    def rejections(self, strategy: StrategyParams, fill: FillModel) -> npt.NDArray[np.uint32]:
        """Why each row fails the filter (`RejectReason` flags; 0 = eligible)."""
        return rejection_flags(self.candidate_chain(fill), strategy, rv=self._row_rv)

    def selection(self, strategy: StrategyParams, fill: FillModel) -> SelectionTable:
        """Filter flags and scores of every row for a strategy (cached)."""
        key = (strategy, fill)
        cached = self._selections.get(key)
        if cached is not None:
            return cached
        chain = self.candidate_chain(fill)
        rv = self._row_rv
        eligible = eligible_mask(chain, strategy, rv=rv)
        rows = np.flatnonzero(eligible)
        scores = np.full(len(eligible), np.nan)
        scores[rows] = score_candidates(chain.take(rows), strategy, rv=rv[rows])
        eligible[rows] = np.isfinite(scores[rows])
        at_time = np.zeros(len(self.panel.times), dtype=bool)
        at_time[self.panel.row_time[eligible]] = True
        table = SelectionTable(eligible=eligible, scores=scores, eligible_at_time=at_time)
        self._selections[key] = table
        return table

    def policy_selection(self, config: BacktestConfig) -> SelectionTable:
        """`selection`, less the calls the run's roll rule would buy back at once (cached).

        Under `roll_at_dte` a call with `roll_dte_days` + `ROLL_WINDOW_MARGIN_DAYS` or fewer
        days left is not eligible: the roll picks a call outside the roll window.
        """
        table = self.selection(config.strategy, config.fill)
        if not config.exit.roll_dte_active:
            return table
        key = (config.strategy, config.fill, config.exit.roll_dte_days)
        cached = self._outside_roll.get(key)
        if cached is None:
            limit = config.exit.roll_dte_days + ROLL_WINDOW_MARGIN_DAYS
            eligible = table.eligible & (self.panel.dte_days > limit)
            at_time = np.zeros(len(self.panel.times), dtype=bool)
            at_time[self.panel.row_time[eligible]] = True
            cached = SelectionTable(
                eligible=eligible, scores=table.scores, eligible_at_time=at_time
            )
            self._outside_roll[key] = cached
        return cached

    def decision_mask(self, interval_hours: float) -> BoolArray:
        """Decision times of the panel for an interval (cached)."""
        cached = self._decision_masks.get(interval_hours)
        if cached is None:
            cached = self._decision_masks[interval_hours] = self.panel.decision_mask(interval_hours)
        return cached

    # ------------------------------------------------------------------ one trade

    def ranked_rows(self, time_index: int, table: SelectionTable) -> IntArray:
        """Eligible rows of one time, best score first (ties keep chain order)."""
        rows = self.panel.rows_at(time_index)
        eligible = np.flatnonzero(table.eligible[rows]) + rows.start
        order = np.argsort(-table.scores[eligible], kind="stable")
        result: IntArray = eligible[order]
        return result

    def _path(self, row: int) -> IntArray:
        start = int(self._path_position[row])
        result: IntArray = self.panel.path_order[start : int(self._path_end[row])]
        return result

    def _find_exit(
        self, row: int, path: IntArray, entry_price: float, exit_policy: ExitPolicy, buy: FloatArray
    ) -> _Exit:
        """The first armed trigger along the path (in time order), else settlement."""
        later = path[1:]
        later_buy = buy[later]
        take_profit = stop_loss = roll_due = None
        if exit_policy.take_profit_active:
            take_profit = later_buy <= entry_price * (1.0 - exit_policy.take_profit_pct)
        stop = exit_policy.effective_stop_loss_pct
        if stop is not None:
            stop_loss = later_buy >= entry_price * (1.0 + stop)
        if exit_policy.roll_dte_active:
            roll_due = self.panel.dte_days[later] <= exit_policy.roll_dte_days
            roll_due &= np.isfinite(later_buy)
        armed = [m for m in (take_profit, stop_loss, roll_due) if m is not None]
        if not armed or len(later) == 0:
            return self._settle_or_close(row, path, buy)
        trigger = armed[0] if len(armed) == 1 else np.logical_or.reduce(armed)
        k = int(np.argmax(trigger))
        if not trigger[k]:
            return self._settle_or_close(row, path, buy)
        if take_profit is not None and take_profit[k]:
            reason = ExitReason.TAKE_PROFIT
        elif stop_loss is not None and stop_loss[k]:
            reason = ExitReason.STOP_LOSS
        else:
            reason = ExitReason.ROLL_AT_DTE
        t_index = int(self.panel.row_time[later[k]])
        return _Exit(
            reason=reason,
            price_coin=float(later_buy[k]),
            ts=float(self.panel.times[t_index]),
            time_index=t_index,
            spot_usd=float(self.panel.spot_usd[t_index]),
            path_end=k + 1,
            fallback=bool(self._buy_fallback is not None and self._buy_fallback[later[k]]),
        )

    def _settle_or_close(self, row: int, path: IntArray, buy: FloatArray) -> _Exit:
        panel = self.panel
        instrument = int(panel.row_instrument[row])
        delivery = float(panel.settlement_usd[instrument])
        if math.isfinite(delivery):
            strike = float(panel.strike[instrument])
            expiry = float(panel.expiry_ts[instrument])
            itm = delivery > strike
            t_index = min(panel.time_index_at_or_after(expiry), len(panel.times) - 1)
            return _Exit(
                reason=ExitReason.EXPIRED_ITM if itm else ExitReason.EXPIRED_OTM,
                price_coin=max(delivery - strike, 0.0) / delivery,
                ts=expiry,
                time_index=t_index,
                spot_usd=delivery,
                path_end=len(path),
            )
        last = int(path[-1])
        quoted = math.isfinite(buy[last])
        price = float(buy[last]) if quoted else float(panel.mark_coin[last])
        t_index = int(panel.row_time[last])
        fallback = not quoted or bool(self._buy_fallback is not None and self._buy_fallback[last])
        return _Exit(
            reason=ExitReason.END_OF_DATA,
            price_coin=price,
            ts=float(panel.times[t_index]),
            time_index=t_index,
            spot_usd=float(panel.spot_usd[t_index]),
            path_end=len(path),
            fallback=fallback,
        )

    def _exit_for_row(self, row: int, config: BacktestConfig, fills: FillPrices) -> _Opened:
        """Sell the call of `row` and find when and how the position ends."""
        entry_price = float(fills.sell_coin[row])
        if not math.isfinite(entry_price):
            name = self.panel.instrument_name[self.panel.row_instrument[row]]
            raise ValueError(f"{name} has no bid")
        path = self._path(row)
        self._buy_fallback = fills.buy_fallback
        exit_ = self._find_exit(row, path, entry_price, config.exit, fills.buy_coin)
        fallback = bool(fills.sell_fallback[row]) or exit_.fallback
        return _Opened(row=row, entry_price=entry_price, exit=exit_, path=path, fallback=fallback)

    def _fees(self, opened: list[_Opened], config: BacktestConfig) -> tuple[FloatArray, FloatArray]:
        """(entry fees, exit fees) in coin for a batch of trades, in one vectorised pass."""
        n = len(opened)
        if not config.include_fees or n == 0:
            return np.zeros(n), np.zeros(n)
        qty = config.quantity_coin
        entry_fee = self.fee_model.trade_fee_coin(np.array([o.entry_price for o in opened]), qty)
        exit_price = np.array([o.exit.price_coin for o in opened])
        reasons = [o.exit.reason for o in opened]
        settled_itm = np.array([r is ExitReason.EXPIRED_ITM for r in reasons])
        settled_otm = np.array([r is ExitReason.EXPIRED_OTM for r in reasons])
        exit_fee = np.where(
            settled_itm | settled_otm, 0.0, self.fee_model.trade_fee_coin(exit_price, qty)
        )
        if settled_itm.any():
            exit_fee[settled_itm] = self.fee_model.delivery_fee_coin(exit_price[settled_itm], qty)
        return np.asarray(entry_fee, dtype=np.float64), exit_fee

    def _trades(
        self,
        opened: list[_Opened],
        config: BacktestConfig,
        *,
        scores: list[float] | None = None,
        ranks: list[int] | None = None,
        with_path: bool = False,
    ) -> tuple[list[SimulatedTrade], FloatArray, FloatArray]:
        """SimulatedTrade records of a batch, with their entry and exit fees (coin)."""
        panel = self.panel
        entry_fees, exit_fees = self._fees(opened, config)
        qty = config.quantity_coin
        buy = self.fills(config.fill).buy_coin if with_path else None
        trades = []
        for k, item in enumerate(opened):
            row, exit_ = item.row, item.exit
            t_entry = int(panel.row_time[row])
            spot_entry = float(panel.spot_usd[t_entry])
            instrument = int(panel.row_instrument[row])
            rank = ranks[k] if ranks is not None else 0
            entry_fee, exit_fee = float(entry_fees[k]), float(exit_fees[k])
            trades.append(
                SimulatedTrade(
                    instrument_name=str(panel.instrument_name[instrument]),
                    strike=float(panel.strike[instrument]),
                    expiry_ts=float(panel.expiry_ts[instrument]),
                    entry_ts=float(panel.times[t_entry]),
                    exit_ts=exit_.ts,
                    exit_reason=exit_.reason,
                    quantity_coin=qty,
                    entry_price_coin=item.entry_price,
                    exit_price_coin=exit_.price_coin,
                    entry_mark_coin=float(panel.mark_coin[row]),
                    spot_entry_usd=spot_entry,
                    spot_exit_usd=exit_.spot_usd,
                    fees_coin=entry_fee + exit_fee,
                    fees_usd=entry_fee * spot_entry + exit_fee * exit_.spot_usd,
                    delta_entry=float(panel.delta[row]),
                    iv_entry=float(panel.iv[row]),
                    dte_entry_days=float(panel.dte_days[row]),
                    score=scores[k] if scores is not None else math.nan,
                    rank=rank,
                    explored=rank > 0,
                    fallback_fill=item.fallback,
                    path=None
                    if buy is None
                    else self._trade_path(item.path, item.entry_price, buy, qty),
                )
            )
        return trades, entry_fees, exit_fees

    def _trade_path(
        self, path: IntArray, entry_price: float, buy: FloatArray, quantity: float
    ) -> TradePath:
        panel = self.panel
        t = panel.row_time[path]
        return TradePath(
            times=panel.times[t],
            underlying_usd=panel.spot_usd[t],
            mark_coin=panel.mark_coin[path],
            buyback_coin=buy[path],
            pnl_coin=(entry_price - panel.mark_coin[path]) * quantity,
        )

    def _curve(
        self,
        opened: list[_Opened],
        config: BacktestConfig,
        entry_fees: FloatArray,
        exit_fees: FloatArray,
    ) -> EquityCurve:
        """Coin equity over time: coins + cash flows - the open call's mark (vectorised)."""
        panel = self.panel
        n_times, qty = len(panel.times), config.quantity_coin
        cash = np.zeros(n_times + 1)
        liability = np.zeros(n_times)
        in_position = np.zeros(n_times, dtype=bool)
        if opened:
            entry_t = np.array([int(panel.row_time[o.row]) for o in opened])
            exit_t = np.array(
                [
                    n_times - 1 if o.exit.reason is ExitReason.END_OF_DATA else o.exit.time_index
                    for o in opened
                ]
            )
            premium = np.array([o.entry_price for o in opened]) * qty
            exit_cost = np.array([o.exit.price_coin for o in opened]) * qty
            np.add.at(cash, entry_t, premium - entry_fees)
            np.add.at(cash, exit_t, -(exit_cost + exit_fees))
            steps = np.zeros(n_times + 1, dtype=np.int64)
            np.add.at(steps, entry_t, 1)
            np.add.at(steps, exit_t, -1)
            in_position = np.cumsum(steps[:-1]) > 0
            liability = self._open_marks(opened, exit_t, in_position) * qty
        return EquityCurve(
            times=panel.times,
            spot_usd=panel.spot_usd,
            equity_coin=config.initial_coin + np.cumsum(cash[:-1]) - liability,
            in_position=in_position,
        )

    def _open_marks(
        self, opened: list[_Opened], exit_t: IntArray, in_position: BoolArray
    ) -> FloatArray:
        """Mark of the open call at every time (0 when flat; carried over missing quotes)."""
        panel = self.panel
        rows = np.concatenate([o.path[: o.exit.path_end] for o in opened])
        lengths = np.array([o.exit.path_end for o in opened])
        times = panel.row_time[rows]
        keep = times < np.repeat(exit_t, lengths)
        marks = np.full(len(panel.times), np.nan)
        marks[times[keep]] = panel.mark_coin[rows[keep]]
        known = np.where(np.isfinite(marks), np.arange(len(marks)), 0)
        filled = marks[np.maximum.accumulate(known)]
        result: FloatArray = np.where(in_position & np.isfinite(filled), filled, 0.0)
        return result

    # ------------------------------------------------------------------ public API

    def trade_at_row(
        self, row: int, config: BacktestConfig, *, with_path: bool = False
    ) -> SimulatedTrade:
        """What selling the call of panel row `row` would have earned under `config`'s exits."""
        opened = self._exit_for_row(row, config, self.fills(config.fill))
        trades, _, _ = self._trades([opened], config, with_path=with_path)
        return trades[0]

    def simulate_single_call(
        self,
        *,
        instrument_name: str,
        entry_time: datetime,
        config: BacktestConfig | None = None,
    ) -> SimulatedTrade:
        """Sell one call at the first snapshot at or after `entry_time`; follow it to its exit.

        The trade carries its full path (marks, buy-back prices, underlying, running P&L).
        """
        config = config or BacktestConfig(underlying=self.panel.underlying)  # type: ignore[arg-type]
        panel = self.panel
        names = panel.instrument_name
        matches = np.flatnonzero(names == instrument_name)
        if len(matches) == 0:
            raise ValueError(f"{instrument_name} is not in the data")
        t_index = panel.time_index_at_or_after(entry_time.timestamp())
        rows = self._path(int(panel.path_order[panel.path_start[matches[0]]]))
        later = rows[panel.row_time[rows] >= t_index]
        if len(later) == 0:
            raise ValueError(
                f"{instrument_name} has no quote at or after {entry_time:%Y-%m-%d %H:%M}"
            )
        return self.trade_at_row(int(later[0]), config, with_path=True)

    def simulate_policy(
        self,
        config: BacktestConfig,
        *,
        progress: ProgressCallback | None = None,
        should_stop: StopCheck | None = None,
        record_decisions: bool = False,
        chooser: Chooser | None = None,
    ) -> SimulationResult:
        """Run the covered-call policy over every decision time of the panel.

        `chooser(time_index, ranked_rows)`, when given, replaces the rule's pick: it returns
        the rank to sell, or None for no trade at that time (the arena's LLM and Greg, the
        training profiles' per-expiry limits); the exits stay the config's.
        """
        panel = self.panel
        table = self.policy_selection(config)
        fills = self.fills(config.fill)
        decisions_at = self.decision_mask(config.decision_interval_hours) & table.eligible_at_time
        candidate_times = np.flatnonzero(decisions_at)
        rng = np.random.default_rng(config.seed)
        opened: list[_Opened] = []
        scores: list[float] = []
        ranks: list[int] = []
        records: list[DecisionRecord] = []
        last_time = max(len(panel.times) - 1, 1)
        next_time: int | None = int(candidate_times[0]) if len(candidate_times) else None
        while next_time is not None:
            if should_stop is not None and should_stop():
                raise SimulationStopped
            ranked = self.ranked_rows(next_time, table)
            if opened and opened[-1].exit.time_index == next_time:
                # Re-entering at the exit hour (a roll): never the call just bought back.
                closed = panel.row_instrument[opened[-1].row]
                ranked = ranked[panel.row_instrument[ranked] != closed]
                if len(ranked) == 0:
                    k = int(np.searchsorted(candidate_times, next_time, side="right"))
                    next_time = int(candidate_times[k]) if k < len(candidate_times) else None
                    continue
            rank = explore_pick(len(ranked), config.strategy, rng)
            if chooser is not None:
                picked = chooser(next_time, ranked)
                if picked is None:
                    k = int(np.searchsorted(candidate_times, next_time, side="right"))
                    next_time = int(candidate_times[k]) if k < len(candidate_times) else None
                    continue
                rank = picked
            row = int(ranked[rank])
            item = self._exit_for_row(row, config, fills)
            if record_decisions:
                records.append(DecisionRecord(next_time, ranked, rank, len(opened)))
            opened.append(item)
            scores.append(float(table.scores[row]))
            ranks.append(rank)
            if progress is not None:
                progress(min(item.exit.time_index / last_time, 1.0))
            next_time = self._next_decision(row, item.exit, config.exit, table, candidate_times)
        trades, entry_fees, exit_fees = self._trades(opened, config, scores=scores, ranks=ranks)
        curve = self._curve(opened, config, entry_fees, exit_fees)
        metrics = compute_metrics(curve, trades, initial_coin=config.initial_coin)
        if progress is not None:
            progress(1.0)
        return SimulationResult(
            config=config,
            trades=trades,
            curve=curve,
            metrics=metrics,
            flags=too_good_flags(metrics),
            assumptions=self.assumptions(config, trades),
            decisions=records,
        )

    def _next_decision(
        self,
        row: int,
        exit_: _Exit,
        exit_policy: ExitPolicy,
        table: SelectionTable,
        candidate_times: IntArray,
    ) -> int | None:
        """Time index of the next sale, or None when the run is over."""
        if exit_.reason is ExitReason.END_OF_DATA:
            return None
        at = exit_.time_index
        if exit_.reason in (ExitReason.EXPIRED_OTM, ExitReason.EXPIRED_ITM):
            start = at  # a new call can be sold at the expiry hour itself
        elif exit_policy.reenters_immediately:
            if table.eligible_at_time[at]:
                return at
            start = at + 1
        elif exit_policy.waits_for_expiry:
            expiry = float(self.panel.expiry_ts[self.panel.row_instrument[row]])
            start = self.panel.time_index_at_or_after(expiry)
        else:
            start = at + 1
        k = int(np.searchsorted(candidate_times, start, side="left"))
        return int(candidate_times[k]) if k < len(candidate_times) else None

    def assumptions(
        self, config: BacktestConfig, trades: list[SimulatedTrade] | None = None
    ) -> dict[str, str]:
        """The fee, fill, settlement, market and data assumptions a report must state."""
        provenance = self.panel.provenance
        fills = config.fill.describe()
        if trades is not None:
            fallback = sum(1 for t in trades if t.fallback_fill)
            fills += (
                f"; {fallback} of {len(trades)} trade(s) filled at least one side from the "
                "fallback (mark -/+ haircut, book side empty), flagged per trade"
            )
        return {
            "fees": self.fee_model.describe() if config.include_fees else "fees ignored",
            "fills": fills,
            "settlement": settlement_assumption(provenance.details),
            "pnl_vs_buy_and_hold": PNL_VS_BUY_AND_HOLD,
            "data": f"{provenance.source}: {provenance.description}",
            "period": f"{provenance.start:%Y-%m-%d %H:%M} to {provenance.end:%Y-%m-%d %H:%M} UTC"
            if provenance.start and provenance.end
            else "unknown",
            "market": market_assumption(provenance.details),
            "accounting": f"{config.initial_coin:g} {config.underlying} held, "
            f"{config.quantity_coin:g} calls per sale; one position at a time",
        }

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
from collections.abc import Callable
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


class SimulationStopped(Exception):
    """Raised inside `simulate_policy` when the stop check asks to abandon the run."""


@dataclass(frozen=True, slots=True)
class FillPrices:
    """Per-row prices (coin) a sale and a buy-back would get; NaN when unfillable."""

    sell_coin: FloatArray
    buy_coin: FloatArray


def fill_prices(panel: ChainPanel, fill: FillModel) -> FillPrices:
    """Prices for every row of the panel under a fill model (`trading.domain.fees` fills)."""
    style: FillStyle = "cross" if fill.style == "bid_ask" else "mid_haircut"
    haircut = fill.haircut_pct
    sell = fill_price_array(False, panel.bid_coin, panel.ask_coin, style=style, haircut=haircut)
    buy = fill_price_array(True, panel.bid_coin, panel.ask_coin, style=style, haircut=haircut)
    if fill.fallback == "mark_haircut":
        mark = panel.mark_coin
        sell = np.where(np.isfinite(sell), sell, mark * (1 - haircut))
        buy = np.where(np.isfinite(buy), buy, mark * (1 + haircut))
    sell = np.where(sell > 0, sell, np.nan)
    return FillPrices(sell_coin=sell, buy_coin=buy)


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


@dataclass(slots=True)
class _Book:
    """Cash flows and open-position marks accumulated while the policy runs."""

    n_times: int
    cash_coin: FloatArray = field(init=False)
    liability_coin: FloatArray = field(init=False)
    in_position: BoolArray = field(init=False)

    def __post_init__(self) -> None:
        self.cash_coin = np.zeros(self.n_times + 1)
        self.liability_coin = np.zeros(self.n_times)
        self.in_position = np.zeros(self.n_times, dtype=bool)


@dataclass(frozen=True, slots=True)
class _Exit:
    reason: ExitReason
    price_coin: float
    ts: float
    time_index: int
    spot_usd: float
    path_end: int  # number of path rows (from entry) the position was open for


class CoveredCallSimulator:
    """Simulates covered calls on one `ChainPanel` (reuse it across runs: caches are per panel)."""

    def __init__(self, panel: ChainPanel, *, fee_model: FeeModel | None = None) -> None:
        self.panel = panel
        self.fee_model = fee_model or deribit_fee_model()
        self._fills: dict[FillModel, FillPrices] = {}
        self._chains: dict[FillModel, CandidateChain] = {}
        self._row_rv = panel.row_rv()
        self._selections: dict[tuple[StrategyParams, FillModel], SelectionTable] = {}
        self._decision_masks: dict[float, BoolArray] = {}
        inverse = np.empty(panel.n_rows, dtype=np.int64)
        inverse[panel.path_order] = np.arange(panel.n_rows, dtype=np.int64)
        self._path_position = inverse
        self._path_end = panel.path_start[1:][panel.row_instrument]

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
        panel = self.panel
        later = path[1:]
        later_buy = buy[later]
        trigger = np.zeros(len(later), dtype=bool)
        reasons: list[tuple[BoolArray, ExitReason]] = []
        if exit_policy.take_profit_active:
            hit = later_buy <= entry_price * (1.0 - exit_policy.take_profit_pct)
            reasons.append((hit, ExitReason.TAKE_PROFIT))
        stop = exit_policy.effective_stop_loss_pct
        if stop is not None:
            reasons.append((later_buy >= entry_price * (1.0 + stop), ExitReason.STOP_LOSS))
        if exit_policy.roll_dte_active:
            due = (panel.dte_days[later] <= exit_policy.roll_dte_days) & np.isfinite(later_buy)
            reasons.append((due, ExitReason.ROLL_AT_DTE))
        for mask, _ in reasons:
            trigger |= mask
        if trigger.any():
            k = int(np.argmax(trigger))
            reason = next(r for mask, r in reasons if mask[k])
            exit_row = int(later[k])
            t_index = int(panel.row_time[exit_row])
            return _Exit(
                reason=reason,
                price_coin=float(later_buy[k]),
                ts=float(panel.times[t_index]),
                time_index=t_index,
                spot_usd=float(panel.spot_usd[t_index]),
                path_end=k + 1,
            )
        return self._settle_or_close(row, path, buy)

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
        price = float(buy[last]) if math.isfinite(buy[last]) else float(panel.mark_coin[last])
        t_index = int(panel.row_time[last])
        return _Exit(
            reason=ExitReason.END_OF_DATA,
            price_coin=price,
            ts=float(panel.times[t_index]),
            time_index=t_index,
            spot_usd=float(panel.spot_usd[t_index]),
            path_end=len(path),
        )

    def _fees(self, entry_price: float, exit_: _Exit, quantity: float) -> tuple[float, float]:
        """(entry fee, exit fee) in coin for one trade."""
        entry_fee = self.fee_model.trade_fee_coin(entry_price, quantity)
        if exit_.reason is ExitReason.EXPIRED_OTM:
            exit_fee = 0.0
        elif exit_.reason is ExitReason.EXPIRED_ITM:
            exit_fee = self.fee_model.delivery_fee_coin(exit_.price_coin, quantity)
        else:
            exit_fee = self.fee_model.trade_fee_coin(exit_.price_coin, quantity)
        return entry_fee, exit_fee

    def _trade_from_row(
        self,
        row: int,
        config: BacktestConfig,
        *,
        score: float = math.nan,
        rank: int = 0,
        with_path: bool = False,
        book: _Book | None = None,
    ) -> tuple[SimulatedTrade, _Exit]:
        panel = self.panel
        fills = self.fills(config.fill)
        entry_price = float(fills.sell_coin[row])
        if not math.isfinite(entry_price):
            raise ValueError(f"{panel.instrument_name[panel.row_instrument[row]]} has no bid")
        path = self._path(row)
        exit_ = self._find_exit(row, path, entry_price, config.exit, fills.buy_coin)
        qty = config.quantity_coin
        entry_fee, exit_fee = self._fees(entry_price, exit_, qty) if config.include_fees else (0, 0)
        t_entry = int(panel.row_time[row])
        spot_entry = float(panel.spot_usd[t_entry])
        instrument = int(panel.row_instrument[row])
        open_rows = path[: exit_.path_end]
        if book is not None:
            self._book_trade(book, open_rows, t_entry, exit_, entry_price, entry_fee, exit_fee, qty)
        trade = SimulatedTrade(
            instrument_name=str(panel.instrument_name[instrument]),
            strike=float(panel.strike[instrument]),
            expiry_ts=float(panel.expiry_ts[instrument]),
            entry_ts=float(panel.times[t_entry]),
            exit_ts=exit_.ts,
            exit_reason=exit_.reason,
            quantity_coin=qty,
            entry_price_coin=entry_price,
            exit_price_coin=exit_.price_coin,
            entry_mark_coin=float(panel.mark_coin[row]),
            spot_entry_usd=spot_entry,
            spot_exit_usd=exit_.spot_usd,
            fees_coin=entry_fee + exit_fee,
            fees_usd=entry_fee * spot_entry + exit_fee * exit_.spot_usd,
            delta_entry=float(panel.delta[row]),
            iv_entry=float(panel.iv[row]),
            dte_entry_days=float(panel.dte_days[row]),
            score=score,
            rank=rank,
            explored=rank > 0,
            path=self._trade_path(path, entry_price, fills.buy_coin, qty) if with_path else None,
        )
        return trade, exit_

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

    def _book_trade(
        self,
        book: _Book,
        open_rows: IntArray,
        t_entry: int,
        exit_: _Exit,
        entry_price: float,
        entry_fee: float,
        exit_fee: float,
        quantity: float,
    ) -> None:
        """Add one trade's cash flows and its mark-to-market liability to the book."""
        panel = self.panel
        book.cash_coin[t_entry] += entry_price * quantity - entry_fee
        exit_index = exit_.time_index
        if exit_.reason is ExitReason.END_OF_DATA:
            exit_index = len(panel.times) - 1
        book.cash_coin[exit_index] -= exit_.price_coin * quantity + exit_fee
        span = exit_index - t_entry
        if span <= 0:
            return
        marks = np.full(span, np.nan)
        offsets = panel.row_time[open_rows] - t_entry
        inside = offsets < span
        marks[offsets[inside]] = panel.mark_coin[open_rows[inside]]
        # Carry the last known mark over snapshots where the option is missing.
        known = np.where(np.isfinite(marks), np.arange(span), 0)
        marks = marks[np.maximum.accumulate(known)]
        book.liability_coin[t_entry:exit_index] = np.nan_to_num(marks) * quantity
        book.in_position[t_entry:exit_index] = True

    # ------------------------------------------------------------------ public API

    def trade_at_row(self, row: int, config: BacktestConfig) -> SimulatedTrade:
        """What selling the call of panel row `row` would have earned under `config`'s exits."""
        trade, _ = self._trade_from_row(row, config)
        return trade

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
        trade, _ = self._trade_from_row(int(later[0]), config, with_path=True)
        return trade

    def simulate_policy(
        self,
        config: BacktestConfig,
        *,
        progress: ProgressCallback | None = None,
        should_stop: StopCheck | None = None,
        record_decisions: bool = False,
    ) -> SimulationResult:
        """Run the covered-call policy over every decision time of the panel."""
        panel = self.panel
        table = self.selection(config.strategy, config.fill)
        decisions_at = self.decision_mask(config.decision_interval_hours) & table.eligible_at_time
        candidate_times = np.flatnonzero(decisions_at)
        rng = np.random.default_rng(config.seed)
        book = _Book(len(panel.times))
        trades: list[SimulatedTrade] = []
        records: list[DecisionRecord] = []
        n_times = len(panel.times)
        next_time: int | None = int(candidate_times[0]) if len(candidate_times) else None
        while next_time is not None:
            if should_stop is not None and should_stop():
                raise SimulationStopped
            ranked = self.ranked_rows(next_time, table)
            rank = explore_pick(len(ranked), config.strategy, rng)
            row = int(ranked[rank])
            trade, exit_ = self._trade_from_row(
                row, config, score=float(table.scores[row]), rank=rank, book=book
            )
            if record_decisions:
                records.append(DecisionRecord(next_time, ranked, rank, len(trades)))
            trades.append(trade)
            if progress is not None:
                progress(min(exit_.time_index / max(n_times - 1, 1), 1.0))
            next_time = self._next_decision(trade, exit_, config.exit, table, candidate_times)
        curve = self._curve(book, config.initial_coin)
        metrics = compute_metrics(curve, trades, initial_coin=config.initial_coin)
        if progress is not None:
            progress(1.0)
        return SimulationResult(
            config=config,
            trades=trades,
            curve=curve,
            metrics=metrics,
            flags=too_good_flags(metrics),
            assumptions=self.assumptions(config),
            decisions=records,
        )

    def _next_decision(
        self,
        trade: SimulatedTrade,
        exit_: _Exit,
        exit_policy: ExitPolicy,
        table: SelectionTable,
        candidate_times: IntArray,
    ) -> int | None:
        """Time index of the next sale, or None when the run is over."""
        if exit_.reason is ExitReason.END_OF_DATA:
            return None
        at = exit_.time_index
        if trade.settled:
            start = at  # a new call can be sold at the expiry hour itself
        elif exit_policy.reenters_immediately:
            if table.eligible_at_time[at]:
                return at
            start = at + 1
        elif exit_policy.waits_for_expiry:
            start = self.panel.time_index_at_or_after(trade.expiry_ts)
        else:
            start = at + 1
        k = int(np.searchsorted(candidate_times, start, side="left"))
        return int(candidate_times[k]) if k < len(candidate_times) else None

    def _curve(self, book: _Book, initial_coin: float) -> EquityCurve:
        cash = np.cumsum(book.cash_coin[:-1])
        return EquityCurve(
            times=self.panel.times,
            spot_usd=self.panel.spot_usd,
            equity_coin=initial_coin + cash - book.liability_coin,
            in_position=book.in_position,
        )

    def assumptions(self, config: BacktestConfig) -> dict[str, str]:
        """The fee, fill and data assumptions a report must state."""
        provenance = self.panel.provenance
        return {
            "fees": self.fee_model.describe() if config.include_fees else "fees ignored",
            "fills": config.fill.describe(),
            "settlement": "European, cash-settled in coin at the index at 08:00 UTC expiry "
            "(interpolated between snapshots)",
            "data": f"{provenance.source}: {provenance.description}",
            "period": f"{provenance.start:%Y-%m-%d %H:%M} to {provenance.end:%Y-%m-%d %H:%M} UTC"
            if provenance.start and provenance.end
            else "unknown",
            "accounting": f"{config.initial_coin:g} {config.underlying} held, "
            f"{config.quantity_coin:g} calls per sale; one position at a time",
        }

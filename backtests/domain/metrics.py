"""Strategy report in the TradingView style, plus the checks a sceptical trader would add.

Portfolio metrics (returns, drawdown, Sharpe...) use the USD equity of the covered-call book
(coins held plus the short call). Trade metrics (profit factor, win rate...) use the option leg of
each trade after fees. The overlay Sharpe uses the coin equity: the short call's own edge with
the coin's price move taken out, which is what "too good to be true" is judged on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from backtests.domain.types import EquityCurve, FloatArray, SimulatedTrade

SECONDS_PER_DAY = 86_400.0
DAYS_PER_YEAR = 365.0  # crypto trades every day
TOO_GOOD_SHARPE = 1.5
#: Win rate that 20+ short calls (`TOO_GOOD_MIN_TRADES_FOR_WIN_RATE`) should not reach.
TOO_GOOD_WIN_RATE = 0.95
TOO_GOOD_MIN_TRADES_FOR_WIN_RATE = 20
#: Profit factor (gross profit / gross loss) above which the fills or marks are suspect.
TOO_GOOD_PROFIT_FACTOR = 5.0
#: Fees below this fraction of the premium collected: the fee model is suspect.
SUSPICIOUS_FEES_PCT_OF_PREMIUM = 0.005
#: Shorter samples than this many days are flagged as short.
SHORT_SAMPLE_DAYS = 30
MIN_TRADES_FOR_STATISTICS = 10


@dataclass(frozen=True, slots=True)
class Flag:
    """A warning attached to a report (results that look too good, or too thin to trust)."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Metrics:
    """The numbers of a strategy report; percentages are fractions (0.05 = 5%)."""

    num_trades: int
    years: float
    initial_capital_usd: float
    net_profit_usd: float
    gross_profit_usd: float
    gross_loss_usd: float
    return_on_capital_pct: float
    total_return_pct: float
    cagr_pct: float
    max_drawdown_pct: float
    max_drawdown_usd: float
    max_drawdown_duration_days: float
    max_runup_pct: float
    sharpe: float
    sortino: float
    calmar: float
    overlay_sharpe: float
    overlay_return_coin_pct: float
    profit_factor: float
    win_rate: float
    avg_win_usd: float
    avg_loss_usd: float
    largest_win_usd: float
    largest_loss_usd: float
    max_consecutive_wins: int
    max_consecutive_losses: int
    expectancy_usd: float
    exposure_pct: float
    premium_collected_usd: float
    premium_captured_pct: float
    assignment_rate: float
    fees_usd: float
    fees_pct_of_premium: float
    buy_and_hold_return_pct: float
    excess_vs_buy_and_hold_pct: float
    worst_week_pct: float
    fallback_fills: int = 0

    def as_dict(self) -> dict[str, float | int | None]:
        """JSON-ready dict; NaN and infinities become None."""
        return {k: _finite_or_none(v) for k, v in asdict(self).items()}


def _finite_or_none(value: float | int) -> float | int | None:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _safe_div(numerator: float, denominator: float) -> float:
    if denominator == 0 or not math.isfinite(denominator):
        return math.nan
    return numerator / denominator


def daily_closes(times: FloatArray, values: FloatArray) -> FloatArray:
    """Last value of each UTC day (times in epoch seconds, sorted)."""
    if len(times) == 0:
        return np.empty(0)
    day = np.floor(times / SECONDS_PER_DAY).astype(np.int64)
    last_of_day = np.flatnonzero(np.append(day[1:] != day[:-1], True))
    result: FloatArray = values[last_of_day]
    return result


def _returns(values: FloatArray) -> FloatArray:
    if len(values) < 2:
        return np.empty(0)
    result: FloatArray = values[1:] / values[:-1] - 1.0
    return result


def sharpe_ratio(daily_returns: FloatArray) -> float:
    """Annualised Sharpe of daily returns (risk-free rate 0, 365 days a year)."""
    if len(daily_returns) < 2:
        return math.nan
    std = float(np.std(daily_returns, ddof=1))
    if std == 0:
        return math.nan
    return float(np.mean(daily_returns)) / std * math.sqrt(DAYS_PER_YEAR)


def sortino_ratio(daily_returns: FloatArray) -> float:
    """Annualised Sortino of daily returns (downside deviation against 0)."""
    if len(daily_returns) < 2:
        return math.nan
    downside = np.minimum(daily_returns, 0.0)
    deviation = math.sqrt(float(np.mean(downside**2)))
    if deviation == 0:
        return math.nan
    return float(np.mean(daily_returns)) / deviation * math.sqrt(DAYS_PER_YEAR)


def max_drawdown(times: FloatArray, equity: FloatArray) -> tuple[float, float, float]:
    """(worst drawdown as a negative fraction, in currency units, longest time under water days)."""
    if len(equity) == 0:
        return 0.0, 0.0, 0.0
    peak = np.maximum.accumulate(equity)
    drawdown = equity / peak - 1.0
    worst = int(np.argmin(drawdown))
    at_peak = np.flatnonzero(equity >= peak)
    # Longest gap between consecutive new highs (or a high and the end of the data).
    boundaries = np.append(times[at_peak], times[-1])
    longest = float(np.max(np.diff(boundaries))) if len(boundaries) > 1 else 0.0
    return float(drawdown[worst]), float(equity[worst] - peak[worst]), longest / SECONDS_PER_DAY


def max_runup(equity: FloatArray) -> float:
    """Largest rise from a running trough, as a fraction."""
    if len(equity) == 0:
        return 0.0
    trough = np.minimum.accumulate(equity)
    return float(np.max(equity / trough - 1.0))


def worst_window_return(times: FloatArray, equity: FloatArray, window_days: float = 7.0) -> float:
    """Worst return over any window of `window_days` (using the first point at least that old)."""
    if len(times) < 2:
        return math.nan
    start = np.searchsorted(times, times - window_days * SECONDS_PER_DAY, side="left")
    full = times - times[start] >= window_days * SECONDS_PER_DAY * 0.999
    if not np.any(full):
        return float(equity[-1] / equity[0] - 1.0)
    returns = equity[full] / equity[start[full]] - 1.0
    return float(np.min(returns))


def _streaks(wins: Sequence[bool]) -> tuple[int, int]:
    best_win = best_loss = current = 0
    previous: bool | None = None
    for won in wins:
        current = current + 1 if won == previous else 1
        previous = won
        if won:
            best_win = max(best_win, current)
        else:
            best_loss = max(best_loss, current)
    return best_win, best_loss


@dataclass(frozen=True, slots=True)
class _TradeStats:
    pnl_usd: FloatArray
    premium_usd: float
    fees_usd: float
    settled: int
    itm: int


def _trade_stats(trades: Sequence[SimulatedTrade]) -> _TradeStats:
    return _TradeStats(
        pnl_usd=np.array([t.pnl_usd for t in trades], dtype=np.float64),
        premium_usd=float(sum(t.premium_usd for t in trades)),
        fees_usd=float(sum(t.fees_usd for t in trades)),
        settled=sum(1 for t in trades if t.settled),
        itm=sum(1 for t in trades if t.itm_at_expiry),
    )


def _trade_metrics(trades: Sequence[SimulatedTrade]) -> dict[str, Any]:
    stats = _trade_stats(trades)
    pnl = stats.pnl_usd
    wins, losses = pnl[pnl > 0], pnl[pnl <= 0]
    gross_profit, gross_loss = float(wins.sum()), float(losses.sum())
    best_win_streak, worst_loss_streak = _streaks([bool(p > 0) for p in pnl])
    net = float(pnl.sum())
    return {
        "num_trades": len(trades),
        "net_profit_usd": net,
        "gross_profit_usd": gross_profit,
        "gross_loss_usd": gross_loss,
        "profit_factor": _safe_div(gross_profit, -gross_loss)
        if gross_loss < 0
        else (math.inf if gross_profit > 0 else math.nan),
        "win_rate": _safe_div(len(wins), len(pnl)),
        "avg_win_usd": float(wins.mean()) if len(wins) else math.nan,
        "avg_loss_usd": float(losses.mean()) if len(losses) else math.nan,
        "largest_win_usd": float(wins.max()) if len(wins) else math.nan,
        "largest_loss_usd": float(losses.min()) if len(losses) else math.nan,
        "max_consecutive_wins": best_win_streak,
        "max_consecutive_losses": worst_loss_streak,
        "expectancy_usd": float(pnl.mean()) if len(pnl) else math.nan,
        "premium_collected_usd": stats.premium_usd,
        "premium_captured_pct": _safe_div(net, stats.premium_usd),
        "assignment_rate": _safe_div(stats.itm, stats.settled),
        "fees_usd": stats.fees_usd,
        "fees_pct_of_premium": _safe_div(stats.fees_usd, stats.premium_usd),
        "fallback_fills": sum(1 for t in trades if t.fallback_fill),
    }


def _portfolio_metrics(curve: EquityCurve, initial_coin: float) -> dict[str, Any]:
    """Portfolio figures from the coin actually put in: `initial_coin` at the first index.

    The curve's first point already carries the first sale's costs (half-spread and fee) when
    a call is sold at the first time, so the curve is prefixed with the capital before any
    trade: returns, drawdown and daily returns all start from the coins put in.
    """
    initial_usd = float(initial_coin * curve.spot_usd[0])
    times = np.concatenate([curve.times[:1], curve.times])
    equity = np.concatenate([[initial_usd], curve.equity_usd])
    coin = np.concatenate([[initial_coin], curve.equity_coin])
    years = (times[-1] - times[0]) / SECONDS_PER_DAY / DAYS_PER_YEAR if len(times) > 1 else 0.0
    total = float(equity[-1] / initial_usd - 1.0)
    daily = _returns(np.concatenate([[initial_usd], daily_closes(curve.times, curve.equity_usd)]))
    overlay_daily = _returns(
        np.concatenate([[initial_coin], daily_closes(curve.times, curve.equity_coin)])
    )
    dd_pct, dd_usd, dd_days = max_drawdown(times, equity)
    cagr = (1.0 + total) ** (1.0 / years) - 1.0 if years > 0 and total > -1 else math.nan
    hold = curve.buy_and_hold_usd(initial_coin)
    hold_return = float(hold[-1] / hold[0] - 1.0)
    return {
        "years": float(years),
        "initial_capital_usd": initial_usd,
        "total_return_pct": total,
        "cagr_pct": cagr,
        "max_drawdown_pct": dd_pct,
        "max_drawdown_usd": dd_usd,
        "max_drawdown_duration_days": dd_days,
        "max_runup_pct": max_runup(equity),
        "sharpe": sharpe_ratio(daily),
        "sortino": sortino_ratio(daily),
        "calmar": _safe_div(cagr, -dd_pct) if dd_pct < 0 else math.nan,
        "overlay_sharpe": sharpe_ratio(overlay_daily),
        "overlay_return_coin_pct": float(coin[-1] / initial_coin - 1.0),
        "exposure_pct": float(np.mean(curve.in_position)) if len(times) else 0.0,
        "buy_and_hold_return_pct": hold_return,
        "excess_vs_buy_and_hold_pct": total - hold_return,
        "worst_week_pct": worst_window_return(times, equity),
    }


def compute_metrics(
    curve: EquityCurve, trades: Sequence[SimulatedTrade], *, initial_coin: float
) -> Metrics:
    """All report metrics from an equity curve and its trades."""
    if len(curve.times) == 0:
        raise ValueError("an equity curve needs at least one point")
    portfolio = _portfolio_metrics(curve, initial_coin)
    trade = _trade_metrics(trades)
    trade["return_on_capital_pct"] = _safe_div(
        trade["net_profit_usd"], portfolio["initial_capital_usd"]
    )
    return Metrics(**portfolio, **trade)


def too_good_flags(metrics: Metrics) -> list[Flag]:
    """Warnings for results that a short-call strategy should not produce, or cannot support."""
    flags: list[Flag] = []
    if math.isfinite(metrics.overlay_sharpe) and metrics.overlay_sharpe > TOO_GOOD_SHARPE:
        flags.append(
            Flag(
                "sharpe_too_high",
                f"after-cost overlay Sharpe {metrics.overlay_sharpe:.2f} > {TOO_GOOD_SHARPE}: "
                "short calls carry tail risk; suspect look-ahead, fills or a short sample",
            )
        )
    if metrics.num_trades < MIN_TRADES_FOR_STATISTICS:
        flags.append(
            Flag(
                "too_few_trades",
                f"{metrics.num_trades} trades: too few for the statistics to mean much",
            )
        )
    if (
        metrics.num_trades >= TOO_GOOD_MIN_TRADES_FOR_WIN_RATE
        and metrics.win_rate > TOO_GOOD_WIN_RATE
    ):
        flags.append(
            Flag(
                "win_rate_too_high",
                f"win rate {metrics.win_rate:.0%} over "
                f"{TOO_GOOD_MIN_TRADES_FOR_WIN_RATE}+ short calls",
            )
        )
    if math.isfinite(metrics.profit_factor) and metrics.profit_factor > TOO_GOOD_PROFIT_FACTOR:
        flags.append(
            Flag(
                "profit_factor_too_high",
                f"profit factor {metrics.profit_factor:.1f} > {TOO_GOOD_PROFIT_FACTOR:g}",
            )
        )
    if metrics.num_trades > 0 and metrics.max_drawdown_pct == 0.0:
        flags.append(Flag("no_drawdown", "the equity curve never fell: check marks and fills"))
    if (
        metrics.premium_collected_usd > 0
        and metrics.fees_pct_of_premium < SUSPICIOUS_FEES_PCT_OF_PREMIUM
    ):
        flags.append(
            Flag(
                "fees_suspiciously_low",
                f"fees under {SUSPICIOUS_FEES_PCT_OF_PREMIUM:.1%} of premium",
            )
        )
    if metrics.years < SHORT_SAMPLE_DAYS / DAYS_PER_YEAR:
        flags.append(Flag("short_sample", f"{metrics.years * 365:.1f} days of data"))
    return flags


_FRACTION_NAMES = ("win_rate", "assignment_rate")


def format_metric(name: str, value: float | int | str | None) -> str:
    """Render one metric for people, in the dashboard's one number format: `_pct` and rate
    fields (stored as fractions) as percentages with one decimal ("-30.5%"), `_usd` fields as
    whole dollars ("-$1,234"), counts as integers, ratios with two decimals; negatives with a
    true minus sign, missing values "n/a"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, str):
        return value
    number = float(value)
    if math.isinf(number):
        return "\u2212\u221e" if number < 0 else "\u221e"
    if "_pct" in name or name in _FRACTION_NAMES:
        text = f"{abs(number) * 100:,.1f}%"
    elif name.endswith("_usd"):
        text = f"${abs(number):,.0f}"
    elif isinstance(value, int) or name.startswith("num_"):
        text = f"{abs(int(number)):,}"
    else:
        text = f"{abs(number):,.2f}"
    negative = number < 0 and any(c in "123456789" for c in text)
    return f"\u2212{text}" if negative else text

"""Words for codes: rejection reasons, metric names with units, for pages and answers.

Pure: no Django. The dashboard never shows snake_case where a trader reads a figure.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Candidate filter reasons (`trading.domain.candidates.RejectReason`, lower case) in words.
REJECTION_WORDS: dict[str, str] = {
    "not_a_call": "not a call",
    "missing_data": "missing quote data",
    "dte_below_min": "too few days to expiry",
    "dte_above_max": "too many days to expiry",
    "delta_below_min": "delta below the minimum",
    "delta_above_max": "delta above the maximum",
    "ivrv_below_min": "IV/RV below the minimum",
    "ivrv_above_max": "IV/RV above the maximum",
    "premium_below_min": "premium below the minimum",
    "no_bid": "no bid",
    "spread_too_wide": "spread too wide",
    "open_interest_too_low": "open interest too low",
}


def rejection_words(name: str) -> str:
    """One reason in words (unknown codes are shown with spaces, not underscores)."""
    return REJECTION_WORDS.get(name, name.replace("_", " "))


def rejection_summary(counts: Mapping[str, int], *, skip: tuple[str, ...] = ("not_a_call",)) -> str:
    """ "no call passed the filter" made specific: which filters rejected how many calls.

    A call may fail several filters, so the counts can add up to more than the calls seen.
    Puts are left out (`not_a_call`): a covered call never considers them.
    """
    parts = [
        f"{rejection_words(name)}: {count}"
        for name, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        if name not in skip and count
    ]
    return "; ".join(parts) if parts else "no calls were quoted"


#: Backtest and P&L metric names in words, with the unit the value is shown in.
METRIC_WORDS: dict[str, tuple[str, str]] = {
    "total_return_pct": ("Total return", "%"),
    "total_return": ("Total return", "%"),
    "annualized_return_pct": ("Annualised return", "%"),
    "cagr_pct": ("Annualised return", "%"),
    "max_drawdown_pct": ("Max drawdown", "%"),
    "max_drawdown": ("Max drawdown", "%"),
    "sharpe": ("Sharpe ratio", ""),
    "sharpe_ratio": ("Sharpe ratio", ""),
    "sortino": ("Sortino ratio", ""),
    "sortino_ratio": ("Sortino ratio", ""),
    "calmar": ("Calmar ratio", ""),
    "win_rate": ("Win rate", "%"),
    "win_rate_pct": ("Win rate", "%"),
    "trades": ("Trades", ""),
    "n_trades": ("Trades", ""),
    "premium_collected_usd": ("Premium collected", "USD"),
    "fees_usd": ("Fees", "USD"),
    "final_equity_usd": ("Final equity", "USD"),
    "excess_vs_hold_pct": ("Excess over buy-and-hold", "%"),
    "volatility_pct": ("Volatility", "%"),
    "num_trades": ("Trades", ""),
    "net_profit_usd": ("Net profit", "USD"),
    "buy_and_hold_return_pct": ("Buy-and-hold return", "%"),
    "excess_vs_buy_and_hold_pct": ("Excess over buy-and-hold", "%"),
    "overlay_sharpe": ("Overlay Sharpe ratio", ""),
    "assignment_rate": ("Assignment rate", "%"),
    "fees_pct_of_premium": ("Fees as a share of premium", "%"),
    "exposure_pct": ("Time with a call open", "%"),
    "expectancy_usd": ("Expectancy per trade", "USD"),
}


def metric_label(name: str) -> str:
    """A metric name in words with its unit: "max_drawdown_pct" -> "Max drawdown, %"."""
    words, unit = METRIC_WORDS.get(name, ("", ""))
    if not words:
        base = name.removesuffix("_pct").removesuffix("_usd")
        words = base.replace("_", " ").strip().capitalize()
        unit = "%" if name.endswith("_pct") else "USD" if name.endswith("_usd") else ""
    return f"{words}, {unit}" if unit else words


#: Codes a page shows (decision modes, exit reasons, flags, checks, grid axes) in words.
CODE_WORDS: dict[str, str] = {
    "rule_only": "rules only",
    "llm_only": "LLM only",
    "hybrid_shadow": "hybrid (LLM in shadow)",
    "expired_otm": "expired out of the money",
    "expired_itm": "expired in the money (assigned)",
    "end_of_data": "end of data",
    "take_profit": "take-profit",
    "manual_close": "manual close",
    "manual_roll": "manual roll",
    "hold_to_expiry": "hold to expiry",
    "roll_dte": "roll before expiry",
    "delta_range": "delta range",
    "dte_range": "days-to-expiry range, days",
    "ivrv_min": "IV/RV minimum",
    "premium_min_usd": "premium minimum, USD per coin",
    "explore_prob": "explore probability",
    "explore_top_k": "explore top-K",
    "take_profit_pct": "take-profit, fraction of premium",
    "exit_style": "exit style",
    "fill_style": "fill style",
    "bid_ask": "bid/ask",
    "quantity_coin": "size sold, coin per call",
    "pnl_vs_buy_and_hold": "P&L vs buy-and-hold",
    "covered_call": "covered call",
    "daily_drawdown": "daily drawdown",
    "net_delta": "net delta",
    "dry_run": "dry run",
    "kill_switch": "kill switch",
    "last_price_usd": "last price, USD",
    "rv_7d": "RV 7 days",
    "rv_30d": "RV 30 days",
    "return_1d_pct": "return 1 day, %",
    "return_7d_pct": "return 7 days, %",
    "return_30d_pct": "return 30 days, %",
    "pct_from_ma_short": "% from the short moving average",
    "pct_from_ma_long": "% from the long moving average",
    "ma_long_days_used": "long moving average, days used",
}


def code_words(code: str) -> str:
    """A code in words: known ones from `CODE_WORDS`, metrics as `metric_label` says, any other
    with spaces for underscores ("too_few_trades" -> "too few trades")."""
    if code in CODE_WORDS:
        return CODE_WORDS[code]
    if code in METRIC_WORDS:
        return metric_label(code)
    return code.replace("_", " ")

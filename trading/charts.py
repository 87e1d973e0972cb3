"""Inline SVG picture of rules vs LLM over time (matplotlib's OO API, `optionsdesk.charts`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.dates import date2num
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from optionsdesk.charts import WIDTH_IN, date_axis, svg_of

#: One colour per action, shared by both rows so the eye matches them across.
ACTION_COLOURS = {
    "DO_NOTHING": "tab:gray",
    "OPEN_COVERED_CALL": "tab:green",
    "ROLL_COVERED_CALL": "tab:blue",
    "CLOSE_COVERED_CALL": "tab:orange",
}
#: Ticks in the rolling agreement rate (the last N ticks the LLM answered).
AGREEMENT_WINDOW = 10
_RULES_Y, _LLM_Y = 1.0, 0.0


def _marks(axis: Any, rows: Sequence[Mapping[str, Any]], times: Any) -> None:
    """One row of marks per source; an LLM that failed is an x, a missing proposal a black x."""
    for action, colour in ACTION_COLOURS.items():
        rule = [t for t, r in zip(times, rows, strict=True) if r["rule_action"] == action]
        axis.scatter(rule, [_RULES_Y] * len(rule), color=colour, s=28, marker="o")
        for failed, marker in ((False, "o"), (True, "x")):
            llm = [
                t
                for t, r in zip(times, rows, strict=True)
                if r["llm_action"] == action and r["llm_failed"] == failed
            ]
            axis.scatter(llm, [_LLM_Y] * len(llm), color=colour, s=28, marker=marker)
    missing = [t for t, r in zip(times, rows, strict=True) if r["llm_action"] is None]
    axis.scatter(missing, [_LLM_Y] * len(missing), color="black", s=28, marker="x")
    differ = [t for t, r in zip(times, rows, strict=True) if r["agree"] is False]
    axis.vlines(differ, _LLM_Y, _RULES_Y, color="tab:red", alpha=0.35, linewidth=1.5)
    axis.set_yticks([_LLM_Y, _RULES_Y], ["LLM", "rules"])
    axis.set_ylim(-0.6, 1.6)
    handles = [
        Line2D([], [], color=colour, marker="o", linestyle="", label=action)
        for action, colour in ACTION_COLOURS.items()
    ]
    handles += [
        Line2D([], [], color="gray", marker="x", linestyle="", label="LLM failed"),
        Line2D([], [], color="black", marker="x", linestyle="", label="no LLM proposal"),
        Line2D([], [], color="tab:red", alpha=0.35, label="disagree"),
    ]
    axis.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)


def _agreement(axis: Any, rows: Sequence[Mapping[str, Any]], times: Any) -> None:
    """Rolling agreement rate (%) at each tick the LLM answered (`agree` is not None)."""
    pairs = [(t, r["agree"]) for t, r in zip(times, rows, strict=True) if r["agree"] is not None]
    if pairs:
        agree = np.array([a for _, a in pairs], dtype=np.float64)
        window = np.ones(AGREEMENT_WINDOW)
        counts = np.convolve(np.ones_like(agree), window)[: len(agree)]
        rate = 100.0 * np.convolve(agree, window)[: len(agree)] / counts
        axis.step([t for t, _ in pairs], rate, where="post", color="tab:purple", linewidth=1.2)
    axis.set_ylim(-5, 105)
    axis.set_ylabel(f"agree, %\n(last {AGREEMENT_WINDOW})", fontsize=8)


def source_comparison_svg(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rules and LLM actions per tick (colour = action) over the rolling agreement rate.

    `rows` are `trading.domain.source_compare.ComparedTick` dicts in any order; '' when empty.
    """
    if not rows:
        return ""
    ordered = sorted(rows, key=lambda r: r["decided_at"])
    times = date2num([r["decided_at"] for r in ordered])
    figure = Figure(figsize=(WIDTH_IN, 3.2))
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    _marks(top, ordered, times)
    _agreement(bottom, ordered, times)
    date_axis(top)
    date_axis(bottom)
    return svg_of(figure)


def scenario_heatmap_svg(scenarios: Mapping[str, Any], day_index: int = 0) -> str:
    """The scenario grid of one day as a heatmap: spot moves down, vol moves across, P&L in USD.

    `scenarios` is `ScenarioGrid.as_record()`; red is a loss, green a gain, the worst cell of
    the whole grid is outlined when it is on this day. '' when the grid is empty.
    """
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.patches import Rectangle

    pnl = np.asarray(scenarios.get("pnl_usd") or [], dtype=np.float64)
    if pnl.ndim != 3 or pnl.size == 0:
        return ""
    cube = pnl[min(day_index, pnl.shape[0] - 1)]
    spot = [f"{s * 100:+.0f}%" for s in scenarios["spot_moves"]]
    vol = [f"{v * 100:+.0f}%" for v in scenarios["vol_moves"]]
    bound = max(float(np.abs(pnl).max()), 1.0)
    figure = Figure(figsize=(min(WIDTH_IN, 1.1 * len(vol) + 1.6), 0.42 * len(spot) + 1.0))
    axis = figure.subplots()
    axis.imshow(cube, cmap="RdYlGn", norm=TwoSlopeNorm(0.0, -bound, bound), aspect="auto")
    for (i, j), value in np.ndenumerate(cube):
        colour = "white" if abs(value) > 0.6 * bound else "black"
        axis.text(j, i, f"{value / 1000:+.1f}k", ha="center", va="center", fontsize=7, color=colour)
    axis.set_xticks(range(len(vol)), vol, fontsize=8)
    axis.set_yticks(range(len(spot)), spot, fontsize=8)
    axis.set_xlabel("vol move (each position's IV scaled)", fontsize=8)
    axis.set_ylabel("spot move", fontsize=8)
    days = scenarios["days"][min(day_index, pnl.shape[0] - 1)]
    axis.set_title(f"P&L, USD, +{days:g} d", fontsize=9)
    worst = scenarios.get("worst") or {}
    if worst.get("days") == days:
        row = int(np.argmin(np.abs(np.asarray(scenarios["spot_moves"]) - worst["spot_move"])))
        col = int(np.argmin(np.abs(np.asarray(scenarios["vol_moves"]) - worst["vol_move"])))
        axis.add_patch(
            Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=2)
        )
    return svg_of(figure)


def pnl_history_svg(history: Mapping[str, Any]) -> str:
    """Two panels: daily realised P&L bars per book with the cumulative line (USD), then the
    account's equity with its drawdown from the running peak shaded below (percent)."""
    days = list(history.get("days") or [])
    figure = Figure(figsize=(WIDTH_IN, 5.2))
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    if not days:
        top.text(0.5, 0.5, "no fills yet", ha="center", va="center", transform=top.transAxes)
        return svg_of(figure)
    x = date2num(days)
    books = list(history["daily_usd"])
    width = 0.8 / max(len(books), 1)
    colours = {"real": "tab:red", "paper": "tab:blue"}
    for i, book in enumerate(books):
        offset = (i - (len(books) - 1) / 2) * width
        colour = colours.get(book, "tab:gray")
        top.bar(x + offset, history["daily_usd"][book], width=width, color=colour, alpha=0.45,
                label=f"{book} book, daily")  # fmt: skip
        top.plot(x, history["cumulative_usd"][book], color=colour, marker="o", lw=1.5,
                 label=f"{book} book, cumulative")  # fmt: skip
    top.axhline(0, color="black", lw=0.6)
    top.set_ylabel("Cash P&L, USD")
    top.legend(loc="upper left", fontsize=8)
    equity = np.array([np.nan if v is None else v for v in history["equity_usd"]], dtype=float)
    drawdown = np.array([np.nan if v is None else v for v in history["drawdown_pct"]], dtype=float)
    bottom.plot(x, equity, color="tab:green", marker=".", lw=1.5, label="account equity, USD")
    bottom.set_ylabel("Equity, USD")
    twin = bottom.twinx()
    twin.fill_between(x, drawdown, 0, color="tab:red", alpha=0.25, step="mid")
    twin.set_ylabel("Drawdown, %")
    worst = history.get("max_drawdown_pct")
    title = "Equity and drawdown" + ("" if worst is None else f" (max drawdown {worst:.1f}%)")
    bottom.set_title(title, fontsize=9)
    date_axis(bottom)
    top.grid(alpha=0.3)
    return svg_of(figure)

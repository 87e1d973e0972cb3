"""Inline SVG pictures of a run (equity, drawdown, trade P&L), drawn with matplotlib's OO API
(`optionsdesk.charts`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib.dates import date2num
from matplotlib.figure import Figure

from optionsdesk.charts import WIDTH_IN, date_axis, svg_of

FloatArray = npt.NDArray[np.float64]
HEIGHT_IN = 3.0


def _dates(values: Sequence[str]) -> FloatArray:
    """ISO times as matplotlib date numbers."""
    return np.asarray(date2num([datetime.fromisoformat(v) for v in values]), dtype=np.float64)


def equity_svg(curves: dict[str, dict[str, list[Any]]]) -> str:
    """Equity (USD) of one or more runs, plus buy-and-hold of the first; '' when empty."""
    curves = {label: c for label, c in curves.items() if c.get("t")}
    if not curves:
        return ""
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN))
    axis = figure.add_subplot()
    for index, (label, curve) in enumerate(curves.items()):
        times = _dates(curve["t"])
        axis.plot(times, curve["equity_usd"], linewidth=1.2, label=label)
        if index == 0:
            axis.plot(times, curve["hold_usd"], linewidth=1, linestyle="--", label="buy & hold")
    axis.set_ylabel("equity, USD")
    axis.legend(loc="best", fontsize=8)
    date_axis(axis)
    return svg_of(figure)


def drawdown_svg(curve: dict[str, list[Any]]) -> str:
    """Drawdown of the USD equity from its running peak, in percent."""
    if not curve.get("t"):
        return ""
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN * 0.7))
    axis = figure.add_subplot()
    times = _dates(curve["t"])
    drawdown = [100.0 * d for d in curve["drawdown"]]
    axis.fill_between(times, drawdown, 0.0, color="tab:red", alpha=0.4, linewidth=0)
    if curve.get("worst_loss_pct"):
        worst = [-x for x in curve["worst_loss_pct"]]
        axis.plot(times, worst, color="tab:purple", linewidth=1.0, label="worst-scenario loss")
        axis.legend(loc="lower left", fontsize=8)
    axis.set_ylabel("drawdown, %")
    date_axis(axis)
    return svg_of(figure)


def trades_svg(exit_times: Sequence[datetime], pnl_usd: Sequence[float]) -> str:
    """Each trade's option-leg P&L (USD) at its exit time: green wins, red losses."""
    if not pnl_usd:
        return ""
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN * 0.8))
    axis = figure.add_subplot()
    colours = ["tab:green" if p > 0 else "tab:red" for p in pnl_usd]
    axis.scatter(date2num(list(exit_times)), list(pnl_usd), c=colours, s=14)
    axis.axhline(0.0, color="grey", linewidth=0.8)
    axis.set_ylabel("trade P&L, USD")
    date_axis(axis)
    return svg_of(figure)


def funnel_svg(steps: Sequence[dict[str, Any]]) -> str:
    """The selector funnel: each filter's pass share alone and cumulatively, as bars."""
    if not steps:
        return ""
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN * 0.8))
    axis = figure.add_subplot()
    names = [str(s["name"]) for s in steps]
    positions = list(range(len(names)))
    axis.bar([p - 0.2 for p in positions], [100 * s["alone"] for s in steps], 0.4, label="alone")
    axis.bar(
        [p + 0.2 for p in positions],
        [100 * s["cumulative"] for s in steps],
        0.4,
        label="cumulative (in order)",
    )
    axis.set_xticks(positions, names)
    axis.set_ylabel("decision times with a passing call, %")
    axis.set_ylim(0, 105)
    axis.legend(loc="lower left")
    axis.grid(alpha=0.3, axis="y")
    return svg_of(figure)


def heatmap_svg(result: dict[str, Any]) -> str:
    """A selector heatmap: the measure over the two swept parameters, values written in."""
    values = result.get("values") or []
    if not values:
        return ""
    grid = [[float("nan") if v is None else float(v) for v in row] for row in values]
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN * 1.2))
    axis = figure.add_subplot()
    image = axis.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
    xs, ys = result["x_values"], result["y_values"]
    axis.set_xticks(range(len(xs)), [f"{x:g}" for x in xs], rotation=45)
    axis.set_yticks(range(len(ys)), [f"{y:g}" for y in ys])
    axis.set_xlabel(result["x_param"])
    axis.set_ylabel(result["y_param"])
    figure.colorbar(image, ax=axis, label=result["measure"])
    if len(xs) * len(ys) <= 100:
        for i, row in enumerate(grid):
            for j, value in enumerate(row):
                axis.text(j, i, f"{value:.2g}", ha="center", va="center", fontsize=7, color="w")
    return svg_of(figure)


def forest_svg(rows: Sequence[dict[str, Any]]) -> str:
    """Forest plot of an arena: each policy's mean daily difference against the baseline
    (USD) with its block-bootstrap 95% interval; zero marked."""
    usable = [r for r in rows if r.get("diff_ci_low_usd") is not None]
    if not usable:
        return ""
    figure = Figure(figsize=(WIDTH_IN, 0.5 + 0.45 * len(usable)))
    axis = figure.add_subplot()
    for k, row in enumerate(reversed(usable)):
        mean, low, high = (
            row["diff_vs_baseline_usd"],
            row["diff_ci_low_usd"],
            row["diff_ci_high_usd"],
        )
        colour = "tab:green" if low > 0 else ("tab:red" if high < 0 else "tab:gray")
        axis.plot([low, high], [k, k], color=colour, linewidth=2)
        axis.plot([mean], [k], "o", color=colour)
    axis.axvline(0.0, color="black", linewidth=0.8)
    axis.set_yticks(range(len(usable)), [str(r["name"]) for r in reversed(usable)])
    axis.set_xlabel("mean daily P&L vs baseline, USD (95% block-bootstrap interval)")
    axis.grid(alpha=0.3, axis="x")
    return svg_of(figure)

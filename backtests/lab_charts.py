"""Pictures of the lab's environment studies: the environment heatmap and the synthetic-vs-live
distributions (matplotlib's OO API, inline SVG, like `backtests.charts`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from backtests.domain.environment import ENV_MEASURES, ENV_METRICS
from backtests.domain.source_compare import COMPARED
from optionsdesk.charts import WIDTH_IN, svg_of


def bin_labels(edges: Sequence[float]) -> list[str]:
    """'lo to hi' per bin."""
    return [f"{a:g} to {b:g}" for a, b in pairwise(edges)]


def _cell_text(measure: str, value: float) -> str:
    if math.isnan(value):
        return ""
    if measure in ("share", "win_rate"):
        return f"{100 * value:.0f}%"
    if measure == "count":
        return f"{value:.0f}"
    return f"{value:.0f}"


def environment_svg(result: dict[str, Any], measure: str = "share") -> str:
    """The environment heatmap: one measure per (x bin, y bin), empty cells blank."""
    if measure not in ENV_MEASURES or not result.get("counts"):
        return ""
    source = result["counts"] if measure == "count" else result[measure]
    counts = np.asarray(result["counts"], dtype=np.float64)
    grid = np.asarray([[np.nan if v is None else v for v in row] for row in source], dtype=float)
    grid[counts == 0] = np.nan
    figure = Figure(figsize=(WIDTH_IN, 4.2))
    axis = figure.add_subplot()
    cmap = "RdYlGn" if measure in ("mean_pnl_usd", "win_rate") else "viridis"
    image = axis.imshow(grid, origin="lower", aspect="auto", cmap=cmap)
    xs, ys = bin_labels(result["x_edges"]), bin_labels(result["y_edges"])
    axis.set_xticks(range(len(xs)), xs, rotation=30, fontsize=7)
    axis.set_yticks(range(len(ys)), ys, fontsize=7)
    axis.set_xlabel(ENV_METRICS[result["x_metric"]])
    axis.set_ylabel(ENV_METRICS[result["y_metric"]])
    figure.colorbar(image, ax=axis, label=ENV_MEASURES[measure])
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            text = _cell_text(measure, float(value))
            if text:
                red, green, blue, _ = image.cmap(image.norm(value))
                light = 0.299 * red + 0.587 * green + 0.114 * blue > 0.5
                colour = "black" if light else "white"
                axis.text(j, i, text, ha="center", va="center", fontsize=7, color=colour)
    figure.tight_layout()
    return svg_of(figure)


def compare_svg(result: dict[str, Any]) -> str:
    """Empirical distributions of each compared measure, live and synthetic overlaid."""
    samples = result.get("samples") or {}
    if not samples:
        return ""
    figure = Figure(figsize=(WIDTH_IN, 5.0))
    verdicts = {row["measure"]: row for row in result.get("measures", [])}
    for k, name in enumerate(COMPARED):
        axis = figure.add_subplot(2, 2, k + 1)
        for side, colour in (("live", "tab:blue"), ("synthetic", "tab:orange")):
            values = np.sort(np.asarray(samples[side].get(name, []), dtype=np.float64))
            values = values[np.isfinite(values)]
            if len(values):
                steps = np.arange(1, len(values) + 1) / len(values)
                axis.step(values, steps, where="post", color=colour, label=side)
        row = verdicts.get(name, {})
        ks = row.get("ks")
        title = f"{COMPARED[name]}: {row.get('verdict', '')}"
        axis.set_title(title + (f" (KS {ks:.2f})" if ks is not None else ""), fontsize=8)
        axis.set_ylabel("share of choices", fontsize=7)
        axis.tick_params(labelsize=7)
        axis.grid(alpha=0.3)
        if k == 0:
            axis.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    return svg_of(figure)

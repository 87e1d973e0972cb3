"""What every dashboard picture shares: matplotlib figures rendered to inline SVG.

Why matplotlib's OO API (`Figure`, never `pyplot`): no global state, safe in threads and
workers, and the SVG goes straight into the page without files or a JavaScript charting library.
Here (infrastructure) so every app draws the same way without importing another app.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

#: Width of a full-width dashboard picture, inches (the SVG scales to the page).
WIDTH_IN = 9.0


def svg_of(figure: Figure) -> str:
    """The figure as an inline `<svg>` element (no XML prolog)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def date_axis(axis: Any) -> None:
    """Dates on the x axis, labelled as briefly as the span allows, with a light grid."""
    locator = AutoDateLocator()
    axis.xaxis.set_major_locator(locator)
    axis.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axis.grid(alpha=0.3)


def heatmap_svg(
    x_labels: list[str],
    y_labels: list[str],
    values: list[list[float | None]],
    *,
    x_title: str,
    y_title: str,
    value_title: str,
    value_format: Callable[[float], str] | None = None,
) -> str:
    """A heatmap with each cell's value written in it (`value_format`, else two decimals);
    missing cells are left blank (grey). Values on the darkest colours are written in white."""
    import numpy as np

    grid = np.array([[np.nan if v is None else float(v) for v in row] for row in values])
    width = min(WIDTH_IN, 2.4 + 1.4 * max(len(x_labels), 1))
    figure = Figure(figsize=(width, 1.8 + 0.7 * max(len(y_labels), 1)))
    axis = figure.subplots()
    axis.set_facecolor("#eeeeee")
    image = axis.imshow(np.ma.masked_invalid(grid), cmap="RdYlGn", aspect="auto", origin="lower")
    axis.set_xticks(range(len(x_labels)), labels=x_labels, rotation=30, ha="right", fontsize=8)
    axis.set_yticks(range(len(y_labels)), labels=y_labels, fontsize=8)
    axis.set_xlabel(x_title)
    axis.set_ylabel(y_title)
    shown = value_format or (lambda v: f"{v:.2f}")
    finite = grid[np.isfinite(grid)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    for (row, col), value in np.ndenumerate(grid):
        if np.isfinite(value):
            shade = (value - low) / (high - low) if high > low else 0.5
            ink = "white" if shade < 0.2 or shade > 0.8 else "black"
            axis.text(col, row, shown(value), ha="center", va="center", fontsize=8, color=ink)
    figure.colorbar(image, ax=axis, label=value_title)
    return svg_of(figure)

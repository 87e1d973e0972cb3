"""What every dashboard picture shares: matplotlib figures rendered to inline SVG.

Why matplotlib's OO API (`Figure`, never `pyplot`): no global state, safe in threads and
workers, and the SVG goes straight into the page without files or a JavaScript charting library.
Here (infrastructure) so every app draws the same way without importing another app.
"""

from __future__ import annotations

import io
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

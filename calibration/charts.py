"""Inline SVG pictures of the Calibration tab (matplotlib OO API via `optionsdesk.charts`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from matplotlib.dates import date2num
from matplotlib.figure import Figure

from optionsdesk.charts import WIDTH_IN, date_axis, svg_of


def smiles_svg(fit: dict[str, Any], *, max_panels: int = 12) -> str:
    """Per expiry: Deribit marks (dots), the SVI fit (line), the synthetic model (dashed)."""
    points: dict[str, list[list[float | None]]] = fit.get("points") or {}
    if not points:
        return ""
    expiries = sorted(points)[:max_panels]
    dte = {e["expiry"]: e["dte_days"] for e in fit.get("expiries", [])}
    cols = 4
    rows = math.ceil(len(expiries) / cols)
    figure = Figure(figsize=(WIDTH_IN, 1.9 * rows))
    for index, expiry in enumerate(expiries):
        axis = figure.add_subplot(rows, cols, index + 1)
        data = np.array(points[expiry], dtype=np.float64)
        axis.plot(data[:, 0], data[:, 1], "o", markersize=2.5, color="tab:blue", label="marks")
        axis.plot(data[:, 0], data[:, 2], "-", linewidth=1.2, color="tab:orange", label="SVI fit")
        axis.plot(data[:, 0], data[:, 3], "--", linewidth=1, color="tab:green", label="synthetic")
        label = f"{expiry} ({dte.get(expiry, float('nan')):.0f}d)"
        axis.set_title(label, fontsize=8)
        axis.tick_params(labelsize=6)
        axis.grid(alpha=0.3)
        if index == 0:
            axis.legend(fontsize=6, loc="upper center")
    figure.supxlabel("log-moneyness ln(K/F)", fontsize=8)
    figure.supylabel("IV, %", fontsize=8)
    figure.tight_layout()
    return svg_of(figure)


def term_structure_svg(fits: dict[str, dict[str, Any]]) -> str:
    """ATM IV and 25-delta risk reversal against days to expiry, one line per underlying."""
    fits = {name: fit for name, fit in fits.items() if fit.get("expiries")}
    if not fits:
        return ""
    figure = Figure(figsize=(WIDTH_IN, 2.6))
    atm_axis = figure.add_subplot(1, 2, 1)
    rr_axis = figure.add_subplot(1, 2, 2)
    for name, fit in fits.items():
        rows = [e for e in fit["expiries"] if e.get("atm_iv") is not None]
        days = [e["dte_days"] for e in rows]
        atm_axis.plot(days, [100 * e["atm_iv"] for e in rows], "o-", markersize=3, label=name)
        rr_axis.plot(days, [e["rr25_volpts"] for e in rows], "o-", markersize=3, label=name)
    for axis, title in ((atm_axis, "ATM IV, %"), (rr_axis, "25d risk reversal, vol pts")):
        axis.set_xscale("log")
        axis.set_xlabel("days to expiry")
        axis.set_title(title, fontsize=9)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    return svg_of(figure)


def history_svg(runs: Sequence[Any]) -> str:
    """Recommended multipliers per DTE band and the surface vw MAE over calibrations."""
    runs = [r for r in runs if r.multipliers]
    if not runs:
        return ""
    runs = sorted(runs, key=lambda r: r.created_at)
    figure = Figure(figsize=(WIDTH_IN, 2.8))
    axis = figure.add_subplot()
    series = sorted({(r.underlying, band) for r in runs for band in r.multipliers})
    for underlying, band in series:
        mine = [r for r in runs if r.underlying == underlying]
        when = np.asarray(date2num([r.created_at for r in mine]), dtype=np.float64)
        values = [r.multipliers.get(band, np.nan) for r in mine]
        axis.plot(when, values, "o-", markersize=3, linewidth=1, label=f"{underlying} {band}")
    axis.axhline(1.0, color="grey", linewidth=0.8)
    axis.set_ylabel("IV multiplier")
    other = axis.twinx()
    for underlying in sorted({r.underlying for r in runs}):
        mine = [r for r in runs if r.underlying == underlying]
        when = np.asarray(date2num([r.created_at for r in mine]), dtype=np.float64)
        mae = [np.nan if r.surface_vw_mae_volpts is None else r.surface_vw_mae_volpts for r in mine]
        other.plot(when, mae, "s:", markersize=3, color="black", label=f"{underlying} vw MAE")
    other.set_ylabel("vw MAE, vol pts")
    lines = axis.get_legend_handles_labels()
    more = other.get_legend_handles_labels()
    axis.legend(lines[0] + more[0], lines[1] + more[1], fontsize=7, loc="upper left", ncol=3)
    date_axis(axis)
    return svg_of(figure)


def regime_timeline_svg(timeline: Sequence[Sequence[Any]], n_regimes: int) -> str:
    """The fitted regime of each day of the volatility history (synthetic universe v2)."""
    if not timeline:
        return ""
    times = np.asarray(date2num([datetime.fromisoformat(t) for t, _ in timeline]))
    regimes = np.array([int(r) for _, r in timeline])
    figure = Figure(figsize=(WIDTH_IN, 1.6))
    axis = figure.add_subplot()
    colors = ["tab:green", "tab:orange", "tab:red", "tab:purple", "tab:blue", "tab:brown"]
    width = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    for regime in range(n_regimes):
        chosen = regimes == regime
        axis.bar(
            times[chosen], np.ones(int(chosen.sum())), width=width,
            color=colors[regime % len(colors)], label=f"regime {regime}",
        )  # fmt: skip
    axis.set_yticks([])
    axis.legend(fontsize=7, ncol=n_regimes, loc="upper left")
    date_axis(axis)
    return svg_of(figure)

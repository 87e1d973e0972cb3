"""Synthetic chains from the project's one market model (`trading.domain.market_model`).

The spot and ATM-IV path come from `MarketModel` itself, advanced hour by hour on its own seeded
dynamics (spot with jumps, AR(1) IV); `ChainPricer` then prices the listed calls of every hour in
one vectorised pass with the model's smile, calendar, lattice and spreads.
Why not `MarketModel.chain` every hour: it prices every listed option of both types and inverts
two IVs per option per call, about ten seconds for a year; the backtest needs the calls within a
DTE horizon only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from backtests.domain.panel import ChainPanel
from backtests.domain.sources.base import rolling_realised_vol
from backtests.domain.sources.chains import ChainPricer, HourlyPath
from backtests.domain.types import DataProvenance
from trading.domain.market_model import MarketModel, MarketModelParams


class SyntheticSource:
    """Seeded synthetic market data for one underlying: hourly chains of calls up to a DTE.

    `params` default to the market model's fitted defaults; pass a modified copy for
    experiments (for example zero volatility risk premium: `realized_to_implied=1`, no jumps,
    flat smile, zero basis).
    """

    name = "synthetic"

    def __init__(
        self,
        *,
        params: MarketModelParams | None = None,
        seed: int = 42,
        start: datetime | None = None,
        days: float = 365.0,
        max_dte_days: float = 35.0,
        include_puts: bool = False,
        rv_window_hours: float = 720.0,
    ) -> None:
        self.params = params or MarketModelParams()
        self.seed = seed
        self.start = start or datetime(2025, 1, 1, tzinfo=UTC)
        if self.start.tzinfo is None:
            raise ValueError("start must be an aware UTC datetime")
        self.days = days
        self.rv_window_hours = rv_window_hours
        self.pricer = ChainPricer(
            params=self.params, max_dte_days=max_dte_days, include_puts=include_puts
        )

    def load_panel(
        self, *, underlying: str, start: datetime | None = None, end: datetime | None = None
    ) -> ChainPanel:
        """Generate the period's hourly chains (same seed, same numbers)."""
        first = start or self.start
        last = end or first + timedelta(days=self.days)
        if underlying not in self.params.currencies:
            raise ValueError(f"the market model has no parameters for {underlying}")
        path = self.path(underlying, first, last)
        return self.pricer.panel(underlying, path, self.provenance(underlying))

    def provenance(self, underlying: str) -> DataProvenance:
        """What this source generates, for reports."""
        cp = self.params.currencies[underlying]
        return DataProvenance(
            source=self.name,
            underlying=underlying,
            description=(
                f"trading.domain.market_model, seed {self.seed}: hourly spot and AR(1) ATM IV, "
                f"smile/term structure, Deribit calendar, model spreads; calls up to "
                f"{self.pricer.max_dte_days:g} DTE"
            ),
            details={
                "seed": self.seed,
                "atm_iv_mean": cp.atm_iv_mean,
                "realized_to_implied": cp.realized_to_implied,
                "jump_intensity_per_year": cp.jump_intensity_per_year,
                "skew": cp.skew,
                "basis_per_year": cp.basis_per_year,
                "drift_per_year": cp.spot_drift_per_year,
            },
        )

    def path(self, underlying: str, first: datetime, last: datetime) -> HourlyPath:
        """The model's hourly spot and ATM IV from `first` to `last`, with trailing RV."""
        params = self.params.model_copy(
            update={
                "currencies": {underlying: self.params.currencies[underlying]},
                "step_seconds": 3600,
            }
        )
        model = MarketModel(params, seed=self.seed, start=first)
        model.advance_to(int(last.timestamp() * 1000))
        history = model.history(underlying)
        times = history["timestamp_ms"].to_numpy(dtype=np.float64) / 1000.0
        spot = history["spot_usd"].to_numpy(dtype=np.float64)
        iv = history["atm_iv"].to_numpy(dtype=np.float64)
        # The model's hourly back-history warms the 30-day realised vol up before `first`.
        rv = rolling_realised_vol(times, spot, window_hours=self.rv_window_hours)
        keep = times >= model_start_seconds(first)
        return HourlyPath(times=times[keep], spot_usd=spot[keep], atm_iv=iv[keep], rv=rv[keep])


def model_start_seconds(first: datetime) -> float:
    """The market model's first grid time (it floors `start` to its hourly grid)."""
    return float(int(first.timestamp()) // 3600 * 3600)

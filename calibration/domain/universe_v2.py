"""Synthetic universe v2: the project's market model with regime-switching ATM-IV dynamics and a
smile taken from a fitted surface. v1 (`trading.domain.market_model.MarketModel`) stays the
default; v2 is selected explicitly (backtest source kind `synthetic_v2`, `run_exchange_sim
--market v2`).

How: `RegimeMarketModel` subclasses `MarketModel` and, once per simulated hour, draws each
currency's next regime from the fitted transition matrix and swaps the currency's AR(1)
parameters (mean, hourly persistence, shock sd) for that regime's; spot, jumps, listings and
quotes are v1's. `smile_from_fit` turns a calibration's SVI surface into the model's
skew/curvature/term exponent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np

from backtests.domain.sources.base import rolling_realised_vol
from backtests.domain.sources.chains import HourlyPath
from backtests.domain.sources.synthetic import SyntheticSource, model_start_seconds
from backtests.domain.types import DataProvenance
from calibration.domain.regimes import FloatArray, RegimeAR1, next_regime
from trading.domain.market_model import CurrencyModelParams, MarketModel, MarketModelParams

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class RegimeDynamics:
    """What v2 needs of a regime fit: AR(1) per regime and the hourly transition matrix."""

    dynamics: tuple[RegimeAR1, ...]
    transition: FloatArray
    start_regime: int = 0

    @classmethod
    def from_json(
        cls, regimes: list[dict[str, Any]], transition: list[list[float]]
    ) -> RegimeDynamics:
        """From the stored form (`RegimeFit.regimes`, `RegimeFit.transition`)."""
        fields = RegimeAR1.__dataclass_fields__
        dynamics = tuple(RegimeAR1(**{k: r[k] for k in fields}) for r in regimes)
        return cls(dynamics=dynamics, transition=np.asarray(transition, dtype=np.float64))


def regime_params(cp: CurrencyModelParams, regime: RegimeAR1) -> CurrencyModelParams:
    """A currency's parameters with the ATM-IV AR(1) of one regime."""
    return cp.model_copy(
        update={
            "atm_iv_mean": max(regime.mu, cp.atm_iv_min * 1.01),
            "atm_iv_phi_hourly": min(max(regime.phi, 0.5), 0.999),
            "atm_iv_vol_hourly": max(regime.sigma, 0.0),
        }
    )


class RegimeMarketModel(MarketModel):
    """`MarketModel` whose ATM-IV dynamics switch between fitted regimes every hour."""

    def __init__(
        self,
        params: MarketModelParams | None = None,
        seed: int = 42,
        start: datetime | None = None,
        *,
        regimes: Mapping[str, RegimeDynamics],
    ) -> None:
        params = params or MarketModelParams()
        self._regimes = {name: regimes[name] for name in params.currencies if name in regimes}
        self._regime_rng = np.random.default_rng([seed, 7_777])
        self._regime_now = {name: r.start_regime for name, r in self._regimes.items()}
        self._cumulative = {
            name: np.cumsum(r.transition, axis=1) for name, r in self._regimes.items()
        }
        self._base = dict(params.currencies)
        self.regime_history: dict[str, list[tuple[int, int]]] = {n: [] for n in self._regimes}
        super().__init__(params, seed=seed, start=start)
        self._last_regime_hour = self.now_ms // HOUR_MS
        self._apply_regimes()

    def current_regime(self, currency: str) -> int:
        """The regime a currency is in now."""
        return self._regime_now[currency]

    def _apply_regimes(self) -> None:
        for name, dyn in self._regimes.items():
            regime = dyn.dynamics[self._regime_now[name]]
            self._states[name].params = regime_params(self._base[name], regime)

    def _evolve(self, dt_seconds: float) -> None:
        # Regime switches happen on hour boundaries crossed by this step.
        target_hour = (self.now_ms + round(dt_seconds * 1000)) // HOUR_MS
        steps = max(int(target_hour - self._last_regime_hour), 0)
        for _ in range(steps):
            for name in self._regimes:
                row = self._cumulative[name][self._regime_now[name]]
                self._regime_now[name] = next_regime(row, float(self._regime_rng.random()))
        if steps:
            self._last_regime_hour = target_hour
            for name in self._regimes:
                self.regime_history[name].append((int(target_hour), self._regime_now[name]))
            self._apply_regimes()
        super()._evolve(dt_seconds)


def smile_from_fit(fit: Mapping[str, Any]) -> dict[str, float] | None:
    """Skew, curvature and term exponent of the model's smile from a calibration's SVI fit.

    Least squares of ``iv/atm(T) - 1 = skew z + curvature z**2`` over the fitted points
    (``z = k / (atm(T) sqrt(T))``, |z| <= 4) and of ``ln(atm(T)/atm30) = e ln(T/30d)`` over
    expiries past two days. None when the fit has too few points.
    """
    expiries = {e["expiry"]: e for e in fit.get("expiries", []) if e.get("atm_iv")}
    zs: list[float] = []
    ys: list[float] = []
    for name, rows in (fit.get("points") or {}).items():
        info = expiries.get(name)
        if info is None or info["dte_days"] <= 2:
            continue
        atm, t = float(info["atm_iv"]), float(info["t_years"])
        for k, _, fit_iv, _ in rows:
            if fit_iv is None:
                continue
            z = k / (atm * math.sqrt(t))
            if abs(z) <= 4:
                zs.append(z)
                ys.append(fit_iv / 100.0 / atm - 1.0)
    long = [e for e in expiries.values() if e["dte_days"] > 2]
    if len(zs) < 20 or len(long) < 3:
        return None
    z = np.asarray(zs)
    skew, curvature = np.linalg.lstsq(np.column_stack([z, z * z]), np.asarray(ys), rcond=None)[0]
    t_long = np.array([e["t_years"] for e in long])
    atm_long = np.array([e["atm_iv"] for e in long])
    atm30 = float(np.interp(30 / 365, t_long, atm_long))
    x = np.log(t_long / (30 / 365))
    exponent = float(np.sum(x * np.log(atm_long / atm30)) / max(float(np.sum(x * x)), 1e-12))
    return {
        "skew": float(skew),
        "smile_curvature": float(curvature),
        "term_exponent": exponent,
    }


def params_v2(
    base: MarketModelParams, smiles: Mapping[str, Mapping[str, float] | None]
) -> MarketModelParams:
    """Market parameters with each currency's smile replaced by its fitted one (when known)."""
    currencies = {}
    for name, cp in base.currencies.items():
        smile = smiles.get(name)
        currencies[name] = cp.model_copy(update=dict(smile)) if smile else cp
    return base.model_copy(update={"currencies": currencies})


class SyntheticV2Source(SyntheticSource):
    """Backtest data source of the synthetic universe v2 (regime-switching IV, fitted smile).

    Same interface and chain pricing as the v1 `SyntheticSource`; the hourly path comes from
    `RegimeMarketModel`.
    """

    name = "synthetic_v2"

    def __init__(self, *, regimes: Mapping[str, RegimeDynamics], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.regimes = dict(regimes)

    def provenance(self, underlying: str) -> DataProvenance:
        """v1's provenance plus the regimes used."""
        base = super().provenance(underlying)
        dyn = self.regimes.get(underlying)
        regimes = [] if dyn is None else [asdict(r) for r in dyn.dynamics]
        return base.model_copy(
            update={
                "source": self.name,
                "description": "synthetic universe v2: " + base.description,
                "details": {**base.details, "regimes": regimes},
            }
        )

    def path(self, underlying: str, first: datetime, last: datetime) -> HourlyPath:
        """The v2 model's hourly spot and regime-switching ATM IV, with trailing RV."""
        params = self.params.model_copy(
            update={
                "currencies": {underlying: self.params.currencies[underlying]},
                "step_seconds": 3600,
            }
        )
        model = RegimeMarketModel(params, seed=self.seed, start=first, regimes=self.regimes)
        model.advance_to(int(last.timestamp() * 1000))
        history = model.history(underlying)
        times = history["timestamp_ms"].to_numpy(dtype=np.float64) / 1000.0
        spot = history["spot_usd"].to_numpy(dtype=np.float64)
        iv = history["atm_iv"].to_numpy(dtype=np.float64)
        rv = rolling_realised_vol(times, spot, window_hours=self.rv_window_hours)
        keep = times >= model_start_seconds(first)
        return HourlyPath(times=times[keep], spot_usd=spot[keep], atm_iv=iv[keep], rv=rv[keep])

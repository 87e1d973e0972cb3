"""How the market moves: per-currency spot, ATM IV and funding, and the history before the start.

Dynamics per currency (t in years of 365 days, `x` the 30-day ATM implied vol, decimal):

* `x` is AR(1) in hourly steps around `atm_iv_mean` (persistence `atm_iv_phi_hourly`, shock
  `atm_iv_vol_hourly`), clipped to [atm_iv_min, atm_iv_max].
* log spot diffuses with vol `realized_to_implied * x` (jump variance removed), correlated with
  IV shocks (`spot_iv_correlation`) and across currencies (`cross_correlation`), plus compound
  Poisson jumps (`jump_intensity_per_year`, normal log-jumps).
* the perpetual's funding rate (per 8 h) is AR(1) around `funding_8h_mean`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from trading.domain.market_model.params import CurrencyModelParams
from trading.domain.market_model.units import SECONDS_PER_YEAR, FloatArray


@dataclass
class _CurrencyState:
    """One currency's moving state: its random stream, spot, IV, funding, listings and history."""

    params: CurrencyModelParams
    rng: np.random.Generator
    log_spot: float
    atm_iv: float
    funding_8h: float
    expiries: dict[int, tuple[FloatArray, int]] = field(default_factory=dict)
    history_ms: list[int] = field(default_factory=list)
    history_spot: list[float] = field(default_factory=list)
    history_iv: list[float] = field(default_factory=list)
    history_funding: list[float] = field(default_factory=list)


def evolve_currencies(
    states: Iterable[_CurrencyState],
    market_rng: np.random.Generator,
    *,
    cross_correlation: float,
    dt_seconds: float,
) -> None:
    """Move every currency's spot, ATM IV and funding on by `dt_seconds` in one draw."""
    dt_years = dt_seconds / SECONDS_PER_YEAR
    hours = dt_seconds / 3600.0
    market_shock = float(market_rng.standard_normal())
    rho_x = cross_correlation
    for state in states:
        cp = state.params
        iv_shock, own_shock = state.rng.standard_normal(2)
        jumps = int(state.rng.poisson(cp.jump_intensity_per_year * dt_years))
        jump_sum = (
            float(state.rng.normal(jumps * cp.jump_mean_log, cp.jump_std_log * math.sqrt(jumps)))
            if jumps
            else 0.0
        )
        phi = cp.atm_iv_phi_hourly**hours
        iv_sd = cp.atm_iv_vol_hourly * math.sqrt((1 - phi**2) / (1 - cp.atm_iv_phi_hourly**2))
        iv_next = cp.atm_iv_mean + (state.atm_iv - cp.atm_iv_mean) * phi + iv_sd * iv_shock
        total_var = (cp.realized_to_implied * state.atm_iv) ** 2
        jump_var = cp.jump_intensity_per_year * (cp.jump_mean_log**2 + cp.jump_std_log**2)
        diffusion_vol = math.sqrt(max(total_var - jump_var, 0.25 * total_var))
        compensator = cp.jump_intensity_per_year * (
            math.exp(cp.jump_mean_log + 0.5 * cp.jump_std_log**2) - 1
        )
        common = rho_x * market_shock + math.sqrt(1 - rho_x**2) * own_shock
        spot_shock = (
            cp.spot_iv_correlation * iv_shock + math.sqrt(1 - cp.spot_iv_correlation**2) * common
        )
        state.log_spot += (
            (cp.spot_drift_per_year - compensator - 0.5 * diffusion_vol**2) * dt_years
            + diffusion_vol * math.sqrt(dt_years) * spot_shock
            + jump_sum
        )
        state.atm_iv = min(max(iv_next, cp.atm_iv_min), cp.atm_iv_max)
        f_phi = cp.funding_8h_phi_hourly**hours
        f_sd = cp.funding_8h_vol_hourly * math.sqrt(
            (1 - f_phi**2) / (1 - cp.funding_8h_phi_hourly**2)
        )
        state.funding_8h = (
            cp.funding_8h_mean
            + (state.funding_8h - cp.funding_8h_mean) * f_phi
            + f_sd * float(state.rng.standard_normal())
        )


def backfill_history(
    state: _CurrencyState, rng: np.random.Generator, *, history_days: int, now_ms: int
) -> None:
    """Hourly history before the start, ending exactly at the start spot and IV."""
    hours = history_days * 24
    if hours == 0:
        return
    cp = state.params
    iv = np.empty(hours)
    x = cp.atm_iv_mean
    shocks = rng.standard_normal((hours, 2))
    for i in range(hours):
        x = cp.atm_iv_mean + (x - cp.atm_iv_mean) * cp.atm_iv_phi_hourly
        x = min(max(x + cp.atm_iv_vol_hourly * shocks[i, 0], cp.atm_iv_min), cp.atm_iv_max)
        iv[i] = x
    iv += state.atm_iv - iv[-1]
    iv = np.clip(iv, cp.atm_iv_min, cp.atm_iv_max)
    dt_years = 1 / (365.0 * 24)
    returns = cp.realized_to_implied * iv * math.sqrt(dt_years) * shocks[:, 1]
    log_path = np.cumsum(returns)
    log_path += state.log_spot - log_path[-1]
    hour_ms = 3_600_000
    start_hour = now_ms // hour_ms * hour_ms
    state.history_ms = [start_hour - (hours - 1 - i) * hour_ms for i in range(hours)]
    state.history_spot = np.exp(log_path).tolist()
    state.history_iv = iv.tolist()
    state.history_funding = [cp.funding_8h_mean] * hours

"""Parameters of the synthetic market, per currency and overall, and where the defaults come from.

Default parameters were fitted on `../shared/data/deribit/` (December 2025): the AR(1) on the
hourly 30-day IV history, skew/curvature/term exponent by least squares on the option snapshots,
spreads by `spreads.fit_spread_params` (the bid/ask rule applied to every two-sided real call
reproduces the real median spread per delta x DTE bucket; BTC base 0.371 + 1.082 / dte**0.889
vol points, ETH 0.136 + 2.376 / dte**0.501, wing factor 1 + 0.13 / 0.10 |z|, then Deribit's tick
grid; docs/decisions/0014), the forward basis from `underlying_price` across expiries
(BTC 4.4%/yr, ETH 3.2%/yr; the spot drifts at the basis unless `drift_per_year` says otherwise,
so forwards are unbiased). The realized/implied ratio is the exception: its December
2025 fit (`rv_30d / iv_30d`, `DEC_2025_REALIZED_TO_IMPLIED`, BTC 1.10, ETH 1.05) describes an
unusual week with no volatility risk premium, so the default is a long-run typical 0.8
(`LONG_RUN_REALIZED_TO_IMPLIED`; docs/decisions/0010). Jumps, correlations and funding are
priors (the sample is too short to fit them); see docs/decisions/0006 and `fit_iv_ar1` for the
refit.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from trading.domain.market_model.units import FloatArray


class CurrencyModelParams(BaseModel):
    """Parameters of one underlying (BTC or ETH); units in the names, vols decimal."""

    model_config = ConfigDict(frozen=True)

    spot_usd: float = Field(gt=0, description="index price at the start")
    atm_iv_mean: float = Field(gt=0, description="long-run 30-day ATM IV")
    atm_iv_initial: float | None = Field(default=None, gt=0, description="start IV; mean if None")
    atm_iv_phi_hourly: float = Field(gt=0, lt=1, description="AR(1) persistence per hour")
    atm_iv_vol_hourly: float = Field(ge=0, description="AR(1) shock sd per hour")
    atm_iv_min: float = Field(default=0.10, gt=0)
    atm_iv_max: float = Field(default=2.50, gt=0)
    realized_to_implied: float = Field(gt=0, description="total realized vol / ATM IV")
    spot_iv_correlation: float = Field(default=-0.3, ge=-1, le=1)
    jump_intensity_per_year: float = Field(default=8.0, ge=0)
    jump_mean_log: float = Field(default=-0.01)
    jump_std_log: float = Field(default=0.03, ge=0)
    drift_per_year: float | None = Field(
        default=None,
        description="expected spot growth per year; None: the forward basis",
    )
    basis_per_year: float = Field(description="forward basis, continuously compounded")
    skew: float = Field(description="d(IV/ATM)/dz, z standardised log-moneyness")
    smile_curvature: float = Field(description="d2(IV/ATM)/dz2 / 2")
    smile_z_max: float = Field(default=4.0, gt=0)
    term_exponent: float = Field(description="ATM(T) = ATM30 * (T/30d)**term_exponent")
    # Spread rule (quoting.quote_bid_ask); defaults are BTC's fit (spreads.fit_spread_params).
    spread_base_vol_pts: float = Field(default=0.371, ge=0)
    spread_near_expiry_vol_pts: float = Field(default=1.082, ge=0)
    spread_near_expiry_power: float = Field(default=0.889, ge=0)
    spread_wing_per_z: float = Field(default=0.133, ge=0)
    spread_min_frac_of_price: float = Field(default=0.0, ge=0)
    funding_8h_mean: float = 0.0001
    funding_8h_phi_hourly: float = Field(default=0.9, ge=0, lt=1)
    funding_8h_vol_hourly: float = Field(default=0.00003, ge=0)
    perp_premium_per_funding: float = Field(default=1.0, description="perp mark premium / f8h")
    open_interest_median: float = Field(gt=0, description="contracts (coin)")
    volume_median: float = Field(default=1.0, ge=0, description="24 h contracts")
    quote_amount_median: float = Field(gt=0, description="top-of-book size, coin")
    min_trade_amount: float = Field(gt=0, description="option amount step, coin")
    strikes_per_expiry: int = Field(default=40, ge=3)
    strike_range_sd: float = Field(default=4.0, gt=0)
    iv_multiplier_by_dte: tuple[tuple[float, float], ...] = Field(
        default=(),
        description="(DTE upper bound in days, IV multiplier) pairs, ascending; smile IVs of an "
        "expiry are scaled by the first band it falls in (set by calibration's update policy)",
    )

    @property
    def spot_drift_per_year(self) -> float:
        """Expected growth of the index per year: `drift_per_year`, else the forward basis.

        With drift equal to the basis a forward is an unbiased forecast of the index at expiry,
        so a seller at fair vol earns nothing from the basis (a 4.4%/yr basis over a zero drift
        would hand a 0.25-delta call seller about 2.4% of premium at 7 days).
        """
        return self.basis_per_year if self.drift_per_year is None else self.drift_per_year

    @model_validator(mode="after")
    def _check_bounds(self) -> CurrencyModelParams:
        if self.atm_iv_min >= self.atm_iv_max:
            raise ValueError("atm_iv_min must be below atm_iv_max")
        return self


#: Realized / implied vol fitted on the December 2025 sample (../shared/data/deribit): an unusual
#: week where the 30-day IV sat at or below the realized vol (IV/RV >= 1 in ~2% of hours over the
#: six months of volatility history). A market built with it has no volatility risk premium.
DEC_2025_REALIZED_TO_IMPLIED: Mapping[str, float] = MappingProxyType({"BTC": 1.10, "ETH": 1.05})

#: Realized / implied vol over the long run: crypto options usually price a volatility risk
#: premium (implied above realized by 10-30%), so realized is about 0.8 x implied. The default.
LONG_RUN_REALIZED_TO_IMPLIED: Mapping[str, float] = MappingProxyType({"BTC": 0.8, "ETH": 0.8})


def default_currency_params(
    realized_to_implied: Mapping[str, float] | None = None,
) -> dict[str, CurrencyModelParams]:
    """BTC and ETH parameters fitted on ../shared/data/deribit (December 2025).

    Realized vol is a long-run typical fraction of implied (`LONG_RUN_REALIZED_TO_IMPLIED`, a
    volatility risk premium) unless `realized_to_implied` says otherwise; pass
    `DEC_2025_REALIZED_TO_IMPLIED` for the December 2025 sample's own fit (IV at or below RV).
    """
    ratios = {**LONG_RUN_REALIZED_TO_IMPLIED, **(realized_to_implied or {})}
    return {
        "BTC": CurrencyModelParams(
            spot_usd=92_000.0,
            atm_iv_mean=0.412,
            atm_iv_phi_hourly=0.99534,
            atm_iv_vol_hourly=0.00524,
            realized_to_implied=ratios["BTC"],
            basis_per_year=0.044,
            skew=-0.066,
            smile_curvature=0.049,
            term_exponent=0.033,
            open_interest_median=176.0,
            quote_amount_median=10.0,
            min_trade_amount=0.1,
        ),
        "ETH": CurrencyModelParams(
            spot_usd=3_200.0,
            atm_iv_mean=0.687,
            atm_iv_phi_hourly=0.99405,
            atm_iv_vol_hourly=0.00460,
            realized_to_implied=ratios["ETH"],
            jump_std_log=0.04,
            basis_per_year=0.032,
            skew=-0.052,
            smile_curvature=0.047,
            term_exponent=0.027,
            spread_base_vol_pts=0.136,
            spread_near_expiry_vol_pts=2.376,
            spread_near_expiry_power=0.501,
            spread_wing_per_z=0.104,
            open_interest_median=763.0,
            quote_amount_median=100.0,
            min_trade_amount=1.0,
        ),
    }


class MarketModelParams(BaseModel):
    """Parameters of the whole synthetic market: currencies, listing calendar, grid, history."""

    model_config = ConfigDict(frozen=True)

    currencies: dict[str, CurrencyModelParams] = Field(default_factory=default_currency_params)
    cross_correlation: float = Field(default=0.8, ge=-1, le=1, description="BTC/ETH returns")
    step_seconds: int = Field(default=60, gt=0, description="grid of `advance_to`")
    dailies: int = Field(default=4, ge=0)
    weeklies: int = Field(default=3, ge=0)
    monthlies: int = Field(default=3, ge=0)
    quarterlies: int = Field(default=4, ge=0)
    history_days: int = Field(default=35, ge=0, description="hourly history before start")

    @model_validator(mode="after")
    def _grid_hits_the_hour(self) -> MarketModelParams:
        if 3600 % self.step_seconds:
            raise ValueError("step_seconds must divide 3600 so 08:00 UTC is a grid point")
        return self


def fit_iv_ar1(iv_hourly: FloatArray) -> tuple[float, float, float]:
    """Fit x[t+1] = mu + phi (x[t] - mu) + sigma e on an hourly IV series (decimal).

    Returns (mu, phi, sigma): the long-run mean, hourly persistence and hourly shock sd, the
    way the defaults of `CurrencyModelParams` were obtained from ../shared/data/deribit.
    """
    x = np.asarray(iv_hourly, dtype=np.float64)
    x = x[np.isfinite(x)]
    if len(x) < 3:
        raise ValueError("need at least three IV observations")
    design = np.column_stack([np.ones(len(x) - 1), x[:-1]])
    (intercept, phi), *_ = np.linalg.lstsq(design, x[1:], rcond=None)
    residual = x[1:] - (intercept + phi * x[:-1])
    return float(intercept / (1 - phi)), float(phi), float(np.std(residual))

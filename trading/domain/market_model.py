"""The project's one synthetic market: BTC/ETH spot with jumps, AR(1) ATM IV, smile, term
structure, Deribit-like listings, bid/ask spreads and perpetual funding. Pure numpy, seeded.

Who uses it: the simulated exchange (`trading.deribit.simulator`), the backtests' synthetic data
source and calibration's synthetic-vs-live comparisons. Typical use::

    model = MarketModel(MarketModelParams(), seed=42, start=datetime(2025, 12, 10, 8, tzinfo=UTC))
    model.step(3600)                     # one hour later
    frame = model.chain("BTC")           # option chain, same shape as a harvested snapshot
    model.spot("BTC")                    # index price, USD

Dynamics per currency (t in years of 365 days, `x` the 30-day ATM implied vol, decimal):

* `x` is AR(1) in hourly steps around `atm_iv_mean` (persistence `atm_iv_phi_hourly`, shock
  `atm_iv_vol_hourly`), clipped to [atm_iv_min, atm_iv_max].
* log spot diffuses with vol `realized_to_implied * x` (jump variance removed), correlated with
  IV shocks (`spot_iv_correlation`) and across currencies (`cross_correlation`), plus compound
  Poisson jumps (`jump_intensity_per_year`, normal log-jumps).
* the forward of an expiry is `spot * exp(basis_per_year * T)`.
* the IV of strike K, expiry T: `atm(T) * (1 + skew*z + smile_curvature*z**2)` with
  `atm(T) = x * (T / 30d) ** term_exponent` and standardised moneyness
  `z = ln(K/F) / (atm(T) * sqrt(T))`, z clipped to +-`smile_z_max`.
* bid/ask: a spread in vol points `(spread_base + spread_near_expiry / dte**power)` times
  `(1 + spread_wing_per_z * |z|)`, turned into coin with the option's vega, floored at one tick
  and at `spread_min_frac_of_price` of the price, and rounded outwards to Deribit's tick grid.
* the perpetual's funding rate (per 8 h) is AR(1) around `funding_8h_mean`.

Default parameters were fitted on `../shared/data/deribit/` (December 2025): the AR(1) on the
hourly 30-day IV history, skew/curvature/term exponent by least squares on the option snapshots,
spreads from the snapshots' bid/ask in vol points by DTE and |z| bucket, the forward basis from
`underlying_price` across expiries. The realized/implied ratio is the exception: its December
2025 fit (`rv_30d / iv_30d`, `DEC_2025_REALIZED_TO_IMPLIED`, BTC 1.10, ETH 1.05) describes an
unusual week with no volatility risk premium, so the default is a long-run typical 0.8
(`LONG_RUN_REALIZED_TO_IMPLIED`; docs/decisions/0010). Jumps, correlations and funding are
priors (the sample is too short to fit them); see docs/decisions/0006 and `fit_iv_ar1` for the
refit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy import special

from trading.domain import black76
from trading.domain.chain import CHAIN_COLUMNS
from trading.domain.instruments import format_instrument, listed_expiries

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

MS_PER_YEAR = 365.0 * 86_400_000
SECONDS_PER_YEAR = 365.0 * 86_400
EXPIRY_HOUR_UTC = 8
PERPETUAL_EXPIRY_MS = 32_503_708_800_000

# Columns of `MarketModel.chain`: the project's chain shape (`trading.domain.chain.CHAIN_COLUMNS`,
# the harvested snapshot format of ../shared/data/deribit) followed by the quote IVs and greeks
# newer harvests carry.
EXTRA_CHAIN_COLUMNS: tuple[str, ...] = (
    "bid_iv",
    "ask_iv",
    "greek_delta",
    "greek_gamma",
    "greek_theta",
    "greek_vega",
)
MODEL_CHAIN_COLUMNS: tuple[str, ...] = CHAIN_COLUMNS + EXTRA_CHAIN_COLUMNS


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
    drift_per_year: float = 0.0
    basis_per_year: float = Field(description="forward basis, continuously compounded")
    skew: float = Field(description="d(IV/ATM)/dz, z standardised log-moneyness")
    smile_curvature: float = Field(description="d2(IV/ATM)/dz2 / 2")
    smile_z_max: float = Field(default=4.0, gt=0)
    term_exponent: float = Field(description="ATM(T) = ATM30 * (T/30d)**term_exponent")
    spread_base_vol_pts: float = Field(default=1.5, ge=0)
    spread_near_expiry_vol_pts: float = Field(default=8.0, ge=0)
    spread_near_expiry_power: float = Field(default=0.7, ge=0)
    spread_wing_per_z: float = Field(default=0.3, ge=0)
    spread_min_frac_of_price: float = Field(default=0.01, ge=0)
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
            spread_base_vol_pts=1.4,
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


# ------------------------------------------------------------------------------ strikes


def nice_step(raw: float) -> float:
    """Smallest 1/2/2.5/5 x 10^k at or above `raw` (Deribit-like strike increments)."""
    if raw <= 0:
        raise ValueError("raw step must be positive")
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for mantissa in (1.0, 2.0, 2.5, 5.0, 10.0):
        if mantissa * magnitude >= raw * (1 - 1e-12):
            return mantissa * magnitude
    return 10.0 * magnitude


def strike_grid(
    spot_usd: float, atm_iv: float, t_years: float, *, count: int, range_sd: float
) -> FloatArray:
    """About `count` round strikes spanning +-`range_sd` standard deviations around spot."""
    width = range_sd * atm_iv * math.sqrt(max(t_years, 7 / 365.0))
    low, high = spot_usd * math.exp(-width), spot_usd * math.exp(min(width, math.log(4.0)))
    step = nice_step((high - low) / max(count - 1, 1))
    first = math.ceil(low / step) * step
    strikes = np.arange(first, high + step / 2, step, dtype=np.float64)
    return strikes[strikes > 0]


# ------------------------------------------------------------------------------ hashing


def hashed_uniform(keys: IntArray, salt: int) -> FloatArray:
    """Deterministic uniforms in (0, 1) from integer keys (splitmix64), vectorised."""
    with np.errstate(over="ignore"):
        z = keys.astype(np.uint64) + np.uint64((salt * 0x9E3779B97F4A7C15) % (1 << 64))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return np.asarray(((z >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53))


def _normal_from_uniform(u: FloatArray) -> FloatArray:
    return np.asarray(special.ndtri(u))


# ------------------------------------------------------------------------------ state


@dataclass
class OptionListing:
    """The options listed for one currency (columnar, sorted by expiry then strike, C then P)."""

    instrument_name: list[str]
    instrument_id: IntArray
    expiry_ms: IntArray
    strike: FloatArray
    is_call: BoolArray
    creation_ms: IntArray


@dataclass
class OptionQuotes:
    """Quotes of every listed option of one currency at one time (arrays aligned with listing).

    Prices in coin, IVs in percent, greeks as Deribit shows them (delta unitless, gamma per USD,
    vega USD per vol point, theta USD per day), amounts in coin; NaN bid/ask means no quote.
    """

    timestamp_ms: int
    listing: OptionListing
    index_price: float
    underlying_price: FloatArray
    t_years: FloatArray
    mark_price: FloatArray
    mark_iv: FloatArray
    best_bid_price: FloatArray
    best_ask_price: FloatArray
    best_bid_amount: FloatArray
    best_ask_amount: FloatArray
    bid_iv: FloatArray
    ask_iv: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray
    rho: FloatArray
    open_interest: FloatArray
    volume: FloatArray
    position: dict[str, int] = field(default_factory=dict)

    def index_of(self, instrument_name: str) -> int:
        """Row of an instrument; KeyError when it is not listed."""
        if not self.position:
            self.position = {n: i for i, n in enumerate(self.listing.instrument_name)}
        return self.position[instrument_name]


@dataclass
class _CurrencyState:
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


def rounded(values: npt.ArrayLike, decimals: int) -> FloatArray:
    """`np.round` that stays float64 (for JSON-friendly quotes)."""
    return np.asarray(np.round(np.asarray(values, dtype=np.float64), decimals), dtype=np.float64)


def tick_round(prices: FloatArray, *, up: bool) -> FloatArray:
    """Round coin option prices to Deribit's grid (0.0001 below 0.005, 0.0005 from 0.005)."""
    fine = (
        np.ceil(prices / 0.0001 - 1e-9) * 0.0001
        if up
        else np.floor(prices / 0.0001 + 1e-9) * 0.0001
    )
    coarse = (
        np.ceil(prices / 0.0005 - 1e-9) * 0.0005
        if up
        else np.floor(prices / 0.0005 + 1e-9) * 0.0005
    )
    return np.asarray(np.round(np.where(fine >= 0.005, coarse, fine), 4))


class MarketModel:
    """Seeded synthetic BTC/ETH market; advance it with `step` or `advance_to`, then read it."""

    def __init__(
        self,
        params: MarketModelParams | None = None,
        seed: int = 42,
        start: datetime | None = None,
    ) -> None:
        self.params = params or MarketModelParams()
        self.seed = seed
        start = start or datetime(2025, 12, 10, 8, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("start must be an aware UTC datetime")
        grid_ms = self.params.step_seconds * 1000
        self._now_ms = int(start.timestamp() * 1000) // grid_ms * grid_ms
        self._market_rng = np.random.default_rng([seed, 0])
        self._next_instrument_id = 100_000
        self._quotes_cache: dict[str, OptionQuotes] = {}
        self._listing_cache: dict[str, OptionListing] = {}
        self._states: dict[str, _CurrencyState] = {}
        for index, (currency, cp) in enumerate(sorted(self.params.currencies.items()), start=1):
            state = _CurrencyState(
                params=cp,
                rng=np.random.default_rng([seed, index]),
                log_spot=math.log(cp.spot_usd),
                atm_iv=cp.atm_iv_initial or cp.atm_iv_mean,
                funding_8h=cp.funding_8h_mean,
            )
            self._states[currency] = state
            self._backfill_history(state, np.random.default_rng([seed, index, 99]))
        self._refresh_listings()

    # ------------------------------------------------------------------ time

    @property
    def now_ms(self) -> int:
        """Model time, ms since the epoch."""
        return self._now_ms

    @property
    def now(self) -> datetime:
        """Model time as an aware UTC datetime."""
        return datetime.fromtimestamp(self._now_ms / 1000, tz=UTC)

    @property
    def currencies(self) -> list[str]:
        """Currencies simulated, e.g. ['BTC', 'ETH']."""
        return sorted(self._states)

    def step(self, dt_seconds: float) -> None:
        """Advance the market by `dt_seconds` in one draw (any size; finer steps, finer paths)."""
        if dt_seconds <= 0:
            raise ValueError("dt_seconds must be positive")
        self._evolve(dt_seconds)
        self._now_ms += round(dt_seconds * 1000)
        self._after_move()

    def advance_to(self, timestamp_ms: int) -> None:
        """Advance on the fixed `step_seconds` grid up to the last grid point <= timestamp_ms.

        The path is a function of the seed and the grid only, so it does not depend on how
        often the simulator happens to look at the market.
        """
        grid_ms = self.params.step_seconds * 1000
        target = timestamp_ms // grid_ms * grid_ms
        if self._now_ms >= target:
            return
        while self._now_ms < target:
            self._evolve(self.params.step_seconds)
            self._now_ms += grid_ms
            self._after_move(refresh=False)
        self._refresh_listings()

    def _after_move(self, *, refresh: bool = True) -> None:
        self._quotes_cache.clear()
        hour_ms = 3_600_000
        for state in self._states.values():
            if self._now_ms // hour_ms > (
                state.history_ms[-1] // hour_ms if state.history_ms else 0
            ):
                state.history_ms.append(self._now_ms // hour_ms * hour_ms)
                state.history_spot.append(math.exp(state.log_spot))
                state.history_iv.append(state.atm_iv)
                state.history_funding.append(state.funding_8h)
        if refresh:
            self._refresh_listings()

    def _evolve(self, dt_seconds: float) -> None:
        dt_years = dt_seconds / SECONDS_PER_YEAR
        hours = dt_seconds / 3600.0
        market_shock = float(self._market_rng.standard_normal())
        rho_x = self.params.cross_correlation
        for state in self._states.values():
            cp = state.params
            iv_shock, own_shock = state.rng.standard_normal(2)
            jumps = int(state.rng.poisson(cp.jump_intensity_per_year * dt_years))
            jump_sum = (
                float(
                    state.rng.normal(jumps * cp.jump_mean_log, cp.jump_std_log * math.sqrt(jumps))
                )
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
                cp.spot_iv_correlation * iv_shock
                + math.sqrt(1 - cp.spot_iv_correlation**2) * common
            )
            state.log_spot += (
                (cp.drift_per_year - compensator - 0.5 * diffusion_vol**2) * dt_years
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

    def _backfill_history(self, state: _CurrencyState, rng: np.random.Generator) -> None:
        """Hourly history before the start, ending exactly at the start spot and IV."""
        hours = self.params.history_days * 24
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
        start_hour = self._now_ms // hour_ms * hour_ms
        state.history_ms = [start_hour - (hours - 1 - i) * hour_ms for i in range(hours)]
        state.history_spot = np.exp(log_path).tolist()
        state.history_iv = iv.tolist()
        state.history_funding = [cp.funding_8h_mean] * hours

    # ------------------------------------------------------------------ listings

    def _refresh_listings(self) -> None:
        now = self.now
        expiries = listed_expiries(
            now,
            dailies=self.params.dailies,
            weeklies=self.params.weeklies,
            monthlies=self.params.monthlies,
            quarterlies=self.params.quarterlies,
        )
        alive = {int(e.timestamp() * 1000) for e in expiries}
        for state in self._states.values():
            for expiry_ms in list(state.expiries):
                if expiry_ms <= self._now_ms:
                    del state.expiries[expiry_ms]
                    self._listing_cache.clear()
            for expiry_ms in sorted(alive):
                self._list_or_extend(state, expiry_ms)

    def _list_or_extend(self, state: _CurrencyState, expiry_ms: int) -> None:
        cp = state.params
        spot = math.exp(state.log_spot)
        t_years = (expiry_ms - self._now_ms) / MS_PER_YEAR
        fresh = strike_grid(
            spot, state.atm_iv, t_years, count=cp.strikes_per_expiry, range_sd=cp.strike_range_sd
        )
        listed = state.expiries.get(expiry_ms)
        if listed is None:
            state.expiries[expiry_ms] = (fresh, self._now_ms)
            self._listing_cache.clear()
            self._quotes_cache.clear()
            return
        strikes, created = listed
        step = float(np.min(np.diff(strikes))) if len(strikes) > 1 else float(fresh[0])
        # Deribit adds strikes as the market moves; existing ones are never removed.
        low = np.arange(strikes[0] - step, fresh[0] - step / 2, -step)
        high = np.arange(strikes[-1] + step, fresh[-1] + step / 2, step)
        if len(low) or len(high):
            merged = np.concatenate([low[::-1], strikes, high])
            state.expiries[expiry_ms] = (merged[merged > 0], created)
            self._listing_cache.clear()
            self._quotes_cache.clear()

    def listing(self, currency: str) -> OptionListing:
        """Options listed now for a currency."""
        return self.quotes(currency).listing

    def _build_listing(self, currency: str) -> OptionListing:
        state = self._states[currency]
        names: list[str] = []
        expiry: list[int] = []
        strikes: list[float] = []
        calls: list[bool] = []
        created: list[int] = []
        for expiry_ms in sorted(state.expiries):
            grid, created_ms = state.expiries[expiry_ms]
            moment = datetime.fromtimestamp(expiry_ms / 1000, tz=UTC)
            for strike in grid.tolist():
                for is_call in (True, False):
                    names.append(
                        format_instrument(currency, moment, strike, "C" if is_call else "P")
                    )
                    expiry.append(expiry_ms)
                    strikes.append(strike)
                    calls.append(is_call)
                    created.append(created_ms)
        ids = np.array([stable_instrument_id(n) for n in names], dtype=np.int64)
        return OptionListing(
            instrument_name=names,
            instrument_id=ids,
            expiry_ms=np.array(expiry, dtype=np.int64),
            strike=np.array(strikes, dtype=np.float64),
            is_call=np.array(calls, dtype=bool),
            creation_ms=np.array(created, dtype=np.int64),
        )

    # ------------------------------------------------------------------ reads

    def spot(self, currency: str) -> float:
        """Index price (USD) of a currency, e.g. btc_usd."""
        return math.exp(self._states[currency].log_spot)

    def atm_iv(self, currency: str) -> float:
        """Current 30-day ATM implied vol (decimal)."""
        return self._states[currency].atm_iv

    def funding_8h(self, currency: str) -> float:
        """Perpetual funding rate per 8 hours (fraction)."""
        return self._states[currency].funding_8h

    def perpetual_mark(self, currency: str) -> float:
        """Mark price (USD) of the currency's perpetual: spot plus a funding-linked premium."""
        state = self._states[currency]
        return self.spot(currency) * (1 + state.params.perp_premium_per_funding * state.funding_8h)

    def forward(self, currency: str, expiry_ms: int | npt.NDArray[np.int64]) -> FloatArray:
        """Forward (USD) of an expiry: spot * exp(basis * T)."""
        state = self._states[currency]
        t_years = np.maximum((np.asarray(expiry_ms) - self._now_ms) / MS_PER_YEAR, 0.0)
        return np.asarray(self.spot(currency) * np.exp(state.params.basis_per_year * t_years))

    def implied_vol(
        self, currency: str, strike: FloatArray, t_years: FloatArray, forward: FloatArray
    ) -> FloatArray:
        """Model IV (decimal) of strikes/expiries given their forwards."""
        cp = self._states[currency].params
        return smile_iv(self._states[currency].atm_iv, cp, strike, t_years, forward)

    def history(self, currency: str) -> pd.DataFrame:
        """Hourly history: timestamp_ms, spot_usd, atm_iv (decimal), funding_8h."""
        state = self._states[currency]
        return pd.DataFrame(
            {
                "timestamp_ms": np.array(state.history_ms, dtype=np.int64),
                "spot_usd": state.history_spot,
                "atm_iv": state.history_iv,
                "funding_8h": state.history_funding,
            }
        )

    def next_expiry_ms(self) -> int | None:
        """Earliest listed option expiry after now (ms), if any."""
        upcoming = [e for s in self._states.values() for e in s.expiries if e > self._now_ms]
        return min(upcoming) if upcoming else None

    def quotes(self, currency: str) -> OptionQuotes:
        """Every listed option's quote now (cached until the market moves)."""
        cached = self._quotes_cache.get(currency)
        if cached is not None:
            return cached
        listing = self._listing_cache.get(currency)
        if listing is None:
            listing = self._listing_cache[currency] = self._build_listing(currency)
        quotes = self._price(currency, listing)
        self._quotes_cache[currency] = quotes
        return quotes

    def _price(self, currency: str, listing: OptionListing) -> OptionQuotes:
        state = self._states[currency]
        cp = state.params
        t_years = np.maximum((listing.expiry_ms - self._now_ms) / MS_PER_YEAR, 1e-9)
        forward = self.forward(currency, listing.expiry_ms)
        sigma = smile_iv(state.atm_iv, cp, listing.strike, t_years, forward)
        g = black76.greeks(forward, listing.strike, t_years, sigma, listing.is_call)
        mark = np.maximum(np.asarray(g.price) / forward, 0.0)
        z = np.abs(np.log(listing.strike / forward) / (sigma * np.sqrt(t_years)))
        bid, ask = quote_bid_ask(
            mark, np.asarray(g.vega) / forward, z, np.maximum(t_years * 365.0, 1 / 24), cp
        )
        step_index = self._now_ms // (self.params.step_seconds * 1000)
        bid_amount, ask_amount, oi, volume = quote_sizes(cp, listing, z, step_index, self.seed)
        bid_iv = _quote_iv(bid, forward, listing, t_years)
        ask_iv = _quote_iv(ask, forward, listing, t_years)
        return OptionQuotes(
            timestamp_ms=self._now_ms,
            listing=listing,
            index_price=self.spot(currency),
            underlying_price=forward,
            t_years=t_years,
            mark_price=rounded(mark, 8),
            mark_iv=np.round(sigma * 100, 2),
            best_bid_price=bid,
            best_ask_price=ask,
            best_bid_amount=np.where(np.isnan(bid), 0.0, bid_amount),
            best_ask_amount=ask_amount,
            bid_iv=np.round(bid_iv * 100, 2),
            ask_iv=np.round(ask_iv * 100, 2),
            delta=rounded(g.delta, 5),
            gamma=rounded(g.gamma, 8),
            vega=rounded(g.vega, 5),
            theta=rounded(g.theta, 5),
            rho=rounded(g.rho, 5),
            open_interest=oi,
            volume=volume,
        )

    def chain(self, currency: str, now: datetime | None = None) -> pd.DataFrame:
        """The option chain: `CHAIN_COLUMNS` (the project's chain shape) then the extra columns.

        `now`, when given, first advances the model on its grid to that time.
        """
        if now is not None:
            self.advance_to(int(now.timestamp() * 1000))
        q = self.quotes(currency)
        n = len(q.listing.instrument_name)
        expiry_dt = pd.to_datetime(q.listing.expiry_ms, unit="ms", utc=True)
        return pd.DataFrame(
            {
                "harvest_time": pd.Series(
                    pd.Timestamp(q.timestamp_ms, unit="ms", tz="UTC"), index=range(n)
                ).dt.as_unit("us"),
                "instrument_name": q.listing.instrument_name,
                "underlying": currency,
                "expiry": expiry_dt.strftime("%Y-%m-%d"),
                "expiry_timestamp": q.listing.expiry_ms / 1000.0,
                "option_type": np.where(q.listing.is_call, "C", "P"),
                "strike": q.listing.strike,
                "underlying_price": q.underlying_price,
                "mark_price": q.mark_price,
                "best_bid_price": q.best_bid_price,
                "best_ask_price": q.best_ask_price,
                "bid_iv": q.bid_iv,
                "ask_iv": q.ask_iv,
                "mark_iv": q.mark_iv,
                "open_interest": q.open_interest,
                "volume": q.volume,
                "greek_delta": q.delta,
                "greek_gamma": q.gamma,
                "greek_theta": q.theta,
                "greek_vega": q.vega,
            },
            columns=list(MODEL_CHAIN_COLUMNS),
        )


def quote_bid_ask(
    mark_coin: FloatArray,
    vega_coin_per_pt: FloatArray,
    abs_z: FloatArray,
    dte_days: FloatArray,
    cp: CurrencyModelParams,
) -> tuple[FloatArray, FloatArray]:
    """Market-maker bid and ask (coin, on Deribit's tick grid) around a mark price.

    The spread is set in vol points, wider near expiry and in the wings, converted to coin with
    the option's vega, floored at one tick and at a fraction of the price. NaN bid: no bid.
    """
    spread_pts = (
        cp.spread_base_vol_pts
        + cp.spread_near_expiry_vol_pts
        / np.maximum(dte_days, 1 / 24) ** cp.spread_near_expiry_power
    ) * (1 + cp.spread_wing_per_z * np.minimum(abs_z, cp.smile_z_max))
    spread = np.maximum.reduce(
        [
            spread_pts * vega_coin_per_pt,
            cp.spread_min_frac_of_price * mark_coin,
            np.full_like(mark_coin, 0.0001),
        ]
    )
    bid = tick_round(mark_coin - spread / 2, up=False)
    ask = np.maximum(tick_round(mark_coin + spread / 2, up=True), 0.0001)
    return np.where(bid >= 0.0001, bid, np.nan), ask


def smile_iv(
    atm_iv_30d: float | FloatArray,
    cp: CurrencyModelParams,
    strike: FloatArray,
    t_years: FloatArray,
    forward: FloatArray,
) -> FloatArray:
    """IV (decimal) on the model's smile and term structure."""
    t = np.maximum(np.asarray(t_years, dtype=np.float64), 1 / (365.0 * 24))
    atm_t = atm_iv_30d * (t / (30 / 365.0)) ** cp.term_exponent
    z = np.clip(np.log(strike / forward) / (atm_t * np.sqrt(t)), -cp.smile_z_max, cp.smile_z_max)
    factor = np.maximum(1 + cp.skew * z + cp.smile_curvature * z**2, 0.2)
    return np.asarray(atm_t * factor)


def _quote_iv(
    price_coin: FloatArray, forward: FloatArray, listing: OptionListing, t_years: FloatArray
) -> FloatArray:
    result = black76.implied_vol(
        price_coin * forward, forward, listing.strike, t_years, listing.is_call
    )
    return np.asarray(result.iv)


def quote_sizes(
    cp: CurrencyModelParams, listing: OptionListing, z: FloatArray, step_index: int, seed: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Top-of-book amounts (change every step), open interest and volume (fixed per name)."""
    keys = listing.instrument_id
    lot = cp.min_trade_amount

    def sized(u: FloatArray, median: float) -> FloatArray:
        raw = median * np.exp(_normal_from_uniform(u))
        return np.asarray(np.round(np.maximum(np.round(raw / lot), 1) * lot, 8))

    bid_amount = sized(
        hashed_uniform(keys, seed * 1_000_003 + step_index * 2), cp.quote_amount_median
    )
    ask_amount = sized(
        hashed_uniform(keys, seed * 1_000_003 + step_index * 2 + 1), cp.quote_amount_median
    )
    liquidity = np.exp(-0.25 * np.minimum(z, 6.0) ** 2)
    oi = np.round(
        cp.open_interest_median
        * 2
        * liquidity
        * np.exp(_normal_from_uniform(hashed_uniform(keys, seed + 7))),
        1,
    )
    volume = np.round(
        cp.volume_median
        * 2
        * liquidity
        * np.exp(_normal_from_uniform(hashed_uniform(keys, seed + 11))),
        1,
    )
    return bid_amount, ask_amount, oi, volume


def stable_instrument_id(name: str) -> int:
    """A stable positive integer id for an instrument name (FNV-1a, 31 bits)."""
    h = 0x811C9DC5
    for ch in name.encode():
        h = ((h ^ ch) * 0x01000193) & 0xFFFFFFFF
    return h & 0x7FFFFFFF


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

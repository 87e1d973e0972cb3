"""The project's one synthetic market: BTC/ETH spot with jumps, AR(1) ATM IV, smile, term
structure, Deribit-like listings, bid/ask spreads and perpetual funding. Pure numpy, seeded.

Who uses it: the simulated exchange (`trading.deribit.simulator`), the backtests' synthetic data
source and calibration's synthetic-vs-live comparisons. Typical use::

    model = MarketModel(MarketModelParams(), seed=42, start=datetime(2025, 12, 10, 8, tzinfo=UTC))
    model.step(3600)                     # one hour later
    frame = model.chain("BTC")           # option chain, same shape as a harvested snapshot
    model.spot("BTC")                    # index price, USD

Modules: `params` (`CurrencyModelParams`, `MarketModelParams`, the December 2025 defaults and
`fit_iv_ar1`), `dynamics` (how spot, ATM IV and funding move, and the history before the start),
`listing` (strike grids, instrument ids, the `OptionListing` / `OptionQuotes` records and
`build_listing`), `quoting` (smile IVs, bid/ask on the tick grid, quote sizes), `model`
(`MarketModel`: clock, listings, reads and the chain frame), `units` (array aliases and time
constants).
"""

from trading.domain.market_model.listing import (
    OptionListing,
    OptionQuotes,
    nice_step,
    stable_instrument_id,
    strike_grid,
)
from trading.domain.market_model.model import MODEL_CHAIN_COLUMNS, MarketModel
from trading.domain.market_model.params import (
    DEC_2025_REALIZED_TO_IMPLIED,
    LONG_RUN_REALIZED_TO_IMPLIED,
    CurrencyModelParams,
    MarketModelParams,
    default_currency_params,
    fit_iv_ar1,
)
from trading.domain.market_model.quoting import quote_bid_ask, quote_sizes, rounded, smile_iv
from trading.domain.market_model.units import MS_PER_YEAR, PERPETUAL_EXPIRY_MS, FloatArray

__all__ = [
    "DEC_2025_REALIZED_TO_IMPLIED",
    "LONG_RUN_REALIZED_TO_IMPLIED",
    "MODEL_CHAIN_COLUMNS",
    "MS_PER_YEAR",
    "PERPETUAL_EXPIRY_MS",
    "CurrencyModelParams",
    "FloatArray",
    "MarketModel",
    "MarketModelParams",
    "OptionListing",
    "OptionQuotes",
    "default_currency_params",
    "fit_iv_ar1",
    "nice_step",
    "quote_bid_ask",
    "quote_sizes",
    "rounded",
    "smile_iv",
    "stable_instrument_id",
    "strike_grid",
]

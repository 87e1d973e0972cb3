"""The whole book at once: its greeks and what it gains or loses under stress.

Why a package of its own: the risk engine's per-order checks cannot see that a short put and a
short call together lose far more in a crash than either alone, or that coins held cover a
short call. These modules value every position of the book together.

Convention (Deribit's, stated once; every figure here follows it):

* options are inverse (coin-settled) and priced with Black-76 on Deribit's forward
  (`underlying_price` of the expiry), rate 0; sizes are signed coins (negative when short);
* **delta**: coins of the underlying (the ticker's forward delta x size; a coin held is 1, an
  inverse perpetual of `size_usd` is `size_usd / index`). `delta_usd` = delta x index;
* **gamma**: change of the coin delta per 1 USD move of the underlying (the ticker's gamma x
  size); `gamma_usd` is the change of the USD delta for a 1% move (gamma x index^2 / 100);
* **vega**: USD per one vol point (IV + 1%); `vega_coin` = vega / index;
* **theta**: USD per calendar day (time decay); `theta_coin` = theta / index.

Modules: `book` (the positions as numbers: `Book`, `BookOption`, `BookPerpetual`), `greeks`
(`portfolio_greeks`: totals by underlying, expiry and strategy), `scenarios`
(`scenario_grid`: every position revalued on spot x vol x time, P&L in USD and coin, margin
per cell, the worst cell).
"""

from trading.domain.portfolio.book import Book, BookOption, BookPerpetual
from trading.domain.portfolio.greeks import GreeksRow, PortfolioGreeks, portfolio_greeks
from trading.domain.portfolio.scenarios import (
    ScenarioGrid,
    ScenarioSpec,
    WorstCell,
    scenario_grid,
)

__all__ = [
    "Book",
    "BookOption",
    "BookPerpetual",
    "GreeksRow",
    "PortfolioGreeks",
    "ScenarioGrid",
    "ScenarioSpec",
    "WorstCell",
    "portfolio_greeks",
    "scenario_grid",
]

"""Risk engine: judges every proposal, whoever made it, and says why with every reason.

Nothing reaches execution without a `RiskVerdict`. The engine never short-circuits: it runs every
check that applies to the proposal's legs and records each one, passed or failed, so the decision
log shows the whole picture, e.g. "kill switch on AND spread too wide AND not covered".

Legs are judged by what they do to risk:

* a **sell** leg (OPEN, or the new call of a ROLL) adds risk. It must pass the kill switch, the
  daily drawdown stop, portfolio availability, margin, net delta, the hard rails (covered by
  holdings, per-expiry exposure, calls per underlying, size cap, mainnet notional caps), the
  premium minimum, the liquidity guards (spread, open interest, book depth), the settlement
  window, the amount/tick grid, and the stress limits on the whole book after the trade
  (worst scenario loss in % of equity, book vega; `stress`).
* a **buy** leg (CLOSE, or the old call of a ROLL) reduces risk. It only has to close a short
  that exists (never buy more than is short) on the exchange's grid. The kill switch and the
  drawdown stop never block it, so an operator can always flatten.

Units: amounts in coins (`Decimal`), option prices in coin per contract (`Decimal`), USD money as
`Decimal`, index prices and greeks as floats, times aware UTC.

Modules: `inputs` (quotes, positions, portfolio, one tick's `RiskInputs`), `drawdown` (the
latching daily drawdown stop), `verdict` (`RiskCheck`, `RiskVerdict`), `capacity` (order
sizing on the grid and under the rails, margin estimate), `exposure_checks` (what a sell does
to the account: stops, margin, delta, hard rails), `order_checks` (the order against the
market: instrument, grid, expiry, premium, liquidity, the close leg), `stress` (the book after
the trade on the scenario grid, for any strategy's signed trades), `engine`
(`evaluate_risk`, which runs them all), `reduce_only` (`evaluate_reduce_only`, a
reconciliation close that may only shrink an exchange position).
"""

from trading.domain.risk.capacity import (
    estimate_short_call_margin_usd,
    open_amount_capacity,
    quantize_order_amount,
    roll_open_amount,
)
from trading.domain.risk.drawdown import DrawdownState, drawdown_reset, drawdown_update
from trading.domain.risk.engine import evaluate_risk
from trading.domain.risk.exposure_checks import (
    order_delta_coin,
    paper_delta_coin,
    uncovered_delta,
)
from trading.domain.risk.inputs import OptionPosition, OptionQuote, PortfolioState, RiskInputs
from trading.domain.risk.reduce_only import evaluate_reduce_only
from trading.domain.risk.stress import (
    StressReport,
    StressTrade,
    book_from_inputs,
    evaluate_stress,
    stress_report,
)
from trading.domain.risk.verdict import RiskCheck, RiskVerdict, VerdictCode

__all__ = [
    "DrawdownState",
    "OptionPosition",
    "OptionQuote",
    "PortfolioState",
    "RiskCheck",
    "RiskInputs",
    "RiskVerdict",
    "StressReport",
    "StressTrade",
    "VerdictCode",
    "book_from_inputs",
    "drawdown_reset",
    "drawdown_update",
    "estimate_short_call_margin_usd",
    "evaluate_reduce_only",
    "evaluate_risk",
    "evaluate_stress",
    "open_amount_capacity",
    "order_delta_coin",
    "paper_delta_coin",
    "quantize_order_amount",
    "roll_open_amount",
    "stress_report",
    "uncovered_delta",
]

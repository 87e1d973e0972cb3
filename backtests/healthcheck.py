"""Strategy health check: a short standard battery, each check PASS, WARN or FAIL with a reason.

`manage.py strategy_healthcheck` runs it (docs/operations.md). The checks, in order:

* `policy_trades`: the research policy (`BacktestConfig()`) trades on a synthetic month
  (FAIL with no trade, WARN with fewer than 3).
* `no_free_lunch`: in a fair synthetic market where realised = implied, the covered call's
  edge before costs is zero within 3 standard errors (WARN to 4, FAIL beyond), and after costs
  it loses about the costs.
* `parity`: the live tick and the backtester take the same decision on a shared real snapshot
  with the live agent's research parameters (FAIL on any difference).
* `synthetic_vs_live`: the research policy's choices on real snapshots and on the synthetic
  source over the same window agree (`backtests.domain.source_compare`; WARN otherwise: the
  synthetic market is a model, its divergence is a caveat, not a broken system).
* `fees`: the backtester's fee model charges Deribit's published option fees (FAIL otherwise).
* `spreads`: the synthetic market quotes no crossed book (FAIL) and a median call spread
  between 0.5% and 25% of mid (WARN outside).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from backtests.domain.costs import deribit_fee_model
from backtests.domain.simulator import CoveredCallSimulator
from backtests.domain.sources.spec import SourceSpec
from backtests.domain.sources.synthetic import SyntheticSource
from backtests.domain.types import BacktestConfig

logger = logging.getLogger(__name__)
Status = Literal["PASS", "WARN", "FAIL"]
MONTH_START = datetime(2025, 1, 1, tzinfo=UTC)
MONTH_DAYS = 30
EDGE_DAYS = 60
#: The shared snapshot the parity check decides on (`manage.py parity_check`'s example).
PARITY_SNAPSHOT = Path("snapshots/BTC/2025-12-10/BTC_2025-12-10_1854.parquet")
SPREAD_RANGE = (0.005, 0.25)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's verdict, the reason in a sentence, and the figures behind it."""

    name: str
    status: Status
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def _month() -> CoveredCallSimulator:
    source = SyntheticSource(seed=42, start=MONTH_START, days=MONTH_DAYS)
    return CoveredCallSimulator(source.load_panel(underlying="BTC"))


def check_policy_trades() -> CheckResult:
    """The research policy trades on a synthetic month."""
    result = _month().simulate_policy(BacktestConfig())
    n = len(result.trades)
    details = {
        "trades": n,
        "days": MONTH_DAYS,
        "net_profit_usd": result.metrics.as_dict()["net_profit_usd"],
    }
    if n == 0:
        return CheckResult("policy_trades", "FAIL", "no trade on a synthetic month", details)
    status: Status = "PASS" if n >= 3 else "WARN"
    return CheckResult("policy_trades", status, f"{n} trades on a synthetic month", details)


def check_no_free_lunch() -> CheckResult:
    """Zero edge before costs at realised = implied (3 standard errors), costs lost after."""
    from backtests.domain.edge import edge_estimate, fair_panel

    estimate = edge_estimate(1.0, [fair_panel(1.0, 1, days=EDGE_DAYS)])
    z = abs(estimate.edge) / estimate.se if estimate.se > 0 else math.inf
    after_gap = estimate.after_costs + estimate.costs
    z_after = abs(after_gap) / estimate.after_costs_se if estimate.after_costs_se > 0 else math.inf
    details = estimate.as_dict() | {"z": round(z, 2), "z_after_costs": round(z_after, 2)}
    reason = (
        f"edge {100 * estimate.edge:+.1f}% of premium, {z:.1f} standard errors from zero; "
        f"after costs {100 * estimate.after_costs:+.1f}% vs costs {100 * estimate.costs:.1f}%"
    )
    if z > 4:
        return CheckResult("no_free_lunch", "FAIL", reason, details)
    status: Status = "PASS" if z <= 3 and z_after <= 3 else "WARN"
    return CheckResult("no_free_lunch", status, reason, details)


def check_parity() -> CheckResult:
    """The live tick and the backtester decide the same on a shared snapshot."""
    from backtests.parity import parity_check
    from backtests.services import snapshots_root
    from trading.domain.params import AgentMode, RuntimeOverrides, resolve_effective_params

    path = snapshots_root() / PARITY_SNAPSHOT
    if not path.exists():
        return CheckResult("parity", "WARN", f"no shared snapshot at {path}", {})
    params = resolve_effective_params(
        environment="testnet", overrides=RuntimeOverrides(mode=AgentMode.RESEARCH)
    )
    result = parity_check(path, params)
    details = {
        "snapshot": path.name,
        "live": result.live.chosen,
        "backtest": result.backtest.chosen,
        "differences": list(result.differences),
    }
    if not result.ok:
        return CheckResult("parity", "FAIL", "; ".join(result.differences), details)
    return CheckResult(
        "parity", "PASS", f"same candidates, scores and action on {path.name}", details
    )


def check_synthetic_vs_live() -> CheckResult:
    """The research policy's choices on the synthetic source look like those on real data."""
    from backtests.domain.source_compare import compare_policy
    from backtests.lab_services import compare_sources
    from backtests.services import simulator_for

    try:
        live_spec, synthetic_spec = compare_sources(SourceSpec(kind="snapshots", underlying="BTC"))
    except ValueError as exc:
        return CheckResult("synthetic_vs_live", "WARN", f"no real snapshots: {exc}", {})
    result = compare_policy(
        simulator_for(spec=live_spec),
        simulator_for(spec=synthetic_spec),
        BacktestConfig(underlying="BTC"),
    )
    per_measure = {m["measure"]: m["verdict"] for m in result["measures"]}
    details = {"verdict": result["verdict"], "measures": per_measure}
    if result["verdict"] == "agree":
        return CheckResult("synthetic_vs_live", "PASS", "every measure agrees", details)
    off = [name for name, verdict in per_measure.items() if verdict != "agree"]
    tol = result["tolerance"]
    reason = (
        f"{result['verdict']}: {', '.join(off)} "
        f"(diverge = KS distance > {tol['ks_max']:g} and p < {tol['alpha']:g})"
    )
    return CheckResult("synthetic_vs_live", "WARN", reason, details)


#: Deribit's published option fees, written out: (price coin, trade fee coin per contract).
PUBLISHED_TRADE_FEES = ((0.01, 0.0003), (0.001, 0.000125), (0.1, 0.0003))
PUBLISHED_DELIVERY_FEES = ((0.01, 0.00015), (0.0005, 0.0000625))


def check_fees() -> CheckResult:
    """The fee model charges Deribit's published option fees."""
    model = deribit_fee_model()
    wrong = []
    for price, expected in PUBLISHED_TRADE_FEES:
        got = float(np.asarray(model.trade_fee_coin(price, 1.0)).reshape(-1)[0])
        if not math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12):
            wrong.append(f"trade fee at {price:g} coin: {got:.8g}, published {expected:.8g}")
    for value, expected in PUBLISHED_DELIVERY_FEES:
        got = float(np.asarray(model.delivery_fee_coin(value, 1.0)).reshape(-1)[0])
        if not math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12):
            wrong.append(f"delivery fee at {value:g} coin: {got:.8g}, published {expected:.8g}")
    details = {"model": model.describe(), "wrong": wrong}
    if wrong:
        return CheckResult("fees", "FAIL", "; ".join(wrong), details)
    return CheckResult("fees", "PASS", "Deribit's published option fees", details)


def check_spreads() -> CheckResult:
    """The synthetic market's books are not crossed and its spreads are plausible."""
    panel = _month().panel
    mid = 0.5 * (panel.bid_coin + panel.ask_coin)
    quoted = np.isfinite(mid) & (mid > 0)
    relative = (panel.ask_coin[quoted] - panel.bid_coin[quoted]) / mid[quoted]
    crossed = int((panel.ask_coin[quoted] < panel.bid_coin[quoted]).sum())
    median = float(np.median(relative)) if len(relative) else math.nan
    details = {"quotes": int(quoted.sum()), "crossed": crossed, "median_spread": round(median, 4)}
    if crossed or not math.isfinite(median):
        reason = f"{crossed} crossed book(s)" if crossed else "no two-sided quote"
        return CheckResult("spreads", "FAIL", reason, details)
    low, high = SPREAD_RANGE
    status: Status = "PASS" if low <= median <= high else "WARN"
    reason = f"median call spread {100 * median:.1f}% of mid (expected {low:.1%} to {high:.0%})"
    return CheckResult("spreads", status, reason, details)


CHECKS: dict[str, Callable[[], CheckResult]] = {
    "policy_trades": check_policy_trades,
    "no_free_lunch": check_no_free_lunch,
    "parity": check_parity,
    "synthetic_vs_live": check_synthetic_vs_live,
    "fees": check_fees,
    "spreads": check_spreads,
}


def strategy_healthcheck(names: list[str] | None = None) -> list[CheckResult]:
    """Run the named checks (all by default); a check that raises is a FAIL with the error."""
    results = []
    for name in names or list(CHECKS):
        try:
            results.append(CHECKS[name]())
        except Exception as exc:  # a crashing check is a failed check, not a crashed battery
            logger.exception("health check %s raised", name)
            results.append(CheckResult(name, "FAIL", f"{type(exc).__name__}: {exc}", {}))
    return results

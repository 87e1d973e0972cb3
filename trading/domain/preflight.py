"""Preflight: is this setup ready to run the agent where it points? Pure checks and the report.

Each check answers PASS, WARN or FAIL with what it saw and, unless it passed, the fix. A FAIL
means "do not start the agent like this" (`manage.py preflight` exits non-zero); a WARN is safe
but worth reading. The functions here take plain values (a constructed `PreflightConfig`, the
scope string `public/auth` returned, the account's `limits`), so every rule is tested without
an exchange; `trading.services.preflight` gathers the values and runs them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from trading.domain.params import Environment

#: The scope that places orders (`private/buy`, `private/sell`, cancels).
TRADE_SCOPE = "trade:read_write"
#: Scopes the agent reads with: account summary, positions and orders.
READ_SCOPES = ("account:read", "trade:read")
#: A scope that can move money out (withdrawals, transfers): the agent never needs it.
WITHDRAW_SCOPE = "wallet:read_write"


class Status(StrEnum):
    """A check's outcome, worst last."""

    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class PreflightCheck:
    """One check: what it looked at, its outcome, what it saw, and how to fix it."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_record(self) -> dict[str, str]:
        """JSON-ready dict."""
        return {
            "name": self.name,
            "status": self.status.value,
            "detail": self.detail,
            "fix": self.fix,
        }


@dataclass(frozen=True, slots=True)
class PreflightConfig:
    """The setup as configured: where orders go, dry run, the mainnet confirmation, the key."""

    environment: Environment
    dry_run: bool
    mainnet_confirmed: bool
    base_url: str
    has_credentials: bool
    underlyings: tuple[str, ...] = ("BTC", "ETH")

    @property
    def live(self) -> bool:
        """True when orders would really be sent (dry run off), wherever they go."""
        return not self.dry_run


@dataclass(frozen=True, slots=True)
class PreflightReport:
    """Every check of one preflight run."""

    environment: Environment
    dry_run: bool
    checks: tuple[PreflightCheck, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when no check failed."""
        return all(c.status is not Status.FAIL for c in self.checks)

    def counts(self) -> dict[str, int]:
        """How many checks per status."""
        return {s.value: sum(1 for c in self.checks if c.status is s) for s in Status}

    def as_record(self) -> dict[str, Any]:
        """The `--json` document (docs/operations.md)."""
        return {
            "ok": self.ok,
            "environment": self.environment.value,
            "dry_run": self.dry_run,
            "counts": self.counts(),
            "checks": [c.as_record() for c in self.checks],
        }


def _check(name: str, status: Status, detail: str, fix: str = "") -> PreflightCheck:
    return PreflightCheck(name, status, detail, "" if status is Status.PASS else fix)


def check_environment(cfg: PreflightConfig) -> PreflightCheck:
    """Where orders go: sim, testnet, or mainnet with its second confirmation."""
    env = cfg.environment
    if env is Environment.SIM:
        return _check("environment", Status.PASS, f"sim: the built-in simulator at {cfg.base_url}")
    if env is Environment.TESTNET:
        return _check("environment", Status.PASS, f"testnet (no real money) at {cfg.base_url}")
    if not cfg.mainnet_confirmed:
        return _check(
            "environment",
            Status.FAIL,
            "mainnet (real money) without its second confirmation",
            "set DERIBIT_MAINNET_CONFIRM as docs/going-live.md says, or DERIBIT_ENV=testnet",
        )
    return _check(
        "environment",
        Status.WARN,
        f"mainnet (real money) at {cfg.base_url}, confirmed",
        "intended? every live order spends real money; docs/going-live.md",
    )


def check_dry_run(cfg: PreflightConfig) -> PreflightCheck:
    """Dry run against the environment: live orders on mainnet need the confirmation."""
    env = cfg.environment
    if cfg.dry_run:
        return _check(
            "dry_run", Status.PASS, f"dry run on {env.value}: orders are simulated on paper"
        )
    if env is Environment.MAINNET and not cfg.mainnet_confirmed:
        return _check(
            "dry_run",
            Status.FAIL,
            "dry run OFF on mainnet without the second confirmation",
            "turn dry run on (DRY_RUN=true or the dry_run control), or confirm mainnet",
        )
    if env is Environment.MAINNET:
        return _check(
            "dry_run",
            Status.WARN,
            "dry run OFF on mainnet: the next approved order spends real money",
            "intended? run a testnet live period first (docs/going-live.md)",
        )
    return _check("dry_run", Status.PASS, f"dry run off on {env.value}: orders are sent there")


def check_credentials(cfg: PreflightConfig) -> PreflightCheck:
    """A key is configured where one is needed (the simulator brings its own)."""
    if cfg.environment is Environment.SIM:
        return _check("credentials", Status.PASS, "the simulator's built-in key")
    if cfg.has_credentials:
        return _check("credentials", Status.PASS, "DERIBIT_CLIENT_ID and secret set")
    return _check(
        "credentials",
        Status.FAIL,
        f"no API key for {cfg.environment.value}",
        "set DERIBIT_CLIENT_ID and DERIBIT_CLIENT_SECRET (docs/going-live.md: key scopes)",
    )


def check_scopes(scope: str, *, live: bool) -> PreflightCheck:
    """The key's scopes as `public/auth` granted them: trade to go live, never withdrawals."""
    granted = set(scope.split())
    missing_reads = [s for s in READ_SCOPES if not _grants(granted, s)]
    if missing_reads:
        return _check(
            "key_scopes",
            Status.FAIL,
            f"scope {scope!r} lacks {', '.join(missing_reads)}: the agent cannot read the account",
            "give the API key account:read and trade:read_write (docs/going-live.md)",
        )
    has_trade = TRADE_SCOPE in granted
    if not has_trade and live:
        return _check(
            "key_scopes",
            Status.FAIL,
            f"scope {scope!r} lacks {TRADE_SCOPE}: live orders would be refused (13021)",
            f"give the API key {TRADE_SCOPE}, or turn dry run on",
        )
    if WITHDRAW_SCOPE in granted:
        return _check(
            "key_scopes",
            Status.WARN,
            f"scope {scope!r} includes {WITHDRAW_SCOPE}: this key can withdraw funds",
            "create a key with wallet:read (or wallet:none); the agent never withdraws",
        )
    if not has_trade:
        return _check(
            "key_scopes",
            Status.WARN,
            f"scope {scope!r} lacks {TRADE_SCOPE}: fine in dry run, needed to go live",
            f"give the API key {TRADE_SCOPE} before turning dry run off",
        )
    return _check("key_scopes", Status.PASS, f"scope {scope!r}")


def _grants(granted: set[str], needed: str) -> bool:
    family = needed.split(":")[0]
    return needed in granted or f"{family}:read_write" in granted


def check_clock_skew(
    server_ms: int, local_ms: int, environment: Environment, *, warn_s: float = 1.0
) -> PreflightCheck:
    """Local clock against the exchange's (signatures are valid 60 s; settlement is 08:00)."""
    skew_s = (local_ms - server_ms) / 1000.0
    if environment is Environment.SIM:
        return _check(
            "clock_skew",
            Status.PASS,
            f"simulated clock ({skew_s:+.1f} s from the local one; not meaningful in sim)",
        )
    if abs(skew_s) <= warn_s:
        return _check("clock_skew", Status.PASS, f"{skew_s:+.3f} s from the exchange")
    status = Status.WARN if abs(skew_s) <= 30 else Status.FAIL
    return _check(
        "clock_skew",
        status,
        f"{skew_s:+.1f} s from the exchange",
        "synchronise the clock (NTP: timedatectl set-ntp true)",
    )


def check_balances(equity: Mapping[str, float]) -> PreflightCheck:
    """Coins per underlying: covered calls need coins to cover them."""
    text = ", ".join(f"{c} {v:g}" for c, v in equity.items()) or "none"
    empty = [c for c, v in equity.items() if v <= 0]
    if not equity or len(empty) == len(equity):
        return _check(
            "balances",
            Status.FAIL,
            f"equity {text}: nothing to cover a call",
            "deposit coins (testnet: the faucet on test.deribit.com)",
        )
    if empty:
        return _check(
            "balances",
            Status.WARN,
            f"equity {text}: no {', '.join(empty)} to cover calls on it",
            f"deposit {', '.join(empty)} or drop it from the underlyings",
        )
    return _check("balances", Status.PASS, f"equity {text}")


def check_instruments(listed: Mapping[str, int]) -> PreflightCheck:
    """Options listed per underlying (none means no market to trade)."""
    text = ", ".join(f"{c} {n}" for c, n in listed.items())
    missing = [c for c, n in listed.items() if n <= 0]
    if missing:
        return _check(
            "instruments",
            Status.FAIL,
            f"options listed: {text}",
            f"check the environment's URL; no {', '.join(missing)} options are listed",
        )
    return _check("instruments", Status.PASS, f"options listed: {text}")


def check_rate_limits(
    limits: Mapping[str, Any] | None, paced: Mapping[str, float], requests_per_tick: int = 10
) -> PreflightCheck:
    """The client's pace against the account's limits (account summary `limits`)."""
    exchange_rate = _rate(limits, ("non_matching_engine", "rate"))
    order_rate = _rate(limits, ("matching_engine", "trading", "total", "rate"))
    ours, our_orders = paced.get("non_matching", 0.0), paced.get("matching", 0.0)
    if exchange_rate is None:
        return _check(
            "rate_limits",
            Status.WARN,
            f"the account reports no limits; the client paces {ours:g} req/s",
            "check the account's limits on the exchange (docs/deribit.md, rate limits)",
        )
    too_fast = ours > exchange_rate or (order_rate is not None and our_orders > order_rate)
    detail = (
        f"client {ours:g} req/s of {exchange_rate:g} allowed"
        + (f", orders {our_orders:g}/s of {order_rate:g}" if order_rate is not None else "")
        + f"; a tick needs ~{requests_per_tick} requests"
    )
    if too_fast:
        return _check(
            "rate_limits",
            Status.FAIL,
            detail,
            "lower the client's LimiterConfig rates below the account's limits",
        )
    return _check("rate_limits", Status.PASS, detail)


def _rate(limits: Mapping[str, Any] | None, path: Iterable[str]) -> float | None:
    node: Any = limits
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return float(node) if isinstance(node, int | float) else None


def summarize(
    environment: Environment, dry_run: bool, checks: Iterable[PreflightCheck]
) -> PreflightReport:
    """The report of a run."""
    return PreflightReport(environment=environment, dry_run=dry_run, checks=tuple(checks))

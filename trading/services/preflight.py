"""Preflight: run every check of `trading.domain.preflight` against this deployment.

The same run feeds `manage.py preflight [--json]` and the System Health panel. It reads only:
public/get_time, public/auth, account summaries, instruments, positions, and the database
(controls, guard, orders, reconciliation, users). Each exchange check catches the exchange's
errors and reports them as that check's FAIL, so one broken piece never hides the others.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from pydantic import ValidationError

from optionsdesk.config import MAINNET_CONFIRMATION
from optionsdesk.roles import Role, user_has_role
from trading.deribit.client import DeribitClient
from trading.deribit.errors import DeribitError
from trading.deribit.limiter import RequestClass
from trading.domain.params import Environment
from trading.domain.preflight import (
    PreflightCheck,
    PreflightConfig,
    PreflightReport,
    Status,
    check_balances,
    check_clock_skew,
    check_credentials,
    check_dry_run,
    check_environment,
    check_instruments,
    check_rate_limits,
    check_scopes,
    summarize,
)
from trading.exchange import exchange_client
from trading.models import AgentStatus, Order, Position, ReconciliationRun, RuntimeControl
from trading.services.controls import agent_defaults, agent_environment, effective_params_load

#: Order states whose outcome on the exchange is not known yet.
UNRESOLVED_STATES = (Order.State.PENDING, Order.State.SENDING, Order.State.UNKNOWN)


def preflight_config() -> PreflightConfig:
    """The deployment's setup from settings and the controls (dry run as the next tick sees it)."""
    try:
        dry_run = effective_params_load().dry_run
    except ValidationError:
        dry_run = agent_defaults().dry_run
    confirm = str(getattr(settings.APP, "DERIBIT_MAINNET_CONFIRM", ""))
    return PreflightConfig(
        environment=agent_environment(),
        dry_run=dry_run,
        mainnet_confirmed=confirm == MAINNET_CONFIRMATION,
        base_url=str(settings.DERIBIT_BASE_URL),
        has_credentials=bool(settings.DERIBIT_CLIENT_ID and settings.DERIBIT_CLIENT_SECRET),
        underlyings=agent_defaults().underlyings,
    )


def _guarded(name: str, fix: str, probe: Callable[[], PreflightCheck]) -> PreflightCheck:
    try:
        return probe()
    except DeribitError as exc:
        return PreflightCheck(name, Status.FAIL, f"exchange error: {exc}"[:300], fix)


def _exchange_checks(client: DeribitClient, cfg: PreflightConfig) -> list[PreflightCheck]:
    try:
        started = time.monotonic()
        server_ms = client.get_time()
        latency_ms = (time.monotonic() - started) * 1000
    except DeribitError as exc:
        fix = "check DERIBIT_ENV / the URL and that the exchange (or `make sim`) is up"
        return [PreflightCheck("connectivity", Status.FAIL, f"unreachable: {exc}"[:300], fix)]
    checks = [
        PreflightCheck("connectivity", Status.PASS, f"public/get_time in {latency_ms:.0f} ms"),
        check_clock_skew(server_ms, int(time.time() * 1000), cfg.environment),
    ]
    try:
        auth = client.authenticate()
    except DeribitError as exc:
        fix = "check DERIBIT_CLIENT_ID and DERIBIT_CLIENT_SECRET (and the key is enabled)"
        checks.append(
            PreflightCheck("authentication", Status.FAIL, f"public/auth: {exc}"[:300], fix)
        )
        return checks
    checks.append(
        PreflightCheck("authentication", Status.PASS, f"public/auth as {client.client_id}")
    )
    checks.append(check_scopes(auth.scope, live=cfg.live))
    checks.extend(_account_checks(client, cfg))
    return checks


def _account_checks(client: DeribitClient, cfg: PreflightConfig) -> list[PreflightCheck]:
    out: list[PreflightCheck] = []
    limits: dict[str, object] | None = None

    def balances() -> PreflightCheck:
        nonlocal limits
        equity: dict[str, float] = {}
        for currency in cfg.underlyings:
            summary = client.get_account_summary(currency)
            equity[currency] = float(summary.equity)
            limits = limits or summary.limits
        return check_balances(equity)

    out.append(_guarded("balances", "check the key's account:read scope", balances))

    def instruments() -> PreflightCheck:
        return check_instruments(
            {c: len(client.get_instruments(c, "option")) for c in cfg.underlyings}
        )

    out.append(_guarded("instruments", "check the environment's URL", instruments))
    paced = client.limiter.config
    out.append(
        check_rate_limits(
            limits,
            {
                "non_matching": paced.paced(RequestClass.NON_MATCHING)[0],
                "matching": paced.paced(RequestClass.MATCHING)[0],
            },
        )
    )
    out.append(
        _guarded(
            "reconciliation", "run `manage.py reconcile_positions`", lambda: _reconciliation(client)
        )
    )
    return out


def _reconciliation(client: DeribitClient) -> PreflightCheck:
    """Our open (non-paper) positions against the exchange's, read-only."""
    theirs = {
        p.instrument_name: p.size for p in client.get_positions("any", "option") if p.size != 0
    }
    ours: dict[str, Decimal] = defaultdict(Decimal)
    for p in Position.objects.filter(status=Position.Status.OPEN, paper=False):
        ours[p.instrument_name] += p.size
    drift = sorted(
        n for n in set(ours) | set(theirs) if ours.get(n, Decimal(0)) != theirs.get(n, Decimal(0))
    )
    last = ReconciliationRun.objects.order_by("-started_at", "-id").first()
    if drift:
        return PreflightCheck(
            "reconciliation",
            Status.FAIL,
            f"books and exchange disagree on {', '.join(drift[:5])}"
            + (" ..." if len(drift) > 5 else ""),
            "run `manage.py reconcile_positions` (report, then adopt, flag or close) first",
        )
    if last is not None and last.status == "failed":
        return PreflightCheck(
            "reconciliation",
            Status.WARN,
            f"books match the exchange; the last reconciliation run failed: {last.summary[:120]}",
            "look at the last run on System Health",
        )
    return PreflightCheck(
        "reconciliation", Status.PASS, f"books match the exchange ({len(theirs)} positions)"
    )


def _local_checks() -> list[PreflightCheck]:
    out: list[PreflightCheck] = []
    try:
        effective_params_load()
        out.append(PreflightCheck("controls", Status.PASS, "runtime controls are consistent"))
    except ValidationError as exc:
        out.append(
            PreflightCheck(
                "controls",
                Status.FAIL,
                f"controls invalid: {exc.errors()[0]['msg']}"[:300],
                "fix the controls on System Health (the tick refuses to run)",
            )
        )
    out.append(_kill_switch_and_guard())
    out.append(_pending_orders())
    out.append(_operators())
    return out


def _kill_switch_and_guard() -> PreflightCheck:
    from trading.domain.health import GuardState

    control = RuntimeControl.load()
    status = AgentStatus.load()
    guard = GuardState.model_validate(status.guard_state) if status.guard_state else GuardState()
    if control.kill_switch:
        return PreflightCheck(
            "kill_switch_guard",
            Status.WARN,
            "kill switch ON: no order will be sent",
            "release it on System Health when you mean to trade",
        )
    if not guard.trading_allowed:
        return PreflightCheck(
            "kill_switch_guard",
            Status.WARN,
            f"health guard {guard.status}: {guard.reason}",
            "fix the cause, then reset the guard on System Health",
        )
    return PreflightCheck("kill_switch_guard", Status.PASS, "kill switch off, health guard ok")


def _pending_orders() -> PreflightCheck:
    pending = Order.objects.filter(state__in=UNRESOLVED_STATES, dry_run=False)
    count = pending.count()
    if count:
        labels = ", ".join(pending.values_list("label", flat=True)[:5])
        return PreflightCheck(
            "pending_orders",
            Status.FAIL,
            f"{count} order(s) with an unknown outcome: {labels}",
            "run `manage.py reconcile_positions` (it resolves them by label) first",
        )
    return PreflightCheck("pending_orders", Status.PASS, "no order with an unknown outcome")


def _operators() -> PreflightCheck:
    users = get_user_model().objects.filter(is_active=True).prefetch_related("groups")
    operators = [u for u in users if user_has_role(u, Role.OPERATOR)]
    if not operators:
        return PreflightCheck(
            "operator_user",
            Status.FAIL,
            "no user with the operator role: nobody can press the kill switch",
            "manage.py grant_role USER operator (or createsuperuser)",
        )
    return PreflightCheck(
        "operator_user", Status.PASS, f"{len(operators)} user(s) with the operator role or above"
    )


def preflight_run(
    *, client: DeribitClient | None = None, config: PreflightConfig | None = None
) -> PreflightReport:
    """Run every check (configuration, exchange, account, local state) and return the report."""
    cfg = config or preflight_config()
    checks = [check_environment(cfg), check_dry_run(cfg), check_credentials(cfg)]
    if cfg.environment is Environment.MAINNET and not cfg.mainnet_confirmed:
        checks.append(
            PreflightCheck(
                "connectivity",
                Status.FAIL,
                "not contacted: mainnet is not confirmed",
                "confirm mainnet or switch to testnet",
            )
        )
    else:
        exchange = client if client is not None else exchange_client()
        try:
            checks.extend(_exchange_checks(exchange, cfg))
        finally:
            if client is None:
                exchange.close()
    checks.extend(_local_checks())
    return summarize(cfg.environment, cfg.dry_run, checks)

"""Preflight: every check PASS on the simulator, and the failures that must stop a start."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

import pytest
from django.core.management import call_command

from tests.trading.agent_helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    make_agent_client,
    make_vrp_exchange,
)
from trading.deribit.errors import AuthError
from trading.deribit.limiter import LimiterConfig
from trading.deribit.simulator import AccountConfig, ServerThread, create_app
from trading.deribit.simulator.exchange import READ_ONLY_KEY_SCOPE
from trading.domain.params import Environment
from trading.domain.preflight import (
    PreflightConfig,
    Status,
    check_dry_run,
    check_environment,
    check_rate_limits,
    check_scopes,
)
from trading.services import controls_update
from trading.services.preflight import preflight_run

FULL = "account:read_write trade:read_write wallet:read connection mainaccount"


def _server(**account: object) -> ServerThread:
    accounts = (AccountConfig(**account),) if account else (AccountConfig(),)  # type: ignore[arg-type]
    exchange = make_vrp_exchange(rate_limits=LimiterConfig(), accounts=accounts)
    return ServerThread(create_app(exchange), port=0).start()


@pytest.fixture
def sim() -> Iterator[ServerThread]:
    server = _server()
    yield server
    server.stop()


@pytest.fixture
def read_only_sim() -> Iterator[ServerThread]:
    server = _server(scope=READ_ONLY_KEY_SCOPE)
    yield server
    server.stop()


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_superuser("op", "op@example.com", "pw")


def _point_settings_at(settings, server: ServerThread) -> None:
    settings.DERIBIT_ENV = "sim"
    settings.DRY_RUN_DEFAULT = True
    settings.DERIBIT_BASE_URL = server.base_url
    settings.DERIBIT_CLIENT_ID = CLIENT_ID
    settings.DERIBIT_CLIENT_SECRET = CLIENT_SECRET


@pytest.mark.django_db
def test_every_check_passes_on_the_simulator_by_default(settings, sim, operator) -> None:
    _point_settings_at(settings, sim)
    with make_agent_client(sim.base_url) as client:
        report = preflight_run(client=client)
    statuses = {c.name: c.status for c in report.checks}
    assert set(statuses.values()) == {Status.PASS}, report.as_record()
    assert {
        "environment",
        "dry_run",
        "credentials",
        "connectivity",
        "clock_skew",
        "authentication",
        "key_scopes",
        "balances",
        "instruments",
        "rate_limits",
        "reconciliation",
        "controls",
        "kill_switch_guard",
        "pending_orders",
        "operator_user",
    } == set(statuses)
    assert report.ok


@pytest.mark.django_db
def test_a_key_lacking_the_trade_scope_fails_in_live_mode_naming_the_scope(
    settings, read_only_sim, operator
) -> None:
    _point_settings_at(settings, read_only_sim)
    controls_update(changes={"dry_run": False}, user="t")
    with make_agent_client(read_only_sim.base_url) as client:
        report = preflight_run(client=client)
        name = client.get_instruments("BTC", "option")[0].instrument_name
        with pytest.raises(AuthError) as refused:
            client.buy(name, Decimal("0.1"), price=Decimal("0.5"))
    scopes = next(c for c in report.checks if c.name == "key_scopes")
    assert scopes.status is Status.FAIL
    assert "trade:read_write" in scopes.detail
    assert not report.ok
    assert refused.value.code == 13021


@pytest.mark.django_db
def test_the_read_only_key_only_warns_in_dry_run(settings, read_only_sim, operator) -> None:
    _point_settings_at(settings, read_only_sim)
    with make_agent_client(read_only_sim.base_url) as client:
        report = preflight_run(client=client)
    scopes = next(c for c in report.checks if c.name == "key_scopes")
    assert scopes.status is Status.WARN
    assert report.ok


def test_dry_run_off_on_mainnet_without_confirmation_fails() -> None:
    cfg = PreflightConfig(
        environment=Environment.MAINNET,
        dry_run=False,
        mainnet_confirmed=False,
        base_url="https://www.deribit.com/api/v2",
        has_credentials=True,
    )
    assert check_dry_run(cfg).status is Status.FAIL
    assert "without the second confirmation" in check_dry_run(cfg).detail
    assert check_environment(cfg).status is Status.FAIL
    confirmed = replace(cfg, mainnet_confirmed=True)
    assert check_dry_run(confirmed).status is Status.WARN


@pytest.mark.django_db
def test_an_unconfirmed_mainnet_run_fails_without_contacting_the_exchange(operator) -> None:
    cfg = PreflightConfig(Environment.MAINNET, False, False, "https://www.deribit.com/api/v2", True)
    report = preflight_run(client=None, config=cfg)  # no client is built: nothing contacted
    assert not report.ok
    assert next(c for c in report.checks if c.name == "connectivity").status is Status.FAIL


def test_a_withdraw_scope_warns_and_missing_reads_fail() -> None:
    assert check_scopes(FULL, live=True).status is Status.PASS
    withdraw = check_scopes(FULL.replace("wallet:read", "wallet:read_write"), live=True)
    assert withdraw.status is Status.WARN
    assert "withdraw" in withdraw.detail
    assert check_scopes("trade:read_write connection", live=True).status is Status.FAIL


def test_a_client_pacing_faster_than_the_account_allows_fails() -> None:
    limits = {"non_matching_engine": {"rate": 20, "burst": 100}}
    assert check_rate_limits(limits, {"non_matching": 18.0}).status is Status.PASS
    assert check_rate_limits(limits, {"non_matching": 25.0}).status is Status.FAIL
    assert check_rate_limits(None, {"non_matching": 18.0}).status is Status.WARN


@pytest.mark.django_db
def test_the_command_prints_json_and_exits_non_zero_on_a_fail(
    settings, sim, operator, capsys
) -> None:
    _point_settings_at(settings, sim)
    call_command("preflight", "--json")
    ok = json.loads(capsys.readouterr().out)
    assert ok["ok"] is True
    assert ok["counts"]["FAIL"] == 0
    assert {"name", "status", "detail", "fix"} == set(ok["checks"][0])
    controls_update(changes={"kill_switch": True}, user="t")
    operator.delete()
    with pytest.raises(SystemExit) as exited:
        call_command("preflight")
    assert exited.value.code == 1
    text = capsys.readouterr().out
    assert "FAIL  operator_user" in text
    assert "fix: manage.py grant_role USER operator" in text


@pytest.mark.django_db
def test_system_health_has_a_preflight_panel_running_the_same_checks(
    settings, sim, operator, client
) -> None:
    _point_settings_at(settings, sim)
    client.force_login(operator)
    page = client.get("/system/").content.decode()
    assert 'data-testid="preflight-run"' in page
    panel = client.get("/agent/preflight/").content.decode()
    assert 'data-testid="preflight-key_scopes"' in panel
    assert "ready" in panel
    assert "0 FAIL" in panel

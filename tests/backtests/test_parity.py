"""Live/backtest parity on every shared real snapshot (issue 15, "Parity").

One parameter set: the backtest presets equal the live agent's effective strategy, guards
(spread limit 15%, open interest 50) included. On each harvested snapshot of
../shared/data/deribit the live screening + rule policy and the backtester's screening +
choice give the same candidates (same order), the same scores, the same chosen call and the
same action, for the default research parameters (every snapshot) and for production and a
widened research set (every third snapshot); changing one side's parameter breaks it.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from backtests.domain.types import BacktestConfig
from backtests.parity import parity_check
from trading.domain.candidates import StrategyParams
from trading.domain.params import AgentMode, RuntimeOverrides, resolve_effective_params

RESEARCH = resolve_effective_params(environment="testnet")
PRODUCTION = resolve_effective_params(
    environment="testnet", overrides=RuntimeOverrides(mode=AgentMode.PRODUCTION)
)
WIDE = resolve_effective_params(
    environment="testnet",
    overrides=RuntimeOverrides(
        liquidity_max_spread_pct=40.0,
        liquidity_min_open_interest=0.0,
        ivrv_min=0.8,
        delta_max=0.5,
        premium_min_usd=10.0,
    ),
)


@pytest.fixture(scope="module")
def snapshots(shared_dir: Path) -> list[Path]:
    files = sorted((shared_dir / "data" / "deribit" / "snapshots").glob("*/*/*.parquet"))
    if not files:
        pytest.skip("no snapshots under shared/data/deribit/snapshots")
    return files


def test_the_backtest_presets_are_the_live_parameter_sets() -> None:
    assert StrategyParams.research() == RESEARCH.strategy
    assert StrategyParams.production() == PRODUCTION.strategy
    assert BacktestConfig().strategy.max_spread_pct == 0.15
    assert BacktestConfig().strategy.min_open_interest == 50.0


def _sweep(files: list[Path], params, **kw) -> tuple[list[str], dict[str, int]]:
    failures: list[str] = []
    actions: dict[str, int] = {}
    for path in files:
        result = parity_check(path, params, **kw)
        actions[result.live.action] = actions.get(result.live.action, 0) + 1
        if not result.ok:
            failures.append(f"{path.name}: {result.differences}")
    return failures, actions


@pytest.mark.slow
def test_parity_holds_on_every_shared_snapshot_with_the_default_parameters(snapshots) -> None:
    failures, actions = _sweep(snapshots, RESEARCH)

    assert len(snapshots) > 400
    assert failures == []
    assert actions.get("OPEN_COVERED_CALL", 0) > 300  # the check compares real choices


@pytest.mark.slow
@pytest.mark.parametrize("params", [PRODUCTION, WIDE], ids=["production", "wide"])
def test_parity_holds_for_two_other_parameter_sets(snapshots, params) -> None:
    failures, actions = _sweep(snapshots[::3], params, rv=0.35, seed=7)

    assert failures == []
    assert actions.get("OPEN_COVERED_CALL", 0) > 5


def test_the_check_fails_when_one_sides_parameter_changes(snapshots) -> None:
    path = next(p for p in snapshots if p.name == "BTC_2025-12-10_1854.parquet")
    assert parity_check(path, RESEARCH).ok

    changed = RESEARCH.strategy.model_copy(update={"max_spread_pct": 0.01})
    result = parity_check(path, RESEARCH, backtest_strategy=changed)

    assert not result.ok
    assert any("candidates differ" in line for line in result.differences)


def test_parity_check_command_prints_both_and_exits_non_zero_on_a_difference(snapshots) -> None:
    path = next(p for p in snapshots if p.name == "BTC_2025-12-10_1854.parquet")
    out = io.StringIO()

    call_command("parity_check", str(path), stdout=out)
    with pytest.raises(SystemExit) as exc:
        call_command(
            "parity_check", str(path), "--backtest-param", "ivrv_min=5", stdout=io.StringIO()
        )

    assert "PARITY" in out.getvalue()
    assert "live: OPEN_COVERED_CALL" in out.getvalue()
    assert "backtest: OPEN_COVERED_CALL" in out.getvalue()
    assert exc.value.code == 1

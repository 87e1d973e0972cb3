"""Parameter grids: expansion, validation, in-process runs and ranking."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from backtests.domain.grid import GridRow, GridSpec, apply_params, rank_rows, run_grid
from backtests.domain.simulator import CoveredCallSimulator
from backtests.domain.types import BacktestConfig, ExitStyle
from tests.backtests.helpers import ANY_CALL, two_call_sim


def test_it_expands_the_cartesian_product_in_a_stable_order() -> None:
    spec = GridSpec(
        axes={
            "delta_range": [[0.1, 0.2], [0.2, 0.3]],
            "exit_style": ["hold_to_expiry", "take_profit", "stop_loss"],
        }
    )

    params = spec.combination_params()
    configs = spec.combinations()

    assert spec.size == len(params) == len(configs) == 6
    assert params[0] == {"delta_range": [0.1, 0.2], "exit_style": "hold_to_expiry"}
    assert configs[5].strategy.delta_min == 0.2
    assert configs[5].exit.style is ExitStyle.STOP_LOSS
    assert params == GridSpec(axes=spec.axes).combination_params()


def test_it_applies_every_kind_of_axis() -> None:
    config = apply_params(
        BacktestConfig(),
        {
            "dte_range": [3, 9],
            "ivrv_min": 1.3,
            "take_profit_pct": 0.7,
            "haircut_pct": 0.02,
            "fill_style": "mid_haircut",
            "decision_interval_hours": 4,
        },
    )

    assert (config.strategy.dte_min_days, config.strategy.dte_max_days) == (3, 9)
    assert config.strategy.ivrv_min == 1.3
    assert config.exit.take_profit_pct == 0.7
    assert (config.fill.style, config.fill.haircut_pct) == ("mid_haircut", 0.02)
    assert config.decision_interval_hours == 4


def test_it_rejects_unknown_axes_empty_axes_metrics_and_invalid_values() -> None:
    with pytest.raises(ValidationError, match="unknown grid axes"):
        GridSpec(axes={"colour": [1]})
    with pytest.raises(ValidationError, match="without values"):
        GridSpec(axes={"ivrv_min": []})
    with pytest.raises(ValidationError, match="unknown metric"):
        GridSpec(rank_by="luck")
    with pytest.raises(ValidationError, match="delta_min"):
        GridSpec(axes={"delta_range": [[0.4, 0.1]]}).combinations()


def _row(index: int, **metrics: float | None) -> GridRow:
    return GridRow(index=index, params={}, metrics=dict(metrics), flags=[], num_trades=1)


def test_it_ranks_best_first_and_undefined_last() -> None:
    rows = [_row(0, sharpe=0.5), _row(1, sharpe=None), _row(2, sharpe=1.2)]
    fees = [_row(0, fees_pct_of_premium=0.2), _row(1, fees_pct_of_premium=0.1)]

    assert [r.index for r in rank_rows(rows, "sharpe")] == [2, 0, 1]
    assert [r.index for r in rank_rows(fees, "fees_pct_of_premium")] == [1, 0]
    assert [r.index for r in rank_rows(rows, "sharpe", order="asc")] == [0, 2, 1]


def test_it_runs_every_combination_in_process_with_progress() -> None:
    sim: CoveredCallSimulator = two_call_sim()
    base = BacktestConfig(strategy=ANY_CALL)
    spec = GridSpec(
        base=base,
        axes={"delta_range": [[0.0, 1.0], [0.9, 1.0]], "exit_style": ["hold_to_expiry"]},
        rank_by="net_profit_usd",
    )
    seen: list[tuple[int, int]] = []

    rows = run_grid(sim, spec, progress=lambda done, total: seen.append((done, total)))

    assert len(rows) == 2
    assert seen == [(1, 2), (2, 2)]
    by_index = {row.index: row for row in rows}
    assert by_index[0].num_trades == 1
    assert by_index[1].num_trades == 0  # no call has a delta of 0.9 or more
    assert rows[0].index == 0

"""Command-line options shared by `run_backtest` and `export_training_data`."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import CommandError

from backtests.domain.sources.spec import SourceSpec
from backtests.domain.types import BacktestConfig, ExitStyle
from trading.domain.candidates import StrategyParams


def add_run_options(parser: ArgumentParser) -> None:
    """Data source, strategy, exit and fill options."""
    parser.add_argument(
        "--source",
        choices=["synthetic", "snapshots", "deribit_history", "synthetic_v2"],
        default="synthetic",
    )
    parser.add_argument("--underlying", choices=["BTC", "ETH"], default="BTC")
    parser.add_argument("--start", help="UTC date or datetime, e.g. 2025-01-01")
    parser.add_argument("--end", help="UTC date or datetime")
    parser.add_argument("--days", type=float, default=365.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--mode", choices=["research", "production"], default="research")
    parser.add_argument("--delta-min", type=float)
    parser.add_argument("--delta-max", type=float)
    parser.add_argument("--dte-min", type=float)
    parser.add_argument("--dte-max", type=float)
    parser.add_argument("--ivrv-min", type=float)
    parser.add_argument("--premium-min", type=float)
    parser.add_argument("--explore-prob", type=float)
    parser.add_argument(
        "--max-spread-pct",
        type=float,
        help="max (ask-bid)/mid as a fraction (live guard, default 0.15); 0 disables",
    )
    parser.add_argument(
        "--min-open-interest", type=float, help="min open interest, contracts (live: 50)"
    )
    parser.add_argument("--exit", choices=[s.value for s in ExitStyle], default="hold_to_expiry")
    parser.add_argument("--take-profit", type=float, default=0.5)
    parser.add_argument("--stop-loss", type=float)
    parser.add_argument("--roll-dte", type=float, default=1.0)
    parser.add_argument("--fill", choices=["bid_ask", "mid_haircut"], default="bid_ask")
    parser.add_argument("--haircut", type=float, default=0.05)
    parser.add_argument("--interval-hours", type=float, default=1.0)
    parser.add_argument("--no-fees", action="store_true")


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"not an ISO date or datetime: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def source_from_options(options: dict[str, Any]) -> SourceSpec:
    """The data source the options describe."""
    try:
        return SourceSpec(
            kind=options["source"],
            underlying=options["underlying"],
            start=_moment(options.get("start")),
            end=_moment(options.get("end")),
            days=options["days"],
            seed=options["seed"],
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def config_from_options(options: dict[str, Any]) -> BacktestConfig:
    """The run configuration the options describe (mode presets plus overrides)."""
    overrides = {
        name: options[key]
        for key, name in (
            ("delta_min", "delta_min"),
            ("delta_max", "delta_max"),
            ("dte_min", "dte_min_days"),
            ("dte_max", "dte_max_days"),
            ("ivrv_min", "ivrv_min"),
            ("premium_min", "premium_min_usd"),
            ("explore_prob", "explore_prob"),
            ("min_open_interest", "min_open_interest"),
        )
        if options.get(key) is not None
    }
    if options.get("max_spread_pct") is not None:
        overrides["max_spread_pct"] = options["max_spread_pct"] or None
    try:
        production = options["mode"] == "production"
        preset = StrategyParams.production if production else StrategyParams.research
        return BacktestConfig.model_validate(
            {
                "underlying": options["underlying"],
                "strategy": preset(**overrides).model_dump(),
                "exit": {
                    "style": options["exit"],
                    "take_profit_pct": options["take_profit"],
                    "stop_loss_pct": options.get("stop_loss"),
                    "roll_dte_days": options["roll_dte"],
                },
                "fill": {"style": options["fill"], "haircut_pct": options["haircut"]},
                "decision_interval_hours": options["interval_hours"],
                "include_fees": not options["no_fees"],
                "seed": options["seed"],
            }
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def grid_axes(text: str | None) -> dict[str, list[Any]] | None:
    """Grid axes from inline JSON or a path to a JSON file."""
    if not text:
        return None
    from pathlib import Path

    raw = Path(text).read_text() if Path(text).is_file() else text
    try:
        axes = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CommandError(f"--grid is not JSON (or a JSON file): {exc}") from None
    if not isinstance(axes, dict):
        raise CommandError("--grid must be a JSON object of axis -> list of values")
    return axes

"""`manage.py parity_check SNAPSHOT.parquet`: the live and the backtest decision on one chain.

Both sides use one parameter set (the live agent's effective parameters for `--mode`, guards
included); `--backtest-param NAME=VALUE` changes a strategy field on the backtest side only
(to see the check fail). Exits 1 when the decisions differ.

Examples:
  manage.py parity_check ../shared/data/deribit/snapshots/BTC/2025-12-10/BTC_2025-12-10_1854.parquet
  manage.py parity_check FILE --mode production --rv 0.35
  manage.py parity_check FILE --backtest-param max_spread_pct=0.5
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from pydantic import ValidationError

from backtests.parity import parity_check
from trading.domain.params import AgentMode, RuntimeOverrides, resolve_effective_params


class Command(BaseCommand):
    """Print both decisions; exit non-zero when they differ."""

    help = "Compare the live tick's and the backtester's decision on one chain snapshot."

    def add_arguments(self, parser: CommandParser) -> None:
        """The snapshot, the mode, realised vol, seed and backtest-only overrides."""
        parser.add_argument("snapshot", type=Path)
        parser.add_argument("--mode", choices=["research", "production"], default="research")
        parser.add_argument("--rv", type=float, default=0.4, help="realised vol, decimal")
        parser.add_argument("--seed", type=int, default=0, help="exploration seed (both sides)")
        parser.add_argument(
            "--backtest-param",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="change one strategy field on the backtest side only (JSON value)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Run both sides and print them."""
        path: Path = options["snapshot"]
        if not path.exists():
            raise CommandError(f"no such file: {path}")
        params = resolve_effective_params(
            environment="testnet", overrides=RuntimeOverrides(mode=AgentMode(options["mode"]))
        )
        strategy = params.strategy
        try:
            changes = dict(_pair(item) for item in options["backtest_param"])
            strategy = strategy.model_validate(strategy.model_dump() | changes)
            result = parity_check(
                path, params, rv=options["rv"], seed=options["seed"], backtest_strategy=strategy
            )
        except (ValueError, ValidationError) as exc:
            raise CommandError(str(exc)) from None
        for side in (result.live, result.backtest):
            top = ", ".join(f"{name} {score:.4g}" for name, score in side.candidates[:3])
            self.stdout.write(
                f"{side.side:>8}: {side.action} {side.chosen or '-'}; "
                f"{len(side.candidates)} candidate(s){': ' + top if top else ''}"
            )
        if not result.ok:
            for line in result.differences:
                self.stdout.write(f"DIFFERENT: {line}")
            raise SystemExit(1)
        self.stdout.write(f"PARITY: same candidates, scores and action ({path.name})")


def _pair(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise ValueError(f"--backtest-param wants NAME=VALUE, got {text!r}")
    try:
        return name.strip(), json.loads(value)
    except json.JSONDecodeError:
        return name.strip(), value

"""`manage.py run_exchange_sim`: serve the simulated Deribit exchange over HTTP."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trading.deribit.simulator import (
    AccountConfig,
    SimConfig,
    SimulatedExchange,
    create_app,
    serve,
)
from trading.deribit.simulator.exchange import READ_ONLY_KEY_SCOPE
from trading.domain.market_model import MarketModelParams


class Command(BaseCommand):
    """Run the simulated exchange until SIGINT/SIGTERM (the offline default of `make demo`)."""

    help = "Serve a simulated Deribit exchange (API v2) on 127.0.0.1."

    def add_arguments(self, parser: CommandParser) -> None:
        """--host, --port, --seed, --speed, --replay DIR, --start ISO-8601, --no-trade-scope."""
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8082)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--speed", type=float, default=1.0, help="simulated seconds per wall second"
        )
        parser.add_argument(
            "--replay", type=Path, default=None, help="serve a directory of chain snapshots"
        )
        parser.add_argument(
            "--start", default=None, help="simulated start time, ISO-8601 (default: now, UTC)"
        )
        parser.add_argument(
            "--market",
            choices=("v1", "v2"),
            default="v1",
            help="synthetic market model: v1 (default) or the calibrated universe v2 (regimes)",
        )
        parser.add_argument(
            "--no-trade-scope",
            action="store_true",
            help="serve a read-only key (account:read trade:read wallet:read): orders get 13021",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Build the exchange and serve it in the foreground."""
        config = SimConfig(
            seed=options["seed"],
            speed=options["speed"],
            replay_dir=self._replay_dir(options["replay"]),
            start=self._start(options["start"]),
            market_params=self._market_params(),
        )
        if options["no_trade_scope"]:
            read_only = AccountConfig(scope=READ_ONLY_KEY_SCOPE)
            config = config.model_copy(update={"accounts": (read_only,)})
        exchange = self._exchange(config, options["market"])
        url = f"http://{options['host']}:{options['port']}/api/v2"
        mode = f"replay of {config.replay_dir}" if config.replay_dir else "synthetic market"
        self.stdout.write(
            f"simulated Deribit exchange ({mode}, seed {config.seed}, speed {config.speed}x) "
            f"at {url}"
        )
        for account in config.accounts:
            self.stdout.write(
                f"account {account.client_id}: {dict(account.balances)} (scope {account.scope})"
            )
        self.stdout.flush()
        # uvicorn re-raises Ctrl-C after its graceful shutdown.
        with contextlib.suppress(KeyboardInterrupt):
            serve(create_app(exchange), host=options["host"], port=options["port"])
        self.stdout.write("simulated exchange stopped")

    def _exchange(self, config: SimConfig, market: str) -> SimulatedExchange:
        if market == "v1":
            return SimulatedExchange(config)
        from calibration.simulator import exchange_v2

        try:
            return exchange_v2(config)
        except ValueError as exc:
            raise CommandError(f"--market v2: {exc}") from exc

    def _market_params(self) -> MarketModelParams:
        """The market model with the IV multipliers calibration's update policy applied."""
        from calibration.selectors import market_params_applied

        return market_params_applied()

    def _replay_dir(self, path: Path | None) -> Path | None:
        if path is None:
            return None
        if not path.is_dir():
            raise CommandError(f"--replay {path}: not a directory of snapshots")
        return path

    def _start(self, text: str | None) -> datetime | None:
        if text is None:
            return None
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as exc:
            raise CommandError(f"--start {text!r}: not an ISO-8601 time") from exc
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

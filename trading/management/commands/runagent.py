"""`manage.py runagent [--once]`: the agent loop in the foreground, one summary line per tick."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trading.domain.health import StartupAction
from trading.exchange import exchange_client
from trading.services import agent_startup, effective_params_load, tick_run
from trading.services.reconcile import orders_resolve_pending
from trading.services.stream_state import agent_stream_start, agent_stream_stop

#: How long the loop waits for the stream before its first tick (later ticks never wait).
STREAM_READY_WAIT_S = 15.0

#: Loggers that print a line per request or repeat the tick's summary; WARNING unless -v 2.
CHATTY_LOGGERS = ("httpx", "httpcore", "trading.deribit", "trading.tick", "trading.execution")


def quiet_library_logs() -> None:
    """Raise the chatty loggers to WARNING (errors and warnings still show)."""
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


class Command(BaseCommand):
    """Runs the same pipeline as the Celery beat tick, with the start-up guard first."""

    help = "Run the live agent in the foreground (Ctrl-C stops it)."

    def add_arguments(self, parser: CommandParser) -> None:
        """--once, --max-ticks, --interval, --skip-startup-check."""
        parser.add_argument("--once", action="store_true", help="run one tick and exit")
        parser.add_argument("--max-ticks", type=int, default=0, help="stop after N ticks")
        parser.add_argument(
            "--interval", type=float, default=None, help="seconds between ticks (default: control)"
        )
        parser.add_argument("--skip-startup-check", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        """Start-up guard, crash recovery by label, then tick until stopped.

        Quiet by default: one line per tick here, and the libraries' request logs (httpx, the
        Deribit client, the tick's own log line) only at WARNING; `-v 2` shows them all.
        """
        if int(options.get("verbosity", 1)) < 2:
            quiet_library_logs()
        with exchange_client() as client:
            if not options["skip_startup_check"]:
                self._startup(client)
            self._stream_start()
            try:
                self._loop(client, options)
            finally:
                agent_stream_stop()

    def _stream_start(self) -> None:
        """The market stream in a background thread of this process (AGENT_STREAM)."""
        underlyings = tuple(effective_params_load().underlyings)
        stream = agent_stream_start(client_factory=exchange_client, underlyings=underlyings)
        if stream is None:
            self.stdout.write("stream: off (AGENT_STREAM=false); every tick reads REST")
            return
        ready = stream.wait_ready(timeout_s=STREAM_READY_WAIT_S)
        status = stream.status()
        self.stdout.write(
            f"stream: {status.channels} channels, "
            + ("ready" if ready else "not ready yet; ticks read REST until it is")
        )

    def _loop(self, client: Any, options: dict[str, Any]) -> None:
        """Tick until --once / --max-ticks is reached (or Ctrl-C)."""
        ticks = 0
        limit = 1 if options["once"] else options["max_ticks"]
        while True:
            outcome = tick_run(trigger="command", client=client)
            run = outcome.run
            summary = " ".join(run.summary.split())
            self.stdout.write(
                f"[{run.started_at:%H:%M:%S} UTC] {run.status} {run.duration_ms or 0:.0f}ms "
                f"{outcome.requests} req | {summary}"
            )
            ticks += 1
            if limit and ticks >= limit:
                return
            interval = options["interval"]
            time.sleep(
                interval if interval is not None else effective_params_load().loop_interval_s
            )

    def _startup(self, client: Any) -> None:
        action = agent_startup(client=client)
        resolved = orders_resolve_pending(client=client, grace_s=0)
        self.stdout.write(f"start-up guard: {action.value}; {resolved} unresolved order(s) checked")
        if action is StartupAction.ABORT:
            raise CommandError("start-up guard: FATAL health on mainnet, refusing to start")

"""`manage.py open_greg_sandbox_positions --underlying BTC,ETH [--strategies …] [--run-id …]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from greg.services import exchange
from greg.services.positions import sandbox_open


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


class Command(BaseCommand):
    """Open paper positions (sandbox=True, origin GREG_SANDBOX, a run id) at the book's prices."""

    help = "Open Greg sandbox positions for every (or the given) strategy on each underlying."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--underlying", default="BTC,ETH", help="comma-separated, e.g. BTC,ETH")
        parser.add_argument("--strategies", default="", help="outcome names; default: all seven")
        parser.add_argument("--run-id", default="", help="batch id (default: generated)")

    def handle(self, *args: Any, **options: Any) -> None:
        underlyings = [u.upper() for u in _names(options["underlying"])]
        try:
            with exchange.greg_client() as client:
                result = sandbox_open(
                    client=client,
                    underlyings=underlyings,
                    strategies=_names(options["strategies"]) or None,
                    run_id=options["run_id"],
                )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        for position in result.opened:
            self.stdout.write(
                f"opened #{position.pk} {position.underlying} {position.strategy}: "
                f"credit {position.credit_usd:.2f} USD, max loss {position.max_loss_usd:.2f} USD"
            )
        for underlying, strategy, reason in result.skipped:
            self.stdout.write(f"skipped {underlying} {strategy}: {reason}")
        self.stdout.write(f"run {result.run_id}: {len(result.opened)} opened")

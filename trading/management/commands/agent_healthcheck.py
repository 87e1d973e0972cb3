"""`manage.py agent_healthcheck`: config, exchange, auth, data freshness, LLM, risk settings."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from trading.domain.health import HealthSeverity
from trading.exchange import exchange_client
from trading.services import agent_healthcheck


class Command(BaseCommand):
    """Exit code 1 when any check is DEGRADED or FATAL."""

    help = "Validate the live agent's configuration and its dependencies."

    def handle(self, *args: Any, **options: Any) -> None:
        """Print one line per check and the guard state."""
        with exchange_client() as client:
            results, guard = agent_healthcheck(client=client, kind="manual")
        for result in results:
            self.stdout.write(f"{result.severity.label:9} {result.name}: {result.detail}")
        self.stdout.write(f"guard: {guard.status.value} ({guard.reason})")
        if max((r.severity for r in results), default=HealthSeverity.OK) >= HealthSeverity.DEGRADED:
            raise CommandError("agent healthcheck failed")

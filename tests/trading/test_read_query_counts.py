"""The main reads cost a fixed number of queries, however many rows they show (no N+1).

Each read is counted on two real ticks' data, then again after rows of every kind it lists were
added (decisions with their orders, open and closed positions, backtest runs); both counts must
equal the pinned one. A new query per row, or a singleton read twice per request, fails here.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from backtests.domain.sources.spec import SourceSpec
from backtests.domain.types import BacktestConfig
from backtests.services import backtest_run_create
from optionsdesk.services import api_token_create
from trading.models import Decision, Order, Position

pytestmark = pytest.mark.django_db

#: Path and pinned query count of each main read. API reads: token and user (1), the role's
#: groups (1), then the read's own; the dashboard also reads the session and the user.
READS: dict[str, tuple[str, int]] = {
    "decisions": ("/api/agent/decisions", 5),
    "decision": ("/api/agent/decisions/{decision}", 4),
    "positions": ("/api/agent/positions", 4),
    "orders": ("/api/agent/orders", 4),
    "status": ("/api/agent/status", 6),
    "backtests": ("/api/backtests", 4),
    "dashboard": ("/", 16),
}


def _more_rows(copies: int) -> None:
    """Copies of every decision with its orders, closed copies of every position, and runs."""
    decision_columns = [f.attname for f in Decision._meta.concrete_fields if f.attname != "id"]
    order_columns = [f.attname for f in Order._meta.concrete_fields if f.attname != "id"]
    position_columns = [f.attname for f in Position._meta.concrete_fields if f.attname != "id"]
    originals = list(Decision.objects.prefetch_related("orders"))
    positions = list(Position.objects.all())
    for n in range(copies):
        for decision in originals:
            copy = Decision.objects.create(**{c: getattr(decision, c) for c in decision_columns})
            for order in decision.orders.all():
                values = {c: getattr(order, c) for c in order_columns}
                Order.objects.create(
                    **values | {"decision_id": copy.pk, "label": f"{order.label}-{n}"}
                )
        for position in positions:
            values = {c: getattr(position, c) for c in position_columns}
            Position.objects.create(**values | {"status": Position.Status.CLOSED})
        source = SourceSpec(kind="synthetic", days=30)
        backtest_run_create(config=BacktestConfig(seed=n), source=source, enqueue=False)


def _count(client: Any, path: str) -> int:
    client.get(path)  # first use creates singleton rows; not what a steady read costs
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return len(queries.captured_queries)


def test_each_main_read_costs_a_fixed_number_of_queries(decisions, client_as):
    assert Order.objects.exists()
    assert Position.objects.exists()
    backtest_run_create(
        config=BacktestConfig(), source=SourceSpec(kind="synthetic", days=30), enqueue=False
    )
    viewer = client_as("viewer")
    api = Client(HTTP_AUTHORIZATION=f"Token {api_token_create(user=viewer.user)}")
    ids = {"decision": str(decisions[-1].pk)}

    def counts() -> dict[str, int]:
        return {
            name: _count(api if path.startswith("/api/") else viewer, path.format(**ids))
            for name, (path, _) in READS.items()
        }

    pinned = {name: count for name, (_, count) in READS.items()}
    few = counts()
    _more_rows(copies=3)
    many = counts()
    assert (few, many) == (pinned, pinned)

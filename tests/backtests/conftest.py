"""Fixtures for the Django side of backtests: small synthetic runs and an eager Celery."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from backtests.domain.sources.spec import SourceSpec
from backtests.domain.types import BacktestConfig
from trading.domain.candidates import StrategyParams

SHORT_SOURCE = SourceSpec(
    kind="synthetic", start=datetime(2025, 2, 3, tzinfo=UTC), days=12, seed=3, max_dte_days=10
)
TRADING_CONFIG = BacktestConfig(strategy=StrategyParams.research(ivrv_min=0.0))


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Run Celery tasks (and chords) in process while the test runs."""
    from optionsdesk.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.fixture
def desk_user(django_user_model):
    """A superuser without a password hash (hashing costs seconds per test)."""
    return django_user_model.objects.create(username="desk", is_staff=True, is_superuser=True)


@pytest.fixture
def desk_client(client, desk_user):
    """A Django test client logged in as `desk_user`."""
    client.force_login(desk_user)
    return client

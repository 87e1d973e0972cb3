"""Fixtures for the Django side of backtests: small synthetic runs and an eager Celery."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from backtests import services
from backtests.domain.sources.spec import SourceSpec
from backtests.domain.types import BacktestConfig
from backtests.models import BacktestRun
from trading.domain.candidates import StrategyParams

SHORT_SOURCE = SourceSpec(
    kind="synthetic", start=datetime(2025, 2, 3, tzinfo=UTC), days=12, seed=3, max_dte_days=10
)
TRADING_CONFIG = BacktestConfig(strategy=StrategyParams.research(ivrv_min=0.0))
STUDIES_URL = "/api/backtests/studies"


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


@pytest.fixture
def api(desk_user) -> APIClient:
    """An API client authenticated as `desk_user`."""
    client = APIClient()
    client.force_authenticate(desk_user)
    return client


def study_post(api: APIClient, body: dict[str, Any], capture) -> Any:
    """Launch a study through the API and run what it queues on commit (`capture`:
    `django_capture_on_commit_callbacks`)."""
    with capture(execute=True):
        return api.post(STUDIES_URL, body, format="json")


@pytest.fixture
def done_run() -> BacktestRun:
    """A short synthetic backtest, run to the end in this process."""
    run = services.backtest_run_create(
        config=TRADING_CONFIG, source=SHORT_SOURCE, name="done run", enqueue=False
    )
    services.backtest_run_execute(run_id=run.pk)
    run.refresh_from_db()
    return run

"""Fixtures of the steward tests: real ticks on the loopback simulator, users by role."""

from __future__ import annotations

from typing import Any

import pytest

from tests.trading.agent_helpers import make_agent_client
from trading.models import Decision


@pytest.fixture
def sim_client(sim_server: Any) -> Any:
    """A client of the loopback simulator, patient on a loaded machine (30 s per request)."""
    with make_agent_client(sim_server.base_url, timeout_s=30.0) as client:
        yield client


@pytest.fixture
def decisions(agent_settings: Any, sim_client: Any) -> list[Decision]:
    """Two real dry-run ticks: the first sells a covered call (on paper), the second sees it."""
    from trading.services import tick_run

    tick_run(trigger="test", client=sim_client, seed=1)
    tick_run(trigger="test", client=sim_client, seed=2)
    return list(Decision.objects.order_by("id"))


@pytest.fixture
def operator_user(django_user_model: Any) -> Any:
    """A user holding the operator role."""
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("op", password="pw-operator-1")
    user.groups.add(Group.objects.get_or_create(name="operator")[0])
    return user


@pytest.fixture
def viewer_user(django_user_model: Any) -> Any:
    """A logged-in user with no role beyond viewer."""
    return django_user_model.objects.create_user("viewer", password="pw-viewer-1")

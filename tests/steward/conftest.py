"""Fixtures of the steward tests: a patient simulator client (the root conftest's `decisions`
ticks through it), users by role."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def sim_client(sim_server: Any) -> Any:
    """A client of the loopback simulator, patient on a loaded machine (30 s per request)."""
    from tests.trading.agent_helpers import make_agent_client

    with make_agent_client(sim_server.base_url, timeout_s=30.0) as client:
        yield client


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

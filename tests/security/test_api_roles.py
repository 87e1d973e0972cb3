"""Who may call what: every API write needs its role; viewers read; runs belong to their owner.

The write operations are enumerated from the OpenAPI schema, so a new write endpoint is covered
the day it is added: unless it is listed as open to viewers, a viewer must get a 403.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from backtests import services as backtest_services
from tests.backtests.conftest import SHORT_SOURCE, TRADING_CONFIG
from trading.models import RuntimeControl

pytestmark = pytest.mark.django_db

#: Writes any logged-in user may make: the chat reads and never trades; a conversation is one's own.
OPEN_TO_VIEWERS = {
    ("POST", "/api/chat"),
    ("DELETE", "/api/chat/conversations/{id}"),
    ("POST", "/api/greg/select"),  # a computation on the sensors sent; nothing stored
}
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def _operations() -> list[tuple[str, str]]:
    schema: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method.upper() in WRITES
    )


WRITE_OPERATIONS = _operations()


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_the_schema_lists_the_write_operations_we_guard():
    assert ("PATCH", "/api/agent/controls") in WRITE_OPERATIONS
    assert ("POST", "/api/agent/reconcile") in WRITE_OPERATIONS
    assert ("POST", "/api/agent/health") in WRITE_OPERATIONS
    assert ("DELETE", "/api/backtests/{id}") in WRITE_OPERATIONS


@pytest.mark.parametrize(
    ("method", "path"), [op for op in WRITE_OPERATIONS if op not in OPEN_TO_VIEWERS]
)
def test_a_viewer_is_refused_every_write(client_as, method, path):
    viewer = client_as("viewer")
    response = viewer.generic(method, _url(path), "{}", content_type="application/json")
    assert response.status_code == 403, (method, path, response.content[:300])
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize("group", ["none", "viewer", "researcher"])
def test_only_operators_change_the_controls(client_as, group):
    response = client_as(group).patch(
        "/api/agent/controls", {"kill_switch": True}, content_type="application/json"
    )
    assert response.status_code == 403
    assert "operator" in response.json()["error"]["message"]
    assert RuntimeControl.load().kill_switch is False


@pytest.mark.parametrize("group", ["operator", "admin"])
def test_operators_and_admins_change_the_controls(client_as, group):
    response = client_as(group).patch(
        "/api/agent/controls", {"explore_prob": 0.05}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert RuntimeControl.load().explore_prob == 0.05


@pytest.mark.parametrize("group", ["viewer", "researcher", "operator"])
def test_every_role_reads(client_as, group):
    client = client_as(group)
    for path in ("/api/agent/status", "/api/agent/controls", "/api/agent/decisions",
                 "/api/backtests", "/api/agent/health", "/api/agent/reconcile"):  # fmt: skip
        assert client.get(path).status_code == 200, path


@pytest.mark.parametrize("group", ["viewer", "researcher"])
def test_reconcile_needs_an_operator(client_as, group):
    response = client_as(group).post(
        "/api/agent/reconcile", {"action": "close"}, content_type="application/json"
    )
    assert response.status_code == 403


def _run(user: Any = None) -> Any:
    return backtest_services.backtest_run_create(
        config=TRADING_CONFIG, source=SHORT_SOURCE, user=user, enqueue=False
    )


def test_a_researcher_deletes_only_their_own_runs(client_as):
    alice, bob = client_as("researcher", "alice"), client_as("researcher", "bob")
    run = _run(alice.user)
    response = bob.delete(f"/api/backtests/{run.pk}")
    assert response.status_code == 403
    assert bob.post(f"/api/backtests/{run.pk}/stop").status_code == 403
    assert alice.delete(f"/api/backtests/{run.pk}").status_code == 204


def test_an_admin_deletes_anyones_run(client_as):
    run = _run(client_as("researcher", "alice").user)
    assert client_as("admin").delete(f"/api/backtests/{run.pk}").status_code == 204


def test_a_viewer_cannot_launch_or_export_a_run(client_as):
    viewer = client_as("viewer")
    run = _run()
    assert viewer.post("/api/backtests", {}, content_type="application/json").status_code == 403
    assert viewer.get(f"/api/backtests/{run.pk}/download").status_code == 403
    assert viewer.get(f"/api/backtests/{run.pk}").status_code == 200


def test_a_researcher_launches_and_exports(client_as, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    researcher = client_as("researcher")
    run = _run(researcher.user)
    assert researcher.get(f"/api/backtests/{run.pk}/download").status_code == 200


# ------------------------------------------------------------------ dashboard


@pytest.mark.parametrize("intent", ["kill", "unkill", "save", "guard_reset", "healthcheck"])
def test_a_viewer_cannot_post_the_controls_form(client_as, intent):
    response = client_as("viewer").post(reverse("trading:controls"), {"intent": intent})
    assert response.status_code == 403
    assert RuntimeControl.load().kill_switch is False


def test_an_operator_presses_kill_on_the_dashboard(client_as):
    response = client_as("operator").post(reverse("trading:controls"), {"intent": "kill"})
    assert response.status_code == 200
    assert RuntimeControl.load().kill_switch is True


def test_the_controls_hide_their_buttons_from_a_viewer(client_as):
    viewer_page = client_as("viewer").get(reverse("trading:controls")).content.decode()
    operator_page = client_as("operator").get(reverse("trading:controls")).content.decode()
    assert 'data-testid="kill-button"' not in viewer_page
    assert 'data-testid="controls-need-role"' in viewer_page
    assert 'data-testid="kill-button"' in operator_page


def test_the_backtests_tab_hides_launch_and_delete_from_a_viewer(client_as):
    viewer = client_as("viewer")
    run = _run(client_as("researcher", "alice").user)
    index = viewer.get(reverse("backtests:index")).content.decode()
    assert 'data-testid="launch"' not in index
    assert 'data-testid="lab-needs-role"' in index
    page = viewer.get(reverse("backtests:run", args=[run.pk])).content.decode()
    assert 'data-testid="delete"' not in page
    assert viewer.post(reverse("backtests:delete", args=[run.pk])).status_code == 403
    assert viewer.post(reverse("backtests:index"), {"name": "x"}).status_code == 403


def test_a_researcher_cannot_delete_anothers_run_on_the_dashboard(client_as):
    run = _run(client_as("researcher", "alice").user)
    bob = client_as("researcher", "bob")
    assert (
        'data-testid="delete"'
        not in bob.get(reverse("backtests:run", args=[run.pk])).content.decode()
    )
    assert bob.post(reverse("backtests:delete", args=[run.pk])).status_code == 403
    assert bob.post(reverse("backtests:stop", args=[run.pk])).status_code == 403


def test_docs_api_names_the_role_of_every_write_operation():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    section = doc.split("## Roles", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(POST|PUT|PATCH|DELETE) (/[^`]+)` \| (\w+)", section, re.M)
    documented = {(method, path) for method, path, _ in rows}
    assert documented == set(WRITE_OPERATIONS)
    assert {role for *_, role in rows} <= {"viewer", "researcher", "operator", "admin"}

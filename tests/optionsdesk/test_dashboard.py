"""The dashboard shell: login, every tab, the System Health fragment."""

from __future__ import annotations

import pytest
from django.urls import reverse

from optionsdesk.context_processors import TABS
from optionsdesk.schedule import declared_schedule
from optionsdesk.services import heartbeat_record, periodic_tasks_sync

pytestmark = pytest.mark.django_db


def test_tabs_redirect_to_login_when_anonymous(client):
    for _, url_name in TABS:
        response = client.get(reverse(url_name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_login_page_renders_with_local_css(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/vendor/pico/pico.min.css" in html
    assert "/static/django_htmx/htmx" in html or "htmx" in html
    assert "cdn" not in html.lower()


def test_login_with_the_form_then_every_tab_renders(client, admin_user):
    response = client.post(
        reverse("login"), {"username": "admin", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    for label, url_name in TABS:
        response = client.get(reverse(url_name))
        assert response.status_code == 200, url_name
        html = response.content.decode()
        assert f'aria-current="page">{label}</a>' in html, label


def test_system_health_shows_checks_heartbeats_and_periodic_tasks(logged_in_client):
    periodic_tasks_sync(specs=declared_schedule(30))
    heartbeat_record(hostname="celery@box", task_id="t")
    html = logged_in_client.get(reverse("system:health")).content.decode()
    for component in ("database", "broker", "worker", "exchange", "llm"):
        assert f"<td>{component}</td>" in html
    assert "celery@box" in html
    assert "system.heartbeat" in html


def test_system_health_htmx_poll_returns_only_the_fragment(logged_in_client):
    response = logged_in_client.get(reverse("system:health"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="live"')
    assert "<html" not in html


def test_logout_ends_the_session(logged_in_client):
    response = logged_in_client.post(reverse("logout"))
    assert response.status_code == 302
    assert logged_in_client.get(reverse("trading:live")).status_code == 302


def test_views_ask_htmx_through_one_helper():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root))
        for app in ("optionsdesk", "trading", "backtests", "calibration", "greg", "steward")
        for path in (root / app).rglob("*.py")
        if 'getattr(request, "htmx"' in path.read_text() and path.name != "htmx.py"
    ]
    assert offenders == []


def test_docs_operations_names_only_commands_that_exist():
    import re
    from pathlib import Path

    from django.core.management import get_commands

    root = Path(__file__).resolve().parents[2]
    text = (root / "docs" / "operations.md").read_text()
    targets = set(re.findall(r"^([a-z][a-z_-]*):", (root / "Makefile").read_text(), re.M))
    named_make = set(re.findall(r"`make ([a-z][a-z_-]*)", text))
    named_manage = set(re.findall(r"manage\.py ([a-z_]+)", text))
    assert named_make - targets == set()
    assert named_manage - set(get_commands()) == set()

"""Every mode indicator shows what the next tick will do with orders, never a default.

The header once said "dry run" while real orders went out: dry run had been switched off in the
controls and the badge read the deployment's setting. Each control is switched here and every
place that shows it is read: the header on three pages, the Live Agent card and fragment,
`/api/agent/status` and `/api/status`.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from trading.services.controls import controls_update

pytestmark = pytest.mark.django_db

PAGES = ("trading:live", "backtests:index", "system:health")


def _testid(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</', html, re.S)
    assert match, f"no {testid} on the page"
    return match.group(1).strip()


def _indicators(client) -> dict[str, str]:
    live = client.get(reverse("trading:live")).content.decode()
    fragment = client.get(reverse("trading:live"), HTTP_HX_REQUEST="true").content.decode()
    return {
        "header": _testid(live, "orders-badge"),
        "card": _testid(live, "orders-card"),
        "fragment": _testid(fragment, "orders-now") if "orders-now" in fragment else "",
        "agent_status": client.get("/api/agent/status").json()["effective"]["orders"],
        "status": client.get("/api/status").json()["agent_mode"]["orders"],
    }


def test_by_default_every_indicator_reads_dry_run(logged_in_client):
    seen = _indicators(logged_in_client)
    assert seen["header"] == "dry run"
    assert seen["card"].startswith("dry run")
    assert seen["agent_status"] == seen["status"] == "dry_run"


def test_switching_dry_run_off_makes_every_indicator_read_live(logged_in_client):
    controls_update(changes={"dry_run": False}, user="test")
    seen = _indicators(logged_in_client)
    assert seen["header"] == "LIVE ORDERS"
    assert seen["card"] == "LIVE on sim: real orders are sent"
    assert seen["agent_status"] == seen["status"] == "live"
    page = logged_in_client.get(reverse("trading:live")).content.decode()
    assert ">dry run<" not in page


def test_a_dry_run_override_wins_over_a_live_setting(settings, logged_in_client):
    settings.DRY_RUN_DEFAULT = False
    assert _indicators(logged_in_client)["header"] == "LIVE ORDERS"
    controls_update(changes={"dry_run": True}, user="test")
    seen = _indicators(logged_in_client)
    assert seen["header"] == "dry run"
    assert seen["agent_status"] == seen["status"] == "dry_run"


@pytest.mark.parametrize("dry_run", [True, False])
def test_the_kill_switch_shows_in_the_header_of_every_page(logged_in_client, dry_run):
    controls_update(changes={"kill_switch": True, "dry_run": dry_run}, user="test")
    for name in PAGES:
        html = logged_in_client.get(reverse(name)).content.decode()
        assert _testid(html, "orders-badge") == "KILL SWITCH ON", name
    seen = _indicators(logged_in_client)
    assert seen["agent_status"] == seen["status"] == "kill_switch"
    assert seen["card"] == "kill switch on: no order is sent"


def test_the_mode_in_the_header_follows_the_controls(logged_in_client):
    controls_update(changes={"mode": "production"}, user="test")
    html = logged_in_client.get(reverse("system:health")).content.decode()
    assert _testid(html, "header-mode").startswith("production")


def test_anonymous_pages_show_no_mode(client):
    html = client.get(reverse("login")).content.decode()
    assert "orders-badge" not in html

""" "Execute suggestion" in a real browser: the JavaScript confirmation is the last word.

Dismissed, nothing is posted and no order exists; accepted by an operator with every gate open
on the simulator (desk dry run off), exactly one order goes through the order gate and reaches
the exchange once; a viewer sees no execute button at all. Screenshots under
GREG_SCREENSHOT_DIR (default: the test's temporary folder).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from greg.models import GregDecision
from greg.services.evaluation import underlying_evaluate
from tests.greg.helpers import advised_open
from tests.trading.agent_helpers import make_agent_client
from trading.models import Order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
STRATEGY = "STRATEGY_C_SHORT_PUT"  # one leg: one order
PASSWORD = "pw-browser-12345"


def _user(django_user_model: Any, role: str) -> str:
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(f"greg-{role}", "", PASSWORD)
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user.username


def _login(page: Any, live_server: Any, username: str) -> Any:
    page.goto(f"{live_server.url}/login/?next=/greg/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=mode-banner]")
    return page


@pytest.fixture
def suggestion(agent_settings, sim_server, sim_client, monkeypatch) -> GregDecision:
    """An advised BTC short put, Greg live with every gate open, desk dry run off."""
    monkeypatch.setattr(
        "greg.services.exchange.greg_client", lambda: make_agent_client(sim_server.base_url)
    )
    quote = underlying_evaluate(client=sim_client, underlying="BTC").structures[STRATEGY]
    return advised_open(STRATEGY, quote, dry_run=False)


def test_the_execute_confirmation_decides_and_viewers_see_no_button(
    suggestion, sim_client, live_server, page, browser, django_user_model, tmp_path
):
    shots = Path(os.environ.get("GREG_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    viewer = browser.new_page()  # while the suggestion is open: a viewer reads it, no button
    try:
        _login(viewer, live_server, _user(django_user_model, "viewer"))
        row = viewer.locator("[data-testid=suggestions] tbody tr").first.inner_text()
        assert STRATEGY in row
        assert "operator only" in row
        assert viewer.locator("[data-testid^=execute-]").count() == 0
        assert viewer.locator("form[action*='/greg/execute/']").count() == 0
        viewer.screenshot(path=str(shots / "greg-execute-viewer.png"), full_page=True)
    finally:
        viewer.close()

    posts: list[str] = []
    page.on(
        "request",
        lambda r: posts.append(r.url) if r.method == "POST" and "/greg/execute/" in r.url else None,
    )
    _login(page, live_server, _user(django_user_model, "operator"))
    form = page.locator(f"[data-testid=execute-{suggestion.pk}]")
    form.locator("input[name=confirm]").check()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.screenshot(path=str(shots / "greg-execute-before.png"), full_page=True)

    messages: list[str] = []

    def dismiss(dialog: Any) -> None:
        messages.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    with page.expect_event("dialog"):  # returns once the dialog was shown and handled
        form.locator("button").click()
    assert messages
    assert messages[0].startswith(f"Execute {STRATEGY} on BTC?")
    assert "LIVE EXECUTION mode; desk dry run is OFF" in messages[0]
    assert not Order.objects.exists()
    assert not GregDecision.objects.filter(kind="execution").exists()

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation(), page.expect_event("dialog"):
        form.locator("button").click()
    page.wait_for_selector("article.message")
    banner = page.locator("article.message").first.inner_text()
    page.screenshot(path=str(shots / "greg-execute-accepted.png"), full_page=True)
    assert "Executed through the order gate" in banner, banner
    assert len(posts) == 1  # the dismissed confirmation posted nothing
    assert errors == []
    orders = list(Order.objects.all())
    assert [(o.origin, o.instrument_name, o.direction) for o in orders] == [
        ("greg", suggestion.structures[STRATEGY]["legs"][0]["instrument_name"], "sell")
    ]
    assert orders[0].label in banner
    assert len(sim_client.get_order_state_by_label("BTC", orders[0].label)) == 1
    assert page.locator(f"[data-testid=execute-{suggestion.pk}]").count() == 0

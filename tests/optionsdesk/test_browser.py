"""A real browser (Debian chromium via Playwright) logs in and opens every tab."""

from __future__ import annotations

import pytest

from optionsdesk.context_processors import TABS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_a_user_logs_in_and_opens_every_tab(live_server, page, django_user_model):
    django_user_model.objects.create_superuser("trader", "", "s3cret-passphrase")
    external: list[str] = []
    page.on(
        "request",
        lambda request: (
            external.append(request.url) if not request.url.startswith(live_server.url) else None
        ),
    )
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.fill("input[name=username]", "trader")
    page.fill("input[name=password]", "s3cret-passphrase")
    page.click("button[type=submit]")
    page.wait_for_selector("nav.tabs")
    for label, _ in TABS:
        page.click(f"nav.tabs >> text={label}")
        page.wait_for_selector(f'nav.tabs a[aria-current="page"]:text-is("{label}")')
        assert page.locator("main h2").first.inner_text().strip() != ""
    page.click("nav.tabs >> text=System Health")
    assert page.locator("[data-testid=checks]").is_visible()
    # htmx is loaded from our own static files and the CSS applied.
    assert page.evaluate("typeof window.htmx") == "object"
    assert external == []

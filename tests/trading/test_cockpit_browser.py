"""The cockpit in a real browser (Debian chromium via Playwright): going live reads live
everywhere, the kill switch shows in the header of every page, a position is closed from its row
and its order (with its fee) is in the history; a viewer has no button; screenshots.

Screenshots go to `COCKPIT_SCREENSHOT_DIR` when set (to look at them), else a temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from tests.trading.agent_helpers import CLIENT_ID, CLIENT_SECRET
from trading.models import AgentStatus, Order, Position, RuntimeControl
from trading.services import controls_update, tick_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cockpit(agent_settings: Any, sim_server: Any) -> Any:
    """The dashboard's own exchange client (close/roll) points at the loopback simulator."""
    agent_settings.DERIBIT_BASE_URL = sim_server.base_url
    agent_settings.DERIBIT_CLIENT_ID = CLIENT_ID
    agent_settings.DERIBIT_CLIENT_SECRET = CLIENT_SECRET
    return agent_settings


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("COCKPIT_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _accept_dialogs(page: Any) -> None:
    page.on("dialog", lambda dialog: dialog.accept())


def test_switching_dry_run_off_in_the_browser_makes_every_indicator_read_live(
    cockpit: Any, sim_client: Any, live_server: Any, browser_login: Any
) -> None:
    tick_run(trigger="test", client=sim_client, seed=1)
    # This test is about dry run: a health-guard pause (seen once on a loaded CI machine)
    # would rightly read "LIVE · PAUSED", so the guard starts from running.
    AgentStatus.objects.filter(pk=1).update(guard_state={})
    page = browser_login(reverse("system:health"))
    _accept_dialogs(page)
    page.wait_for_selector("[data-testid=controls-form]")
    assert page.locator("[data-testid=orders-badge]").inner_text() == "dry run"
    page.select_option("#ctl-dry_run", "false")
    page.fill("#ctl-confirm_live", "sim")
    page.click("[data-testid=save-controls]")
    page.wait_for_selector("[data-testid=effective-dry_run]:text-is('off')")
    assert RuntimeControl.load().dry_run is False

    page.goto(f"{live_server.url}{reverse('trading:live')}")
    assert page.locator("[data-testid=orders-badge]").inner_text() == "LIVE ORDERS"
    assert "LIVE on sim" in page.locator("[data-testid=orders-card]").inner_text()
    assert "LIVE SIM" in page.locator("[data-testid=orders-now]").inner_text()
    assert page.locator("[data-testid=paper-book-banner]").is_visible()
    status = page.request.get(f"{live_server.url}/api/agent/status").json()
    assert status["effective"]["orders"] == "live"
    assert status["effective"]["dry_run"] is False
    overview = page.request.get(f"{live_server.url}/api/status").json()
    assert overview["agent_mode"]["orders"] == "live"
    for path in (reverse("backtests:index"), reverse("trading:chat")):
        page.goto(f"{live_server.url}{path}")
        assert page.locator("[data-testid=orders-badge]").inner_text() == "LIVE ORDERS"


def test_the_kill_switch_shows_in_the_header_on_three_pages(
    agent_settings: Any, live_server: Any, browser_login: Any
) -> None:
    page = browser_login(reverse("system:health"))
    _accept_dialogs(page)
    page.wait_for_selector("[data-testid=kill-button]")
    page.click("[data-testid=kill-button]")
    page.wait_for_selector("[data-testid=kill-switch]:text-is('ON')")
    for path in (reverse("trading:live"), reverse("backtests:index"), reverse("trading:chat")):
        page.goto(f"{live_server.url}{path}")
        assert page.locator("[data-testid=orders-badge]").inner_text() == "KILL SWITCH ON", path


def test_an_operator_closes_a_position_from_its_row_and_sees_the_order_with_its_fee(
    cockpit: Any, sim_client: Any, live_server: Any, browser_login: Any, shots: Path
) -> None:
    outcome = tick_run(trigger="test", client=sim_client, seed=1)
    (sold,) = outcome.orders
    position = Position.objects.get(instrument_name=sold.instrument_name, status="open")
    page = browser_login(reverse("trading:live"))
    _accept_dialogs(page)
    row = page.locator(f"[data-testid=position-row][data-position='{position.pk}']")
    detail = page.locator(f"#position-detail-{position.pk}")
    assert not detail.is_visible()
    row.click()
    assert detail.is_visible()
    assert "Greeks of the position" in detail.inner_text()
    page.screenshot(path=str(shots / "live_position_open.png"), full_page=True)
    detail.locator("[data-testid=close-now]").click()
    page.wait_for_selector("[data-testid=action-result]")
    assert "Sent on paper" in page.locator("[data-testid=action-result]").inner_text()
    (closing,) = Order.objects.filter(origin="manual_close")
    assert closing.fee_coin > 0

    page.set_viewport_size({"width": 1700, "height": 900})  # the whole table, no scrolling
    page.goto(f"{live_server.url}{reverse('trading:orders')}")
    history = page.locator(f"[data-testid=order-row][data-label='{closing.label}']")
    text = history.inner_text()
    assert closing.instrument_name in text
    assert f"{closing.fee_coin:.6f} BTC" in text
    assert "manual close" in text
    page.screenshot(path=str(shots / "orders.png"), full_page=True)


def test_a_viewer_opens_a_row_and_finds_no_close_button(
    agent_settings: Any,
    sim_client: Any,
    live_server: Any,
    page: Any,
    django_user_model: Any,
) -> None:
    from django.contrib.auth.models import Group

    tick_run(trigger="test", client=sim_client, seed=1)
    viewer = django_user_model.objects.create_user("watcher", "", "pw-viewer-123")
    viewer.groups.add(Group.objects.get_or_create(name="viewer")[0])
    page.goto(f"{live_server.url}/login/?next={reverse('trading:live')}")
    page.fill("input[name=username]", "watcher")
    page.fill("input[name=password]", "pw-viewer-123")
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=position-row]")
    page.locator("[data-testid=position-row]").first.click()
    detail = page.locator("[data-testid=position-detail]").first
    assert detail.is_visible()
    assert "need the operator role" in detail.inner_text()
    assert page.locator("[data-testid=close-now]").count() == 0
    assert page.locator("[data-testid=roll-now]").count() == 0


def test_screenshot_of_the_live_agent_tab_with_paper_and_real_books(
    cockpit: Any, sim_client: Any, live_server: Any, browser_login: Any, shots: Path
) -> None:
    tick_run(trigger="test", client=sim_client, seed=1)  # dry run: a paper call
    controls_update(changes={"dry_run": False}, user="test")
    tick_run(trigger="test", client=sim_client, seed=2)  # live on the simulator: a real one
    assert Position.objects.filter(status="open", paper=True).exists()
    assert Position.objects.filter(status="open", paper=False).exists()
    page = browser_login(reverse("trading:live"))
    for book in ("paper", "real"):
        assert page.locator(f"[data-testid=positions-subtotal-{book}]").is_visible()
        assert page.locator(f"[data-testid=pnl-subtotal-{book}]").is_visible()
    badges = page.locator("[data-testid=positions] [data-testid=book-badge]").all_inner_texts()
    assert {"PAPER", "REAL"} <= set(badges)
    page.set_viewport_size({"width": 1700, "height": 900})  # the whole table, no scrolling
    page.wait_for_selector("[data-testid=risk-row-total]")  # the risk panel loads by htmx
    page.screenshot(path=str(shots / "live_paper_and_real.png"), full_page=True)
    page.goto(f"{live_server.url}{reverse('trading:pnl-history')}")
    page.screenshot(path=str(shots / "pnl_history.png"), full_page=True)


def test_screenshot_of_a_grid_heatmap(live_server: Any, browser_login: Any, shots: Path) -> None:
    from backtests import services
    from backtests.domain.grid import GridSpec
    from tests.backtests.conftest import SHORT_SOURCE, TRADING_CONFIG

    axes: dict[str, list[Any]] = {
        "delta_range": [[0.1, 0.3], [0.2, 0.4]],
        "ivrv_min": [0.0, 0.5, 1.0],
    }
    grid = services.grid_run_create(
        spec=GridSpec(base=TRADING_CONFIG, axes=axes), source=SHORT_SOURCE, enqueue=False
    )
    services.grid_run_execute_inline(run=grid)
    page = browser_login(reverse("backtests:run", args=[grid.pk]))
    assert page.locator("[data-testid=grid-heatmap] svg").count() == 1
    assert page.locator("[data-testid=grid-cell-link]").count() == 6
    page.locator("[data-testid=grid-heatmap]").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "grid_heatmap.png"), full_page=True)
    page.locator("[data-testid=grid-cell-link]").first.click()
    page.wait_for_selector("[data-testid=equity-chart]")  # stored with the cell: no re-run
    assert page.locator("[data-testid=cell-no-curve]").count() == 0
    page.screenshot(path=str(shots / "grid_cell.png"), full_page=True)

"""Cockpit pages: decisions (read-only), orders and fills (filters, CSV), the paper book when
going live, the timeline's links and idle filter."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from trading.domain.wording import metric_label, rejection_summary
from trading.models import AgentStatus, Decision, Order, Position
from trading.services import controls_update

pytestmark = pytest.mark.django_db


def test_rejections_and_metrics_read_as_words() -> None:
    counts = {"not_a_call": 300, "ivrv_below_min": 40, "spread_too_wide": 12, "no_bid": 0}
    assert rejection_summary(counts) == "IV/RV below the minimum: 40; spread too wide: 12"
    assert metric_label("max_drawdown_pct") == "Max drawdown, %"
    assert metric_label("premium_collected_usd") == "Premium collected, USD"
    assert metric_label("some_new_ratio") == "Some new ratio"


def test_the_decision_page_shows_inputs_candidates_rejections_checks_and_orders(
    decisions: list[Decision], client_as: Any
) -> None:
    opened = next(d for d in decisions if d.action == "OPEN_COVERED_CALL")
    viewer = client_as("viewer")
    page = viewer.get(reverse("trading:decision", args=[opened.pk])).content.decode()
    for testid in ("decision-summary", "decision-orders", "risk-checks", "decision-candidates",
                   "rejection-counts", "decision-inputs", "decision-clocks"):  # fmt: skip
        assert f'data-testid="{testid}"' in page, testid
    order = opened.orders.get()
    assert order.label in page
    assert f"{order.fee_coin:.6f} {order.currency}" in page
    assert "Market clock:" in page
    assert "Wall clock:" in page
    assert "IV/RV below the minimum" in page or "delta above the maximum" in page
    assert "<form" not in page.split("<main")[1]  # read-only: no edit form
    assert "still open: the outcome is not known yet" in page


def test_the_timeline_links_each_decision_to_its_page_and_can_hide_repeated_idles(
    decisions: list[Decision], logged_in_client: Any
) -> None:
    base = decisions[-1]
    for _i in range(3):  # three identical DO_NOTHING ticks after the opens
        Decision.objects.create(
            market_time=base.market_time, environment="sim", mode="research",
            policy_version="rb_v1", params_hash="x", decision_mode="rule_only",
            decision_source="rule_based", dry_run=True, action="DO_NOTHING",
            verdict_code="no_action", reason="BTC: already at 1 open call(s)",
            proposal={**base.proposal, "action": "DO_NOTHING", "legs": [], "underlying": None},
        )  # fmt: skip
    page = logged_in_client.get(reverse("trading:live")).content.decode()
    timeline = page[page.index('data-testid="timeline"') :].split("</table>")[0]
    assert reverse("trading:decision", args=[decisions[0].pk]) in timeline
    assert timeline.count("DO_NOTHING") == 3
    hidden = logged_in_client.get(reverse("trading:live") + "?hide_idle=1").content.decode()
    timeline = hidden[hidden.index('data-testid="timeline"') :].split("</table>")[0]
    assert timeline.count("DO_NOTHING") == 1
    assert "2 repeated DO_NOTHING row(s) hidden." in hidden


def test_no_candidate_says_which_filters_rejected_how_many(
    decisions: list[Decision], logged_in_client: Any
) -> None:
    status = AgentStatus.load()
    status.last_summary["top_candidates"]["BTC"] = []
    status.save()
    counts = Decision.objects.order_by("-id")[0].candidates["rejection_counts"]["BTC"]
    page = logged_in_client.get(reverse("trading:live")).content.decode()
    cell = page[page.index('data-testid="no-candidate"') :].split("</td>")[0]
    assert "BTC: no call passed the filter (" in cell
    assert rejection_summary(counts).split(";")[0].replace("/", "&#x2F;") in cell or (
        rejection_summary(counts).split(";")[0] in cell
    )


def test_the_orders_page_and_api_filter_and_export_csv(
    decisions: list[Decision], client_as: Any
) -> None:
    viewer = client_as("viewer")
    orders = list(Order.objects.order_by("id"))
    page = viewer.get(reverse("trading:orders")).content.decode()
    for order in orders:
        assert order.label in page
    eth = viewer.get(reverse("trading:orders") + "?currency=ETH").content.decode()
    assert all((o.label in eth) == (o.currency == "ETH") for o in orders)
    download = viewer.get(reverse("trading:orders") + "?format=csv&book=paper")
    assert download["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.content.decode())))
    assert [r["label"] for r in rows] == [o.label for o in reversed(orders)]
    assert Decimal(rows[0]["fee_coin"]) == orders[-1].fee_coin
    assert rows[0]["decision_id"] == str(orders[-1].decision_id)
    api = viewer.get("/api/agent/orders/export?currency=BTC")
    api_rows = list(csv.DictReader(io.StringIO(api.content.decode())))
    assert {r["currency"] for r in api_rows} == {"BTC"}
    listed = viewer.get("/api/agent/orders?book=real").json()
    assert listed["count"] == 0
    one = viewer.get(f"/api/agent/orders/{orders[0].pk}").json()
    assert Decimal(one["fee_coin"]) == orders[0].fee_coin
    assert one["fee_source"] == "model"


def test_going_live_keeps_the_paper_book_apart_or_archives_it_at_its_marks(
    decisions: list[Decision], client_as: Any
) -> None:
    operator = client_as("operator")
    controls_update(changes={"dry_run": False}, user="test")
    page = operator.get(reverse("trading:live")).content.decode()
    assert 'data-testid="paper-book-banner"' in page
    assert 'data-testid="positions-subtotal-paper"' in page
    assert (
        client_as("viewer").post("/api/agent/paper-book", {"choice": "archive"}).status_code == 403
    )
    marks = AgentStatus.load().last_summary["marks"]
    open_paper = list(Position.objects.filter(status="open", paper=True))
    assert open_paper

    response = operator.post(
        "/api/agent/paper-book", {"choice": "archive"}, content_type="application/json"
    )

    assert response.status_code == 201
    assert response.json() == {"choice": "archive", "archived": len(open_paper), "open": 0}
    for position in open_paper:
        position.refresh_from_db()
        assert position.status == "archived"
        mark = Decimal(str(marks[position.instrument_name]["mark"]))
        assert position.settled_coin == (position.size * mark).quantize(Decimal("1e-10"))
    pnl = operator.get("/api/agent/pnl").json()
    for book in pnl["books"]:
        assert book["open_positions"] == 0
        assert book["unrealised_mark_coin"] is not None
    page = operator.get(reverse("trading:live")).content.decode()
    assert 'data-testid="paper-book-banner"' not in page
    assert "archived" in page


def test_pnl_over_time_has_daily_bars_cumulative_equity_and_drawdown(
    decisions: list[Decision], logged_in_client: Any
) -> None:
    from trading.domain.pnl import pnl_daily
    from trading.selectors import pnl_history

    history = pnl_history()
    orders = Order.objects.filter(filled_amount__gt=0)
    index = Decision.objects.order_by("-id")[0].state_snapshot["index_price_usd"]
    expected = sum(
        float(o.filled_amount * o.average_price - o.fee_coin) * index[o.currency] for o in orders
    )
    assert history["cumulative_usd"]["paper"][-1] == pytest.approx(expected, abs=0.05)
    page = logged_in_client.get(reverse("trading:pnl-history")).content.decode()
    assert "<svg" in page
    assert 'data-testid="pnl-history"' in page
    made = pnl_daily(
        [{"day": 1, "book": "real", "usd": 10.0}, {"day": 2, "book": "real", "usd": -4.0}],
        [{"day": 1, "equity_usd": 100.0}, {"day": 2, "equity_usd": 90.0}],
    )
    assert made["cumulative_usd"]["real"] == [10.0, 6.0]
    assert made["drawdown_pct"] == [0.0, -10.0]
    assert made["max_drawdown_pct"] == -10.0


def test_the_decision_log_and_training_data_download_with_realised_outcomes(
    decisions: list[Decision], client_as: Any, logged_in_client: Any
) -> None:
    import json

    viewer = client_as("viewer")
    assert viewer.get("/api/agent/decisions/export").status_code == 403
    assert viewer.get("/api/agent/decisions/training").status_code == 403
    assert viewer.get(reverse("trading:export-log")).status_code == 403
    assert 'data-testid="export-log"' not in viewer.get(reverse("trading:live")).content.decode()
    researcher = client_as("researcher")
    assert 'data-testid="export-log"' in researcher.get(reverse("trading:live")).content.decode()
    opened = next(d for d in decisions if d.action == "OPEN_COVERED_CALL")
    sell = opened.orders.get()
    position = Position.objects.get(instrument_name=sell.instrument_name)
    position.status = "closed"  # as if it expired worthless: the premium kept, less the fee
    position.settled_coin = Decimal(0)
    position.save()

    body = researcher.get("/api/agent/decisions/export").content.decode()
    records = [json.loads(line) for line in body.splitlines()]
    assert [r["decision_id"] for r in records] == [str(d.pk) for d in decisions]
    outcome = next(r for r in records if r["decision_id"] == str(opened.pk))["realised_outcome"]
    expected = -position.size * position.average_price_coin - position.fees_coin
    assert outcome["status"] == "closed"
    assert Decimal(outcome["realised_coin"]) == expected
    rows = list(
        csv.DictReader(
            io.StringIO(researcher.get(reverse("trading:export-training")).content.decode())
        )
    )
    row = next(r for r in rows if r["decision_id"] == str(opened.pk))
    assert row["profile"] == f"live_{opened.mode}"  # the column training mode's files share
    assert row["instrument_name"] == sell.instrument_name
    assert Decimal(row["realised_coin"]) == expected
    assert row["outcome_status"] == "closed"


def test_the_simulators_clock_shows_beside_wall_time_with_the_next_tick(
    decisions: list[Decision], logged_in_client: Any
) -> None:
    page = logged_in_client.get(reverse("trading:live")).content.decode()
    clocks = page[page.index('data-testid="clocks"') :].split("</p>")[0]
    market = decisions[-1].market_time
    assert f"market clock {market:%Y-%m-%d %H:%M}" in clocks
    assert "Wall clock" in clocks
    assert "next tick due" in clocks

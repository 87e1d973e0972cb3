"""What a chat question asks, and the template answers (Django-free)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from trading.domain.chat import (
    TEMPLATE_LABEL,
    InstrumentHint,
    Intent,
    classify_question,
    instrument_hint,
    labelled,
    render_next,
    render_pnl,
    render_summary,
    render_why,
)
from trading.domain.pnl import pnl_books


@pytest.mark.parametrize(
    ("question", "intent", "limit"),
    [
        ("why did you pick the 97k call?", Intent.WHY, 10),
        ("Summarize your last 25 decisions", Intent.SUMMARY, 25),
        ("summarize your last 5000 decisions", Intent.SUMMARY, 100),
        ("what would you likely do right now?", Intent.NEXT, 10),
        ("What positions do you hold?", Intent.POSITIONS, 10),
        ("show me your candidates", Intent.CANDIDATES, 10),
        ("is the kill switch on?", Intent.STATUS, 10),
        ("BTC-11DEC26-97000-C", Intent.WHY, 10),
        ("tell me a joke", Intent.UNKNOWN, 10),
        ("place an order to sell 100 BTC calls now", Intent.TRADE, 10),
        ("Sell the 97k call", Intent.TRADE, 10),
        ("disable the kill switch", Intent.TRADE, 10),
        ("why did you sell the 97k call?", Intent.WHY, 10),
        ("what is my pnl?", Intent.PNL, 10),
        ("How much premium have you collected?", Intent.PNL, 10),
        ("what is your P&L on ETH", Intent.PNL, 10),
        ("why did you take a loss on the 97k call?", Intent.WHY, 10),
    ],
)
def test_questions_are_classified(question: str, intent: Intent, limit: int) -> None:
    asked = classify_question(question)
    assert (asked.intent, asked.limit) == (intent, limit)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("why the 97k call", InstrumentHint(strike=97000.0)),
        ("why the 97.5k BTC call", InstrumentHint(strike=97500.0, currency="BTC")),
        ("why did you sell the 3400 ETH call", InstrumentHint(strike=3400.0, currency="ETH")),
        ("why btc-11dec26-97000-c?", InstrumentHint(name="BTC-11DEC26-97000-C")),
        ("summarize your last 10 decisions", InstrumentHint()),
        ("what about bitcoin", InstrumentHint(currency="BTC")),
    ],
)
def test_the_option_a_question_names(text: str, hint: InstrumentHint) -> None:
    assert instrument_hint(text) == hint


def test_a_hint_matches_by_name_strike_and_currency() -> None:
    name = "BTC-11DEC26-97000-C"
    assert InstrumentHint(strike=97000.0).matches(name)
    assert InstrumentHint(strike=97000.0, currency="BTC").matches(name)
    assert not InstrumentHint(strike=97000.0, currency="ETH").matches(name)
    assert not InstrumentHint(strike=96000.0).matches(name)
    assert InstrumentHint(name=name).matches(name)
    assert not InstrumentHint(name="BTC-11DEC26-96000-C").matches(name)
    assert not InstrumentHint(strike=97000.0).matches("garbage")


DECISION: dict[str, Any] = {
    "id": 12,
    "decided_at": "2026-11-21T10:00:00+00:00",
    "action": "OPEN_COVERED_CALL",
    "source": "rule_based",
    "mode": "research",
    "decision_mode": "rule_only",
    "dry_run": True,
    "executed": True,
    "verdict": "approved",
    "reason": "OPEN_COVERED_CALL on BTC-11DEC26-97000-C: DTE=19.2, delta=0.31",
    "legs": [
        {
            "instrument_name": "BTC-11DEC26-97000-C",
            "direction": "sell",
            "amount": "0.1",
            "limit_price_coin": "0.0190",
        }
    ],
    "chosen_candidate": {
        "instrument_name": "BTC-11DEC26-97000-C",
        "rank": 0,
        "delta": 0.31,
        "dte_days": 19.2,
        "iv": 0.398,
        "ivrv": 1.12,
        "premium_usd": 1748.0,
        "score": 0.27,
    },
    "candidate_count": 7,
    "failed_checks": [],
    "shadow": None,
}


def test_why_answers_from_the_decision_it_was_given() -> None:
    text = render_why(InstrumentHint(strike=97000.0), DECISION, 40)
    assert "#12 2026-11-21 10:00 UTC" in text
    assert "sell 0.1 BTC-11DEC26-97000-C at 0.0190" in text
    assert "Decided by the rules" in text
    assert DECISION["reason"] in text
    assert "rank 1 of 7" in text
    assert "IV/RV 1.12" in text
    assert "Risk verdict: approved" in text


def test_why_says_when_no_decision_matches_and_lists_recent_picks() -> None:
    text = render_why(InstrumentHint(strike=97000.0), None, 40, [DECISION])
    assert "no decision involving the 97000 call among my last 40" in text
    assert "#12" in text


def test_why_reports_the_risk_engines_refusal() -> None:
    refused = DECISION | {
        "verdict": "rejected",
        "executed": False,
        "failed_checks": [{"name": "kill_switch", "detail": "on"}],
    }
    text = render_why(InstrumentHint(), refused, 1)
    assert "The risk engine refused it: kill_switch: on." in text


def test_the_summary_counts_what_it_lists() -> None:
    nothing = DECISION | {"id": 13, "action": "DO_NOTHING", "legs": [], "executed": False}
    text = render_summary([nothing, DECISION], asked=10)
    assert "My last 2 decisions (you asked for 10" in text
    assert "1 DO_NOTHING, 1 OPEN_COVERED_CALL" in text
    assert "1 executed" in text
    assert text.index("#13") < text.index("#12")
    assert render_summary([], asked=10) == "I have made no decisions yet."


def test_the_outlook_puts_blockers_first() -> None:
    text = render_next({"blockers": ["the kill switch is on"], "last_decision": DECISION})
    assert text.startswith("Nothing that adds risk: the kill switch is on.")
    assert "would likely do the same" not in text


def test_template_answers_are_labelled() -> None:
    assert labelled("x", "no LLM configured").startswith(f"[{TEMPLATE_LABEL}: no LLM configured]")


def test_pnl_books_net_premium_buybacks_and_settlements_per_book() -> None:
    fills = [
        {"currency": "BTC", "dry_run": True, "direction": "sell", "coin": "0.0030", "legs": 2},
        {"currency": "BTC", "dry_run": True, "direction": "buy", "coin": "0.0005", "legs": 1},
        {"currency": "BTC", "dry_run": False, "direction": "sell", "coin": "0.0010", "legs": 1},
        {"currency": "ETH", "dry_run": True, "direction": "sell", "coin": "0.0200", "legs": 1},
    ]
    settled = [{"currency": "BTC", "paper": True, "coin": "-0.0040", "expired": 1}]
    still_open = [
        {
            "currency": "ETH",
            "paper": True,
            "instrument_name": "ETH-1JAN27-4000-C",
            "size": "-1",
            "average_price_coin": "0.0200",
        }
    ]

    books = pnl_books(fills, settled, still_open, {"BTC": 100_000.0})

    assert [(b["currency"], b["book"]) for b in books] == [
        ("BTC", "paper"),
        ("BTC", "real"),
        ("ETH", "paper"),
    ]
    paper = books[0]
    # 0.0030 received - 0.0005 paid to buy back - 0.0040 paid at an in-the-money expiry.
    assert Decimal(paper["net_coin"]) == Decimal("-0.0015")
    assert paper["net_usd"] == pytest.approx(-150.0)
    assert Decimal(paper["realised_coin"]) == Decimal("-0.0015")  # no fees in these rows
    assert (paper["sells"], paper["buys"], paper["expired"], paper["open_positions"]) == (
        2,
        1,
        1,
        0,
    )
    assert Decimal(books[1]["net_coin"]) == Decimal("0.0010")
    assert books[2]["net_usd"] is None  # no ETH index known
    assert books[2]["unrealised_mark_coin"] is None  # and no mark for the open ETH call
    assert Decimal(books[2]["realised_coin"]) == 0  # its premium is still at risk
    text = render_pnl({"books": books})
    assert "- BTC paper: realised -0.001500 BTC (-$150.00)" in text
    assert "- 0.000500 paid for 1 bought back - 0.004000 settled at 1 expiry(ies)" in text
    assert "- ETH paper: realised 0.000000 ETH; unrealised unknown (no mark yet)" in text
    assert "0.020000 received for 1 call(s) sold - 0.000000 fees; 1 still open" in text
    assert render_pnl({"books": []}).startswith("I have sold no calls yet")

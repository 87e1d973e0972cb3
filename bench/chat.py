"""Benchmark chat answers over a large decision log (template answers: no LLM, so no network).

Builds a log of 2,000 decisions from real ticks against the simulated exchange (rows cloned with
other instruments, so each keeps a real tick's JSON: state snapshot, candidates, risk verdict,
log line). Measures the median wall time of a whole answer (question stored, tools run, answer
stored) for "why did you pick the <strike>k call?" when the only match is the oldest decision of
the search window (the worst case: 500 decisions scanned), and for "summarize your last 10
decisions". Reference measured in the same run: loading the same 500 decisions as full rows,
which is what the search would cost without its narrow column list.

Run: `.venv/bin/python bench/chat.py` (about 20 s; a throw-away SQLite database under a
temporary VAR_DIR). Target: a "why" answer in <= 150 ms. Last line: JSON.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="optionsdesk-bench-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "optionsdesk.settings")
os.environ.pop("DATABASE_URL", None)

import django

django.setup()

from django.core.management import call_command  # noqa: E402

from optionsdesk.llm import UnavailableLLMClient  # noqa: E402
from trading.chat.service import chat_ask, conversation_create  # noqa: E402
from trading.chat.tools import SEARCH_WINDOW  # noqa: E402
from trading.deribit.client import DeribitClient  # noqa: E402
from trading.deribit.limiter import NoLimiter  # noqa: E402
from trading.deribit.simulator import ServerThread, SimConfig, SimulatedExchange, create_app  # noqa: E402
from trading.models import Decision  # noqa: E402
from trading.services import tick_run  # noqa: E402

LOG_SIZE = 2000
RUNS = 20
TARGET_MS = 150.0
#: Strikes no real tick picks here, so the question matches only the planted decision.
PLANTED = "BTC-26DEC25-150000-C"


def _real_ticks() -> list[Decision]:
    exchange = SimulatedExchange(
        SimConfig(seed=7, start=datetime(2025, 12, 10, 9, tzinfo=UTC), rate_limits=None)
    )
    with ServerThread(create_app(exchange), port=0) as server:
        client = DeribitClient(
            server.base_url, "optionsdesk-sim", "optionsdesk-sim-secret", limiter=NoLimiter()
        )
        for seed in range(3):
            tick_run(trigger="bench", client=client, seed=seed)
        client.close()
    return list(Decision.objects.order_by("id"))


def _fill_log(templates: list[Decision]) -> None:
    """LOG_SIZE decisions, newest last; the one planted at the window's far end names PLANTED."""
    start = datetime(2025, 12, 10, 9, tzinfo=UTC)
    fields = [f.attname for f in Decision._meta.fields if f.attname != "id"]
    bases = [{name: getattr(t, name) for name in fields} for t in templates]
    planted_index = LOG_SIZE - SEARCH_WINDOW
    rows = []
    for i in range(LOG_SIZE):
        values = bases[i % len(bases)] | {"decided_at": start + timedelta(minutes=5 * i)}
        if i == planted_index:
            leg = {"instrument_name": PLANTED, "direction": "sell", "amount": "0.1"}
            values |= {
                "action": "OPEN_COVERED_CALL",
                "proposal": {**values["proposal"], "legs": [leg]},
                "chosen_candidate": {"instrument_name": PLANTED, "rank": 0, "strike": 150000.0},
            }
        rows.append(Decision(**values))
    Decision.objects.all().delete()
    Decision.objects.bulk_create(rows, batch_size=200)


def _median_ms(action: object, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    """Build the log, time the answers and the reference, print the figures."""
    call_command("migrate", verbosity=0)
    templates = _real_ticks()
    _fill_log(templates)
    avg_row_kb = sum(len(d.log_line) for d in Decision.objects.all()[:50]) / 50 / 1024
    print(f"decision log: {Decision.objects.count()} rows (log lines ~{avg_row_kb:.1f} KB each)")
    no_llm = UnavailableLLMClient()
    conversation = conversation_create()

    def why() -> None:
        _, answer = chat_ask(
            conversation=conversation, text="why did you pick the 150k call?", llm=no_llm
        )
        assert PLANTED in answer.content, answer.content

    def summary() -> None:
        chat_ask(conversation=conversation, text="summarize your last 10 decisions", llm=no_llm)

    def full_rows() -> None:
        list(Decision.objects.order_by("-decided_at", "-id")[:SEARCH_WINDOW])

    why_ms, summary_ms, reference_ms = _median_ms(why), _median_ms(summary), _median_ms(full_rows)
    print(f"why answer (match {SEARCH_WINDOW} decisions back): median {why_ms:.1f} ms")
    print(f"summary of the last 10: median {summary_ms:.1f} ms")
    print(
        f"reference (the same {SEARCH_WINDOW} decisions as full rows): median {reference_ms:.1f} ms"
    )
    print(f"why / full-row load ratio: {why_ms / reference_ms:.2f}")
    print(f"target: why <= {TARGET_MS:.0f} ms {'met' if why_ms <= TARGET_MS else 'MISSED'}")
    print(
        json.dumps(
            {
                "why_ms_median": round(why_ms, 1),
                "summary_ms_median": round(summary_ms, 1),
                "full_rows_ms_median": round(reference_ms, 1),
                "why_over_full_rows": round(why_ms / reference_ms, 2),
                "log_size": LOG_SIZE,
            }
        )
    )


if __name__ == "__main__":
    main()

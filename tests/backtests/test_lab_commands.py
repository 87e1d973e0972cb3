"""`manage.py environment_heatmap` and `manage.py synthetic_vs_live`: stored studies run from the
command line (in process, or queued on the research queue)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backtests.models import SelectorStudy

pytestmark = pytest.mark.django_db


def _call(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_environment_heatmap_runs_in_process_and_stores_the_study() -> None:
    out = _call(
        "environment_heatmap",
        "--start",
        "2025-02-03",
        "--days",
        "12",
        "--x",
        "atm_iv",
        "--x-edges",
        "0.2,0.4,0.6,0.8",
        "--y",
        "return_1d",
        "--y-edges=-0.1,0,0.1",
        "--dte",
        "3",
        "--interval-hours",
        "4",
        "--json",
    )

    body = json.loads(out)
    study = SelectorStudy.objects.get(pk=body["study"])
    assert study.kind == "environment"
    assert study.status == "succeeded"
    assert body["counts"] == study.result["counts"]
    assert "cell_of_sample" not in body
    assert sum(map(sum, body["counts"])) == body["in_grid"] > 0


def test_environment_heatmap_prints_its_cells_and_refuses_bad_edges() -> None:
    out = _call("environment_heatmap", "--days", "10", "--y", "return_1d", "--interval-hours", "6")

    assert "share of time (times)" in out
    assert "%" in out.splitlines()[2]
    with pytest.raises(CommandError, match="increase"):
        _call("environment_heatmap", "--days", "10", "--x-edges", "1,0.5")


def test_synthetic_vs_live_states_a_verdict(shared_dir) -> None:
    out = _call("synthetic_vs_live", "--underlying", "BTC", "--json")

    body = json.loads(out)
    assert body["verdict"] in ("agree", "diverge", "insufficient")
    assert [m["measure"] for m in body["measures"]] == [
        "premium_pct",
        "delta",
        "dte_days",
        "pnl_pct",
    ]
    assert SelectorStudy.objects.get(pk=body["study"]).kind == "source_compare"


def test_queue_sends_the_study_to_the_research_queue(monkeypatch) -> None:
    from backtests import tasks

    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(tasks.lab_study, "apply_async", lambda args, **kw: sent.append(kw))

    out = _call("environment_heatmap", "--days", "10", "--queue")

    assert "queued on the research queue" in out
    assert sent == [{"queue": "research"}]
    assert SelectorStudy.objects.get().status == "queued"

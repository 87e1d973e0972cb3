"""The steward's rules rank next tasks from facts, with reasons holding the figures."""

from __future__ import annotations

from steward.domain.report import TEMPLATE_LABEL, next_tasks_rank, summary_render

HEALTHY = {
    "health": {"workers": [{"hostname": "w1", "age_s": 5}], "agent_checks_failing": []},
    "agent": {"guard_status": "running", "kill_switch": False, "dry_run": True},
    "ticks": {"runs": 10, "ok": 10, "failed": 0, "last_tick_age_s": 30},
    "decisions": {"count": 10, "proposals": 2, "refused": 0},
    "backtests": {"total": 3, "failed_recent": 0},
    "reconciliation": {"pending": 0},
    "config": {"warnings": []},
}


def test_a_healthy_system_gets_a_single_review_task_pointing_to_chat():
    (task,) = next_tasks_rank(HEALTHY)
    assert task.key == "review"
    assert task.url_name == "trading:chat"
    assert "10 decision(s)" in task.reason


def test_no_worker_and_a_discrepancy_rank_first_with_their_figures():
    facts = HEALTHY | {
        "health": {"workers": [{"hostname": "w1", "age_s": 4000}]},
        "reconciliation": {"pending": 2, "run_id": 7, "instruments": ["BTC-X (missing)"]},
        "backtests": {"total": 0},
    }
    tasks = next_tasks_rank(facts)
    assert [t.priority for t in tasks] == sorted(t.priority for t in tasks)
    assert {tasks[0].key, tasks[1].key} == {"worker", "reconcile"}
    worker = next(t for t in tasks if t.key == "worker")
    assert "4000 s old" in worker.reason
    assert "run #7" in next(t for t in tasks if t.key == "reconcile").reason
    assert tasks[-1].key == "first_backtest"


def test_failed_ticks_and_refusals_name_counts_and_checks():
    facts = HEALTHY | {
        "ticks": {"runs": 6, "failed": 3, "last_error": "exchange down", "last_tick_age_s": 10},
        "decisions": {"proposals": 4, "refused": 3, "top_failed_checks": [["spread", 3]]},
    }
    by_key = {t.key: t for t in next_tasks_rank(facts)}
    assert "3 of 6 ticks" in by_key["tick_errors"].reason
    assert by_key["tick_errors"].priority == 1
    assert "spread x3" in by_key["refusals"].reason
    assert by_key["refusals"].url_name == "trading:controls"


def test_the_template_summary_is_labelled_and_lists_the_tasks():
    tasks = next_tasks_rank(HEALTHY | {"agent": {"guard_status": "paused", "guard_reason": "x"}})
    text = summary_render(HEALTHY, tasks)
    assert text.startswith(f"[{TEMPLATE_LABEL}]")
    assert "Ticks in the last 24 h: 10 (10 ok, 0 failed" in text
    assert "1. Find out why the health guard has the agent paused" in text


def test_calibration_tasks_come_from_its_runs_quality_and_harvests():
    empty = {"installed": True, "rows": 0, "calibration_runs": 0}
    assert [t.key for t in next_tasks_rank(HEALTHY | {"calibration": empty})] == ["calibration"]
    state = {
        "installed": True,
        "calibration_runs": 3,
        "latest_run": {"id": 9, "underlying": "BTC", "guardrail_ok": False,
                       "guardrail_reasons": ["multiplier 2.1 beyond 1.5"]},
        "data_quality": {"bad": ["ETH 2026-12-04"]},
        "latest_harvest": {"status": "failed", "errors": 2, "started_at": "t"},
    }  # fmt: skip
    by_key = {t.key: t for t in next_tasks_rank(HEALTHY | {"calibration": state})}
    assert "multiplier 2.1 beyond 1.5" in by_key["calibration_refused"].reason
    assert "ETH 2026-12-04" in by_key["data_quality"].reason
    assert "2 error(s)" in by_key["harvest"].reason
    assert {t.url_name for t in by_key.values()} == {"calibration:index"}
    assert "not installed" not in str(next_tasks_rank(HEALTHY | {"calibration": {}}))

"""The repository tools beyond open and search: listing, the map, the snapshot fallback without
git, smoke tests (recorded, and read by the steward), security scans and logs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from reviewbot.models import Review, ToolRun
from reviewbot.services import Answer, question_answer, review_latest, session_touch
from reviewbot.tools import tool_run
from tests.fake_openai import answer, make_llm_client, tool_calls
from tests.reviewbot.conftest import PLANTED_OPENAI

pytestmark = pytest.mark.django_db


def run(tool: str, **args: Any) -> tuple[bool, str]:
    return tool_run(tool, json.dumps(args))


def test_list_files_shows_sizes_and_hides_secrets_and_caches(repo: Path):
    ok, text = run("list_files", path=".")
    assert ok
    assert "trading/" in text
    assert "docs/" in text
    assert ".env" not in text.split()
    assert "var/" not in text
    ok, text = run("list_files", path="trading", pattern="*.py")
    assert "trading/gate.py  " in text
    assert " B" in text


def test_the_project_map_names_apps_and_docs(repo: Path):
    ok, text = run("get_project_map")
    assert ok
    assert "trading/  " in text
    assert "The live agent." in text
    assert "docs: agent.md" in text


def test_without_git_the_diff_comes_from_the_stored_snapshot(repo: Path):
    shutil.rmtree(repo / ".git")
    ok, first = run("get_latest_diff")
    assert ok
    assert "(no changes)" in first
    (repo / "docs" / "agent.md").write_text("# Agent\nThe kill switch stops every order.\n")
    ok, second = run("get_latest_diff")
    assert "[snapshot]" in second
    assert "+The kill switch stops every order." in second
    from optionsdesk.llm import UnavailableLLMClient

    review = review_latest(llm=UnavailableLLMClient())
    assert review.source == "snapshot"
    assert review.files == ["docs/agent.md +1 -1"]


def test_security_scan_is_offline_and_ranks_by_severity(repo: Path):
    ok, text = run("run_security_scans")
    assert ok
    lines = text.splitlines()
    assert lines[0] == "Security scan (offline, 11 rules): CRITICAL 3, HIGH 1"
    assert lines[1] == "CRITICAL hard-coded API key at trading/settings_demo.py:1"
    assert lines[-1] == "HIGH shell=True in subprocess at trading/gate.py:4"
    assert PLANTED_OPENAI not in text


def test_only_named_smoke_tests_run_and_a_failure_reaches_the_steward(
    repo: Path, llm_server: Any, fake: Any
):
    ok, text = run("run_smoke_tests", names=["rm -rf /"])
    assert not ok
    assert "unknown smoke test" in text
    fake.queue(tool_calls(("run_smoke_tests", {"names": ["django_check"]})), answer("It fails."))
    session = session_touch(chat_id=1, user_id=1)
    reply: Answer = question_answer(
        session=session, question="run the checks", llm=make_llm_client(llm_server)
    )
    assert reply.text == "It fails."
    run_row = ToolRun.objects.get(tool="run_smoke_tests")
    assert run_row.ok is False  # this small repository has no manage.py
    assert "FAIL django_check" in run_row.summary
    from steward.domain.report import next_tasks_rank
    from steward.selectors import state_collect

    facts = state_collect()
    assert facts["tests"]["smoke"]["passed"] is False
    assert "smoke" in [t.key for t in next_tasks_rank(facts)]


def test_tail_logs_reads_the_last_lines_redacted(repo: Path, settings: Any, tmp_path: Path):
    logs = tmp_path / "var" / "logs"
    logs.mkdir(parents=True)
    settings.VAR_DIR = tmp_path / "var"
    (logs / "bot.log").write_text(
        "".join(f"line {i}\n" for i in range(300)) + f"key={PLANTED_OPENAI}\n"
    )
    ok, text = run("tail_logs", name="bot", lines=3)
    assert ok
    assert text.splitlines()[1:] == ["line 298", "line 299", "key=[REDACTED]"]
    assert Review.objects.count() == 0

"""`manage.py strategy_healthcheck` (issue 15): PASS/WARN/FAIL per check with the reason, and a
non-zero exit when a check fails (faults planted in the fee model and in a check)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command

from backtests import healthcheck
from backtests.domain.costs import DeribitFees, ScaledFees

pytestmark = pytest.mark.django_db


def _run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("strategy_healthcheck", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_the_whole_battery_passes_or_warns_on_the_shipped_system(shared_dir) -> None:
    code, out = _run("--json")

    body = json.loads(out)
    by_name = {c["name"]: c for c in body["checks"]}
    assert code == 0
    assert body["ok"] is True
    assert list(by_name) == list(healthcheck.CHECKS)
    assert all(c["status"] in ("PASS", "WARN") for c in body["checks"])
    assert all(c["reason"] for c in body["checks"])
    for name in ("policy_trades", "no_free_lunch", "parity", "fees", "spreads"):
        assert by_name[name]["status"] == "PASS", by_name[name]


def test_a_planted_fee_fault_fails_the_check_and_the_exit_status(monkeypatch) -> None:
    monkeypatch.setattr(
        healthcheck, "deribit_fee_model", lambda: ScaledFees(base=DeribitFees(), factor=10.0)
    )

    code, out = _run("--check", "fees", "--check", "spreads", "--json")

    body = json.loads(out)
    assert code == 1
    assert body["status"] == "FAIL"
    assert body["ok"] is False
    assert body["counts"] == {"PASS": 1, "WARN": 0, "FAIL": 1}
    fees = body["checks"][0]
    assert fees["status"] == "FAIL"
    assert "published 0.0003" in fees["reason"]
    assert body["checks"][1]["status"] == "PASS"


def test_the_text_report_says_pass_per_check() -> None:
    code, out = _run("--check", "fees")

    assert code == 0
    assert out.splitlines()[0].startswith("PASS  fees")
    assert out.splitlines()[-1] == "overall: PASS"


def test_a_check_that_raises_is_a_fail_with_its_error(monkeypatch) -> None:
    def broken() -> Any:
        raise RuntimeError("panel went missing")

    monkeypatch.setitem(healthcheck.CHECKS, "spreads", broken)

    code, out = _run("--check", "spreads")

    assert code == 1
    assert "FAIL  spreads" in out
    assert "RuntimeError: panel went missing" in out

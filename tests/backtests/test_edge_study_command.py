"""`manage.py edge_study`: JSON keys, same seeds for every ratio, bounded work."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command


def test_edge_study_prints_the_edge_per_ratio_as_json() -> None:
    out = StringIO()

    call_command("edge_study", "--json", "--seeds", "1", "--days", "30", stdout=out)

    figures = json.loads(out.getvalue())
    for key in ("edge_pct", "se_pct", "after_costs_pct"):
        assert set(figures[key]) == {"1.0", "0.95", "0.8"}
    assert figures["edge_pct"]["0.8"] > figures["edge_pct"]["0.95"] > figures["edge_pct"]["1.0"]
    assert all(v > 0 for v in figures["se_pct"].values())


def test_edge_study_prints_a_table() -> None:
    out = StringIO()

    call_command("edge_study", "--seeds", "1", "--days", "30", stdout=out)

    assert "after costs" in out.getvalue()
    assert out.getvalue().count("\n") == 5


@pytest.mark.parametrize("args", [["--seeds", "50"], ["--days", "5000"]])
def test_edge_study_refuses_unbounded_work(args) -> None:
    with pytest.raises(CommandError):
        call_command("edge_study", *args)

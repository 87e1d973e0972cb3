"""``manage.py enrich_snapshot``: enriched output, one JSON line, exit status 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.builders import old_schema_chain
from trading.domain.chain import CHAIN_COLUMNS, ENRICHED_COLUMNS

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    path = tmp_path / "BTC_2025-12-10_0800.parquet"
    old_schema_chain(vol=0.45).to_parquet(path)
    return path


@pytest.fixture
def wrong_schema(tmp_path: Path) -> Path:
    path = tmp_path / "wrong.parquet"
    old_schema_chain().drop(columns=["mark_price", "underlying_price"]).to_parquet(path)
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "enrich_snapshot", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_it_writes_the_enriched_snapshot_and_prints_one_json_line(
    snapshot: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.parquet"
    stdout = StringIO()
    call_command("enrich_snapshot", str(snapshot), str(out), stdout=stdout)
    lines = stdout.getvalue().strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary["rows"] == 10
    assert summary["iv_found"] == 10
    assert summary["compared_otm"] == 4
    assert summary["median_abs_diff_vol_pts"] < 1e-6
    assert summary["p95_abs_diff_vol_pts"] < 1e-6
    written = pd.read_parquet(out)
    assert list(written.columns) == [*CHAIN_COLUMNS, *ENRICHED_COLUMNS]
    assert written["iv"].between(0.45 - 1e-9, 0.45 + 1e-9).all()


def test_it_names_missing_columns_and_writes_nothing(wrong_schema: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    with pytest.raises(CommandError) as excinfo:
        call_command("enrich_snapshot", str(wrong_schema), str(out))
    assert excinfo.value.returncode == 2
    assert "mark_price" in str(excinfo.value)
    assert "underlying_price" in str(excinfo.value)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [wrong_schema]


def test_it_exits_with_status_2_on_bad_input_from_the_shell(
    wrong_schema: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.parquet"
    not_parquet = tmp_path / "notes.parquet"
    not_parquet.write_text("not a parquet file")
    results = [_run(str(bad), str(out)) for bad in (wrong_schema, not_parquet, tmp_path / "x")]
    for result in results:
        assert result.returncode == 2, result.stderr
        assert result.stdout == ""
        assert not out.exists()
    schema_message = results[0].stderr
    assert "missing columns:" in schema_message
    assert "mark_price" in schema_message
    assert "underlying_price" in schema_message
    assert "cannot read" in results[1].stderr


def test_it_exits_with_status_0_and_json_from_the_shell(snapshot: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    result = _run(str(snapshot), str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["output"] == str(out)
    assert out.exists()

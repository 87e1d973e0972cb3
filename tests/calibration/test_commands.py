"""`manage.py calibrate_snapshot`: one JSON object per file, clear errors, exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

KEYS = [
    "file",
    "underlying",
    "n_options",
    "expiries",
    "surface_vw_mae_volpts",
    "surface_mae_volpts",
    "synthetic_vw_mae_volpts",
    "recommended_iv_multiplier",
    "fit_ms",
]


def test_it_prints_one_json_object_per_file_with_the_issue_keys(snapshots_root: Path, capsys):
    files = [
        snapshots_root / "BTC" / "2025-12-07" / "BTC_2025-12-07_2047.parquet",
        snapshots_root / "ETH" / "2025-12-12" / "ETH_2025-12-12_1817.parquet",
    ]
    call_command("calibrate_snapshot", *map(str, files), "--json")
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    for line, path in zip(lines, files, strict=True):
        row = json.loads(line)
        assert list(row) == KEYS
        assert row["file"] == str(path)
        assert row["surface_vw_mae_volpts"] <= 0.25
        assert row["expiries"] >= 8
        assert 0.5 < row["recommended_iv_multiplier"] < 2


def test_it_names_a_bad_file_and_exits_2_after_the_good_ones(snapshots_root, tmp_path, capsys):
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    good = snapshots_root / "BTC" / "2025-12-12" / "BTC_2025-12-12_1802.parquet"
    with pytest.raises(CommandError) as caught:
        call_command("calibrate_snapshot", str(broken), str(good), "--json")
    assert caught.value.returncode == 2
    captured = capsys.readouterr()
    assert "broken.parquet: not a Parquet file" in captured.err
    assert json.loads(captured.out.strip())["underlying"] == "BTC"


def test_it_names_missing_columns(tmp_path):
    import pandas as pd

    path = tmp_path / "nomark.parquet"
    pd.DataFrame(
        {"instrument_name": ["BTC-27MAR26-100000-C"], "harvest_time": ["2025-12-10"]}
    ).to_parquet(path)
    with pytest.raises(CommandError) as caught:
        call_command("calibrate_snapshot", str(path))
    assert caught.value.returncode == 2

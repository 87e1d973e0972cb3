"""`auto_calibrate`, `harvest` and `fit_regimes` commands."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from calibration.models import CalibrationRun, HarvestRun, RegimeFit
from tests.trading.deribit.conftest import make_client, make_exchange

pytestmark = pytest.mark.django_db


def test_auto_calibrate_prints_one_line_per_underlying(snapshots_root, tmp_path, capsys):
    for path in sorted((snapshots_root / "ETH" / "2025-12-10").glob("*.parquet"))[::8]:
        (tmp_path / "ETH" / "2025-12-10").mkdir(parents=True, exist_ok=True)
        shutil.copy(path, tmp_path / "ETH" / "2025-12-10" / path.name)
    call_command("auto_calibrate", "--underlying", "eth", "--dir", str(tmp_path))
    row = json.loads(capsys.readouterr().out.strip())
    assert row["underlying"] == "ETH"
    assert row["guardrail_ok"] is True
    assert CalibrationRun.objects.get().trigger == "command"


def test_auto_calibrate_refuses_a_missing_dir_and_an_empty_one(tmp_path):
    with pytest.raises(CommandError) as missing:
        call_command("auto_calibrate", "--dir", str(tmp_path / "nope"))
    assert missing.value.returncode == 2
    with pytest.raises(CommandError, match="no BTC snapshots"):
        call_command("auto_calibrate", "--underlying", "BTC", "--dir", str(tmp_path))


def test_harvest_once_writes_and_reports(tmp_path, capsys, monkeypatch):
    exchange = make_exchange()
    client = make_client(exchange)
    monkeypatch.setattr("trading.exchange.market_data_client", lambda **_: client)
    call_command("harvest", "--once", "--underlying", "BTC", "--dir", str(tmp_path))
    out = capsys.readouterr().out
    assert out.startswith("harvest ok:")
    run = HarvestRun.objects.get()
    assert run.trigger == "command"
    assert Path(run.files[0]).exists()


def test_fit_regimes_stores_each_underlying(shared_dir, capsys):
    call_command("fit_regimes", "--underlying", "BTC", "--seed", "1")
    assert "regime 2" in capsys.readouterr().out
    assert RegimeFit.objects.get().seed == 1
    with pytest.raises(CommandError):
        call_command("fit_regimes", "--underlying", "XRP")


def test_the_tasks_run_their_services(snapshots_root, tmp_path, settings, monkeypatch, shared_dir):
    from calibration import tasks

    exchange = make_exchange()
    client = make_client(exchange)
    monkeypatch.setattr("trading.exchange.market_data_client", lambda **_: client)
    settings.CALIBRATION_DATA_DIR = tmp_path
    settings.CALIBRATION_UNDERLYINGS = ["BTC"]
    run_id = tasks.harvest.run()
    assert HarvestRun.objects.get(pk=run_id).status == "ok"
    ids = tasks.auto_calibrate.run()
    assert CalibrationRun.objects.get(pk=ids[0]).source == "harvested"
    assert RegimeFit.objects.filter(pk=tasks.fit_regimes.run("ETH")).exists()
    assert tasks.harvest.queue == "research"  # type: ignore[attr-defined]
    assert tasks.harvest.name == "calibration.harvest"

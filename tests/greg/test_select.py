"""`manage.py greg_select` and `POST /api/greg/select`: the batch selector."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.core.management import call_command

from greg.models import GregCalibration, GregDecision
from greg.services import calibration_update
from tests.builders import NEUTRAL

STRADDLE = {**NEUTRAL, "vrp_30d": 15.1, "chop_factor_7d": 0.5, "adx_14d": 15.0}
BEAR = {**NEUTRAL, "skew_25d": -4.1, "rsi_14d": 70.1, "vrp_30d": 2.1}


def _run(tmp_path, payload, *extra):
    path = tmp_path / "in.json"
    path.write_text(json.dumps(payload))
    return subprocess.run(
        [sys.executable, "manage.py", "greg_select", str(path), *extra],
        capture_output=True,
        text=True,
        check=False,
    )


def test_it_prints_one_result_per_item_in_order(tmp_path):
    result = _run(tmp_path, [STRADDLE, NEUTRAL, BEAR], "--json")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0]) == [
        {"strategy": "STRATEGY_A_STRADDLE", "step": 4,
         "reasoning": "High premium, low realized movement, neutral skew."},
        {"strategy": "NO_TRADE", "step": 8, "reasoning": "No valid setup found."},
        {"strategy": "STRATEGY_F_BEAR_CALL_SPREAD", "step": 7,
         "reasoning": "Overbought + FOMO Skew with positive VRP."},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ([{**NEUTRAL, "vrp30": 1.0}], "'vrp30'"),
        ([{**NEUTRAL, "rsi_14d": "50"}], "'rsi_14d'"),
        ([{**NEUTRAL, "adx_14d": None}], "'adx_14d'"),
        ([{**NEUTRAL, "adx_14d": True}], "'adx_14d'"),
        ([{k: v for k, v in NEUTRAL.items() if k != "skew_25d"}], "'skew_25d'"),
        ([NEUTRAL, [1, 2]], "item 1"),
    ],
)
def test_a_bad_item_exits_2_naming_it(tmp_path, payload, named, capsys):
    path = tmp_path / "in.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(SystemExit) as exited:
        call_command("greg_select", str(path))
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert named in captured.err
    assert captured.out == ""


def test_a_bad_item_exits_2_from_the_shell(tmp_path):
    result = _run(tmp_path, [{**NEUTRAL, "vrp30": 1.0}])
    assert result.returncode == 2
    assert "unknown key 'vrp30'" in result.stderr


@pytest.mark.django_db
def test_the_command_stores_nothing(tmp_path, capsys):
    path = tmp_path / "in.json"
    path.write_text(json.dumps([NEUTRAL]))
    call_command("greg_select", str(path))
    assert json.loads(capsys.readouterr().out)[0]["strategy"] == "NO_TRADE"
    assert GregDecision.objects.count() == 0


@pytest.mark.django_db
def test_the_api_takes_one_object_or_a_list(logged_in_client):
    one = logged_in_client.post("/api/greg/select", STRADDLE, content_type="application/json")
    assert one.status_code == 200
    assert one.json() == [
        {
            "strategy": "STRATEGY_A_STRADDLE",
            "step": 4,
            "reasoning": "High premium, low realized movement, neutral skew.",
        }
    ]
    many = logged_in_client.post(
        "/api/greg/select", [BEAR, NEUTRAL], content_type="application/json"
    )
    assert [r["strategy"] for r in many.json()] == ["STRATEGY_F_BEAR_CALL_SPREAD", "NO_TRADE"]


@pytest.mark.django_db
def test_the_api_refuses_a_bad_key_with_400_and_stores_nothing(logged_in_client):
    response = logged_in_client.post(
        "/api/greg/select", [{**NEUTRAL, "rsi_14d": "high"}], content_type="application/json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "'rsi_14d'" in error["details"]["sensors"][0]
    assert GregDecision.objects.count() == 0


@pytest.mark.django_db
def test_the_api_uses_the_calibration_in_force(logged_in_client):
    vector = {**NEUTRAL, "vrp_30d": 12.0}

    def post():
        return logged_in_client.post("/api/greg/select", vector, content_type="application/json")

    assert post().json()[0]["strategy"] == "STRATEGY_A_STRANGLE"
    calibration_update(thresholds={"strangle_vrp_min": 12.5}, user="t", source="test")
    assert GregCalibration.objects.get().changes == {"strangle_vrp_min": [10.0, 12.5]}
    assert post().json()[0]["strategy"] == "NO_TRADE"

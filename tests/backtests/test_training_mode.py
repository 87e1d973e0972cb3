"""Training mode (issue 15): several profiles over the same replayed decision times, rows
labelled with the profile, exported with the existing exporters; stored runs launched from the
API, the tab and `manage.py training_run`, with the corpus downloadable."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from backtests.domain.corpus import corpus_file_check
from backtests.domain.profiles import (
    PROFILES,
    TrainingProfile,
    expiry_limit_chooser,
    profiles_resolve,
    training_collect,
)
from backtests.domain.simulator import CoveredCallSimulator
from backtests.domain.sources.synthetic import SyntheticSource
from backtests.domain.types import BacktestConfig, ExitPolicy, ExitStyle
from backtests.training_models import TrainingRun
from tests.backtests.conftest import SHORT_SOURCE

URL = "/api/backtests/training"
RELAXED = PROFILES["per_expiry_limit"].strategy.model_copy(update={"ivrv_min": 0.0})


@pytest.fixture(scope="module")
def sim() -> CoveredCallSimulator:
    source = SyntheticSource(seed=9, start=datetime(2025, 2, 1, tzinfo=UTC), days=30)
    return CoveredCallSimulator(source.load_panel(underlying="BTC"))


def test_every_profile_runs_on_the_same_decision_times_and_labels_its_rows(sim) -> None:
    base = BacktestConfig(decision_interval_hours=4)
    profiles = profiles_resolve(["production", "aggressive_exploration", "per_expiry_limit"])

    collected = training_collect(sim, base, profiles)

    assert list(collected.decisions["profile"].unique()) == [p.name for p in profiles]
    assert set(collected.candidates["profile"]) <= {p.name for p in profiles}
    grid = set(pd.to_datetime(sim.panel.times[sim.decision_mask(4)], unit="s", utc=True))
    assert set(collected.decisions["time"]) <= grid
    assert {"state", "action"} - set(collected.decisions.columns) == {"state"}
    assert {"reward_usd", "spot_usd", "rv"} <= set(collected.decisions.columns)
    by_profile = {s.profile: s for s in collected.summaries}
    assert by_profile["aggressive_exploration"].sales > 0
    explored = collected.candidates.query("profile == 'aggressive_exploration' and chosen")
    assert (explored["rank"] > 0).any()


def test_the_per_expiry_limit_caps_sales_per_expiry(sim) -> None:
    # Take profit and sell again at once: the greedy rule sells the same expiry repeatedly.
    exit_policy = ExitPolicy(style=ExitStyle.TAKE_PROFIT_AND_ROLL, take_profit_pct=0.3)
    config = BacktestConfig(strategy=RELAXED, exit=exit_policy)
    unlimited = sim.simulate_policy(config)
    assert max(Counter(t.expiry_ts for t in unlimited.trades).values()) > 1

    limited = sim.simulate_policy(config, chooser=expiry_limit_chooser(sim, 1, config))

    assert max(Counter(t.expiry_ts for t in limited.trades).values()) == 1
    assert len(limited.trades) > 0


def test_unknown_profiles_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown training profile"):
        profiles_resolve(["production", "yolo"])
    with pytest.raises(ValueError, match="at least one"):
        profiles_resolve([])
    with pytest.raises(ValueError):
        TrainingProfile(name="Bad Name", strategy=RELAXED)


@pytest.mark.django_db
def test_a_training_run_from_the_api_writes_labelled_files_and_a_valid_corpus(
    desk_user, eager_celery, django_capture_on_commit_callbacks, settings, tmp_path
) -> None:
    settings.VAR_DIR = tmp_path
    api = APIClient()
    api.force_authenticate(desk_user)
    body = {
        "profiles": ["research", "aggressive_exploration"],
        "source": SHORT_SOURCE.model_dump(mode="json"),
        "config": {"decision_interval_hours": 2},
        "format": "jsonl",
    }

    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(URL, body, format="json")

    assert created.status_code == 201
    run = api.get(f"{URL}/{created.json()['id']}").json()
    assert run["status"] == "succeeded", run["error"]
    assert run["progress"] == 1.0
    assert [p["profile"] for p in run["result"]["profiles"]] == body["profiles"]
    decisions = pd.read_json(run["files"]["decisions"]["path"], lines=True)
    assert set(decisions["profile"]) == set(body["profiles"])
    assert (
        Path(run["files"]["corpus_train"]["path"]).parent
        == tmp_path / "exports" / f"training_{run['id']}"
    )
    for kind in ("corpus_train", "corpus_validation"):
        assert corpus_file_check(Path(run["files"][kind]["path"])).errors == []
    download = api.get(f"{URL}/{run['id']}/download", {"file": "corpus_train"})
    assert download.status_code == 200
    lines = b"".join(download.streaming_content).decode().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == run["files"]["corpus_train"]["rows"]
    assert api.get(f"{URL}/{run['id']}/download", {"file": "secrets"}).status_code == 400


@pytest.mark.django_db
def test_bad_training_requests_are_400_and_viewers_may_not_launch_or_download(
    desk_user, client_as
) -> None:
    api = APIClient()
    api.force_authenticate(desk_user)
    assert api.post(URL, {"profiles": ["yolo"]}, format="json").status_code == 400
    assert api.post(URL, {"profiles": []}, format="json").status_code == 400
    bad_source = {"profiles": ["research"], "source": {"kind": "nope"}}
    assert api.post(URL, bad_source, format="json").status_code == 400
    run = TrainingRun.objects.create(profiles=["research"])

    viewer = client_as("viewer")

    launch = viewer.post(URL, {"profiles": ["research"]}, content_type="application/json")
    assert launch.status_code == 403
    assert viewer.get(f"{URL}/{run.pk}/download", {"file": "decisions"}).status_code == 403
    assert viewer.get(f"{URL}/{run.pk}").status_code == 200
    assert "aggressive_exploration" in viewer.get(f"{URL}/profiles").json()
    assert api.get(f"{URL}/{run.pk}/download", {"file": "decisions"}).status_code == 404


@pytest.mark.django_db
def test_the_tab_launches_a_training_run_and_offers_its_files(
    desk_client, eager_celery, django_capture_on_commit_callbacks, settings, tmp_path
) -> None:
    settings.VAR_DIR = tmp_path
    assert 'data-testid="training-link"' in desk_client.get("/backtests/").content.decode()
    form = {
        "profiles": ["production", "per_expiry_limit"],
        "source": "synthetic",
        "underlying": "BTC",
        "days": "10",
        "seed": "3",
        "decision_interval_hours": "6",
        "fmt": "csv",
        "validation_frac": "0.2",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = desk_client.post("/backtests/training/", form)

    assert response.status_code == 302
    page = desk_client.get(response["Location"]).content.decode()
    assert 'data-testid="training-profiles"' in page
    assert 'data-testid="download-corpus_train"' in page
    run = TrainingRun.objects.get()
    download = desk_client.get(f"/backtests/training/{run.pk}/download/decisions/")
    frame = pd.read_csv(io.BytesIO(b"".join(download.streaming_content)))
    assert set(frame["profile"]) == {"production", "per_expiry_limit"}
    listing = desk_client.get("/backtests/training/").content.decode()
    assert 'data-testid="training-runs"' in listing


@pytest.mark.django_db
def test_the_training_run_command_collects_every_profile(tmp_path) -> None:
    out = io.StringIO()

    call_command(
        "training_run",
        "--profiles",
        "research,per_expiry_limit",
        "--days",
        "12",
        "--interval-hours",
        "6",
        "--format",
        "parquet",
        "--out",
        str(tmp_path),
        stdout=out,
    )

    text = out.getvalue()
    assert "per_expiry_limit" in text
    frame = pd.read_parquet(tmp_path / "candidates.parquet")
    assert set(frame["profile"]) <= {"research", "per_expiry_limit"}
    assert (tmp_path / "corpus_train.jsonl").is_file()
    assert TrainingRun.objects.get().status == "succeeded"
    listing = io.StringIO()
    call_command("training_run", "--list-profiles", stdout=listing)
    assert set(PROFILES) <= {line.split(":")[0] for line in listing.getvalue().splitlines()}


@pytest.mark.django_db
def test_a_failing_training_run_is_stored_as_failed_and_bad_options_are_refused(
    monkeypatch, tmp_path
) -> None:
    from backtests import training_services

    with pytest.raises(ValueError, match="format"):
        training_services.training_run_create(
            source=SHORT_SOURCE, config=BacktestConfig(), profiles=["research"], fmt="xls"
        )
    with pytest.raises(ValueError, match="validation_frac"):
        training_services.training_run_create(
            source=SHORT_SOURCE, config=BacktestConfig(), profiles=["research"], validation_frac=1
        )
    run = training_services.training_run_create(
        source=SHORT_SOURCE, config=BacktestConfig(), profiles=["research"], enqueue=False
    )

    def broken(**_: object) -> dict[str, object]:
        raise ValueError("corpus_train.jsonl line 3 fails the corpus schema: not JSON")

    monkeypatch.setattr(training_services, "corpus_build", broken)
    done = training_services.training_run_execute(run_id=run.pk, out_dir=tmp_path)

    assert done is not None
    assert done.status == "failed"
    assert "fails the corpus schema" in done.error
    assert done.files == {}
    again = training_services.training_run_execute(run_id=run.pk, out_dir=tmp_path)
    assert again is not None
    assert again.status == "failed"  # a redelivered task leaves a finished run alone
    with pytest.raises(LookupError):
        training_services.training_file(done, "decisions")


def test_exported_rankings_are_read_back_in_every_format(tmp_path) -> None:
    from backtests import training_services

    frame = pd.DataFrame({"decision_id": [0, 0], "rank": [0, 1], "chosen": [True, False]})
    frame.to_csv(tmp_path / "c.csv", index=False)
    frame.to_parquet(tmp_path / "c.parquet", index=False)
    frame.to_json(tmp_path / "c.jsonl", orient="records", lines=True)

    for name in ("c.csv", "c.parquet", "c.jsonl"):
        read = training_services.read_candidates(tmp_path / name)
        assert list(read["rank"]) == [0, 1]
    with pytest.raises(ValueError, match="expected a"):
        training_services.read_candidates(tmp_path / "c.xlsx")

"""Seed settings are honoured (issue #21): the seeds' variables become the configured defaults
per mode, under the runtime controls; unknown optionsdesk-like variables are a warning."""

from __future__ import annotations

import logging

import pytest
from django.core.management import call_command
from django.urls import reverse

from optionsdesk.config import load_settings, unknown_variables, unknown_variables_warn
from tests.trading.agent_helpers import CLIENT_ID, CLIENT_SECRET
from trading.services.controls import controls_update, effective_params_load

pytestmark = pytest.mark.django_db


def _seed(settings, monkeypatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings.AGENT_SEED_DEFAULTS = load_settings().agent_seed_defaults()


def test_mode_production_dte_min_6_runs_production_with_a_6_day_minimum(
    settings, monkeypatch, sim_server, tmp_path, logged_in_client, capsys
):
    settings.DERIBIT_ENV = "sim"
    settings.DERIBIT_BASE_URL = sim_server.base_url
    settings.DERIBIT_CLIENT_ID, settings.DERIBIT_CLIENT_SECRET = CLIENT_ID, CLIENT_SECRET
    settings.VAR_DIR = tmp_path
    _seed(settings, monkeypatch, MODE="production", DTE_MIN="6")

    call_command("runagent", "--once", "--skip-startup-check")

    out = capsys.readouterr().out
    assert "Mode=production" in out or "production" in out
    status = logged_in_client.get("/api/agent/status").json()
    snapshot = status["config_snapshot"]
    assert snapshot["mode"] == "production"
    assert snapshot["dte_range"] == [6.0, 10.0]
    assert status["last"]["mode"] == "production"
    page = logged_in_client.get(reverse("trading:live")).content.decode()
    assert "&quot;dte_range&quot;" in page or '"dte_range"' in page  # the full status JSON


def test_research_and_production_keep_separate_values_and_controls_stay_on_top(
    settings, monkeypatch
):
    _seed(
        settings,
        monkeypatch,
        RESEARCH_DELTA_MIN="0.15",
        DELTA_MIN="0.22",
        EXPLORE_PROB="0.1",
        PREMIUM_MIN_USD="70",
        LOOP_INTERVAL_SEC="120",
    )
    research = effective_params_load()
    assert research.strategy.delta_min == 0.15
    assert research.strategy.explore_prob == 0.1
    assert research.risk.premium_min_usd == 70
    assert research.loop_interval_s == 120
    controls_update(changes={"mode": "production"}, user="t")
    assert effective_params_load().strategy.delta_min == 0.22
    controls_update(changes={"delta_min": 0.25}, user="t")
    assert effective_params_load().strategy.delta_min == 0.25


def test_the_seed_model_name_and_llm_switch_are_read(monkeypatch):
    monkeypatch.setenv("LLM_MODEL_NAME", "gpt-4.1-mini")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("LLM_ENABLED", "false")
    app = load_settings()
    assert app.llm_model == "gpt-4.1-mini"
    assert app.llm_enabled is False


def test_unknown_optionsdesk_like_variables_are_a_startup_warning(caplog):
    environ = {"OPTIONSDESK_MODE": "x", "RESEARCH_DELTA_MN": "0.1", "DTE_MIN": "5", "HOME": "/"}
    assert unknown_variables(environ) == ["OPTIONSDESK_MODE", "RESEARCH_DELTA_MN"]
    with caplog.at_level(logging.WARNING, logger="optionsdesk.config"):
        unknown_variables_warn(environ)
    assert "RESEARCH_DELTA_MN" in caplog.text

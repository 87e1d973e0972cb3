"""Schemathesis' CLI against a live server: every operation, `--checks all`, zero failures.

The schema is the one the server serves (drf-spectacular); the server is pytest-django's live
server (this process, the test database) with the simulated exchange on loopback, so the agent's
healthcheck and reconciliation answer quickly; runs are recorded but not sent to a worker. A
fixed seed and example count keep the run reproducible: about three minutes on a quiet machine
(the coverage phase, which tries each parameter's edge values, is most of it), six to seven at a
load average of 8-9 on the 2-core build machine.

Every check runs (`--checks all`, nothing excluded): the schema declares what the API answers
(strict text and boolean fields, enums, ranges, patterns, closed bodies; docs/api.md, "What the
schema declares"). `schemathesis.toml` next to this file configures checks per operation, and
only where OpenAPI 3.0 cannot state the rule:

- `positive_data_acceptance` also counts a 400 as an answer for the few operations whose rules
  span several fields (a consistent set of controls, a source's `end` after its `start`,
  `delta_min` not above `delta_max`);
- `max_response_time` allows `POST /api/agent/health` 30 s: it makes five requests to the
  simulator, which shares this process's interpreter lock with the live server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache

from optionsdesk.services import api_token_create
from tests.trading.agent_helpers import CLIENT_ID, CLIENT_SECRET, make_vrp_exchange
from trading.deribit.simulator import ServerThread, create_app

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SEED = 20261205
CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = int(os.environ.get("OPTIONSDESK_SCHEMATHESIS_EXAMPLES", "8"))


@pytest.fixture
def api_server(live_server, settings, django_user_model, monkeypatch, tmp_path):
    """The live server, a token for an admin, the schema as a file; no task reaches a broker."""
    import backtests.services

    cache.clear()
    sim = ServerThread(create_app(make_vrp_exchange()), port=0).start()
    settings.DERIBIT_ENV = "sim"
    settings.DERIBIT_BASE_URL = sim.base_url
    settings.DERIBIT_CLIENT_ID = CLIENT_ID
    settings.DERIBIT_CLIENT_SECRET = CLIENT_SECRET
    settings.VAR_DIR = tmp_path
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"agent_health": "10000/min"},
    }
    settings.RESEARCH_QUEUED_RUNS_PER_USER = 10_000
    monkeypatch.setattr(backtests.services.transaction, "on_commit", lambda func: None)
    admin = django_user_model.objects.create_superuser("fuzz", "", "fuzz-password-1")
    token = api_token_create(user=admin)
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(schema, default=str))
    yield live_server.url, token, schema_file
    sim.stop()


def test_schemathesis_finds_no_failure_and_no_5xx(api_server, tmp_path: Path):
    url, token, schema_file = api_server
    report = tmp_path / "report.json"
    argv = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run",
        str(schema_file), "--url", url,
        "--checks", "all",
        "--seed", str(SEED), "--max-examples", str(MAX_EXAMPLES),
        "--header", f"Authorization: Token {token}", "--workers", "1", "--no-color",
        "--generation-deterministic", "--request-timeout", "30",
        "--report", "json", "--report-json-path", str(report),
    ]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if os.environ.get("OPTIONSDESK_SCHEMATHESIS_LOG"):  # the output and the JSON report
        log = Path(os.environ["OPTIONSDESK_SCHEMATHESIS_LOG"])
        log.write_text(result.stdout + result.stderr)
        if report.exists():
            log.with_suffix(".report.json").write_bytes(report.read_bytes())
    output = result.stdout[-12000:] + result.stderr[-3000:]
    assert result.returncode == 0, output  # `not_a_server_error` is among the checks: no 5xx
    assert "passed" in output, output
    assert "failed" not in output.split("SUMMARY")[-1], output

"""Schemathesis' CLI against a live server: every operation, `--checks all`, zero failures.

The schema is the one the server serves (drf-spectacular); the server is pytest-django's live
server (this process, the test database) with the simulated exchange on loopback, so the agent's
healthcheck and reconciliation answer quickly; runs are recorded but not sent to a worker. A
fixed seed and example count keep the run reproducible: about three minutes on a quiet machine
(the coverage phase, which tries each parameter's edge values, is most of it), six to seven at a
load average of 8-9 on the 2-core build machine.

Operations on one object (`{id}` in the path) get an object that exists: a fuzzed id names
nothing, so they would only ever answer 404 and their 2xx responses and write paths would go
unchecked. The fixture seeds one object of each kind (`fuzz_objects.py`: a real dry-run tick on
the simulator, finished backtest, grid, heatmap and training runs, calibration rows, Greg's
suggestion and positions, a chat, a steward report) and hands schemathesis `schemathesis.toml`
plus one entry per kind fixing its operations' `id` (`parameters = { "path.id" = ... }`); every
other parameter and body is still generated, and the negative cases still try other ids.
Deletes, closes, rolls and Greg's actions get objects of their own. A new `{id}` operation
fails the test until `fuzz_objects.OPERATIONS` gives it an object. Orders go through the order
gate in dry run, to the simulator; the test checks that no order left dry run.

Every check runs (`--checks all`, nothing excluded): the schema declares what the API answers
(strict text and boolean fields, enums, ranges, patterns, closed bodies; docs/api.md, "What the
schema declares"). `schemathesis.toml` next to this file configures checks per operation, and
only where OpenAPI 3.0 cannot state the rule (each entry names its operations with
`include-name`, "METHOD /path": `include-path` and `include-method` in one entry would select
either, not both):

- `positive_data_acceptance` also counts a 400 as an answer for the few operations whose rules
  span several fields or depend on what is stored (a consistent set of controls, a source's
  `end` after its `start`, `delta_min` not above `delta_max`, a heatmap cell within its grid,
  a Greg calibration that changes a threshold);
- `max_response_time` allows `POST /api/agent/health` 30 s: it makes five requests to the
  simulator, which shares this process's interpreter lock with the live server.

With `OPTIONSDESK_SCHEMATHESIS_LOG=path` the test also keeps schemathesis' output, its JSON
report and a HAR file of every request and response next to `path`.
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
from tests.security.fuzz_objects import OPERATIONS, config_with_ids, seed_objects
from tests.trading.agent_helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    make_agent_client,
    make_vrp_exchange,
)
from trading.deribit.simulator import ServerThread, create_app
from trading.models import Order

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SEED = 20261205
CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = int(os.environ.get("OPTIONSDESK_SCHEMATHESIS_EXAMPLES", "8"))


@pytest.fixture
def api_server(live_server, settings, django_user_model, monkeypatch, tmp_path):
    """The live server, a token for an admin, the schema and the config (`schemathesis.toml`
    with the seeded objects' ids) as files; no task reaches a broker."""
    import backtests.services

    cache.clear()
    sim = ServerThread(create_app(make_vrp_exchange()), port=0).start()
    settings.DERIBIT_ENV = "sim"
    settings.DERIBIT_BASE_URL = sim.base_url
    settings.DERIBIT_CLIENT_ID = CLIENT_ID
    settings.DERIBIT_CLIENT_SECRET = CLIENT_SECRET
    settings.VAR_DIR = tmp_path
    settings.DRY_RUN_DEFAULT = True
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"agent_health": "10000/min"},
    }
    settings.RESEARCH_QUEUED_RUNS_PER_USER = 10_000
    monkeypatch.setattr(backtests.services.transaction, "on_commit", lambda func: None)
    admin = django_user_model.objects.create_superuser("fuzz", "", "fuzz-password-1")
    token = api_token_create(user=admin)
    with make_agent_client(sim.base_url) as client:
        ids = seed_objects(user=admin, client=client, out_dir=tmp_path)
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(schema, default=str))
    on_one_object = {
        f"{method.upper()} {path}"
        for path, item in schema["paths"].items()
        if "{" in path
        for method in item
    }
    assert on_one_object == {name for names in OPERATIONS.values() for name in names}
    config = tmp_path / "schemathesis.toml"
    config.write_text(config_with_ids(CONFIG.read_text(), ids, schema))
    yield live_server.url, token, schema_file, config
    sim.stop()


def test_schemathesis_finds_no_failure_and_no_5xx(api_server, tmp_path: Path):
    url, token, schema_file, config = api_server
    report = tmp_path / "report.json"
    argv = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
        str(schema_file), "--url", url,
        "--checks", "all",
        "--seed", str(SEED), "--max-examples", str(MAX_EXAMPLES),
        "--header", f"Authorization: Token {token}", "--workers", "1", "--no-color",
        "--generation-deterministic", "--request-timeout", "30",
        "--report", "json", "--report-json-path", str(report),
    ]  # fmt: skip
    if os.environ.get("OPTIONSDESK_SCHEMATHESIS_LOG"):  # and every request and response, as HAR
        har = Path(os.environ["OPTIONSDESK_SCHEMATHESIS_LOG"]).with_suffix(".har")
        argv[argv.index("json")] = "json,har"
        argv += ["--report-har-path", str(har)]
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
    # Closes, rolls and executions went through the order gate in dry run, to the simulator.
    assert not Order.objects.filter(dry_run=False).exists()

"""Project-wide fixtures: shared reference data, Django users, the browser, a real Celery worker,
the fake OpenAI-compatible server."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings as hypothesis_settings

if TYPE_CHECKING:
    from tests.fake_openai import FakeOpenAI, FakeOpenAIServer
    from tests.workers import CeleryOnSim

REPO_ROOT = Path(__file__).resolve().parent.parent
BROWSER_USER, BROWSER_PASSWORD = "trader", "s3cret-passphrase"

# Playwright's sync API keeps an event loop running in the main thread for the rest of the session
# once a browser test starts, which makes Django refuse ORM calls from any later test
# (microsoft/playwright-pytest#29). Tests only: production code never sets this.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# The agent's market stream starts only where a test asks for it (tests/trading/test_stream_tick.py
# passes one to `tick_run`); Celery workers started by tests inherit this, and `_test_settings`
# below sets the same in this process's settings.
os.environ.setdefault("AGENT_STREAM", "false")

# CI runs property tests on a fixed example sequence so a red build reproduces exactly;
# local runs keep exploring new examples.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
# `make test-fast`: the pure domain tests with fewer property examples (a quick inner loop).
hypothesis_settings.register_profile("fast", max_examples=10, derandomize=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared reference folder (real Deribit data and specs); tests skip when it is absent.

    Looked up from OPTIONSDESK_SHARED_DIR, then beside the checkout (`../shared`), then at the
    build machine's fixed location (a CI clone may live elsewhere, e.g. under /tmp).
    """
    candidates = [
        os.environ.get("OPTIONSDESK_SHARED_DIR", ""),
        str(REPO_ROOT.parent / "shared"),
        "/work/shared",
    ]
    for candidate in filter(None, candidates):
        path = Path(candidate).resolve()
        if (path / "data" / "deribit").is_dir():
            return path
    pytest.skip(
        f"shared reference data not found (looked in {candidates}; set OPTIONSDESK_SHARED_DIR)"
    )


@pytest.fixture(autouse=True)
def _test_settings(request: pytest.FixtureRequest) -> None:
    """Settings every test starts from.

    - PBKDF2's deliberate slowness only slows tests down; MD5 is fine for throwaway users.
    - No market stream unless a test asks for one (`settings.AGENT_STREAM = True`): pytest-django
      loads the settings before this file sets `AGENT_STREAM` in the environment, so the
      environment variable reaches only the processes tests start (Celery workers, the demo).

    Skipped when pytest-django is not loaded: `make test-fast` runs the pure domain tests
    without Django (which also proves they need none)."""
    if not request.config.pluginmanager.has_plugin("django"):
        return
    settings = request.getfixturevalue("settings")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.AGENT_STREAM = False


@pytest.fixture
def admin_user(django_user_model):
    """A superuser with a known password."""
    return django_user_model.objects.create_superuser("admin", "", "correct-horse-battery")


@pytest.fixture
def logged_in_client(client, admin_user):
    """A Django test client logged in as the superuser."""
    client.force_login(admin_user)
    return client


@pytest.fixture
def client_as(django_user_model) -> Callable[[str], Any]:
    """`client_as("operator")`: a new test client logged in as a fresh user holding that role.

    Roles are `optionsdesk.roles` groups: viewer, researcher, operator, admin; "none" is a user
    in no group (a viewer by default).
    """
    from django.contrib.auth.models import Group
    from django.test import Client

    def make(role: str, username: str | None = None) -> Client:
        user = django_user_model.objects.create_user(username or f"user-{role}", "", "pw-12345")
        if role != "none":
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        client = Client()
        client.force_login(user)
        client.user = user  # type: ignore[attr-defined]
        return client

    return make


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, object]:
    """Launch Debian's chromium (never a downloaded browser); skip when it is not installed."""
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).exists():
        if os.environ.get("OPTIONSDESK_REQUIRE_BROWSER"):
            pytest.fail("chromium is required here (OPTIONSDESK_REQUIRE_BROWSER) but missing")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return {
        "executable_path": executable,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture(scope="module")
def llm_server() -> Iterator[FakeOpenAIServer]:
    """A fake OpenAI-compatible server on loopback, one per test module."""
    from tests.fake_openai import FakeOpenAIServer

    server = FakeOpenAIServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake(llm_server: FakeOpenAIServer) -> FakeOpenAI:
    """The fake server's script and request log, emptied for this test."""
    llm_server.fake.script.clear()
    llm_server.fake.received.clear()
    return llm_server.fake


@pytest.fixture
def tasks_inline() -> Iterator[None]:
    """Run Celery tasks inside the caller's thread, e.g. the live server's (a page under test
    needs no worker)."""
    from optionsdesk.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def browser_login(live_server: Any, page: Any, django_user_model: Any) -> Callable[..., Any]:
    """A function that logs the Playwright `page` in to the live server as a superuser and
    lands on `path` (after the dashboard's tabs appear); it returns the page."""
    django_user_model.objects.create_superuser(BROWSER_USER, "", BROWSER_PASSWORD)

    def login(path: str = "/") -> Any:
        page.goto(f"{live_server.url}/login/?next={path}")
        page.fill("input[name=username]", BROWSER_USER)
        page.fill("input[name=password]", BROWSER_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("nav.tabs")
        return page

    return login


# ------------------------------------------------------------------ the live agent's simulator
# Builders in tests/trading/agent_helpers.py; imported inside the fixtures because Django is
# not set up yet when this module loads.


@pytest.fixture
def sim_server() -> Iterator[Any]:
    """A fresh VRP simulator behind uvicorn on 127.0.0.1 (ephemeral port)."""
    from django.core.cache import cache

    from tests.trading.agent_helpers import make_vrp_exchange
    from trading.deribit.simulator import ServerThread, create_app

    cache.clear()
    server = ServerThread(create_app(make_vrp_exchange()), port=0).start()
    yield server
    server.stop()


@pytest.fixture
def sim_exchange(sim_server: Any) -> Any:
    """The simulator behind `sim_server` (to advance its clock or inject faults)."""
    return sim_server.app.exchange


@pytest.fixture
def sim_client(sim_server: Any) -> Iterator[Any]:
    """A client talking to `sim_server` over a real socket."""
    from tests.trading.agent_helpers import make_agent_client

    with make_agent_client(sim_server.base_url) as client:
        yield client


@pytest.fixture
def agent_settings(settings: Any, tmp_path: Path) -> Any:
    """Sim environment, dry run on, decision files under a temporary VAR_DIR."""
    settings.DERIBIT_ENV = "sim"
    settings.DRY_RUN_DEFAULT = True
    settings.VAR_DIR = tmp_path
    return settings


@pytest.fixture
def decisions(agent_settings: Any, sim_client: Any) -> list[Any]:
    """Two real dry-run ticks: the first sells a covered call (on paper), the second sees it."""
    from trading.models import Decision
    from trading.services import tick_run

    tick_run(trigger="test", client=sim_client, seed=1)
    tick_run(trigger="test", client=sim_client, seed=2)
    return list(Decision.objects.order_by("id"))


@pytest.fixture
def decision_rows(db: None) -> list[Any]:
    """Two decisions as a tick stores them, from factory rows (tests/factories.py, no tick): an
    approved OPEN with its simulated sell order and paper position, then a DO_NOTHING. For
    tests that only read rows; `decisions` runs the real ticks."""
    from tests.factories import DecisionFactory, OrderFactory, PositionFactory
    from trading.models import Decision

    OrderFactory()
    PositionFactory()
    DecisionFactory()
    return list(Decision.objects.order_by("id"))


# ------------------------------------------------------------------ real Celery processes
# Builders in tests/workers.py (imported inside the fixtures: Django is not set up yet here).


@pytest.fixture
def worker_queue(tmp_path: Path) -> Iterator[str]:
    """Start `celery worker` as a real subprocess on a private queue; stop it afterwards."""
    import uuid

    from tests.workers import database_url_for_subprocess, worker_start, worker_stop

    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": database_url_for_subprocess(), "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "worker.log"
    proc = worker_start(queue, queue, env, log)
    try:
        yield queue
    finally:
        worker_stop(proc)
        if os.environ.get("OPTIONSDESK_SHOW_WORKER_LOG"):
            sys.stderr.write(log.read_text(errors="replace"))


@pytest.fixture
def celery_on_sim(tmp_path: Path) -> Iterator[Callable[..., CeleryOnSim]]:
    """`celery_on_sim(queue, **env)`: serve a fresh simulator (seed 42 at the agent's start, no
    rate limits) on loopback, then start a worker on `queue` and django-celery-beat's database
    scheduler as subprocesses against pytest's database, the sim environment and dry run on,
    `env` on top. Create the beat entries (on `queue`) first. Everything stops at teardown."""
    from tests.trading.agent_helpers import SIM_START
    from tests.workers import CeleryOnSim, beat_start, worker_env, worker_start, worker_stop
    from trading.deribit.simulator import ServerThread, SimConfig, SimulatedExchange, create_app

    started: list[CeleryOnSim] = []
    procs: list[Any] = []

    def start(queue: str, **env: str) -> CeleryOnSim:
        exchange = SimulatedExchange(SimConfig(seed=42, start=SIM_START, rate_limits=None))
        server = ServerThread(create_app(exchange), port=0).start()
        run = CeleryOnSim(server, queue, [tmp_path / "worker.log", tmp_path / "beat.log"])
        started.append(run)
        sim_env = worker_env(DERIBIT_ENV="sim", DERIBIT_SIM_URL=server.base_url, **env)
        procs.append(worker_start(queue, queue, sim_env, run.logs[0]))
        procs.append(beat_start(sim_env, run.logs[1], tmp_path / "beat-schedule"))
        return run

    try:
        yield start
    finally:
        for proc in reversed(procs):
            worker_stop(proc)
        for run in started:
            run.server.stop()
            if os.environ.get("OPTIONSDESK_SHOW_WORKER_LOG"):
                sys.stderr.write(run.output())

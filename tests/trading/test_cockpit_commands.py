"""`runagent` is quiet: one line per tick, library request logs at WARNING unless -v 2."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command

from tests.trading.agent_helpers import CLIENT_ID, CLIENT_SECRET
from trading.management.commands.runagent import CHATTY_LOGGERS

pytestmark = pytest.mark.django_db


@pytest.fixture
def sim_settings(agent_settings: Any, sim_server: Any) -> Any:
    agent_settings.DERIBIT_BASE_URL = sim_server.base_url
    agent_settings.DERIBIT_CLIENT_ID = CLIENT_ID
    agent_settings.DERIBIT_CLIENT_SECRET = CLIENT_SECRET
    return agent_settings


@pytest.fixture
def restore_levels() -> Iterator[None]:
    levels = {name: logging.getLogger(name).level for name in CHATTY_LOGGERS}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_runagent_prints_one_line_per_tick_and_quiets_request_logs(
    sim_settings: Any, restore_levels: None, capsys: Any
) -> None:
    call_command("runagent", "--max-ticks", "2", "--interval", "0", "--skip-startup-check")
    lines = capsys.readouterr().out.strip().splitlines()
    # one start-up line says whether the market stream runs, then one line per tick
    assert len(lines) == 3
    assert lines[0].startswith("stream: ")
    assert all(" UTC] ok " in line for line in lines[1:])
    assert all(logging.getLogger(n).getEffectiveLevel() >= logging.WARNING for n in CHATTY_LOGGERS)


def test_runagent_with_v2_keeps_the_request_logs(
    sim_settings: Any, restore_levels: None, capsys: Any
) -> None:
    logging.getLogger("httpx").setLevel(logging.INFO)
    call_command("runagent", "--once", "--skip-startup-check", verbosity=2)
    assert logging.getLogger("httpx").level == logging.INFO

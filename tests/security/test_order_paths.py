"""Every path that can send an order is known, and the kill switch stops each one end to end.

The paths are found by scanning the source for calls into the order gate; each known path is
then driven through its real entry point (tick, API, beat task) against the simulated exchange
with the kill switch on, and the exchange must receive nothing. A new path (a manual close, a
Greg execution) fails `test_every_order_path_is_known` until it gets its case here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from tests.trading.agent_helpers import short_size
from trading.models import Order
from trading.services import controls_update, tick_run

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]
APPS = ("trading", "backtests", "calibration", "greg", "steward", "reviewbot", "optionsdesk")
GATE_CALL = re.compile(r"\border_gate_(run|check|submit|persist|send)\(")
#: Every module that asks the gate for orders, and the tests below that drive it.
KNOWN_PATHS = {
    "trading/services/tick.py": "tick: driven below",
    "trading/services/reconcile.py": "reconcile close (API, beat task): driven below",
    # Their owners drive these with the kill switch on (checked below that the tests exist):
    "trading/services/position_actions.py": "tests/trading/test_cockpit_actions.py",
    "greg/services/execution.py": "tests/greg/test_execution_sim.py",
}


def test_every_order_path_is_known():
    callers = set()
    for app in APPS:
        for path in (REPO / app).rglob("*.py"):
            rel = path.relative_to(REPO).as_posix()
            if rel == "trading/services/order_gate.py" or "/migrations/" in rel:
                continue
            text = path.read_text()
            if any(
                GATE_CALL.search(line) and not line.lstrip().startswith(("#", "def "))
                for line in text.splitlines()
            ):
                callers.add(rel)
    assert callers == set(KNOWN_PATHS), (
        "a new order path: add its kill-switch case to tests/security/test_order_paths.py",
        sorted(callers ^ set(KNOWN_PATHS)),
    )


def test_paths_driven_elsewhere_have_a_kill_switch_test():
    for where in KNOWN_PATHS.values():
        if where.startswith("tests/"):
            assert "kill_switch" in (REPO / where).read_text(), where


def test_no_module_sends_outside_the_gate():
    send = re.compile(r"\.(place_order|buy|sell)\(|\border_execute\(")
    allowed = {"trading/services/order_gate.py", "trading/services/execution.py"}
    offenders = [
        f"{rel}:{n}"
        for app in APPS
        for path in (REPO / app).rglob("*.py")
        if (rel := path.relative_to(REPO).as_posix()) not in allowed
        and not rel.startswith("trading/deribit/")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if send.search(line) and not line.lstrip().startswith(("#", '"', "def "))
    ]
    assert not offenders


def _tick(sim_client, **_: object) -> None:
    tick_run(trigger="test", client=sim_client, seed=1)


def _reconcile_api(client_as, **_: object) -> None:
    response = client_as("operator").post(
        "/api/agent/reconcile", {"action": "close"}, content_type="application/json"
    )
    assert response.status_code == 201, response.content


def _reconcile_task(**_: object) -> None:
    from trading.tasks import reconcile_positions

    reconcile_positions.apply(kwargs={"action": "close", "trigger": "test"}).get()


PATHS: dict[str, Callable[..., None]] = {
    "tick": _tick,
    "reconcile close via the API": _reconcile_api,
    "reconcile close via the beat task": _reconcile_task,
}


@pytest.mark.parametrize("kill_switch", [True, False], ids=["kill-on", "kill-off"])
@pytest.mark.parametrize("path", list(PATHS))
def test_the_kill_switch_stops_every_path(
    path, kill_switch, agent_settings, sim_server, sim_exchange, sim_client, client_as, request
):
    # Live orders (dry run off) in the simulator; reconciliation gets exposure to close
    # (`drift`), the tick a market where it opens a covered call. With the kill switch off each
    # path does send, so the kill-on case can fail.
    drift = None if path == "tick" else request.getfixturevalue("drift")
    controls_update(changes={"dry_run": False, "kill_switch": kill_switch}, user="test")
    before = len(sim_exchange.orders)
    PATHS[path](sim_client=sim_client, client_as=client_as)
    sent = len(sim_exchange.orders) - before
    if kill_switch:
        assert sent == 0, f"{path} sent {sent} order(s) with the kill switch on"
        if drift is not None:
            assert short_size(sim_client, drift) == Decimal("-0.2")
        assert not Order.objects.filter(state__in=("sending", "filled", "open")).exists()
    else:
        assert sent >= 1, f"{path} sent nothing with the kill switch off: not a live path"

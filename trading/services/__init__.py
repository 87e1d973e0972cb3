"""Writes and orchestration of the live agent (`<entity>_<verb>`, keyword-only arguments).

Modules: `controls` (audited runtime controls, effective parameters), `state` (state builder),
`execution` (orders at most once, resolve by label, fills to positions), `tick` (one tick,
lock, back-off), `reconcile` (positions vs exchange), `export` (daily decision JSONL),
`health` (agent healthcheck and guard).
"""

from trading.services.controls import controls_update, effective_params_load
from trading.services.execution import order_execute, order_resolve, orders_create
from trading.services.export import decisions_export
from trading.services.health import agent_healthcheck, agent_startup, guard_operator_reset
from trading.services.reconcile import reconcile_run
from trading.services.tick import TickOutcome, tick_run

__all__ = [
    "TickOutcome",
    "agent_healthcheck",
    "agent_startup",
    "controls_update",
    "decisions_export",
    "effective_params_load",
    "guard_operator_reset",
    "order_execute",
    "order_resolve",
    "orders_create",
    "reconcile_run",
    "tick_run",
]

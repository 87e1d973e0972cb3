"""Setting up Greg's execution tests: an advised suggestion with every gate open."""

from __future__ import annotations

from typing import Any

from greg.models import GregDecision
from greg.services import greg_settings_update
from trading.services import controls_update


def advised_open(strategy: str, quote: dict[str, Any], *, dry_run: bool) -> GregDecision:
    """An advised BTC OPEN of `quote` with Greg live, its master switch on, `strategy` enabled,
    the kill switch off and the desk's dry run as asked."""
    assert quote["ok"], quote
    greg_settings_update(
        changes={"mode": "live", "master_switch": True, "enabled_strategies": [strategy]},
        user="op",
        source="test",
    )
    controls_update(changes={"dry_run": dry_run, "kill_switch": False}, user="op")
    return GregDecision.objects.create(
        kind="suggestion", action="OPEN", outcome="advised", underlying="BTC",
        strategy=strategy, structures={strategy: quote}, index_price=quote["forward_usd"],
    )  # fmt: skip

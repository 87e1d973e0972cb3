"""The batch selector: validate sensor vectors and run the waterfall on each.

Input items are objects whose keys are exactly the eleven sensor names and whose values are
finite numbers; anything else is a ``SelectorInputError`` naming the item and the key.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from greg.domain.spec import SENSOR_NAMES, EntryThresholds
from greg.domain.waterfall import entry_decide


class SelectorInputError(ValueError):
    """A selector input is malformed; the message names the item and key."""


def _item_values(item: object, where: str) -> dict[str, float | None]:
    if not isinstance(item, dict):
        raise SelectorInputError(f"{where}: expected an object of the eleven sensors")
    unknown = sorted(set(item) - set(SENSOR_NAMES))
    if unknown:
        raise SelectorInputError(f"{where}: unknown key {unknown[0]!r}")
    missing = [name for name in SENSOR_NAMES if name not in item]
    if missing:
        raise SelectorInputError(f"{where}: missing key {missing[0]!r}")
    values: dict[str, float | None] = {}
    for name in SENSOR_NAMES:
        value = item[name]
        number_like = isinstance(value, int | float) and not isinstance(value, bool)
        if not number_like or not math.isfinite(value):
            raise SelectorInputError(f"{where}: {name!r} must be a finite number, got {value!r}")
        values[name] = float(value)
    return values


def selector_validate(payload: Any) -> list[dict[str, float | None]]:
    """Validate one object or a list of objects; the sensor vectors, in order."""
    items: Sequence[object] = payload if isinstance(payload, list) else [payload]
    if isinstance(payload, list) and not payload:
        raise SelectorInputError("expected at least one item")
    return [_item_values(item, f"item {index}") for index, item in enumerate(items)]


def selector_run(
    vectors: list[dict[str, float | None]], *, thresholds: EntryThresholds | None = None
) -> list[dict[str, object]]:
    """``{"strategy", "step", "reasoning"}`` per vector, in the same order."""
    return [entry_decide(v, thresholds=thresholds).selector_item() for v in vectors]

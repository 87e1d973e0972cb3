"""The simulated exchange's clock: real time, accelerated real time, or stepped by hand."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime


def datetime_to_ms(moment: datetime) -> int:
    """An aware datetime as ms since the epoch."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC datetime")
    return round(moment.timestamp() * 1000)


class SimClock:
    """Simulated time in ms since the epoch.

    With `speed > 0` simulated time runs `speed` times faster than the wall clock from `start`
    (speed 1 is real time, 60 turns a minute into an hour); with `speed == 0` it only moves when
    `advance` or `set` is called, which is what deterministic tests use.
    """

    def __init__(
        self,
        start: datetime | None = None,
        *,
        speed: float = 0.0,
        wall_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.speed = speed
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._anchor_ms = datetime_to_ms(start or datetime.now(tz=UTC))
        self._anchor_wall_s = wall_clock()

    def now_ms(self) -> int:
        """Current simulated time."""
        with self._lock:
            if self.speed == 0:
                return self._anchor_ms
            elapsed_s = self._wall_clock() - self._anchor_wall_s
            return self._anchor_ms + int(elapsed_s * self.speed * 1000)

    def now(self) -> datetime:
        """Current simulated time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now_ms() / 1000, tz=UTC)

    def advance(self, seconds: float) -> int:
        """Move simulated time forward by `seconds`; returns the new time in ms."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        return self.set_ms(self.now_ms() + round(seconds * 1000))

    def set_ms(self, timestamp_ms: int) -> int:
        """Jump to `timestamp_ms` (never backwards); accelerated clocks continue from there."""
        with self._lock:
            current = (
                self._anchor_ms
                if self.speed == 0
                else self._anchor_ms
                + int((self._wall_clock() - self._anchor_wall_s) * self.speed * 1000)
            )
            if timestamp_ms < current:
                raise ValueError("time only moves forward")
            self._anchor_ms = timestamp_ms
            self._anchor_wall_s = self._wall_clock()
            return timestamp_ms

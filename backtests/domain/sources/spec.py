"""`SourceSpec`: a serialisable description of which market data a run uses.

Stored with every run so it can be re-run (and so a worker can rebuild, or reuse from its
cache, exactly the same panel); the Django side turns it into a `MarketDataSource`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

SourceKind = Literal["synthetic", "snapshots", "deribit_history", "synthetic_v2"]


class SourceSpec(BaseModel):
    """Which data, which period: synthetic (seeded), harvested snapshots, or Deribit history."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: SourceKind = "synthetic"
    underlying: Literal["BTC", "ETH"] = "BTC"
    start: datetime | None = None
    end: datetime | None = None
    days: float = Field(default=365.0, gt=0, le=3 * 365, description="length when end is None")
    seed: int = Field(default=42, ge=0)
    max_dte_days: float = Field(default=35.0, gt=0, le=400)

    @model_validator(mode="after")
    def _utc_and_ordered(self) -> Self:
        for value in (self.start, self.end):
            if value is not None and value.tzinfo is None:
                raise ValueError("start/end must be timezone-aware (UTC)")
        if self.start and self.end and self.end <= self.start:
            raise ValueError("end must be after start")
        if self.kind == "deribit_history" and self.start is None:
            raise ValueError("the deribit_history source needs a start")
        return self

    def period(self) -> tuple[datetime | None, datetime | None]:
        """(start, end) with `end` defaulting to start + days when a start is given."""
        if self.start is not None and self.end is None:
            return self.start, self.start + timedelta(days=self.days)
        return self.start, self.end

    def cache_key(self) -> str:
        """A stable key identifying the panel this spec produces."""
        return self.model_dump_json()

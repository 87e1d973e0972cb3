"""Per-user quota on queued research work (issue 11): at most `RESEARCH_QUEUED_RUNS_PER_USER`
backtests, grids, studies and training runs of one user queued or running at once.

The create services call `research_quota_check`; the API answers its error with a 429 and the
tab's forms show it as a form error (it is a `ValueError`, as the services' other refusals).
Commands pass no user and are not limited: they are the local operator's tools.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from backtests import selectors


class ResearchQuotaExceededError(ValueError):
    """The user already has the most research runs queued or running that one may have."""


def research_quota_check(*, user: Any) -> None:
    """Raise `ResearchQuotaExceededError` when `user` is at the per-user limit."""
    limit = settings.RESEARCH_QUEUED_RUNS_PER_USER
    if selectors.research_active_count(user=user) >= limit:
        raise ResearchQuotaExceededError(
            f"At most {limit} queued or running research runs per user (backtests, grids, "
            "studies and training runs; RESEARCH_QUEUED_RUNS_PER_USER); wait for some to "
            "finish or stop them."
        )

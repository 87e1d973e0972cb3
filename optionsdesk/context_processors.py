"""Template context shared by every dashboard page: the tab bar and the safety badges."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

# (label, url name) in the order the tab bar shows them.
TABS: list[tuple[str, str]] = [
    ("Live Agent", "trading:live"),
    ("Backtesting", "backtests:index"),
    ("Calibration", "calibration:index"),
    ("System Health", "system:health"),
    ("Chat", "trading:chat"),
    ("Bots", "greg:bots"),
    ("Greg Lab", "greg:lab"),
    ("AI Steward", "steward:index"),
]


def dashboard(request: HttpRequest) -> dict[str, Any]:
    """Tabs with the active one marked, plus environment badges for the header."""
    match = getattr(request, "resolver_match", None)
    current = f"{match.namespace}:{match.url_name}" if match and match.namespace else ""
    return {
        "tabs": [
            {"label": label, "url_name": name, "active": name == current} for label, name in TABS
        ],
        "deribit_env": settings.DERIBIT_ENV,
    }

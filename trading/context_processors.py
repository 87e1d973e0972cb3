"""Template context of every dashboard page: the effective order mode for the header badges."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from optionsdesk.roles import user_role


def agent_mode(request: HttpRequest) -> dict[str, Any]:
    """`agent_mode` (what the next tick does with orders) and the user's role, for logged-in users.

    Read fresh on every page: the header must never show a default while the controls say
    otherwise (the badge once said "dry run" while real orders went out).
    """
    user = getattr(request, "user", None)
    role = user_role(user)
    if role is None:
        return {"agent_mode": None, "user_role": None}
    from trading.selectors import agent_mode_effective

    return {"agent_mode": agent_mode_effective(), "user_role": role.label}

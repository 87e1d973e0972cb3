"""Template context of every dashboard page: the effective order mode for the header badges."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from optionsdesk.roles import Role, user_role


def agent_mode(request: HttpRequest) -> dict[str, Any]:
    """`agent_mode` (what the next tick does with orders), the user's role and `user_can`.

    Read fresh on every page: the header must never show a default while the controls say
    otherwise (the badge once said "dry run" while real orders went out).
    """
    user = getattr(request, "user", None)
    role = user_role(user)
    if role is None:
        return {"agent_mode": None, "user_role": None, "user_can": {}}
    from trading.selectors import agent_mode_effective

    return {
        "agent_mode": agent_mode_effective(),
        "user_role": role.label,
        # What the user's role allows, so pages hide the buttons it cannot use (docs/roles.md).
        "user_can": {
            "research": role >= Role.RESEARCHER,
            "operate": role >= Role.OPERATOR,
            "admin": role >= Role.ADMIN,
        },
    }

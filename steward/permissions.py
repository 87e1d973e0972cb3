"""Who may refresh reports: operators (`optionsdesk.roles`); anyone logged in reads."""

from __future__ import annotations

from typing import Any

from optionsdesk.roles import IsOperator, Role, role_required, user_has_role


def user_is_operator(user: Any) -> bool:
    """True when `user` may queue a report (operator or admin)."""
    return user_has_role(user, Role.OPERATOR)


operator_required = role_required(Role.OPERATOR)

__all__ = ["IsOperator", "operator_required", "user_is_operator"]

"""Who may refresh reports: operators.

TEMPORARY until `optionsdesk.roles` lands on main: staff and superusers count as operators.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import user_passes_test
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


def user_is_operator(user: Any) -> bool:
    """True when `user` may queue a report (operator or admin)."""
    return bool(getattr(user, "is_authenticated", False) and (user.is_staff or user.is_superuser))


operator_required = user_passes_test(user_is_operator)


class IsOperator(BasePermission):
    """DRF: operators only."""

    message = "This needs the operator role."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return user_is_operator(request.user)


def grant_operator(user: Any) -> None:
    """Give `user` the operator role (tests and setup)."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])

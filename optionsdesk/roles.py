"""Who may do what: four cumulative roles on Django groups (viewer < researcher < operator < admin).

- viewer: reads every page and every GET endpoint (a logged-in user with no group is a viewer);
- researcher: also launches and deletes their own backtests and research runs, exports data;
- operator: also changes the controls, the kill switch, reconciliation and order actions
  (close, roll, execute a suggestion); going live (dry run off) needs this role and a confirmation;
- admin: a superuser or a member of the `admin` group; everything, including other users' runs.

Membership is a Django group of the role's name (created by `optionsdesk/migrations/0002_roles.py`;
`manage.py grant_role USER ROLE`). `manage.py` commands are local-operator tools and are not
checked. Every write endpoint names the role it needs in its docstring and `docs/api.md`.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


class Role(IntEnum):
    """A role and its level: a higher role may do everything a lower one may."""

    VIEWER = 1
    RESEARCHER = 2
    OPERATOR = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        """The role's name as users see it (also its Django group's name)."""
        return self.name.lower()


#: Group names, lowest role first.
ROLE_GROUPS: tuple[str, ...] = tuple(role.label for role in Role)


def user_role(user: Any) -> Role | None:
    """The highest role `user` holds; None for anonymous or inactive users."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if not getattr(user, "is_active", True):
        return None
    if getattr(user, "is_superuser", False):
        return Role.ADMIN
    cached = getattr(user, "_optionsdesk_role", None)
    if cached is not None:
        return Role(cached)
    names = set(user.groups.filter(name__in=ROLE_GROUPS).values_list("name", flat=True))
    role = max((r for r in Role if r.label in names), default=Role.VIEWER)
    user._optionsdesk_role = int(role)
    return role


def user_has_role(user: Any, role: Role) -> bool:
    """True when `user` holds `role` or a higher one."""
    held = user_role(user)
    return held is not None and held >= role


class _RolePermission(BasePermission):
    """DRF permission: authenticated, and at least `required` (for every method)."""

    required: Role = Role.VIEWER
    message = "This needs the {role} role."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not user_has_role(request.user, self.required):
            if user_role(request.user) is not None:
                self.message = f"This needs the {self.required.label} role."
            return False
        return True


class IsViewer(_RolePermission):
    """Any logged-in, active user."""

    required = Role.VIEWER


class IsResearcher(_RolePermission):
    """Researchers, operators and admins."""

    required = Role.RESEARCHER


class IsOperator(_RolePermission):
    """Operators and admins."""

    required = Role.OPERATOR


class IsAdmin(_RolePermission):
    """Admins (superusers or the `admin` group)."""

    required = Role.ADMIN


def role_for_writes(role: Role) -> type[BasePermission]:
    """A permission class: viewers read (safe methods), `role` or higher writes."""

    class _ReadOrRole(BasePermission):
        message = f"This needs the {role.label} role."

        def has_permission(self, request: Request, view: APIView) -> bool:
            needed = Role.VIEWER if request.method in SAFE_METHODS else role
            return user_has_role(request.user, needed)

    _ReadOrRole.__name__ = f"ReadOr{role.name.title()}"
    _ReadOrRole.__doc__ = f"Viewers read; {role.label} or higher writes."
    return _ReadOrRole


View = TypeVar("View", bound=Callable[..., HttpResponse])


def role_required(role: Role) -> Callable[[View], View]:
    """Dashboard view decorator: log in first, then 403 unless the user holds `role`."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not user_has_role(request.user, role):
                raise PermissionDenied(f"This needs the {role.label} role.")
            return view(request, *args, **kwargs)

        return login_required(wrapped)  # type: ignore[return-value]

    return decorator

"""API permissions on top of `optionsdesk.roles`: the default for every view and run ownership.

The default (`REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"]`; imported while DRF's views load, so
`optionsdesk.roles` is imported late) lets any logged-in user read and
keeps writes for admins, so a new write endpoint that forgets to name its role is closed rather
than open; each write endpoint names its role with `permission_classes` (docs/roles.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.permissions import SAFE_METHODS, BasePermission

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class ViewerReadsAdminWrites(BasePermission):
    """The API default: viewers read (safe methods); only admins write."""

    message = "This needs the admin role."

    def has_permission(self, request: Request, view: APIView) -> bool:
        from optionsdesk.roles import Role, user_has_role  # roles imports DRF's views

        needed = Role.VIEWER if request.method in SAFE_METHODS else Role.ADMIN
        return user_has_role(request.user, needed)


class OwnerOrAdminWrites(BasePermission):
    """Object level: anyone who may read sees an object; only its creator or an admin changes it.

    The object's creator is its `created_by` (None for rows made by commands: admins only).
    """

    message = "Only its owner or an admin may change this."

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        from optionsdesk.roles import Role, user_has_role

        if request.method in SAFE_METHODS:
            return True
        if user_has_role(request.user, Role.ADMIN):
            return True
        owner_id = getattr(obj, "created_by_id", None)
        return owner_id is not None and owner_id == getattr(request.user, "pk", None)

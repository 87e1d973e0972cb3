"""Launching research from the lab's pages: the rule every launch form (studies, market
environment, training) follows."""

from __future__ import annotations

from typing import Any, Protocol

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from optionsdesk.roles import Role, user_has_role


class LaunchForm(Protocol):
    """A page's form that queues research work once valid."""

    def is_valid(self) -> bool: ...

    def add_error(self, field: str | None, error: Any) -> None: ...

    def launch(self, *, user: Any) -> Any: ...


def page_launch(request: HttpRequest, form: LaunchForm, *, denied: str) -> Any | None:
    """What a posted launch form queued (a study or a training run), or None: nothing posted,
    the form invalid, or the service refused (its `ValueError`, a full research quota among
    them, then shows on the form). Posting needs the researcher role (else 403 with `denied`)."""
    if request.method != "POST":
        return None
    if not user_has_role(request.user, Role.RESEARCHER):
        raise PermissionDenied(denied)
    if not form.is_valid():
        return None
    try:
        return form.launch(user=request.user)
    except ValueError as exc:
        form.add_error(None, str(exc))
        return None

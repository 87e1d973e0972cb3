"""One error format for the whole API: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def _message(exc: Exception, details: Any) -> str:
    if isinstance(exc, ValidationError):
        return "Invalid input."
    if isinstance(details, dict) and "detail" in details:
        return str(details["detail"])
    return str(exc)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Wrap DRF's handled errors in the project's envelope; unhandled ones stay 500s.

    Django's `Http404` and `PermissionDenied` (raised by `get_object_or_404` and friends) are
    turned into DRF's first, so they carry the codes `not_found` and `permission_denied`.
    """
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*(exc.args or ()))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*(exc.args or ()))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = exc.get_codes() if isinstance(exc, APIException) else "error"
    if not isinstance(code, str):
        code = "invalid" if isinstance(exc, ValidationError) else "error"
    details = response.data
    response.data = {
        "error": {
            "code": code,
            "message": _message(exc, details),
            "details": details if isinstance(exc, ValidationError) else {},
            "status": response.status_code,
        }
    }
    return response

"""One error format for the whole API: {"error": {"code", "message", "details", "status"}}.

DRF's errors go through `exception_handler`; errors Django answers itself under /api/ (unknown
URL, too-large body, a crash) through `handler404`/`handler400`/`handler403`/`handler500` and
`BadInputMiddleware`, so an API client never sees an HTML page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.views import defaults
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


# ------------------------------------------------------------ outside DRF: the same envelope


def is_api_request(request: HttpRequest) -> bool:
    """Whether the request is for the API (`/api/...`), which answers only in the envelope."""
    return request.path.startswith("/api/")


def error_response(status: int, code: str, message: str) -> JsonResponse:
    """The envelope as a plain Django response (for errors raised before or outside DRF)."""
    body = {"error": {"code": code, "message": message, "details": {}, "status": status}}
    return JsonResponse(body, status=status)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """`handler404`: the envelope under /api/, Django's page elsewhere."""
    if is_api_request(request):
        return error_response(404, "not_found", "Not found.")
    return defaults.page_not_found(request, exception or Http404())


def server_error(request: HttpRequest) -> HttpResponse:
    """`handler500`: the envelope under /api/ (no detail leaks), Django's page elsewhere."""
    if is_api_request(request):
        return error_response(500, "server_error", "Server error.")
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """`handler400` (also for a too-large body): 413 or 400, in the envelope under /api/."""
    if isinstance(exception, RequestDataTooBig):
        return error_response(413, "request_too_large", "Request body too large.")
    if is_api_request(request):
        return error_response(400, "bad_request", "Bad request.")
    return defaults.bad_request(request, exception or Exception())


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """`handler403`: the envelope under /api/, Django's page elsewhere."""
    if is_api_request(request):
        return error_response(403, "permission_denied", str(exception or "") or "Forbidden.")
    return defaults.permission_denied(request, exception or DjangoPermissionDenied())


class BadInputMiddleware:
    """Bad input never becomes a 500.

    - an /api/ body larger than `DATA_UPLOAD_MAX_MEMORY_SIZE` is a 413 envelope before any view
      reads it (DRF's parsers stream the body and would not check its size);
    - an id or number too large for the database (`OverflowError`: SQLite's 64-bit integers) is a
      404: no row can have it;
    - input too deeply nested to handle (`RecursionError`) is a 400;
    - an /api/ query string with a NUL character is a 400, as DRF and Django forms already
      answer for text in bodies and filters (the schema declares it on every free text:
      `optionsdesk.api.schema.NO_NUL_PATTERN`), so no view reads one.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and is_api_request(request):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                return error_response(
                    413, "request_too_large", f"Request body too large (limit {limit} bytes)."
                )
        if is_api_request(request) and any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            return error_response(400, "invalid", "Null characters are not allowed.")
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Answer the two bad-input exceptions; leave everything else to Django."""
        if isinstance(exception, OverflowError):
            if is_api_request(request):
                return error_response(404, "not_found", "Not found (number out of range).")
            return defaults.page_not_found(request, Http404("number out of range"))
        if isinstance(exception, RecursionError):
            if is_api_request(request):
                return error_response(400, "parse_error", "Input nested too deeply.")
            return HttpResponseBadRequest("Input nested too deeply.")
        return None

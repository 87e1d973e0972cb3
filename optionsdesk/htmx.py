"""The one question every dashboard view asks of htmx: does this request want only a fragment?"""

from __future__ import annotations

from django.http import HttpRequest


def htmx_partial(request: HttpRequest) -> bool:
    """Whether the request came from htmx (django-htmx sets `request.htmx`), so the view
    answers with a fragment (a `{% partialdef %}` or a partial template) instead of the page."""
    return bool(getattr(request, "htmx", False))

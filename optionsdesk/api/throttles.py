"""API throttles: rates are named in `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle


class WriteRateThrottle(ScopedRateThrottle):
    """The view's `throttle_scope` rate, counted per user on writes only (reads stay free)."""

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)

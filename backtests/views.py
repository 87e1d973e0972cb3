"""Dashboard pages of the backtests app."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The backtests tab."""
    return render(request, "backtests/index.html", {"items": []})

"""Dashboard pages of the calibration app."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The calibration tab."""
    return render(request, "calibration/index.html", {"items": []})

"""Dashboard pages of the greg app: the Bots tab and the Greg Lab tab."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def bots(request: HttpRequest) -> HttpResponse:
    """Expert bots and their sandbox positions."""
    return render(request, "greg/bots.html", {"bots": []})


@login_required
def lab(request: HttpRequest) -> HttpResponse:
    """Greg Lab: sensors, entry waterfall and what-if reports."""
    return render(request, "greg/lab.html", {"decisions": []})

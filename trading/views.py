"""Dashboard pages of the trading app: the Live Agent tab and the Chat tab."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def live(request: HttpRequest) -> HttpResponse:
    """The live agent's current state: environment, safety defaults, decisions so far."""
    context = {"base_url": settings.DERIBIT_BASE_URL, "decisions": []}
    return render(request, "trading/live.html", context)


@login_required
def chat(request: HttpRequest) -> HttpResponse:
    """Chat with the agent; says plainly when no LLM is configured."""
    return render(request, "trading/chat.html", {"llm_enabled": settings.LLM_ENABLED})

"""System endpoints: the public health probe and the authenticated status."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user
from django.utils.module_loading import import_string
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from optionsdesk import health, selectors

_CHECK = inline_serializer(
    name="HealthCheck",
    fields={
        "name": serializers.CharField(),
        "status": serializers.ChoiceField(choices=["ok", "starting", "degraded", "down"]),
        "detail": serializers.CharField(required=False, help_text="logged-in callers only"),
        "latency_ms": serializers.FloatField(
            allow_null=True, required=False, help_text="logged-in callers only"
        ),
    },
)
_HEALTH = inline_serializer(
    name="Health",
    fields={
        "status": serializers.ChoiceField(choices=["ok", "starting", "degraded", "down"]),
        "time": serializers.DateTimeField(),
        "checks": serializers.DictField(child=_CHECK),
    },
)


class HealthView(APIView):
    """Public liveness/readiness probe: 200 unless the database is down (then 503).

    Anonymous callers get each component's status only; a logged-in dashboard session also gets
    the details (hosts, URLs, engines), as `/api/status` does for any authenticated caller.
    """

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(responses={200: _HEALTH, 503: _HEALTH}, tags=["system"])
    def get(self, request: Request) -> Response:
        """Report database, broker, worker heartbeat, exchange and LLM (details when logged in)."""
        report = health.health_report()
        checks = report["checks"]
        database_down = isinstance(checks, dict) and checks["database"]["status"] == "down"
        session_user = get_user(request._request)  # the dashboard's session login, if any
        if not session_user.is_authenticated and isinstance(checks, dict):
            report["checks"] = {
                name: {"name": name, "status": check["status"]} for name, check in checks.items()
            }
        return Response(report, status=503 if database_down else 200)


class StatusView(APIView):
    """What the system is and how it is configured, for operators and scripts."""

    @extend_schema(
        responses={
            200: OpenApiResponse(
                response=inline_serializer(
                    name="Status",
                    fields={
                        "version": serializers.CharField(),
                        "deribit_env": serializers.CharField(),
                        "dry_run_default": serializers.BooleanField(
                            help_text="the deployment's setting; see agent_mode for what is live"
                        ),
                        "agent_mode": serializers.DictField(
                            help_text="what the next tick does with orders: environment, "
                            "dry_run, kill_switch, mode, orders (live, dry_run, kill_switch, "
                            "paused, invalid) and a headline; same as /api/agent/status effective"
                        ),
                        "llm_enabled": serializers.BooleanField(),
                        "telegram_enabled": serializers.BooleanField(),
                        "health": _HEALTH,
                        "system": serializers.DictField(child=serializers.IntegerField()),
                    },
                )
            )
        },
        tags=["system"],
    )
    def get(self, request: Request) -> Response:
        """Version, environment, safety defaults, health and counts."""
        return Response(
            {
                "version": settings.SPECTACULAR_SETTINGS["VERSION"],
                "deribit_env": settings.DERIBIT_ENV,
                "dry_run_default": settings.DRY_RUN_DEFAULT,
                "agent_mode": import_string(settings.AGENT_MODE_SELECTOR)(),
                "llm_enabled": settings.LLM_ENABLED,
                "telegram_enabled": settings.TELEGRAM_ENABLED,
                "health": health.health_report(),
                "system": selectors.system_summary(),
            }
        )

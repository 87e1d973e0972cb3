"""The steward API: reports (viewers read), refresh (operators)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from steward.models import StewardReport
from steward.permissions import IsOperator
from steward.selectors import report_list
from steward.services import report_refresh_request

_SUMMARY_FIELDS: tuple[str, ...] = (
    "id",
    "created_at",
    "finished_at",
    "trigger",
    "requested_by",
    "status",
    "progress",
    "stage",
    "source",
    "model",
    "total_tokens",
    "latency_ms",
    "llm_error",
    "error",
    "summary",
    "next_tasks",
)


class StewardReportSerializer(serializers.ModelSerializer[StewardReport]):
    """A report's summary and ranked next tasks (each with `url`), without the facts."""

    status = serializers.CharField(read_only=True, help_text="queued, running, done or failed")
    source = serializers.CharField(  # type: ignore[assignment]  # a field named "source"
        read_only=True, help_text="llm or template (empty: not yet)"
    )

    class Meta:
        model = StewardReport
        fields = _SUMMARY_FIELDS
        read_only_fields = fields


class StewardReportDetailSerializer(StewardReportSerializer):
    """A report with the facts it was built from."""

    class Meta(StewardReportSerializer.Meta):
        fields = (*_SUMMARY_FIELDS, "facts")
        read_only_fields = fields


@extend_schema(tags=["steward"])
@extend_schema_view(
    list=extend_schema(summary="Steward reports, newest first (paginated)."),
    retrieve=extend_schema(summary="One steward report with the facts it was built from."),
)
class StewardReportViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[StewardReport]
):
    """Reports on the state of the system with ranked next tasks (any logged-in user reads)."""

    queryset = StewardReport.objects.all()

    def get_queryset(self) -> Any:
        return report_list()

    def get_serializer_class(self) -> Any:
        if self.action == "retrieve":
            return StewardReportDetailSerializer
        return StewardReportSerializer

    @extend_schema(
        summary="Queue a new report on a research worker (operator role).",
        request=None,
        responses={
            202: StewardReportSerializer,
            403: OpenApiResponse(description="Not an operator (`permission_denied`)."),
        },
    )
    @action(detail=False, methods=["post"], permission_classes=[IsOperator])
    def refresh(self, request: Request) -> Response:
        """Queue a report now (role: operator); 202 with the queued report to poll."""
        report = report_refresh_request(trigger="api", requested_by=request.user.get_username())
        return Response(StewardReportSerializer(report).data, status=status.HTTP_202_ACCEPTED)

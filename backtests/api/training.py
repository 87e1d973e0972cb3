"""Training-mode API (issue 15): launch a multi-profile run, follow it, download its files.

Viewers read runs and the profile list; launching and downloading need the researcher role.
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from backtests import training_services
from backtests.api.serializers import ConfigField, RunStatusField, SourceField, _pydantic
from backtests.api.views import RESEARCH_QUOTA_RESPONSE, research_launch_data
from backtests.domain.profiles import PROFILES
from backtests.domain.sources.spec import SourceSpec
from backtests.domain.types import BacktestConfig
from backtests.training_models import TrainingRun
from optionsdesk.api.parsers import JSONParser
from optionsdesk.roles import IsResearcher, Role, role_for_writes


class TrainingRunSerializer(serializers.ModelSerializer[TrainingRun]):
    """A stored training run: profiles, status, per-profile summary and files written."""

    status = RunStatusField(read_only=True)

    class Meta:
        model = TrainingRun
        fields = (
            "id",
            "name",
            "status",
            "progress",
            "source",
            "config",
            "profiles",
            "fmt",
            "validation_frac",
            "result",
            "files",
            "error",
            "created_at",
            "finished_at",
        )
        read_only_fields = fields


class TrainingRunCreateSerializer(serializers.Serializer[dict[str, Any]]):
    """Launch: `profiles` (names, see `GET /api/backtests/training/profiles`), `source`,
    `config` (exits, fills, interval; the profiles bring their own selectors), `format`."""

    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    profiles = serializers.ListField(
        child=serializers.ChoiceField(choices=list(PROFILES)), min_length=1, max_length=10
    )
    source = SourceField(required=False, default=dict)  # type: ignore[assignment]
    config = ConfigField(required=False, default=dict)
    format = serializers.ChoiceField(choices=list(training_services.FORMATS), default="csv")
    validation_frac = serializers.FloatField(min_value=0.0, max_value=0.5, default=0.1)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Source and config through the domain models."""
        return {
            "name": attrs.get("name", ""),
            "profiles": attrs["profiles"],
            "source": _pydantic(SourceSpec, attrs.get("source"), "source"),
            "config": _pydantic(BacktestConfig, attrs.get("config"), "config"),
            "fmt": attrs["format"],
            "validation_frac": attrs["validation_frac"],
        }


@extend_schema(tags=["backtests"])
class TrainingRunViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[TrainingRun],
):
    """Training runs: several profiles over the same replayed decision times (research queue).

    Viewers read; launching (`POST`) and downloading files need the researcher role.
    """

    queryset = TrainingRun.objects.all()
    serializer_class = TrainingRunSerializer
    permission_classes = [role_for_writes(Role.RESEARCHER)]
    parser_classes = [JSONParser]
    lookup_value_regex = r"[0-9]{1,18}"

    @extend_schema(
        request=TrainingRunCreateSerializer,
        responses={
            201: TrainingRunSerializer,
            429: RESEARCH_QUOTA_RESPONSE,
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Queue a training run on the research queue."""
        data = research_launch_data(request, TrainingRunCreateSerializer)
        try:
            run = training_services.training_run_create(**data, user=request.user)
        except ValueError as exc:
            raise ValidationError({"profiles": [str(exc)]}) from None
        return Response(TrainingRunSerializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["get"])
    def profiles(self, request: Request) -> Response:
        """The named training profiles with their selectors and per-expiry limits."""
        return Response({name: p.model_dump(mode="json") for name, p in PROFILES.items()})

    @extend_schema(
        parameters=[
            OpenApiParameter("file", str, enum=list(training_services.FILE_KINDS), required=True)
        ],
        responses={
            (200, "application/octet-stream"): bytes,
            (200, "text/csv"): str,
            404: OpenApiResponse(description="the run has no such file (`not_found`)"),
        },
    )
    @action(detail=True, methods=["get"], permission_classes=[IsResearcher])
    def download(self, request: Request, pk: str | None = None) -> FileResponse:
        """One of the run's files: decisions, candidates, corpus_train, corpus_validation."""
        run = self.get_object()
        kind = request.query_params.get("file", "")
        if kind not in training_services.FILE_KINDS:
            raise ValidationError({"file": [f"one of {', '.join(training_services.FILE_KINDS)}"]})
        try:
            path = training_services.training_file(run, kind)
        except LookupError as exc:
            raise NotFound(str(exc)) from None
        return FileResponse(
            path.open("rb"),
            as_attachment=True,
            filename=f"training_{run.pk}_{path.name}",
            content_type="text/csv" if path.suffix == ".csv" else "application/octet-stream",
        )

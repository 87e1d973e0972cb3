"""Viewsets of the greg API: the batch selector, evaluations, positions, calibration, stats.

Thin: reads through `greg.selectors`, writes through `greg.services`.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from greg import selectors
from greg.api import serializers as s
from greg.domain.selector import SelectorInputError, selector_run, selector_validate


class SelectViewSet(viewsets.ViewSet):
    """Run the ENTRY_ENGINE waterfall on posted sensor vectors (viewer; nothing is stored)."""

    @extend_schema(
        request=s.SensorVectorSerializer,
        responses={200: s.SelectorResultSerializer(many=True)},
        tags=["greg"],
        summary="Run the entry waterfall on sensor vectors",
        description="Body: one object of the eleven sensors, or a list of them. Returns a list "
        "in the same order. A bad key or a non-number is a 400 naming it.",
    )
    def create(self, request: Request) -> Response:
        """One `{"strategy", "step", "reasoning"}` per vector (any logged-in user)."""
        try:
            vectors = selector_validate(request.data)
        except SelectorInputError as exc:
            raise ValidationError({"sensors": [str(exc)]}) from None
        thresholds = selectors.thresholds_current()[1]
        return Response(selector_run(vectors, thresholds=thresholds))

"""Filters shared by the dashboard's history pages and the API (one definition, same names)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from optionsdesk.api.filters import IdFilter, UTCIsoDateTimeFilter
from trading import models


class OrderFilter(django_filters.FilterSet):
    """Filter orders by book, state, side, instrument, underlying, decision, label and time."""

    book = django_filters.ChoiceFilter(
        choices=[("paper", "paper"), ("real", "real")],
        method="filter_book",
        label="book",
        help_text="paper (dry-run fills) or real (sent to the exchange)",
    )
    instrument = django_filters.CharFilter(
        field_name="instrument_name", lookup_expr="icontains", label="instrument contains"
    )
    label = django_filters.CharFilter(field_name="label", lookup_expr="icontains")
    since = UTCIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = UTCIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    decision = IdFilter(field_name="decision_id", help_text="the decision's id")
    filled = django_filters.BooleanFilter(
        field_name="filled_amount", lookup_expr="gt", method="filter_filled", label="filled"
    )

    class Meta:
        model = models.Order
        fields = ("state", "direction", "dry_run", "instrument_name", "currency")

    def filter_book(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """paper = dry-run orders, real = sent ones."""
        return queryset.filter(dry_run=value == "paper") if value else queryset

    @extend_schema_field(OpenApiTypes.BOOL)
    def filter_filled(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        """Only orders that (did not) fill anything."""
        if value is None:
            return queryset
        return queryset.filter(filled_amount__gt=0) if value else queryset.filter(filled_amount=0)

"""django-filter, strict: a filter value of the wrong type is a 400, not a silently ignored filter.

django-filter drops a boolean filter it cannot read (`?dry_run=null`) and an empty value
(`?until=`), so a client's typo returns every row. Here a declared filter given a value that is
empty (for anything but text) or not `true`/`false` (for booleans) is refused. Date-time filters
compare in UTC (`UTCIsoDateTimeFilter`), so any offset a `date-time` may carry works.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError

BOOLEAN_VALUES = frozenset({"true", "false", "True", "False", "1", "0"})
UTC_MIN = datetime.min.replace(tzinfo=UTC)
UTC_MAX = datetime.max.replace(tzinfo=UTC)


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC; an instant before year 1 or after 9999 in UTC (a date-time at
    the edge of the calendar with an offset) becomes the calendar's first or last moment,
    which filters the same."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return UTC_MIN if moment.year == 1 else UTC_MAX


class UTCIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, handed to the database in UTC.

    Any RFC 3339 offset (up to +-23:59) is a valid `date-time`; PostgreSQL refuses offsets of
    +-16 h and beyond in a literal, so the instant goes to it in UTC instead.
    """

    def to_python(self, value: Any) -> datetime | None:
        """The parsed date-time in UTC (naive ones are read in the current time zone)."""
        parsed = super().to_python(value)
        return None if parsed is None else as_utc(parsed)


class UTCIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """`IsoDateTimeFilter` that compares in UTC, whatever offset the client sent."""

    field_class = UTCIsoDateTimeField


#: The largest id a database row can have (a signed 64-bit integer).
MAX_ID = 2**63 - 1


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.NumberFilter):
    """Rows pointing at the object with this id; an id no row has simply matches nothing
    (django-filter's default for a foreign key refuses an unknown id with a 400)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class StrictFilterBackend(DjangoFilterBackend):
    """`DjangoFilterBackend` that refuses values its filters would silently ignore."""

    def filter_queryset(self, request: Any, queryset: Any, view: Any) -> Any:
        """Check the declared filters' raw values, then filter as django-filter does."""
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None:
            errors: dict[str, list[str]] = {}
            for name, declared in filterset_class.base_filters.items():
                for value in request.query_params.getlist(name):
                    if isinstance(declared, django_filters.BooleanFilter):
                        if value not in BOOLEAN_VALUES:
                            errors[name] = ["true or false"]
                    elif value == "" and not isinstance(declared, django_filters.CharFilter):
                        errors[name] = ["a value is required when the parameter is given"]
            if errors:
                raise ValidationError(errors)
        return super().filter_queryset(request, queryset, view)

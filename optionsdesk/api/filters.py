"""django-filter, strict: a filter value of the wrong type is a 400, not a silently ignored filter.

django-filter drops a boolean filter it cannot read (`?dry_run=null`) and an empty value
(`?until=`), so a client's typo returns every row. Here a declared filter given a value that is
empty (for anything but text) or not `true`/`false` (for booleans) is refused.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import django_filters
from django.utils.dateparse import parse_datetime
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

BOOLEAN_VALUES = frozenset({"true", "false", "True", "False", "1", "0"})
#: The widest UTC offset any place uses (UTC+14); PostgreSQL refuses +-16 h and beyond with a
#: server error, so a wider one is a 400 here.
MAX_UTC_OFFSET = timedelta(hours=14)


def _offset_error(value: str) -> str | None:
    parsed = parse_datetime(value.strip().replace(" ", "T", 1)) if value else None
    offset = parsed.utcoffset() if parsed is not None else None
    if offset is not None and abs(offset) > MAX_UTC_OFFSET:
        return "a time zone offset between -14:00 and +14:00"
    return None


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
                    elif isinstance(
                        declared, django_filters.DateTimeFilter | django_filters.IsoDateTimeFilter
                    ):
                        problem = _offset_error(value)
                        if problem:
                            errors[name] = [problem]
            if errors:
                raise ValidationError(errors)
        return super().filter_queryset(request, queryset, view)

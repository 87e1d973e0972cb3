"""Pagination shared by every list endpoint."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request


def _page_number(raw: str, name: str, maximum: int | None = None) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: ["a whole number from 1"]}) from None
    if value < 1 or (maximum is not None and value > maximum):
        limit = f"from 1 to {maximum}" if maximum else "from 1"
        raise ValidationError({name: [f"a whole number {limit}"]})
    return value


class StandardPagination(PageNumberPagination):
    """Page-number pagination; clients may ask for up to 500 rows a page.

    A `page` or `page_size` that is not a whole number in range is a 400 (`invalid`), and a page
    past the last one is a 404 (`not_found`), both in the error envelope.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    max_page = 10**9

    def get_page_size(self, request: Request) -> int:
        """The asked page size, or 400 when it is not a whole number from 1 to 500."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        return _page_number(raw, self.page_size_query_param, self.max_page_size)

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        """Check `page` before paginating; a page past the end stays DRF's 404."""
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and raw not in self.last_page_strings:
            _page_number(raw, self.page_query_param, self.max_page)
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """`page` and `page_size` with their ranges, so clients and schema tests know them."""
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page}
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                }
        return parameters

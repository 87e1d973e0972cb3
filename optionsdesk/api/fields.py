"""Serializer fields every app's API shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.validators import BaseValidator, MinValueValidator
from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A string, and only a string: DRF's `CharField` turns `0` into `"0"`, which accepts a body
    the schema says is wrong (schemathesis' negative-data check)."""

    def to_internal_value(self, data: Any) -> str:
        """Refuse anything but a string."""
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """`true` or `false` only: DRF's `BooleanField` also takes 0, 1, "yes", "off"..."""

    def to_internal_value(self, data: Any) -> bool:
        """Refuse anything but a JSON boolean."""
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class AboveValidator(BaseValidator):
    """The value must be strictly above the limit (not a `MinValueValidator`, whose schema
    mapping would drop `exclusiveMinimum`)."""

    message = "Ensure this value is greater than %(limit_value)s."
    code = "min_value"

    def compare(self, a: Any, b: Any) -> bool:
        """Invalid when at or below the limit."""
        return bool(a <= b)


class OpenLowFloatField(serializers.FloatField):
    """A number strictly above `min_value` (a range open at its low end, e.g. a spread > 0);
    declared in the schema as `exclusiveMinimum`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators = [
            AboveValidator(v.limit_value, v.message) if isinstance(v, MinValueValidator) else v
            for v in self.validators
        ]


class OpenLowFloatFieldSchema(OpenApiSerializerFieldExtension):
    """`OpenLowFloatField` in the schema: DRF's own mapping plus `exclusiveMinimum`."""

    target_class = OpenLowFloatField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        """The float's schema with its minimum excluded."""
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        return {**schema, "minimum": self.target.min_value, "exclusiveMinimum": True}


@extend_schema_field({"type": "object"})
class ObjectField(serializers.JSONField):
    """A JSON object and only an object (documented as one): anything else is a 400."""

    def to_internal_value(self, data: Any) -> Any:
        """Refuse arrays, strings, numbers and booleans."""
        if not isinstance(data, dict):
            raise serializers.ValidationError("must be a JSON object")
        return super().to_internal_value(data)


class ClosedBodyMixin:
    """A request body that refuses members it does not declare (400 naming them), so a typo
    or junk is not silently ignored; its schema says `additionalProperties: false`."""

    fields: Any

    def to_internal_value(self, data: Any) -> Any:
        """Name the unknown members, else validate as usual."""
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["not a member of this request body"] for name in unknown}
                )
        return super().to_internal_value(data)  # type: ignore[misc]


class ClosedBodySchema(OpenApiSerializerExtension):
    """`ClosedBodyMixin` serializers in the schema: closed to other members in requests."""

    target_class = ClosedBodyMixin
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        """The serializer's schema; as a request, with `additionalProperties: false`."""
        schema = auto_schema._map_basic_serializer(self.target, direction)
        if direction == "request":
            schema = {**schema, "additionalProperties": False}
        return schema

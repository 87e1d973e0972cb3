"""Serializer fields every app's API shares."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A string, and only a string: DRF's `CharField` turns `0` into `"0"`, which accepts a body
    the schema says is wrong (schemathesis' negative-data check)."""

    def to_internal_value(self, data: Any) -> str:
        """Refuse anything but a string."""
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)

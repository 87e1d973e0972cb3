"""App config for the project package: system models (worker heartbeats) and commands."""

from django.apps import AppConfig


class OptionsdeskConfig(AppConfig):
    """System-level models, the schedule and the dashboard shell."""

    name = "optionsdesk"
    verbose_name = "System"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Register the OpenAPI extension for pydantic response models."""
        from optionsdesk.api import pydantic_schema  # noqa: F401 - registers on import

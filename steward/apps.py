"""App config for steward."""

from django.apps import AppConfig


class StewardConfig(AppConfig):
    """Project summaries and next-task suggestions."""

    name = "steward"
    verbose_name = "AI Steward"
    default_auto_field = "django.db.models.BigAutoField"

"""App config for greg."""

from django.apps import AppConfig


class GregConfig(AppConfig):
    """Expert bots: entry engine, position engine, hedging, sandbox positions."""

    name = "greg"
    verbose_name = "Greg"
    default_auto_field = "django.db.models.BigAutoField"

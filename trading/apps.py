"""App config for trading."""

from django.apps import AppConfig


class TradingConfig(AppConfig):
    """The live agent: positions, orders, decisions, controls, health guard."""

    name = "trading"
    verbose_name = "Trading"
    default_auto_field = "django.db.models.BigAutoField"

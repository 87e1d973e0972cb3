"""App config for backtests."""

from django.apps import AppConfig


class BacktestsConfig(AppConfig):
    """Backtesting: simulator, runs, metrics, grid search, training data."""

    name = "backtests"
    verbose_name = "Backtests"
    default_auto_field = "django.db.models.BigAutoField"

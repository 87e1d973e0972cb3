"""App config for reviewbot."""

from django.apps import AppConfig


class ReviewbotConfig(AppConfig):
    """Telegram code-review bot."""

    name = "reviewbot"
    verbose_name = "Review bot"
    default_auto_field = "django.db.models.BigAutoField"

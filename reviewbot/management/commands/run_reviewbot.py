"""`manage.py run_reviewbot`: the Telegram bot, polling (Makefile `bot`, compose `bot`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reviewbot.bot import build_application


class Command(BaseCommand):
    """Run the review bot until stopped (SIGINT/SIGTERM)."""

    help = "Run the Telegram review bot (TELEGRAM_BOT_TOKEN, TELEGRAM_ALLOWED_USERS)."

    def handle(self, *args: Any, **options: Any) -> None:
        from reviewbot.trading_link import TradingLink

        app = settings.APP
        token = app.TELEGRAM_BOT_TOKEN.get_secret_value()
        if not token:
            raise CommandError("TELEGRAM_BOT_TOKEN is not set")
        if not app.TELEGRAM_ALLOWED_USERS.strip():
            self.stderr.write("TELEGRAM_ALLOWED_USERS is empty: the bot will refuse everyone")
        bot = build_application(
            token=token, base_url=app.TELEGRAM_API_BASE_URL, trading=TradingLink()
        )
        self.stdout.write(f"review bot polling {app.TELEGRAM_API_BASE_URL.split('/bot')[0]}")
        bot.run_polling(drop_pending_updates=False)

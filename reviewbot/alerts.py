"""Alert delivery: at most one Telegram message per event and allowed user."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from telegram import Bot

from optionsdesk.asyncrun import run_sync
from optionsdesk.redaction import redact
from reviewbot.models import AlertDelivery
from reviewbot.ports import AlertEvent
from reviewbot.services import allowed_user_ids

logger = logging.getLogger(__name__)


def alerts_pending(events: list[AlertEvent]) -> list[AlertEvent]:
    """The events some allowed user has not been sent yet."""
    chats = allowed_user_ids()
    done = set(
        AlertDelivery.objects.filter(event_key__in=[e.key for e in events]).values_list(
            "event_key", "chat_id"
        )
    )
    return [e for e in events if any((e.key, chat) not in done for chat in chats)]


def _claim(event_key: str, chat_id: int, text: str) -> AlertDelivery | None:
    """The delivery row, created now; None when this event already went (or is going) out."""
    try:
        with transaction.atomic():
            return AlertDelivery.objects.create(event_key=event_key, chat_id=chat_id, text=text)
    except IntegrityError:
        return None


async def _send_all(token: str, base_url: str, rows: list[AlertDelivery]) -> list[str]:
    errors = []
    async with Bot(token, base_url=base_url) as bot:
        for row in rows:
            try:
                await bot.send_message(chat_id=row.chat_id, text=row.text)
                errors.append("")
            except Exception as exc:  # one chat's failure must not stop the others
                errors.append(redact(f"{type(exc).__name__}: {exc}")[:300])
    return errors


def alert_deliver(*, event_key: str, text: str) -> int:
    """Send `text` to each allowed user that has not had `event_key`; how many were sent."""
    app = settings.APP
    token = app.TELEGRAM_BOT_TOKEN.get_secret_value()
    if not token:
        logger.info("reviewbot: no TELEGRAM_BOT_TOKEN; alert %s not sent", event_key)
        return 0
    clean = redact(text)[:4000]
    rows = [row for chat in sorted(allowed_user_ids()) if (row := _claim(event_key, chat, clean))]
    if not rows:
        return 0
    errors = run_sync(_send_all(token, app.TELEGRAM_API_BASE_URL, rows))
    sent = 0
    for row, error in zip(rows, errors, strict=True):
        row.status = AlertDelivery.Status.FAILED if error else AlertDelivery.Status.SENT
        row.error, row.sent_at = error, None if error else timezone.now()
        row.save(update_fields=["status", "error", "sent_at"])
        sent += not error
    return sent

"""Celery tasks of the reviewbot app: alerts to the allowed Telegram users.

`reviewbot.alerts_scan` (every minute) finds events (fills, expiries, guard pauses,
reconciliation discrepancies) and queues `reviewbot.alert_send` per event. Sending is at most
once per event and chat: the `AlertDelivery` row (unique on event and chat) is created before
the message goes out, so a task delivered twice, or a scan that sees an event again, sends
nothing more.
"""

from __future__ import annotations

from celery import shared_task

#: How far back a scan looks (overlapping scans are harmless: delivery is once per event).
ALERT_LOOKBACK_S = 900


@shared_task(name="reviewbot.alert_send", acks_late=True, ignore_result=False)
def alert_send(event_key: str, text: str) -> int:
    """Send one alert to every allowed user; returns how many messages went out now."""
    from reviewbot.alerts import alert_deliver

    return alert_deliver(event_key=event_key, text=text)


@shared_task(name="reviewbot.alerts_scan", acks_late=True, ignore_result=False)
def alerts_scan() -> int:
    """Queue an alert for each recent event not yet delivered; returns how many were queued."""
    from reviewbot.alerts import alerts_pending
    from reviewbot.trading_link import TradingLink

    events = alerts_pending(TradingLink().alert_events(lookback_s=ALERT_LOOKBACK_S))
    for event in events:
        alert_send.delay(event.key, event.text)
    return len(events)

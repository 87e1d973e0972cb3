"""optionsdesk: an automated BTC/ETH options trading agent for Deribit."""

from optionsdesk.celery import app as celery_app

__all__ = ("celery_app",)

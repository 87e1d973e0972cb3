"""Celery tasks of the trading app: thin, explicitly named, ids as arguments."""

"""Celery tasks of the backtests app: thin, explicitly named, ids as arguments."""

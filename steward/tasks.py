"""Celery tasks of the steward app: thin, explicitly named, ids as arguments."""

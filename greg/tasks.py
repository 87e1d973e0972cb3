"""Celery tasks of the greg app: thin, explicitly named, ids as arguments."""

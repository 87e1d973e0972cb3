"""Celery tasks of the reviewbot app: thin, explicitly named, ids as arguments."""

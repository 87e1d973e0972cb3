"""Celery tasks of the calibration app: thin, explicitly named, ids as arguments."""

"""The Celery application: configured from Django settings, tasks autodiscovered."""

from __future__ import annotations

import os
import sys

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "optionsdesk.settings")

app = Celery("optionsdesk")


def _configure() -> None:
    from optionsdesk.config import ConfigError

    try:
        app.config_from_object("django.conf:settings", namespace="CELERY")
        app.conf.broker_transport_options  # noqa: B018 - force settings to load now
    except ConfigError as exc:
        sys.stderr.write(f"optionsdesk: configuration error: {exc}\n")
        raise SystemExit(2) from None


_configure()
app.autodiscover_tasks()

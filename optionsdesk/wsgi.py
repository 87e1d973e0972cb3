"""WSGI entry point (gunicorn optionsdesk.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "optionsdesk.settings")
application = get_wsgi_application()

"""The WSGI entry point: ``gunicorn backoffice.wsgi`` (run from this project's directory)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")

application = get_wsgi_application()
